"""Checks template.yaml as CloudFormation will see it.

Run with the pinned tools venv (infra/python-tools.sh), from the repository root:

    .tools/venv/bin/python infra/template_check.py [--out DIR]

1. Translates template.yaml with aws-sam-translator (the library `sam build`/`sam deploy`
   use; pinned to the version the pinned SAM CLI requires), the way `sam deploy` does after
   `sam package` has replaced local code paths with S3 locations.
2. Lints the translated template with cfn-lint, once per parameter set in PARAMETER_SETS
   (default settings, change events off, the admin API on, and a custom domain with a
   hosted zone), failing
   on any finding.
3. Proves the lint still sees circular dependencies: it re-introduces the cycle this
   template once had (the function's environment naming the API, whose body names the
   function) into a copy and requires cfn-lint to report E3004 for it.
4. Checks the alarms: each watches a metric that is published by AWS (AWS/* namespaces, a
   known list), by a metric filter in the template, or by the function itself in CloudWatch
   embedded metric format (EMF). For the last, the recorded request log line
   tests/fixtures/emf/request-line.json (kept equal to the code's output by a Rust test) must
   be a valid EMF document declaring that metric with the alarm's dimensions.

Writes the translated template to DIR/translated.json and the parameter sets to
DIR/parameter-sets.json (default DIR: target/template) for the deploy rehearsal
(infra/deploy_rehearsal.py). Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
EMF_FIXTURE = ROOT / "tests" / "fixtures" / "emf" / "request-line.json"

# The S3 location `sam package` would substitute for `CodeUri: .`.
PACKAGED_CODE_URI = "s3://scimlet-artifacts/bootstrap.zip"

PARAMETER_SETS = {
    "defaults": [],
    "no-change-events": ["ChangeEvents=false"],
    "admin-api": ["AdminApi=true"],
    "custom-domain": [
        "DomainName=scim.example.com",
        "CertificateArn=arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "HostedZoneId=Z0123456789ABCDEFGHIJ",
        "PublicUrl=",
    ],
}

# Metrics AWS publishes by itself, per namespace (only those this project may alarm on).
AWS_METRICS = {
    "AWS/Lambda": {"Errors", "Duration", "Throttles", "Invocations", "ConcurrentExecutions"},
    "AWS/ApiGateway": {"4xx", "5xx", "Count", "Latency", "IntegrationLatency", "DataProcessed"},
    "AWS/DynamoDB": {"ThrottledRequests", "SystemErrors", "UserErrors", "SuccessfulRequestLatency"},
    "AWS/SQS": {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"},
}


class CheckFailed(Exception):
    """A check found a problem; the message says which."""


class NoManagedPolicies:
    """The translator's managed-policy loader, offline: the template names managed policies
    by ARN only, so no name needs resolving."""

    def load(self) -> dict:
        return {}


def translate(template: dict) -> dict:
    """Translates a SAM template as `sam package` + `sam deploy` would."""
    packaged = copy.deepcopy(template)
    for resource in packaged.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = PACKAGED_CODE_URI
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(packaged, {}, NoManagedPolicies())


def cfn_lint(path: Path, parameters: list[str]) -> tuple[int, str]:
    """Runs cfn-lint (the one installed beside this interpreter) on a template file."""
    exe = Path(sys.executable).parent / "cfn-lint"
    cmd = [str(exe), "--format", "parseable"]
    if parameters:
        cmd += ["--parameters", *parameters]
    cmd += ["--", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def lint_translated(translated_path: Path) -> None:
    for name, parameters in PARAMETER_SETS.items():
        code, output = cfn_lint(translated_path, parameters)
        if code != 0:
            raise CheckFailed(f"cfn-lint on the translated template ({name}):\n{output}")
        print(f"ok: cfn-lint on the translated template, parameters: {name}")


def with_cycle(template: dict) -> dict:
    """The template with the circular dependency it once had re-introduced."""
    broken = copy.deepcopy(template)
    for resource in broken["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            variables = resource["Properties"]["Environment"]["Variables"]
            variables["SCIMLET_PUBLIC_URL"] = {
                "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/scim/v2"
            }
    return broken


def check_cycle_detection(template: dict, workdir: Path) -> None:
    path = workdir / "translated-with-cycle.json"
    path.write_text(json.dumps(translate(with_cycle(template)), indent=1))
    code, output = cfn_lint(path, [])
    if code == 0 or "E3004" not in output:
        raise CheckFailed(
            "the lint no longer reports the re-introduced circular dependency (E3004); "
            f"cfn-lint said:\n{output or '(nothing)'}"
        )
    print("ok: a re-introduced Function <-> HttpApi cycle is reported (E3004)")


def validate_emf(doc: dict) -> list[tuple[str, str, frozenset[str]]]:
    """Validates an EMF document (CloudWatch embedded metric format specification) and
    returns the (namespace, metric, dimension names) it declares."""
    meta = doc.get("_aws")
    if not isinstance(meta, dict):
        raise CheckFailed("EMF: the root member _aws must be an object")
    if not isinstance(meta.get("Timestamp"), int) or meta["Timestamp"] <= 0:
        raise CheckFailed("EMF: _aws.Timestamp must be a positive integer (ms since epoch)")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        raise CheckFailed("EMF: _aws.CloudWatchMetrics must be a non-empty array")
    declared = []
    for directive in directives:
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str) or not 1 <= len(namespace) <= 1024:
            raise CheckFailed("EMF: each directive needs a Namespace string")
        dimension_sets = directive.get("Dimensions")
        if not isinstance(dimension_sets, list):
            raise CheckFailed("EMF: Dimensions must be an array of arrays")
        for dims in dimension_sets:
            if not isinstance(dims, list) or len(dims) > 30:
                raise CheckFailed("EMF: a dimension set is an array of at most 30 names")
            for dim in dims:
                if not isinstance(doc.get(dim), str):
                    raise CheckFailed(f"EMF: dimension {dim!r} must be a string member of the root")
        metrics = directive.get("Metrics")
        if not isinstance(metrics, list) or not 1 <= len(metrics) <= 100:
            raise CheckFailed("EMF: Metrics must hold 1 to 100 definitions")
        for metric in metrics:
            name = metric.get("Name")
            if not isinstance(name, str) or not 1 <= len(name) <= 1024:
                raise CheckFailed("EMF: each metric needs a Name")
            value = doc.get(name)
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                raise CheckFailed(f"EMF: metric {name!r} needs a numeric root member")
            for dims in dimension_sets:
                declared.append((namespace, name, frozenset(dims)))
    return declared


def metric_filters(translated: dict) -> set[tuple[str, str]]:
    found = set()
    for resource in translated["Resources"].values():
        if resource["Type"] == "AWS::Logs::MetricFilter":
            for t in resource["Properties"]["MetricTransformations"]:
                found.add((t["MetricNamespace"], t["MetricName"]))
    return found


def check_alarms(translated: dict) -> None:
    line = EMF_FIXTURE.read_text().strip()
    if "\n" in line:
        raise CheckFailed(f"{EMF_FIXTURE}: a log line must be one line")
    emitted = validate_emf(json.loads(line))
    filtered = metric_filters(translated)
    alarms = {k: r for k, r in translated["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    if not alarms:
        raise CheckFailed("the template defines no alarms")
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        namespace, metric = props["Namespace"], props["MetricName"]
        dims = frozenset(d["Name"] for d in props.get("Dimensions", []))
        if not props.get("AlarmDescription"):
            raise CheckFailed(f"{name}: an alarm must say what to look at (AlarmDescription)")
        if namespace.startswith("AWS/"):
            ok = metric in AWS_METRICS.get(namespace, set())
            source = "published by AWS"
        elif (namespace, metric) in filtered:
            ok = not dims  # metric filters publish without dimensions here
            source = "a metric filter"
        else:
            ok = (namespace, metric, dims) in emitted
            source = "the function's EMF request line"
        if not ok:
            raise CheckFailed(
                f"{name} watches {namespace}/{metric} with dimensions {sorted(dims)}, "
                "which nothing publishes (AWS, a metric filter, or the EMF line)"
            )
        print(f"ok: {name} watches {namespace}/{metric} ({source})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "target" / "template"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    template = yaml_parse(TEMPLATE.read_text())
    try:
        translated = translate(template)
        translated_path = out / "translated.json"
        translated_path.write_text(json.dumps(translated, indent=1))
        (out / "parameter-sets.json").write_text(json.dumps(PARAMETER_SETS, indent=1))
        print(f"ok: translated with aws-sam-translator -> {translated_path.relative_to(ROOT)}")
        lint_translated(translated_path)
        check_cycle_detection(template, out)
        check_alarms(translated)
    except CheckFailed as failure:
        print(f"template check FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
