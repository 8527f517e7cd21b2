"""Cold starts of Lambda bootstrap binaries, measured against a Lambda Runtime API emulator on
loopback (bench/coldstart.sh runs it; see BENCHMARKS.md).

For each binary and run: start the emulator, spawn the binary with the environment Lambda
gives a function, and record
  - init: from spawn to the binary's first GET /runtime/invocation/next (what Lambda bills as
    Init Duration), with the process's CPU time at that moment;
  - first request: from handing it the event to its POST of the response (for scimlet: route,
    token verification with argon2id, DynamoDB reads, rendering), and the peak resident
    memory after it.
Prints medians over the runs, and the response's status code (it must be the expected one).

    python3 bench/coldstart.py --runs 20 --event EVENT.json --expect-status 200 \
        --env KEY=VALUE ... NAME=PATH [NAME=PATH ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

API = "/2018-06-01/runtime"


class Emulator:
    """One invocation's worth of the Runtime API."""

    def __init__(self, event: bytes):
        self.event = event
        self.first_next: float | None = None
        self.handed_out: float | None = None
        self.responded: float | None = None
        self.response: bytes = b""
        self.done = threading.Event()
        self.served = False
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path != f"{API}/invocation/next":
                    self.send_error(404)
                    return
                now = time.perf_counter()
                if emulator.served:
                    # The function asks for its second event: hold it until we stop.
                    emulator.done.wait(10)
                    self.send_error(500)
                    return
                emulator.first_next = emulator.first_next or now
                emulator.served = True
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", "00000000-0000-0000-0000-000000000001")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 29_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:us-east-1:123456789012:function:scimlet")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000001")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(emulator.event)))
                self.end_headers()
                self.wfile.write(emulator.event)
                self.wfile.flush()
                emulator.handed_out = time.perf_counter()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path.endswith("/response") or self.path.endswith("/error"):
                    emulator.responded = time.perf_counter()
                    emulator.response = body
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if emulator.responded:
                    emulator.done.set()

        class QuietServer(HTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # the function is killed while it waits for its second event

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.done.set()
        self.server.shutdown()


def process_cpu_ms(pid: int) -> float:
    """CPU time of all threads of a process so far (schedstat, nanoseconds)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            pass
    return total / 1e6


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_once(binary: str, event: bytes, env: dict[str, str]) -> dict:
    emulator = Emulator(event)
    full_env = {**env, "AWS_LAMBDA_RUNTIME_API": emulator.address}
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cpu_at_init = None
    deadline = time.perf_counter() + 30
    while emulator.first_next is None and time.perf_counter() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{binary} exited during init: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.0002)
    if emulator.first_next is not None:
        cpu_at_init = process_cpu_ms(process.pid)
    finished = emulator.done.wait(30)
    peak_mb = peak_memory_mb(process.pid)
    process.kill()
    process.wait()
    emulator.stop()
    if not finished or emulator.first_next is None or emulator.responded is None:
        raise SystemExit(f"{binary} did not answer its first event")
    return {
        "init_ms": (emulator.first_next - started) * 1000,
        "init_cpu_ms": cpu_at_init,
        "first_request_ms": (emulator.responded - emulator.handed_out) * 1000,
        "status": json.loads(emulator.response or b"{}").get("statusCode"),
        "peak_mb": peak_mb,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Cold starts against a Runtime API emulator")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--event", required=True)
    parser.add_argument("--expect-status", type=int, default=200)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for every binary")
    parser.add_argument("binaries", nargs="+", help="NAME=PATH")
    args = parser.parse_args()
    event = Path(args.event).read_bytes()
    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "scimlet", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/scimlet",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "_HANDLER": "bootstrap", "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
    }
    base_env.update(dict(e.split("=", 1) for e in args.env))
    for spec in args.binaries:
        name, path = spec.split("=", 1)
        runs = [run_once(path, event, base_env) for _ in range(args.runs)]
        statuses = {r["status"] for r in runs}
        if name != "hello" and statuses != {args.expect_status}:
            raise SystemExit(f"{name}: first-request status {statuses}, expected {args.expect_status}")
        med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
        size = Path(path).stat().st_size / 1e6
        print(f"{name}: size {size:.1f} MB; init median {med('init_ms'):.1f} ms "
              f"(CPU {med('init_cpu_ms'):.1f} ms, min {min(r['init_ms'] for r in runs):.1f}, "
              f"max {max(r['init_ms'] for r in runs):.1f}); first request median "
              f"{med('first_request_ms'):.1f} ms; peak memory {max(r['peak_mb'] for r in runs):.0f} MB; "
              f"{args.runs} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
