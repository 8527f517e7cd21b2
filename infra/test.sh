#!/usr/bin/env bash
# Runs the whole test suite: the infra checks' own tests, unit tests, the store contract and
# the HTTP tests on both stores, then the scim2-tester conformance run on both stores.
#
# DynamoDB Local is started first (and stopped at the end) behind infra/dynamodb_iam_proxy.py,
# which enforces the IAM policies of template.yaml on every DynamoDB call the tests make and
# answers anything else with AccessDeniedException, as AWS would. The run fails if DynamoDB
# Local or the proxy cannot start (tests never skip silently), and if any principal but
# `nobody` was denied anything, even where the code under test swallowed the error.
# Extra arguments go to the test runner (a filter, say).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export AWS_DEFAULT_REGION=us-east-1

tools=$(infra/python-tools.sh)
started=$(infra/dynamodb-local.sh start)
eval "$started"
upstream=$SCIMLET_DYNAMODB_ENDPOINT
state=$(mktemp -d)
proxy_pid=""
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
  infra/dynamodb-local.sh stop
  rm -rf "$state"
}
trap cleanup EXIT

echo "== the IAM checker's own tests" >&2
"$tools/python" -m unittest discover -s infra -p 'test_*.py'

"$tools/python" infra/dynamodb_iam_proxy.py --upstream "$upstream" \
  --port-file "$state/port" --denials-log "$state/denials" 2>"$state/proxy.log" &
proxy_pid=$!
for _ in $(seq 1 100); do
  [ -s "$state/port" ] && break
  kill -0 "$proxy_pid" 2>/dev/null || { cat "$state/proxy.log" >&2; echo "the IAM proxy did not start" >&2; exit 1; }
  sleep 0.1
done
[ -s "$state/port" ] || { cat "$state/proxy.log" >&2; echo "the IAM proxy did not start" >&2; exit 1; }
export SCIMLET_DYNAMODB_ENDPOINT="http://127.0.0.1:$(cat "$state/port")"
export SCIMLET_TEST_IAM_PROXY=1
echo "DynamoDB Local at $upstream, behind the IAM proxy at $SCIMLET_DYNAMODB_ENDPOINT" >&2

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

# Denials of `nobody`, or on tables named expect-denied-*, are tests proving that the proxy
# denies; any other is a missing grant (or a call that should not be made).
expected='"principal": "nobody"|:table/expect-denied-'
if [ -s "$state/denials" ] && grep -Eqv "$expected" "$state/denials"; then
  echo "IAM: calls the stack's policies do not allow (add the action to template.yaml, or stop making the call):" >&2
  grep -Ev "$expected" "$state/denials" | sort | uniq -c >&2
  status=1
fi
exit "$status"
