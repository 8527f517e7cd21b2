"""An offline rehearsal of `sam deploy`: the translated template deployed to moto, and every
resource checked through its own service's API.

Run with the rehearsal venv (infra/python-tools.sh rehearsal), after infra/template_check.py
has written target/template/translated.json and parameter-sets.json:

    .tools/venv-rehearsal/bin/python infra/deploy_rehearsal.py [--dir target/template]

What moto (pinned in infra/requirements-rehearsal.txt) can and cannot do, found by trying:
its CloudFormation creates AWS::DynamoDB::Table, AWS::Logs::LogGroup, AWS::IAM::Role,
AWS::IAM::ManagedPolicy, AWS::Lambda::Function and AWS::Lambda::Permission, but skips
AWS::ApiGatewayV2::Api, ::Stage, ::DomainName, ::ApiMapping, AWS::Logs::MetricFilter and
AWS::CloudWatch::Alarm with only a warning (leaving references to them unresolved, e.g.
"None" in the permission's SourceArn), and fails with an internal error when a resource
reads an attribute of a skipped one (the custom domain's Route 53 alias). It drops the table's
TimeToLiveSpecification, PointInTimeRecoverySpecification and DeletionProtectionEnabled, the role's ManagedPolicyArns and the function's
Architectures and LoggingConfig, and its API Gateway has no ImportApi for an OpenAPI body.

So, per parameter set of the template check: the resources moto's CloudFormation supports,
minus those that refer to a skipped one, are created as a stack; the rest are applied by this
script through their services' APIs (botocore validates every call against the real AWS API
models) in dependency order, with the template's intrinsics resolved against the stack; the
HttpApi's OpenAPI body becomes its routes and integrations. Then every resource is read back
through its service's API and compared with the template. Properties moto drops are reported,
not checked. Exits non-zero on any difference.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import re
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import logging

import boto3
import botocore.exceptions
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT = "123456789012"
MOTO_STACK_TYPES = {
    "AWS::DynamoDB::Table", "AWS::Logs::LogGroup", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy",
    "AWS::Lambda::Function", "AWS::Lambda::Permission", "AWS::SQS::Queue", "AWS::Events::EventBus",
}
NOT_KEPT_BY_MOTO = ("the table's TimeToLiveSpecification, PointInTimeRecoverySpecification and "
                    "DeletionProtectionEnabled, the role's ManagedPolicyArns, the "
                    "function's Architectures and LoggingConfig (moto's CloudFormation drops them)")


class RehearsalFailed(Exception):
    """A resource differs from the template, or could not be created."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise RehearsalFailed(message)


class Deployment:
    """One parameter set's deployment: parameters, conditions, and what each logical id
    resolved to."""

    def __init__(self, template: dict, parameters: dict[str, str], stack_name: str):
        self.template = template
        self.resources: dict[str, dict] = template["Resources"]
        self.parameters = {
            name: parameters.get(name, str(spec.get("Default", "")))
            for name, spec in template.get("Parameters", {}).items()
        }
        self.stack_name = stack_name
        self.refs: dict[str, Any] = {
            "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": stack_name, **self.parameters,
        }
        self.attrs: dict[str, Any] = {}
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.condition(name)

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self.conditions[name]

    def active(self) -> dict[str, dict]:
        return {k: r for k, r in self.resources.items() if "Condition" not in r or self.condition(r["Condition"])}

    def resolve(self, value: Any) -> Any:
        """Resolves intrinsics; AWS::NoValue removes the key or list element."""
        if isinstance(value, list):
            return [v for v in (self.resolve(x) for x in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            handler = self._intrinsics().get(key)
            if handler:
                return handler(arg)
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": lambda a: NO_VALUE if a == "AWS::NoValue" else self._get(self.refs, a),
            "Fn::GetAtt": lambda a: self._get(self.attrs, ".".join(a) if isinstance(a, list) else a),
            "Fn::Sub": self._sub,
            "Fn::If": lambda a: self.resolve(a[1] if self.condition(a[0]) else a[2]),
            "Fn::Equals": lambda a: str(self.resolve(a[0])) == str(self.resolve(a[1])),
            "Fn::Not": lambda a: not self.resolve(a[0]),
            "Fn::And": lambda a: all(self.resolve(x) for x in a),
            "Fn::Or": lambda a: any(self.resolve(x) for x in a),
            "Condition": self.condition,
            "Fn::Join": lambda a: a[0].join(str(x) for x in self.resolve(a[1])),
        }

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def one(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            return str(self._get(self.attrs, name) if "." in name and not name.startswith("AWS::") else self._get(self.refs, name))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    @staticmethod
    def _get(table: dict, name: str) -> Any:
        if name not in table:
            raise RehearsalFailed(f"the template refers to {name}, which was not created")
        return table[name]


class _NoValue:
    pass


NO_VALUE = _NoValue()


def references(value: Any) -> set[str]:
    """Logical ids a template fragment refers to."""
    found: set[str] = set()
    if isinstance(value, list):
        for v in value:
            found |= references(v)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add((arg if isinstance(arg, list) else arg.split("."))[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= {n.split(".")[0] for n in re.findall(r"\$\{([^}!]+)\}", text)}
            found |= references(arg)
    return found


def split_for_moto(deployment: Deployment) -> tuple[list[str], list[str]]:
    """(created by moto's CloudFormation, applied by this script in dependency order)."""
    active = deployment.active()
    applied = {k for k, r in active.items() if r["Type"] not in MOTO_STACK_TYPES}
    changed = True
    while changed:
        changed = False
        for k, r in active.items():
            deps = references(r.get("Properties", {})) | set(_as_list(r.get("DependsOn", [])))
            if k not in applied and deps & applied:
                applied.add(k)
                changed = True
    order: list[str] = []

    def visit(k: str, seen: set[str]) -> None:
        if k in order or k not in applied:
            return
        expect(k not in seen, f"dependency cycle through {k}")
        r = active[k]
        for dep in sorted(references(r.get("Properties", {})) | set(_as_list(r.get("DependsOn", [])))):
            visit(dep, seen | {k})
        order.append(k)

    for k in sorted(applied):
        visit(k, set())
    return sorted(set(active) - applied), order


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


class Rehearsal:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)
        return self.clients[service]

    def call(self, service: str, operation: str, **params: Any) -> Any:
        """Calls an API with template values coerced to the operation's input shape, as
        CloudFormation coerces parameter strings to each property's type."""
        client = self.client(service)
        model = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[operation])
        try:
            return getattr(client, operation)(**coerce(params, model.input_shape))
        except (botocore.exceptions.ParamValidationError, botocore.exceptions.ClientError) as err:
            raise RehearsalFailed(f"{service}.{operation}: {err}") from err

    # -- the stack part ---------------------------------------------------------------

    def create_stack(self, deployment: Deployment, logical_ids: list[str]) -> None:
        template = {k: v for k, v in deployment.template.items() if k not in ("Resources", "Outputs", "Rules")}
        template["Resources"] = {k: deployment.resources[k] for k in logical_ids}
        cf = self.client("cloudformation")
        cf.create_stack(
            StackName=deployment.stack_name,
            TemplateBody=json.dumps(template),
            Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in deployment.parameters.items()],
        )
        for _ in range(120):
            stack = cf.describe_stacks(StackName=deployment.stack_name)["Stacks"][0]
            if not stack["StackStatus"].endswith("IN_PROGRESS"):
                break
            time.sleep(0.5)
        expect(stack["StackStatus"] == "CREATE_COMPLETE",
               f"stack {stack['StackStatus']}: {stack.get('StackStatusReason')}")
        summaries = cf.list_stack_resources(StackName=deployment.stack_name)["StackResourceSummaries"]
        physical = {s["LogicalResourceId"]: s.get("PhysicalResourceId") for s in summaries}
        for logical_id in logical_ids:
            if not physical.get(logical_id) and deployment.resources[logical_id]["Type"] == "AWS::Events::EventBus":
                # moto's CloudFormation creates the bus under its Name but reports no
                # physical id for it.
                physical[logical_id] = deployment.resolve(deployment.resources[logical_id]["Properties"])["Name"]
            expect(bool(physical.get(logical_id)), f"{logical_id} was not created by the stack")
            self.record(deployment, logical_id, physical[logical_id])

    def record(self, deployment: Deployment, logical_id: str, physical: str) -> None:
        """Fills in Ref and GetAtt values of a stack-created resource from its service."""
        kind = deployment.resources[logical_id]["Type"]
        deployment.refs[logical_id] = physical
        attrs = deployment.attrs
        if kind == "AWS::DynamoDB::Table":
            table = self.client("dynamodb").describe_table(TableName=physical)["Table"]
            attrs[f"{logical_id}.Arn"] = table["TableArn"]
            attrs[f"{logical_id}.StreamArn"] = table.get("LatestStreamArn")
        elif kind == "AWS::Logs::LogGroup":
            attrs[f"{logical_id}.Arn"] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{physical}:*"
        elif kind == "AWS::IAM::Role":
            attrs[f"{logical_id}.Arn"] = self.client("iam").get_role(RoleName=physical)["Role"]["Arn"]
        elif kind == "AWS::Lambda::Function":
            config = self.client("lambda").get_function_configuration(FunctionName=physical)
            attrs[f"{logical_id}.Arn"] = config["FunctionArn"]
        elif kind == "AWS::SQS::Queue":
            queue = self.client("sqs").get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])
            attrs[f"{logical_id}.Arn"] = queue["Attributes"]["QueueArn"]
            attrs[f"{logical_id}.QueueName"] = physical.rsplit("/", 1)[-1]
        elif kind == "AWS::Events::EventBus":
            bus = self.client("events").describe_event_bus(Name=physical)
            attrs[f"{logical_id}.Arn"] = bus["Arn"]
            attrs[f"{logical_id}.Name"] = bus["Name"]

    # -- the applied part -------------------------------------------------------------

    def apply(self, deployment: Deployment, logical_id: str) -> None:
        resource = deployment.resources[logical_id]
        props = deployment.resolve(resource.get("Properties", {}))
        appliers = {
            "AWS::ApiGatewayV2::Api": self.apply_http_api,
            "AWS::ApiGatewayV2::Stage": self.apply_stage,
            "AWS::ApiGatewayV2::DomainName": self.apply_domain_name,
            "AWS::ApiGatewayV2::ApiMapping": self.apply_api_mapping,
            "AWS::Route53::RecordSet": self.apply_record_set,
            "AWS::Lambda::Permission": self.apply_permission,
            "AWS::Logs::MetricFilter": self.apply_metric_filter,
            "AWS::CloudWatch::Alarm": self.apply_alarm,
            "AWS::Pipes::Pipe": self.apply_pipe,
            "AWS::Events::Rule": self.apply_rule,
            "AWS::ApiGatewayV2::Integration": self.apply_integration,
            "AWS::ApiGatewayV2::Route": self.apply_route,
        }
        applier = appliers.get(resource["Type"])
        expect(applier is not None, f"{logical_id}: no way to rehearse {resource['Type']}")
        applier(deployment, logical_id, props)

    def apply_http_api(self, d: Deployment, logical_id: str, props: dict) -> None:
        body = props["Body"]
        api = self.call("apigatewayv2", "create_api", Name=str(body["info"]["title"]), ProtocolType="HTTP")
        api_id = api["ApiId"]
        for path, methods in body["paths"].items():
            for method, operation in methods.items():
                integration = operation["x-amazon-apigateway-integration"]
                expect(integration["type"] == "aws_proxy", f"{path}: unexpected integration type")
                function_arn = re.search(r"functions/(.+)/invocations", integration["uri"]).group(1)
                created = self.call(
                    "apigatewayv2", "create_integration", ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn,
                    PayloadFormatVersion=integration["payloadFormatVersion"])
                verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                self.call(
                    "apigatewayv2", "create_route", ApiId=api_id, RouteKey=f"{verb} {path}", Target=f"integrations/{created['IntegrationId']}")
        d.refs[logical_id] = api_id

    def apply_stage(self, d: Deployment, logical_id: str, props: dict) -> None:
        self.call("apigatewayv2", "create_stage", **props)
        d.refs[logical_id] = props["StageName"]

    def apply_domain_name(self, d: Deployment, logical_id: str, props: dict) -> None:
        self.call("apigatewayv2", "create_domain_name", **props)
        d.refs[logical_id] = props["DomainName"]
        # moto returns no target; AWS answers d-<id>.execute-api.<region>.amazonaws.com.
        d.attrs[f"{logical_id}.RegionalDomainName"] = f"d-rehearsal.execute-api.{REGION}.amazonaws.com"
        d.attrs[f"{logical_id}.RegionalHostedZoneId"] = "Z1UJRXOUMOOFQ8"

    def apply_api_mapping(self, d: Deployment, logical_id: str, props: dict) -> None:
        created = self.call("apigatewayv2", "create_api_mapping", **props)
        d.refs[logical_id] = created["ApiMappingId"]

    def apply_record_set(self, d: Deployment, logical_id: str, props: dict) -> None:
        zone = props.pop("HostedZoneId")
        alias = props.pop("AliasTarget", None)
        record = {**props}
        if alias:
            record["AliasTarget"] = {"DNSName": alias["DNSName"], "HostedZoneId": alias["HostedZoneId"],
                                     "EvaluateTargetHealth": False}
        self.call(
            "route53", "change_resource_record_sets", HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": record}]})
        d.refs[logical_id] = props["Name"]

    def apply_permission(self, d: Deployment, logical_id: str, props: dict) -> None:
        self.call("lambda", "add_permission", StatementId=logical_id, **props)
        d.refs[logical_id] = logical_id

    def apply_metric_filter(self, d: Deployment, logical_id: str, props: dict) -> None:
        transformations = [{
            "metricName": t["MetricName"], "metricNamespace": t["MetricNamespace"],
            "metricValue": t["MetricValue"], **({"defaultValue": float(t["DefaultValue"])} if "DefaultValue" in t else {}),
            **({"unit": t["Unit"]} if "Unit" in t else {}),
        } for t in props["MetricTransformations"]]
        self.call(
            "logs", "put_metric_filter", logGroupName=props["LogGroupName"], filterName=logical_id,
            filterPattern=props["FilterPattern"], metricTransformations=transformations)
        d.refs[logical_id] = logical_id

    def apply_integration(self, d: Deployment, logical_id: str, props: dict) -> None:
        created = self.call("apigatewayv2", "create_integration", **props)
        d.refs[logical_id] = created["IntegrationId"]

    def apply_route(self, d: Deployment, logical_id: str, props: dict) -> None:
        created = self.call("apigatewayv2", "create_route", **props)
        d.refs[logical_id] = created["RouteId"]

    def apply_rule(self, d: Deployment, logical_id: str, props: dict) -> None:
        name = f"{d.stack_name}-{logical_id}"[:64]
        targets = props.pop("Targets", [])
        created = self.call("events", "put_rule", Name=name, **props)
        self.call("events", "put_targets", Rule=name, Targets=targets)
        d.refs[logical_id] = name
        d.attrs[f"{logical_id}.Arn"] = created["RuleArn"]

    def apply_pipe(self, d: Deployment, logical_id: str, props: dict) -> None:
        name = f"{d.stack_name}-{logical_id}"[:64]
        created = self.call("pipes", "create_pipe", Name=name, **props)
        d.refs[logical_id] = name
        d.attrs[f"{logical_id}.Arn"] = created["Arn"]

    def apply_alarm(self, d: Deployment, logical_id: str, props: dict) -> None:
        self.call("cloudwatch", "put_metric_alarm", AlarmName=logical_id, **props)
        d.refs[logical_id] = logical_id

    # -- reading everything back --------------------------------------------------------

    def verify(self, d: Deployment) -> list[str]:
        checked = []
        for logical_id, resource in d.active().items():
            props = d.resolve(resource.get("Properties", {}))
            verifier = getattr(self, "verify_" + resource["Type"].split("::", 1)[1].replace("::", "_").lower())
            verifier(d, logical_id, props)
            checked.append(f"{logical_id} ({resource['Type']})")
        return checked

    def verify_dynamodb_table(self, d: Deployment, logical_id: str, props: dict) -> None:
        ddb = self.client("dynamodb")
        table = ddb.describe_table(TableName=d.refs[logical_id])["Table"]
        expect(table["KeySchema"] == props["KeySchema"], f"{logical_id}: key schema")
        expect(sorted(map(json.dumps, table["AttributeDefinitions"])) == sorted(map(json.dumps, props["AttributeDefinitions"])),
               f"{logical_id}: attribute definitions")
        indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
        for wanted in props["GlobalSecondaryIndexes"]:
            got = indexes.get(wanted["IndexName"])
            expect(got is not None and got["KeySchema"] == wanted["KeySchema"]
                   and got["Projection"]["ProjectionType"] == wanted["Projection"]["ProjectionType"],
                   f"{logical_id}: index {wanted['IndexName']}")
        expect(table.get("BillingModeSummary", {}).get("BillingMode") == props["BillingMode"], f"{logical_id}: billing mode")
        stream = table.get("StreamSpecification", {})
        expect(stream.get("StreamEnabled") and stream.get("StreamViewType") == props["StreamSpecification"]["StreamViewType"],
               f"{logical_id}: stream")

    def verify_logs_loggroup(self, d: Deployment, logical_id: str, props: dict) -> None:
        groups = self.client("logs").describe_log_groups(logGroupNamePrefix=d.refs[logical_id])["logGroups"]
        expect(any(g.get("retentionInDays") == int(props["RetentionInDays"]) for g in groups), f"{logical_id}: retention")

    def verify_iam_role(self, d: Deployment, logical_id: str, props: dict) -> None:
        iam = self.client("iam")
        name = d.refs[logical_id]
        trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        expect(json.dumps(trust, sort_keys=True) == json.dumps(props["AssumeRolePolicyDocument"], sort_keys=True),
               f"{logical_id}: trust policy")
        for policy in props.get("Policies", []):
            got = iam.get_role_policy(RoleName=name, PolicyName=policy["PolicyName"])["PolicyDocument"]
            expect(_same_document(got, policy["PolicyDocument"]), f"{logical_id}: policy {policy['PolicyName']}")

    def verify_iam_managedpolicy(self, d: Deployment, logical_id: str, props: dict) -> None:
        iam = self.client("iam")
        policy = iam.get_policy(PolicyArn=d.refs[logical_id])["Policy"]
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
        expect(_same_document(version["PolicyVersion"]["Document"], props["PolicyDocument"]), f"{logical_id}: document")

    def verify_lambda_function(self, d: Deployment, logical_id: str, props: dict) -> None:
        config = self.client("lambda").get_function_configuration(FunctionName=d.refs[logical_id])
        for key in ("Runtime", "Handler", "Role"):
            expect(config.get(key) == props[key], f"{logical_id}: {key} {config.get(key)} != {props[key]}")
        for key in ("MemorySize", "Timeout"):
            expect(int(config[key]) == int(props[key]), f"{logical_id}: {key}")
        got = {k: str(v) for k, v in config.get("Environment", {}).get("Variables", {}).items()}
        wanted = {k: str(v) for k, v in props["Environment"]["Variables"].items()}
        expect(got == wanted, f"{logical_id}: environment {got} != {wanted}")

    def verify_lambda_permission(self, d: Deployment, logical_id: str, props: dict) -> None:
        policy = json.loads(self.client("lambda").get_policy(FunctionName=props["FunctionName"])["Policy"])
        statement = next((s for s in policy["Statement"] if s["Sid"] == logical_id), None)
        expect(statement is not None, f"{logical_id}: no statement")
        expect(statement["Principal"]["Service"] == props["Principal"], f"{logical_id}: principal")
        source = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")
        expect(source == props["SourceArn"] and "None" not in source, f"{logical_id}: source ARN {source}")

    def verify_apigatewayv2_api(self, d: Deployment, logical_id: str, props: dict) -> None:
        api = self.client("apigatewayv2")
        api_id = d.refs[logical_id]
        routes = {r["RouteKey"]: r for r in api.get_routes(ApiId=api_id)["Items"]}
        integrations = {i["IntegrationId"]: i for i in api.get_integrations(ApiId=api_id)["Items"]}
        function_arn = d.attrs["Function.Arn"]
        for path, methods in props["Body"]["paths"].items():
            for method in methods:
                verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                route = routes.get(f"{verb} {path}")
                expect(route is not None, f"{logical_id}: route {verb} {path}")
                integration = integrations[route["Target"].split("/", 1)[1]]
                expect(integration["IntegrationUri"] == function_arn, f"{logical_id}: integration target")
                expect(integration["PayloadFormatVersion"] == "2.0", f"{logical_id}: payload format")

    def verify_apigatewayv2_stage(self, d: Deployment, logical_id: str, props: dict) -> None:
        stage = self.client("apigatewayv2").get_stage(ApiId=props["ApiId"], StageName=props["StageName"])
        expect(stage["AccessLogSettings"] == props["AccessLogSettings"], f"{logical_id}: access log settings")
        route = stage.get("DefaultRouteSettings", {})
        for key in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
            expect(float(route.get(key, -1)) == float(props["DefaultRouteSettings"][key]), f"{logical_id}: {key}")
        fmt = props["AccessLogSettings"]["Format"]
        expect(json.loads(fmt) is not None and "$context.requestId" in fmt, f"{logical_id}: access log format")
        for private in ("querystring", "header", "authorization"):
            expect(private not in fmt.lower(), f"{logical_id}: the access log must not record {private}")

    def verify_apigatewayv2_domainname(self, d: Deployment, logical_id: str, props: dict) -> None:
        got = self.client("apigatewayv2").get_domain_name(DomainName=props["DomainName"])
        expect(got["DomainNameConfigurations"][0]["CertificateArn"] == props["DomainNameConfigurations"][0]["CertificateArn"],
               f"{logical_id}: certificate")

    def verify_apigatewayv2_apimapping(self, d: Deployment, logical_id: str, props: dict) -> None:
        items = self.client("apigatewayv2").get_api_mappings(DomainName=props["DomainName"])["Items"]
        expect(any(i["ApiId"] == props["ApiId"] and i["Stage"] == props["Stage"] for i in items), f"{logical_id}: mapping")

    def verify_route53_recordset(self, d: Deployment, logical_id: str, props: dict) -> None:
        records = self.client("route53").list_resource_record_sets(HostedZoneId=props["HostedZoneId"])["ResourceRecordSets"]
        expect(any(r["Name"].rstrip(".") == props["Name"] and r["Type"] == props["Type"] for r in records), f"{logical_id}: record")

    def verify_logs_metricfilter(self, d: Deployment, logical_id: str, props: dict) -> None:
        filters = self.client("logs").describe_metric_filters(logGroupName=props["LogGroupName"])["metricFilters"]
        found = next((f for f in filters if f["filterName"] == logical_id), None)
        expect(found is not None and found["filterPattern"] == props["FilterPattern"], f"{logical_id}: filter")

    def verify_apigatewayv2_integration(self, d: Deployment, logical_id: str, props: dict) -> None:
        got = self.client("apigatewayv2").get_integration(ApiId=props["ApiId"], IntegrationId=d.refs[logical_id])
        expect(got["IntegrationUri"] == props["IntegrationUri"] and got["PayloadFormatVersion"] == "2.0",
               f"{logical_id}: target {got.get('IntegrationUri')}")

    def verify_apigatewayv2_route(self, d: Deployment, logical_id: str, props: dict) -> None:
        got = self.client("apigatewayv2").get_route(ApiId=props["ApiId"], RouteId=d.refs[logical_id])
        expect(got["RouteKey"] == props["RouteKey"], f"{logical_id}: route key")
        expect(got.get("AuthorizationType") == props["AuthorizationType"], f"{logical_id}: authorisation")
        expect(got.get("Target") == props["Target"] and "None" not in got.get("Target", ""), f"{logical_id}: target")
        if props["RouteKey"].startswith("ANY /admin/"):
            # The admin API is never served without IAM authorisation.
            expect(got.get("AuthorizationType") == "AWS_IAM", f"{logical_id}: the admin route must use AWS_IAM")

    def verify_events_rule(self, d: Deployment, logical_id: str, props: dict) -> None:
        events = self.client("events")
        rule = events.describe_rule(Name=d.refs[logical_id])
        expect(rule.get("ScheduleExpression") == props.get("ScheduleExpression"), f"{logical_id}: schedule")
        expect(rule.get("State") == props.get("State"), f"{logical_id}: state")
        targets = events.list_targets_by_rule(Rule=d.refs[logical_id])["Targets"]
        for wanted in props["Targets"]:
            got = next((t for t in targets if t["Id"] == wanted["Id"]), None)
            expect(got is not None and got["Arn"] == wanted["Arn"], f"{logical_id}: target {wanted['Id']}")
            if "Input" in wanted:
                expect(json.loads(got["Input"]) == json.loads(wanted["Input"]), f"{logical_id}: input")

    def verify_sqs_queue(self, d: Deployment, logical_id: str, props: dict) -> None:
        got = self.client("sqs").get_queue_attributes(QueueUrl=d.refs[logical_id], AttributeNames=["All"])["Attributes"]
        expect(int(got.get("MessageRetentionPeriod", -1)) == int(props["MessageRetentionPeriod"]),
               f"{logical_id}: retention")

    def verify_events_eventbus(self, d: Deployment, logical_id: str, props: dict) -> None:
        bus = self.client("events").describe_event_bus(Name=d.refs[logical_id])
        expect(bus["Name"] == props["Name"], f"{logical_id}: name {bus['Name']} != {props['Name']}")

    def verify_pipes_pipe(self, d: Deployment, logical_id: str, props: dict) -> None:
        got = self.client("pipes").describe_pipe(Name=d.refs[logical_id])
        for key in ("RoleArn", "Source", "Enrichment", "Target"):
            expect(got.get(key) == props[key] and "None" not in str(got.get(key)),
                   f"{logical_id}: {key} {got.get(key)} != {props[key]}")
        stream = got["SourceParameters"]["DynamoDBStreamParameters"]
        wanted = props["SourceParameters"]["DynamoDBStreamParameters"]
        for key in ("StartingPosition", "BatchSize", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
                    "OnPartialBatchItemFailure"):
            expect(str(stream.get(key)) == str(wanted[key]), f"{logical_id}: {key}")
        expect(stream["DeadLetterConfig"]["Arn"] == wanted["DeadLetterConfig"]["Arn"], f"{logical_id}: dead-letter queue")
        # A stream source retries a failing record until it expires unless these are finite.
        expect(0 <= int(stream["MaximumRetryAttempts"]) <= 185, f"{logical_id}: retry limit")
        expect(60 <= int(stream["MaximumRecordAgeInSeconds"]) <= 604800, f"{logical_id}: record age")
        for f in got["SourceParameters"]["FilterCriteria"]["Filters"]:
            expect(json.loads(f["Pattern"]) is not None, f"{logical_id}: filter pattern is JSON")
        bus = got["TargetParameters"]["EventBridgeEventBusParameters"]
        expect(bus == props["TargetParameters"]["EventBridgeEventBusParameters"], f"{logical_id}: target parameters")

    def verify_cloudwatch_alarm(self, d: Deployment, logical_id: str, props: dict) -> None:
        alarms = self.client("cloudwatch").describe_alarms(AlarmNames=[logical_id])["MetricAlarms"]
        expect(len(alarms) == 1, f"{logical_id}: not found")
        alarm = alarms[0]
        for key in ("Namespace", "MetricName", "ComparisonOperator"):
            expect(alarm[key] == props[key], f"{logical_id}: {key}")
        expect(alarm.get("Dimensions", []) == props.get("Dimensions", []), f"{logical_id}: dimensions")
        expect(float(alarm["Threshold"]) == float(props["Threshold"]), f"{logical_id}: threshold")


def coerce(value: Any, shape: Any) -> Any:
    """A template value converted to a botocore shape's type (strings to numbers, booleans)."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: coerce(v, shape.members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [coerce(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: coerce(v, shape.value) for k, v in value.items()}
    if isinstance(value, str):
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("double", "float"):
            return float(value)
        if kind == "boolean":
            return value.lower() == "true"
    if isinstance(value, (int, float)) and kind == "string":
        return str(value)
    return value


def _same_document(a: dict, b: dict) -> bool:
    def norm(doc: dict | str) -> str:
        if isinstance(doc, str):
            # moto keeps inline role policies created by CloudFormation as a Python literal.
            doc = json.loads(doc) if doc.lstrip().startswith('{"') else ast.literal_eval(doc)
        statements = [{k: sorted(v) if isinstance(v, list) else v for k, v in s.items()} for s in _as_list(doc["Statement"])]
        return json.dumps(statements, sort_keys=True)

    return norm(a) == norm(b)


def upload_code(rehearsal: Rehearsal, template: dict) -> None:
    """What `sam package` uploads: a zip per function, where the translation points."""
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            code = resource["Properties"]["Code"]
            s3 = rehearsal.client("s3")
            buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
            if code["S3Bucket"] not in buckets:
                s3.create_bucket(Bucket=code["S3Bucket"])
            archive = io.BytesIO()
            with zipfile.ZipFile(archive, "w") as z:
                z.writestr("bootstrap", "#!/bin/sh\n")
            s3.put_object(Bucket=code["S3Bucket"], Key=code["S3Key"], Body=archive.getvalue())


def rehearse(rehearsal: Rehearsal, template: dict, name: str, assignments: list[str]) -> None:
    parameters = dict(a.split("=", 1) for a in assignments)
    if parameters.get("HostedZoneId"):
        zone = rehearsal.client("route53").create_hosted_zone(
            Name=parameters["DomainName"].split(".", 1)[1], CallerReference=name)
        parameters["HostedZoneId"] = zone["HostedZone"]["Id"].split("/")[-1]
    deployment = Deployment(template, parameters, f"scimlet-{name}")
    stacked, applied = split_for_moto(deployment)
    rehearsal.create_stack(deployment, stacked)
    for logical_id in applied:
        rehearsal.apply(deployment, logical_id)
    checked = rehearsal.verify(deployment)
    outputs = {k: deployment.resolve(o["Value"]) for k, o in template.get("Outputs", {}).items()
               if "Condition" not in o or deployment.condition(o["Condition"])}
    url = outputs["ScimBaseUrl"]
    expect(url.startswith("https://") and url.endswith("/scim/v2") and "None" not in url, f"ScimBaseUrl {url}")
    if parameters.get("DomainName"):
        expect(url == f"https://{parameters['DomainName']}/scim/v2", f"ScimBaseUrl {url} ignores the domain")
    print(f"ok: rehearsal '{name}': stack created with {len(stacked)} resources, {len(applied)} applied "
          f"through their APIs; checked {len(checked)}; ScimBaseUrl {url}")
    print(f"    by moto's CloudFormation: {', '.join(stacked)}")
    print(f"    through the service APIs: {', '.join(applied)}")
    print(f"    not checkable on moto: {NOT_KEPT_BY_MOTO}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(ROOT / "target" / "template"))
    args = parser.parse_args()
    directory = Path(args.dir)
    template = json.loads((directory / "translated.json").read_text())
    parameter_sets = json.loads((directory / "parameter-sets.json").read_text())
    os.environ.update({"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal",
                       "AWS_DEFAULT_REGION": REGION})
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        rehearsal = Rehearsal(f"http://{host}:{port}")
        upload_code(rehearsal, template)
        for name, assignments in parameter_sets.items():
            rehearse(rehearsal, template, name, assignments)
    except RehearsalFailed as failure:
        print(f"deploy rehearsal FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
