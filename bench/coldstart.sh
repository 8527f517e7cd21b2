#!/usr/bin/env bash
# Cold start, size and argon2id cost of the Lambda function, side by side with the smallest
# lambda_http function (bench/hello-lambda). Results go in BENCHMARKS.md.
#
#   bench/coldstart.sh [RUNS]      (default 20 runs per binary)
#
# Builds release binaries for this machine (the function runs on arm64 in AWS: figures here
# are x86_64), starts DynamoDB Local, creates a table, tenant and token, and replays an Okta
# first request (GET /Users?filter=userName eq ...) as an API Gateway v2 event against a Lambda
# Runtime API emulator (bench/coldstart.py). DynamoDB is reached over plain HTTP on loopback,
# so the TLS handshake a real first request makes to DynamoDB is not in these numbers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs=${1:-20}

cargo build --release --locked --bin bootstrap --bin scimlet --example argon2_cost
cargo build --release --locked --manifest-path bench/hello-lambda/Cargo.toml --target-dir target/bench-hello

eval "$(infra/dynamodb-local.sh start)"
trap 'infra/dynamodb-local.sh stop' EXIT
table="bench-$RANDOM$RANDOM"
cli=(target/release/scimlet)
dynamo=(--table "$table" --dynamodb-endpoint "$SCIMLET_DYNAMODB_ENDPOINT")
"${cli[@]}" table create "${dynamo[@]}" >/dev/null
"${cli[@]}" tenant create bench "${dynamo[@]}" >/dev/null
token=$("${cli[@]}" token issue bench "${dynamo[@]}" 2>/dev/null)

event=$(mktemp)
sed -e "s/{{TOKEN}}/$token/" -e 's#"rawPath": "/prod/scim/v2/Users"#"rawPath": "/scim/v2/Users"#' \
  -e 's#"stage": "prod"#"stage": "$default"#' \
  tests/fixtures/apigw-v2/list_users_filter_named_stage.json >"$event"

echo "== sizes (stripped)"
ls -l target/release/bootstrap target/bench-hello/release/hello-lambda | awk '{printf "%s %.1f MB\n", $9, $5/1e6}'
echo "== cold starts ($runs runs each)"
python3 bench/coldstart.py --runs "$runs" --event "$event" --expect-status 200 \
  --env "SCIMLET_TABLE=$table" --env "SCIMLET_DYNAMODB_ENDPOINT=$SCIMLET_DYNAMODB_ENDPOINT" \
  --env SCIMLET_LOG_FORMAT=emf --env RUST_LOG=info \
  hello=target/bench-hello/release/hello-lambda scimlet=target/release/bootstrap
# The TLS roots are loaded at init. This machine's /etc/ssl/certs holds one bundle and a file
# per certificate, and both are read; Lambda's AL2023 image has one bundle. The same run with
# only the bundle:
bundle=/etc/ssl/certs/ca-certificates.crt
if [ -f "$bundle" ]; then
  python3 bench/coldstart.py --runs "$runs" --event "$event" --expect-status 200 \
    --env "SCIMLET_TABLE=$table" --env "SCIMLET_DYNAMODB_ENDPOINT=$SCIMLET_DYNAMODB_ENDPOINT" \
    --env SCIMLET_LOG_FORMAT=emf --env RUST_LOG=info --env "SSL_CERT_FILE=$bundle" \
    "scimlet-one-ca-bundle=target/release/bootstrap"
fi
echo "== argon2id"
target/release/examples/argon2_cost
rm -f "$event"
