#!/usr/bin/env bash
# Installs the project's Python tools, pinned to exact versions, into .tools/venv (idempotent).
# Prints the venv's bin directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.tools/venv"
requirements="$root/infra/requirements-tools.txt"
stamp="$venv/.installed"
if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
  cp "$requirements" "$stamp"
fi
echo "$venv/bin"
