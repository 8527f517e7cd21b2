"""A proxy in front of DynamoDB Local that enforces the stack's IAM policies.

DynamoDB Local checks no IAM, so a feature calling an action the function's role lacks would
pass every test and fail on AWS. The test run (infra/test.sh) therefore sends every DynamoDB
request through this proxy, which authorises it as IAM would (see iam_policy.py: policies read
from template.yaml as CloudFormation sees it) and answers a denial the way AWS does: HTTP 400
with `AccessDeniedException`. An unknown access key gets `UnrecognizedClientException`.

    .tools/venv/bin/python infra/dynamodb_iam_proxy.py --upstream http://127.0.0.1:8000 \
        --port-file FILE --denials-log FILE

Access key ids name the principal and the table standing for the template's `Table`:
`function.<table>`, `operator.<table>`, `admin.<table>`, `nobody.<table>` (see iam_policy.py).
Every denial is appended to the denials log as one JSON line; infra/test.sh fails the run if
anything was denied but to `nobody` or on a table named `expect-denied-*` (the tests that
prove denials).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import iam_policy  # noqa: E402
import template_check  # noqa: E402

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
# DynamoDB Local 2+ accepts access key ids of letters and digits only.
UPSTREAM_KEY = "scimletproxy"


class Proxy:
    """Shared state: the stack, the upstream, the denials log."""

    def __init__(self, stack: iam_policy.Stack, upstream: str, denials_log: Path | None):
        self.stack = stack
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream_host = parsed.hostname or "127.0.0.1"
        self.upstream_port = parsed.port or 80
        self.denials_log = denials_log
        self.lock = threading.Lock()
        self.local = threading.local()
        self.statements: dict[tuple[str, str, str], list[dict]] = {}

    def statements_for(self, principal: str, table: str, region: str) -> list[dict]:
        key = (principal, table, region)
        with self.lock:
            if key not in self.statements:
                self.statements[key] = self.stack.statements(principal, table, region)
            return self.statements[key]

    def connection(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
            self.local.conn = conn
        return conn

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list, bytes]:
        for attempt in range(2):
            conn = self.connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.getheaders(), response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")

    def record_denial(self, entry: dict) -> None:
        line = json.dumps(entry, sort_keys=True)
        print(f"iam-proxy: DENIED {line}", file=sys.stderr, flush=True)
        if self.denials_log:
            with self.lock, self.denials_log.open("a") as f:
                f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: Proxy  # set on the class by main()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        target = self.headers.get("X-Amz-Target", "")
        operation = target.rsplit(".", 1)[-1]
        auth = self.headers.get("Authorization", "")
        found = CREDENTIAL.search(auth)
        principal, _, table = (found.group(1) if found else "").partition(".")
        region = found.group(3) if found else "us-east-1"
        try:
            statements = self.proxy.statements_for(principal, table, region) if table else None
        except iam_policy.PolicyError:
            statements = None
        if statements is None:
            self.reply_error("com.amazon.coral.service#UnrecognizedClientException",
                             "The security token included in the request is invalid.")
            return
        try:
            request = json.loads(body or b"{}")
            checks = iam_policy.checks_for(operation, request, region, self.proxy.stack.key_names)
            decision = iam_policy.evaluate(statements, checks)
        except (iam_policy.PolicyError, KeyError, ValueError) as err:
            decision = iam_policy.Decision(False, None, f"the checker cannot authorise it: {err}")
        if not decision.allowed:
            check = decision.check
            action = check.action if check else f"dynamodb:{operation}"
            resource = check.resource if check else table
            self.proxy.record_denial({"principal": principal, "table": table, "operation": operation,
                                      "action": action, "resource": resource, "reason": decision.reason})
            self.reply_error(
                "com.amazon.coral.service#AccessDeniedException",
                f"User: arn:aws:sts::{iam_policy.ACCOUNT}:assumed-role/scimlet-{principal}/test is not "
                f"authorized to perform: {action} on resource: {resource} because {decision.reason}",
            )
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "authorization")}
        headers["Authorization"] = auth.replace(f"Credential={found.group(1)}/", f"Credential={UPSTREAM_KEY}/", 1)
        try:
            status, response_headers, response_body = self.proxy.forward("POST", self.path, headers, body)
        except OSError as err:
            self.send_response(502)
            message = f"iam-proxy: upstream unreachable: {err}".encode()
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            self.wfile.write(message)
            return
        self.send_response(status)
        for name, value in response_headers:
            if name.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response_body)))
        self.end_headers()
        self.wfile.write(response_body)

    def reply_error(self, error_type: str, message: str) -> None:
        payload = json.dumps({"__type": error_type, "Message": message}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amzn-RequestId", "iam-proxy")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main() -> int:
    parser = argparse.ArgumentParser(description="DynamoDB Local behind the stack's IAM policies")
    parser.add_argument("--upstream", required=True, help="DynamoDB Local's URL")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the port here once listening")
    parser.add_argument("--denials-log", help="append every denial here, one JSON line each")
    args = parser.parse_args()
    from samtranslator.yaml_helper import yaml_parse

    translated = template_check.translate(yaml_parse(template_check.TEMPLATE.read_text()))
    stack = iam_policy.Stack(translated)
    Handler.proxy = Proxy(stack, args.upstream, Path(args.denials_log) if args.denials_log else None)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        Path(args.port_file).write_text(str(port))
    print(f"iam-proxy: listening on 127.0.0.1:{port}, upstream {args.upstream}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
