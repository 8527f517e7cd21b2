"""Runs the scim2-tester RFC 7643/7644 conformance checks against a running scimlet.

Usage: run_scim2_tester.py BASE_URL TOKEN KNOWN_EXCEPTIONS_FILE

Every check must pass, or be listed (by its title) in the known-exceptions file with the
evidence for why it is a bug of the tool or a deliberate deviation. A listed check that now
passes is reported, so the list stays honest. Prints "N passed, N failed" and exits 1 if an
unlisted check fails.
"""

import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def known_exceptions(path):
    titles = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                titles.add(line)
    return titles


def main():
    base_url, token, exceptions_path = sys.argv[1], sys.argv[2], sys.argv[3]
    allowed = known_exceptions(exceptions_path)
    http = httpx2.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    results = check_server(client, raise_exceptions=False)
    passed = failed = excused = 0
    seen_failures = set()
    for result in results:
        label = f"{result.title}"
        if result.status in (Status.SUCCESS, Status.SKIPPED):
            passed += 1
            continue
        seen_failures.add(label)
        if label in allowed:
            excused += 1
            print(f"KNOWN   {label}: {result.reason}")
        else:
            failed += 1
            print(f"FAILED  {label}: {result.reason}")
    for stale in sorted(allowed - seen_failures):
        print(f"NOTE    listed as a known exception but did not fail: {stale}")
    print(f"scim2-tester: {len(results)} checks, {excused} known exceptions")
    print(f"{passed + excused} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
