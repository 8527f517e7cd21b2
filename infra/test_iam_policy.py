"""Tests of the test run's IAM checker (iam_policy.py) against the real template.

    .tools/venv/bin/python -m unittest discover -s infra -p 'test_*.py'
"""

from __future__ import annotations

import copy
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import iam_policy  # noqa: E402
import template_check  # noqa: E402
from iam_policy import Check, evaluate  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

REGION = "us-east-1"
TABLE = "scimlet-test"
ARN = iam_policy.table_arn(REGION, TABLE)


def translated_template() -> dict:
    return template_check.translate(yaml_parse(template_check.TEMPLATE.read_text()))


TRANSLATED = translated_template()


def s(value: str) -> dict:
    return {"S": value}


def key(pk: str, sk: str = "X") -> dict:
    return {"PK": s(pk), "SK": s(sk)}


class FunctionPolicyFromTemplate(unittest.TestCase):
    def setUp(self) -> None:
        self.stack = iam_policy.Stack(copy.deepcopy(TRANSLATED))
        self.statements = self.stack.statements("function", TABLE, REGION)

    def decide(self, operation: str, body: dict) -> iam_policy.Decision:
        checks = iam_policy.checks_for(operation, body, REGION, self.stack.key_names)
        return evaluate(self.statements, checks)

    def test_every_call_the_store_makes_is_allowed(self) -> None:
        calls = {
            "GetItem": {"TableName": TABLE, "Key": key("T#a#U#1")},
            "PutItem": {"TableName": TABLE, "Item": key("T#a#META")},
            "DeleteItem": {"TableName": TABLE, "Key": key("TOKEN#1")},
            "BatchGetItem": {"RequestItems": {TABLE: {"Keys": [key("T#a#U#1"), key("T#a#U#2")]}}},
            "BatchWriteItem": {"RequestItems": {TABLE: [{"PutRequest": {"Item": key("T#a#G#1")}},
                                                         {"DeleteRequest": {"Key": key("T#a#U#1")}}]}},
            "Query": {"TableName": TABLE, "IndexName": "GSI1", "KeyConditionExpression": "GSI1PK = :pk",
                      "ExpressionAttributeValues": {":pk": s("T#a#USERS")}},
            "TransactWriteItems": {"TransactItems": [
                {"Put": {"TableName": TABLE, "Item": key("T#a#U#1")}},
                {"Update": {"TableName": TABLE, "Key": key("T#a#COUNT")}},
                {"Delete": {"TableName": TABLE, "Key": key("T#a#UNIQ#x")}},
                {"ConditionCheck": {"TableName": TABLE, "Key": key("T#a#META")}},
            ]},
        }
        for operation, body in calls.items():
            with self.subTest(operation):
                self.assertTrue(self.decide(operation, body).allowed, operation)

    def test_removing_an_action_from_the_template_denies_it(self) -> None:
        broken = copy.deepcopy(TRANSLATED)
        role = broken["Resources"]["FunctionRole"]["Properties"]
        for policy in role["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                statement["Action"] = [a for a in statement["Action"] if a != "dynamodb:BatchGetItem"]
        statements = iam_policy.Stack(broken).statements("function", TABLE, REGION)
        body = {"RequestItems": {TABLE: {"Keys": [key("T#a#U#1")]}}}
        checks = iam_policy.checks_for("BatchGetItem", body, REGION, self.stack.key_names)
        decision = evaluate(statements, checks)
        self.assertFalse(decision.allowed)
        self.assertEqual(decision.check.action, "dynamodb:BatchGetItem")
        self.assertTrue(self.decide("BatchGetItem", body).allowed)

    def test_transactions_are_authorised_per_item(self) -> None:
        other = {"TransactItems": [{"Put": {"TableName": TABLE, "Item": key("T#a#U#1")}},
                                   {"Put": {"TableName": "another-table", "Item": key("T#a#U#2")}}]}
        decision = self.decide("TransactWriteItems", other)
        self.assertFalse(decision.allowed)
        self.assertEqual(decision.check.resource, iam_policy.table_arn(REGION, "another-table"))
        checks = iam_policy.checks_for("TransactWriteItems", {"TransactItems": [
            {"ConditionCheck": {"TableName": TABLE, "Key": key("T#a#META")}}]}, REGION, self.stack.key_names)
        self.assertEqual([c.action for c in checks], ["dynamodb:ConditionCheckItem"])

    def test_resources_outside_the_grant_are_denied(self) -> None:
        self.assertFalse(self.decide("GetItem", {"TableName": "other", "Key": key("x")}).allowed)
        self.assertFalse(self.decide("Query", {"TableName": TABLE, "IndexName": "GSI2",
                                               "KeyConditionExpression": "GSI2PK = :p",
                                               "ExpressionAttributeValues": {":p": s("x")}}).allowed)
        self.assertFalse(self.decide("Scan", {"TableName": TABLE}).allowed)
        self.assertFalse(self.decide("DescribeTable", {"TableName": TABLE}).allowed)
        self.assertFalse(self.decide("CreateTable", {"TableName": TABLE}).allowed)

    def test_principals_are_told_apart(self) -> None:
        describe = iam_policy.checks_for("DescribeTable", {"TableName": TABLE}, REGION, self.stack.key_names)
        self.assertTrue(evaluate(self.stack.statements("operator", TABLE, REGION), describe).allowed)
        self.assertFalse(evaluate(self.statements, describe).allowed)
        self.assertTrue(evaluate(self.stack.statements("admin", TABLE, REGION), describe).allowed)
        self.assertFalse(evaluate(self.stack.statements("nobody", TABLE, REGION), describe).allowed)
        with self.assertRaises(iam_policy.PolicyError):
            self.stack.statements("local", TABLE, REGION)

    def test_only_the_pipe_reads_the_stream(self) -> None:
        stream = f"arn:aws:dynamodb:ddblocal:000000000000:table/{TABLE}/stream/2026-12-02T05:00:00.000"
        other = "arn:aws:dynamodb:ddblocal:000000000000:table/another/stream/2026-12-02T05:00:00.000"
        pipe = self.stack.statements("pipe", TABLE, REGION)
        for operation, body in [("DescribeStream", {"StreamArn": stream}),
                                ("GetShardIterator", {"StreamArn": stream, "ShardId": "s", "ShardIteratorType": "TRIM_HORIZON"}),
                                ("GetRecords", {"ShardIterator": f"{stream}|1|AAAA"})]:
            checks = iam_policy.checks_for(operation, body, REGION, self.stack.key_names)
            self.assertTrue(evaluate(pipe, checks).allowed, operation)
            self.assertFalse(evaluate(self.statements, checks).allowed, operation)
        elsewhere = iam_policy.checks_for("DescribeStream", {"StreamArn": other}, REGION, self.stack.key_names)
        self.assertFalse(evaluate(pipe, elsewhere).allowed)
        read = iam_policy.checks_for("GetItem", {"TableName": TABLE, "Key": key("T#a#U#1", "USER")}, REGION,
                                     self.stack.key_names)
        self.assertFalse(evaluate(pipe, read).allowed)

    def test_unknown_operations_fail_closed(self) -> None:
        with self.assertRaises(iam_policy.PolicyError):
            iam_policy.checks_for("ExecuteStatement", {}, REGION, self.stack.key_names)


class Conditions(unittest.TestCase):
    """What per-tenant sessions (dynamodb:LeadingKeys) will need."""

    def setUp(self) -> None:
        self.key_names = {None: "PK", "GSI1": "GSI1PK"}
        self.tenant_session = [{
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
            "Resource": [ARN, f"{ARN}/index/GSI1"],
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["T#acme#*"]}},
        }]

    def decide(self, statements: list[dict], operation: str, body: dict) -> bool:
        return evaluate(statements, iam_policy.checks_for(operation, body, REGION, self.key_names)).allowed

    def test_leading_keys_limit_a_session_to_its_tenant(self) -> None:
        own = {"RequestItems": {TABLE: {"Keys": [key("T#acme#U#1"), key("T#acme#G#2")]}}}
        mixed = {"RequestItems": {TABLE: {"Keys": [key("T#acme#U#1"), key("T#evil#U#1")]}}}
        self.assertTrue(self.decide(self.tenant_session, "BatchGetItem", own))
        self.assertFalse(self.decide(self.tenant_session, "BatchGetItem", mixed))
        self.assertFalse(self.decide(self.tenant_session, "GetItem", {"TableName": TABLE, "Key": key("TOKEN#1")}))

    def test_query_leading_key_comes_from_the_key_condition(self) -> None:
        def query(value: str) -> dict:
            return {"TableName": TABLE, "IndexName": "GSI1", "KeyConditionExpression": "#k = :v AND GSI1SK > :a",
                    "ExpressionAttributeNames": {"#k": "GSI1PK"},
                    "ExpressionAttributeValues": {":v": s(value), ":a": s("0")}}

        self.assertTrue(self.decide(self.tenant_session, "Query", query("T#acme#USERS")))
        self.assertFalse(self.decide(self.tenant_session, "Query", query("T#other#USERS")))

    def test_explicit_deny_wins(self) -> None:
        statements = self.tenant_session + [{
            "Effect": "Deny", "Action": "dynamodb:*", "Resource": "*",
            "Condition": {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["T#acme#U#secret*"]}},
        }]
        self.assertTrue(self.decide(statements, "GetItem", {"TableName": TABLE, "Key": key("T#acme#U#1")}))
        self.assertFalse(self.decide(statements, "GetItem", {"TableName": TABLE, "Key": key("T#acme#U#secret1")}))

    def test_operators_and_qualifiers(self) -> None:
        context = {"dynamodb:LeadingKeys": ["a"], "aws:SecureTransport": ["true"]}
        check = [Check("dynamodb:GetItem", ARN, context)]

        def allow(condition: dict) -> bool:
            return evaluate([{"Effect": "Allow", "Action": "dynamodb:Get*", "Resource": "arn:aws:dynamodb:*",
                              "Condition": condition}], check).allowed

        self.assertTrue(allow({"StringEquals": {"dynamodb:LeadingKeys": "a"}}))
        self.assertFalse(allow({"StringNotEquals": {"dynamodb:LeadingKeys": ["a", "b"]}}))
        self.assertTrue(allow({"Bool": {"aws:SecureTransport": "true"}}))
        self.assertFalse(allow({"StringEquals": {"aws:PrincipalTag/tenant": "a"}}))
        self.assertTrue(allow({"StringEqualsIfExists": {"aws:PrincipalTag/tenant": "a"}}))
        self.assertTrue(allow({"Null": {"aws:PrincipalTag/tenant": "true"}}))
        with self.assertRaises(iam_policy.PolicyError):
            allow({"NumericLessThan": {"dynamodb:LeadingKeys": "1"}})


if __name__ == "__main__":
    unittest.main()
