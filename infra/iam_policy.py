"""IAM for the test run: which DynamoDB requests each principal of the stack may make.

The policies come from template.yaml itself, as CloudFormation sees it (translated by
aws-sam-translator, see template_check.py), never from a second list:

- principal `function`: the policies of the role the template gives the Function resource;
- principal `operator`: the template's OperatorPolicy (what the scimlet CLI needs);
- principal `pipe`: the policies of ChangeEventsPipeRole (the change-event pipe reading the
  table's stream; the tests read DynamoDB Local's stream as it);
- principal `admin`: everything (the person who deploys: creates tables in tests);
- principal `nobody`: nothing (tests that prove denials use it; its denials are expected).

A principal acts on one "stack": its access key id is `<principal>.<table>`, and the
template's `Table` resource is bound to that table. Requests are turned into authorisation
checks the way DynamoDB does (one per item action inside a transaction: TransactWriteItems has
no IAM action of its own), and evaluated as IAM does: an explicit Deny wins, else some Allow
must match action, resource and every condition. Condition operators cover the string, bool
and null families with the ForAllValues/ForAnyValue qualifiers and IfExists, and the request
context carries dynamodb:LeadingKeys (the partition key values a request touches), so
per-tenant session policies (LeadingKeys on `T#<tid>#*`) can be checked the same way later.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
PARTITION = "aws"

# Managed policies the template may attach, with the DynamoDB access they grant (none).
KNOWN_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}
    ],
}

ALLOW_ALL = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]


class PolicyError(Exception):
    """The template or a request uses something this checker cannot evaluate (fail closed)."""


@dataclass(frozen=True)
class Check:
    """One authorisation decision a request needs."""

    action: str
    resource: str
    context: dict[str, list[str]] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Decision:
    allowed: bool
    check: Check | None = None
    reason: str = ""


def table_arn(region: str, table: str) -> str:
    return f"arn:{PARTITION}:dynamodb:{region}:{ACCOUNT}:table/{table}"


# ---------------------------------------------------------------------------------------
# Policies from the translated template


class Stack:
    """The translated template, with the principals it defines."""

    def __init__(self, translated: dict):
        self.template = translated
        self.resources = translated["Resources"]
        table = self._single("AWS::DynamoDB::Table")
        self.table_logical_id = table[0]
        self.key_names = _key_names(table[1]["Properties"])

    def _single(self, type_name: str) -> tuple[str, dict]:
        found = [(k, r) for k, r in self.resources.items() if r["Type"] == type_name]
        if len(found) != 1:
            raise PolicyError(f"expected one {type_name} in the template, found {len(found)}")
        return found[0]

    def statements(self, principal: str, table: str, region: str) -> list[dict]:
        """The resolved policy statements of a principal acting on `table`."""
        if principal == "admin":
            return ALLOW_ALL
        if principal == "nobody":
            return []
        if principal == "function":
            documents = self._function_documents()
        elif principal == "operator":
            documents = [self.resources["OperatorPolicy"]["Properties"]["PolicyDocument"]]
        elif principal == "pipe":
            role = self.resources["ChangeEventsPipeRole"]["Properties"]
            documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
        else:
            raise PolicyError(f"unknown principal {principal!r}")
        resolver = _Resolver(self.table_logical_id, table, region)
        statements = []
        for document in documents:
            for statement in _as_list(document["Statement"]):
                statements.append(resolver.resolve(statement))
        return statements

    def _function_documents(self) -> list[dict]:
        function = self.resources.get("Function")
        if not function or function["Type"] != "AWS::Lambda::Function":
            raise PolicyError("expected the SCIM function as the template's `Function` resource")
        role_ref = function["Properties"]["Role"]
        if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
            raise PolicyError("the function's Role must be a GetAtt of a role in the template")
        role = self.resources[role_ref["Fn::GetAtt"][0]]["Properties"]
        documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
        for arn in role.get("ManagedPolicyArns", []):
            if isinstance(arn, dict) and "Ref" in arn:
                documents.append(self.resources[arn["Ref"]]["Properties"]["PolicyDocument"])
            elif arn in KNOWN_MANAGED_POLICIES:
                documents.append({"Statement": KNOWN_MANAGED_POLICIES[arn]})
            else:
                raise PolicyError(f"managed policy {arn} is not known to the checker")
        return documents


def _key_names(table_props: dict) -> dict[str | None, str]:
    """Partition key attribute of the table (key None) and of each index."""
    def hash_key(schema: list[dict]) -> str:
        return next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")

    names: dict[str | None, str] = {None: hash_key(table_props["KeySchema"])}
    for index in table_props.get("GlobalSecondaryIndexes", []):
        names[index["IndexName"]] = hash_key(index["KeySchema"])
    return names


class _Resolver:
    """Resolves the intrinsic functions a policy statement may use."""

    def __init__(self, table_logical_id: str, table: str, region: str):
        self.refs = {
            table_logical_id: table,
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
        }
        # A stream's ARN ends in a label set when the stream is enabled (DynamoDB Local uses its
        # own region and account in it): the test stack's stream is any stream of its table.
        self.attrs = {
            f"{table_logical_id}.Arn": table_arn(region, table),
            f"{table_logical_id}.StreamArn": f"arn:{PARTITION}:dynamodb:*:*:table/{table}/stream/*",
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._lookup(self.refs, arg)
            if key == "Fn::GetAtt":
                name = ".".join(arg) if isinstance(arg, list) else arg
                return self._lookup(self.attrs, name)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                return arg[0].join(self.resolve(arg[1]))
            if key.startswith("Fn::"):
                raise PolicyError(f"{key} in a policy statement is not supported by the checker")
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> str:
        if not isinstance(arg, str):
            raise PolicyError("Fn::Sub with a variable map is not supported by the checker")

        def one(match: re.Match) -> str:
            name = match.group(1)
            if "." in name:
                return self._lookup(self.attrs, name)
            return self._lookup(self.refs, name)

        return re.sub(r"\$\{([^}!]+)\}", one, arg)

    @staticmethod
    def _lookup(table: dict, name: str) -> str:
        if name not in table and name.endswith(".Arn"):
            # Another resource of the stack (a function, a bus, a queue): an ARN no DynamoDB
            # request can ever name.
            return f"arn:{PARTITION}:not-dynamodb:::{name[:-4]}"
        if name not in table:
            raise PolicyError(f"policy refers to {name}, which the test stack does not bind")
        return table[name]


# ---------------------------------------------------------------------------------------
# Requests -> checks


def checks_for(operation: str, body: dict, region: str, key_names: dict[str | None, str]) -> list[Check]:
    """The authorisation checks a DynamoDB (or DynamoDB Streams) request needs."""

    def leading(table_keys: list[dict], index: str | None = None) -> dict[str, list[str]]:
        attr = key_names.get(index) or key_names[None]
        values = sorted({_scalar(k.get(attr)) for k in table_keys if k.get(attr) is not None})
        return {"dynamodb:LeadingKeys": values}

    def arn(table: str, index: str | None = None) -> str:
        base = table_arn(region, table)
        return f"{base}/index/{index}" if index else base

    single_item = {"GetItem": "Key", "DeleteItem": "Key", "UpdateItem": "Key", "PutItem": "Item"}
    if operation in single_item:
        item = body.get(single_item[operation]) or {}
        return [Check(f"dynamodb:{operation}", arn(body["TableName"]), leading([item]))]
    if operation in ("Query", "Scan"):
        index = body.get("IndexName")
        context = {}
        if operation == "Query":
            value = _key_condition_value(body, key_names.get(index) or key_names[None])
            context = {"dynamodb:LeadingKeys": [value] if value is not None else []}
        return [Check(f"dynamodb:{operation}", arn(body["TableName"], index), context)]
    if operation == "BatchGetItem":
        return [
            Check("dynamodb:BatchGetItem", arn(table), leading(request.get("Keys", [])))
            for table, request in body.get("RequestItems", {}).items()
        ]
    if operation == "BatchWriteItem":
        result = []
        for table, requests in body.get("RequestItems", {}).items():
            items = [r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key") or {} for r in requests]
            result.append(Check("dynamodb:BatchWriteItem", arn(table), leading(items)))
        return result
    if operation in ("TransactWriteItems", "TransactGetItems"):
        kinds = {"Put": ("PutItem", "Item"), "Update": ("UpdateItem", "Key"), "Delete": ("DeleteItem", "Key"),
                 "ConditionCheck": ("ConditionCheckItem", "Key"), "Get": ("GetItem", "Key")}
        result = []
        for entry in body.get("TransactItems", []):
            (kind, inner), = entry.items()
            action, key_field = kinds[kind]
            result.append(Check(f"dynamodb:{action}", arn(inner["TableName"]), leading([inner.get(key_field) or {}])))
        return result
    if operation in ("CreateTable", "DeleteTable", "DescribeTable", "UpdateTable", "UpdateTimeToLive",
                     "DescribeTimeToLive", "DescribeContinuousBackups", "UpdateContinuousBackups"):
        return [Check(f"dynamodb:{operation}", arn(body["TableName"]))]
    if operation in ("ListTables", "ListStreams", "DescribeLimits", "DescribeEndpoints"):
        return [Check(f"dynamodb:{operation}", "*")]
    if operation in ("DescribeStream", "GetShardIterator"):
        return [Check(f"dynamodb:{operation}", body["StreamArn"])]
    if operation == "GetRecords":
        found = re.search(r"arn:aws:dynamodb:[^|\s\"]+/stream/[^|\s\"]+", body.get("ShardIterator", ""))
        return [Check("dynamodb:GetRecords", found.group(0) if found else "*")]
    raise PolicyError(f"the checker does not know how to authorise {operation}")


def _scalar(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1:
        (_, inner), = value.items()
        return str(inner)
    return json.dumps(value, sort_keys=True)


def _key_condition_value(body: dict, attribute: str) -> str | None:
    """The value a Query's key condition binds to the partition key `attribute`."""
    expression = body.get("KeyConditionExpression", "")
    names = body.get("ExpressionAttributeNames", {})
    values = body.get("ExpressionAttributeValues", {})
    for name, placeholder in re.findall(r"(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)", expression):
        if names.get(name, name) == attribute and placeholder in values:
            return _scalar(values[placeholder])
    return None


# ---------------------------------------------------------------------------------------
# Evaluation


def evaluate(statements: list[dict], checks: list[Check]) -> Decision:
    """Every check must be allowed (no explicit deny, some allow)."""
    for check in checks:
        if any(_matches(s, check) for s in statements if s.get("Effect") == "Deny"):
            return Decision(False, check, "explicitly denied")
        if not any(_matches(s, check) for s in statements if s.get("Effect") == "Allow"):
            return Decision(False, check, "no identity-based policy allows it")
    return Decision(True)


def _matches(statement: dict, check: Check) -> bool:
    if "Action" in statement:
        if not any(_glob(p, check.action, fold=True) for p in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(_glob(p, check.action, fold=True) for p in _as_list(statement["NotAction"])):
            return False
    if "Resource" in statement:
        if not any(_glob(p, check.resource) for p in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(_glob(p, check.resource) for p in _as_list(statement["NotResource"])):
            return False
    return all(
        _condition(operator, key, _as_list(expected), check.context)
        for operator, block in statement.get("Condition", {}).items()
        for key, expected in block.items()
    )


def _glob(pattern: str, value: str, fold: bool = False) -> bool:
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


_STRING_TESTS = {
    "StringEquals": lambda v, e: v == e,
    "StringNotEquals": lambda v, e: v != e,
    "StringEqualsIgnoreCase": lambda v, e: v.lower() == e.lower(),
    "StringNotEqualsIgnoreCase": lambda v, e: v.lower() != e.lower(),
    "StringLike": lambda v, e: _glob(e, v),
    "StringNotLike": lambda v, e: not _glob(e, v),
    "Bool": lambda v, e: v.lower() == str(e).lower(),
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike"}


def _condition(operator: str, key: str, expected: list, context: dict[str, list[str]]) -> bool:
    qualifier = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
        if qualifier not in ("ForAllValues", "ForAnyValue"):
            raise PolicyError(f"condition qualifier {qualifier} is not supported by the checker")
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    present = key in context
    values = context.get(key, [])
    if base == "Null":
        return (not present or not values) == (str(expected[0]).lower() == "true")
    test = _STRING_TESTS.get(base)
    if test is None:
        raise PolicyError(f"condition operator {operator} is not supported by the checker")
    if not present:
        # IAM: a missing key matches only with IfExists (or ForAllValues, vacuously).
        return if_exists or qualifier == "ForAllValues"
    if base in _NEGATED:
        def one(v: str) -> bool:
            return all(test(v, str(e)) for e in expected)
    else:
        def one(v: str) -> bool:
            return any(test(v, str(e)) for e in expected)
    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    if len(values) != 1:
        # A single-valued operator on a multi-valued key: IAM compares each; require all.
        return bool(values) and all(one(v) for v in values)
    return one(values[0])


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]
