#!/usr/bin/env bash
# Runs the whole test suite: unit tests, the store contract and the HTTP tests on both stores,
# then the scim2-tester conformance run on both stores.
# Starts DynamoDB Local first (and stops it at the end); if it cannot start, the run fails —
# tests never skip silently. Extra arguments go to the test runner (a filter, say).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

started=$(infra/dynamodb-local.sh start)
eval "$started"
trap 'infra/dynamodb-local.sh stop' EXIT
echo "DynamoDB Local at $SCIMLET_DYNAMODB_ENDPOINT" >&2

status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast "$@" || status=$?
else
  echo "cargo-nextest not found; using cargo test" >&2
  cargo test --no-fail-fast "$@" || status=$?
fi

# The independent conformance run (scim2-tester) on both stores; skipped only when the
# caller narrowed the run to some tests with a filter argument.
if [ "$#" -eq 0 ]; then
  infra/conformance.sh || status=$?
fi
exit "$status"
