#!/usr/bin/env bash
# Runs the independent scim2-tester conformance checks, and a CRUD walk with the scim2-client
# library, against `scimlet serve`: first on the embedded store, then on DynamoDB Local (which must be running: SCIMLET_DYNAMODB_ENDPOINT).
# Expects target/debug/scimlet to be built (infra/test.sh builds it). Exits non-zero if an
# unlisted check fails (see tests/conformance/known-exceptions.txt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$root/target/debug/scimlet"
[ -x "$bin" ] || cargo build --bin scimlet >&2
venv=$(infra/python-tools.sh conformance)
checker="$root/tests/conformance/run_scim2_tester.py"
exceptions="$root/tests/conformance/known-exceptions.txt"
workdir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$workdir"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts `scimlet serve` with the given arguments; sets BASE from its banner.
start_server() {
  local out="$workdir/serve-$#-$RANDOM.out"
  local port
  port=$(free_port)
  env -u SCIMLET_DYNAMODB_ENDPOINT -u SCIMLET_TABLE "$bin" serve --listen "127.0.0.1:$port" "$@" >"$out" 2>"$out.err" &
  pids+=($!)
  for _ in $(seq 1 100); do
    if grep -q "Base URL:" "$out" 2>/dev/null && { [ "$#" -gt 0 ] || grep -q "Token:" "$out"; }; then
      BASE=$(awk '/Base URL:/ {print $3}' "$out")
      TOKEN_FROM_BANNER=$(awk '/Token:/ {print $2}' "$out")
      return 0
    fi
    sleep 0.1
  done
  echo "scimlet serve did not start; its output:" >&2
  cat "$out" "$out.err" >&2
  return 1
}

client="$root/tests/conformance/client_crud.py"

echo "== scim2-tester and scim2-client on the embedded store"
start_server
"$venv/python" "$checker" "$BASE" "$TOKEN_FROM_BANNER" "$exceptions"
"$venv/python" "$client" "$BASE" "$TOKEN_FROM_BANNER"

echo "== scim2-tester and scim2-client on DynamoDB Local"
: "${SCIMLET_DYNAMODB_ENDPOINT:?start DynamoDB Local first (infra/dynamodb-local.sh start)}"
table="conformance-$RANDOM$RANDOM"
dynamo=(--table "$table" --dynamodb-endpoint "$SCIMLET_DYNAMODB_ENDPOINT")
# Each command with the credentials of the principal that runs it on AWS (infra/test.sh puts
# the IAM proxy in front of DynamoDB Local): the deployer creates the table, an operator the
# tenant and token, and the server runs as the function.
as_principal() { AWS_ACCESS_KEY_ID="$1.$table" AWS_SECRET_ACCESS_KEY=local "${@:2}"; }
as_principal admin "$bin" table create "${dynamo[@]}" >/dev/null
as_principal operator "$bin" tenant create conformance "${dynamo[@]}" >/dev/null
token=$(as_principal operator "$bin" token issue conformance "${dynamo[@]}" 2>/dev/null)
export AWS_ACCESS_KEY_ID="function.$table" AWS_SECRET_ACCESS_KEY=local
start_server --dynamodb "${dynamo[@]}"
"$venv/python" "$checker" "$BASE" "$token" "$exceptions"
"$venv/python" "$client" "$BASE" "$token"
