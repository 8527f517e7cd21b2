#!/usr/bin/env bash
# Installs a pinned set of Python tools into its own venv under .tools/ (idempotent) and
# prints the venv's bin directory.
#
#   infra/python-tools.sh            template linters (infra/requirements-tools.txt)
#   infra/python-tools.sh conformance  scim2-tester and scim2-client (infra/requirements-conformance.txt)
#   infra/python-tools.sh rehearsal    moto, for the offline deploy rehearsal (infra/requirements-rehearsal.txt)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
set_name="${1:-tools}"
case "$set_name" in
  tools) requirements="$root/infra/requirements-tools.txt"; venv="$root/.tools/venv" ;;
  conformance) requirements="$root/infra/requirements-conformance.txt"; venv="$root/.tools/venv-conformance" ;;
  rehearsal) requirements="$root/infra/requirements-rehearsal.txt"; venv="$root/.tools/venv-rehearsal" ;;
  *) echo "usage: $0 [tools|conformance|rehearsal]" >&2; exit 2 ;;
esac
stamp="$venv/.installed"
if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
  cp "$requirements" "$stamp"
fi
echo "$venv/bin"
