"""The roles AWS services assume for the stack hold locally: each `AWS::IAM::Role` of the
template has a local ARN, its inline policies and its trust policy; a topic rule's Republish
runs only when AWS IoT may assume the action's role and the role allows the publish."""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from swan.adapters.mqtt import MemoryBroker
from swan.local.authorization import (
    IOT_SERVICE,
    NO_SERVICE_ROLES,
    SCHEDULER_SERVICE,
    Arns,
    Check,
    RolePolicyError,
    ServiceRoleError,
    role_documents,
    role_statements,
    service_roles,
    trust_documents,
)
from swan.local.deployment import Republish, read_template
from swan.local.functions import FunctionHost
from swan.local.intrinsics import context_for
from swan.local.rules_engine import RulesEngine
from swan.local.stack import LOCAL_ROLE_ARN, local_deployment
from swan.local.template import TemplateError, parse_template

CA_ID = "c" * 64
ACCOUNT = "000000000000"
ARNS = Arns()
STATUS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/StatusRuleRole"
WEB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/WebBackendRole"
STATUS_RULE = ARNS.iot("rule/StatusRule")
EXPIRY_GROUP = ARNS.scheduler("schedule-group/swan-local-expiry")
EXPIRE_FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:swan-local-expire-countdown"


@pytest.fixture(autouse=True)
def _heard(caplog):
    # A handler's logger (Powertools) may have set the `swan` loggers' level in another test.
    caplog.set_level(logging.INFO, logger="swan.local")


@pytest.fixture(scope="module")
def stack():
    template, deployment = local_deployment(parameters={"DeviceCaCertificateId": CA_ID})
    return template, deployment


@pytest.fixture(scope="module")
def roles(stack):
    template, deployment = stack
    return service_roles(template, deployment.context)


def publish(topic: str) -> Check:
    return Check("iot:Publish", ARNS.iot(f"topic/{topic}"))


def invoke(function_arn: str = EXPIRE_FUNCTION) -> Check:
    return Check("lambda:InvokeFunction", function_arn)


def refusal(roles, *request) -> ServiceRoleError:
    with pytest.raises(ServiceRoleError) as refused:
        roles.authorize(*request)
    return refused.value


# ---------------------------------------------------------------- local ARNs


def test_every_iam_role_has_the_local_arn_of_its_logical_id(stack):
    template, deployment = stack
    iam_roles = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    assert sorted(iam_roles) == ["ExpirySchedulerRole", "StatusRuleRole", "WebBackendRole"]
    for role in iam_roles:
        assert deployment.context.attributes[f"{role}.Arn"] == f"arn:aws:iam::{ACCOUNT}:role/{role}"
    assert deployment.context.attributes["ExpirySchedulerRole.Arn"] == LOCAL_ROLE_ARN


def test_the_functions_give_schedules_the_expiry_roles_local_arn(stack):
    _, deployment = stack
    for function in deployment.functions.values():
        assert function.environment["EXPIRY_ROLE_ARN"] == LOCAL_ROLE_ARN


def test_a_role_arn_the_caller_gives_wins_over_the_local_one(stack):
    template, _ = stack
    given = "arn:aws:iam::123456789012:role/swan-ExpirySchedulerRole-X"
    context = context_for(template, attributes={"ExpirySchedulerRole.Arn": given})
    assert context.attributes["ExpirySchedulerRole.Arn"] == given
    assert context.attributes["StatusRuleRole.Arn"] == STATUS_ROLE


def test_the_status_rules_republish_names_its_role(stack):
    _, deployment = stack
    (status,) = (rule for rule in deployment.rules if rule.logical_id == "StatusRule")
    assert status.republish == (
        Republish("$$aws/things/${topic(3)}/shadow/update", STATUS_ROLE, qos=1),
    )


def test_a_republish_without_a_role_is_a_template_error():
    template = parse_template(
        """
        Resources:
          Rule:
            Type: AWS::IoT::TopicRule
            Properties:
              TopicRulePayload:
                Sql: SELECT * FROM 'a/+'
                Actions: [{Republish: {Topic: b, Qos: 1}}]
        """
    )
    with pytest.raises(TemplateError) as caught:
        read_template(template)
    assert (
        caught.value.path
        == "Resources.Rule.Properties.TopicRulePayload.Actions[0].Republish.RoleArn"
    )
    assert "RoleArn is required" in caught.value.problem


# ---------------------------------------------------------------- the roles' documents


def test_each_iam_roles_inline_policies_are_its_statements(stack):
    template, deployment = stack
    documents = role_documents(template, deployment.context)
    status = documents["StatusRuleRole"]["Statement"]
    assert [(s["Effect"], s["Action"]) for s in status] == [
        ("Allow", "iot:Publish"),
        ("Deny", "iot:Publish"),
    ]
    assert status[1]["Resource"] == ARNS.iot("topic/$aws/things/button/shadow/update")
    assert documents["ExpirySchedulerRole"]["Statement"] == [
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": EXPIRE_FUNCTION}
    ]
    assert documents["WebBackendRole"]["Statement"]  # the Cognito identities' role too


def test_each_iam_roles_trust_policy_is_resolved(stack):
    template, deployment = stack
    trust = trust_documents(template, deployment.context)
    assert set(trust) == {"ExpirySchedulerRole", "StatusRuleRole", "WebBackendRole"}
    (statement,) = trust["StatusRuleRole"]["Statement"]
    assert statement["Principal"] == {"Service": "iot.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    (web,) = trust["WebBackendRole"]["Statement"]
    assert web["Principal"] == {"Federated": "cognito-identity.amazonaws.com"}


def test_an_allow_on_nothing_local_is_left_out_and_said(stack, caplog):
    template, deployment = stack
    caplog.set_level(logging.INFO, logger="swan.local.authorization")
    statements = role_statements(template, deployment.context)
    assert all(
        s.sid != "RecordPushesInHistory" for s in statements["UpdateButtonStatusFunctionRole"]
    )
    said = [r.getMessage() for r in caplog.records if "RecordPushesInHistory" in r.getMessage()]
    assert len(said) == 1
    assert "Resources.UpdateButtonStatusFunction.Properties.Policies[0].Statement[" in said[0]
    assert "Allow left out" in said[0]
    assert "HistoryTable.Arn" in said[0]


def with_role(stack, role: str, **properties):
    """A copy of the template whose role `role` has these properties instead."""
    template, deployment = stack
    changed = copy.deepcopy(template)
    changed["Resources"][role]["Properties"].update(properties)
    return changed, deployment.context


def test_an_iam_roles_deny_on_nothing_local_is_refused(stack):
    deny = {
        "Effect": "Deny",
        "Action": "iot:Publish",
        "Resource": {"Fn::GetAtt": ["HistoryTable", "Arn"]},
    }
    policy = {"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [deny]}}
    template, context = with_role(stack, "StatusRuleRole", Policies=[policy])
    with pytest.raises(TemplateError) as caught:
        role_documents(template, context)
    assert caught.value.path.startswith(
        "Resources.StatusRuleRole.Properties.Policies[0].PolicyDocument.Statement[0]"
    )


@pytest.mark.parametrize(
    ("properties", "where"),
    [
        (
            {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
            "Resources.StatusRuleRole.Properties.ManagedPolicyArns",
        ),
        ({"Policies": [{"PolicyName": "p"}]}, "Resources.StatusRuleRole.Properties.Policies[0]"),
    ],
)
def test_what_a_role_holds_beyond_inline_policies_is_refused_not_ignored(stack, properties, where):
    with pytest.raises(RolePolicyError) as caught:
        role_documents(*with_role(stack, "StatusRuleRole", **properties))
    assert caught.value.where == where


# ---------------------------------------------------------------- assuming and acting


def test_aws_iot_may_republish_a_status_to_a_devices_shadow(roles):
    roles.authorize(
        IOT_SERVICE, STATUS_ROLE, STATUS_RULE, publish("$aws/things/pi-1/shadow/update")
    )


def test_the_status_role_may_never_write_the_button_shadow(roles):
    refused = refusal(
        roles, IOT_SERVICE, STATUS_ROLE, STATUS_RULE, publish("$aws/things/button/shadow/update")
    )
    assert refused.assumed
    assert refused.reason == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/StatusRuleRole/iot.amazonaws.com is not"
        " authorized to perform: iot:Publish on resource:"
        f" {ARNS.iot('topic/$aws/things/button/shadow/update')} with an explicit deny in an"
        " identity-based policy"
    )


def test_the_status_role_may_publish_nowhere_else(roles):
    refused = refusal(roles, IOT_SERVICE, STATUS_ROLE, STATUS_RULE, publish("swan/push/pi-1"))
    assert refused.assumed
    assert "because no identity-based policy allows the iot:Publish action" in refused.reason
    assert (refused.action, refused.resource) == ("iot:Publish", ARNS.iot("topic/swan/push/pi-1"))


def test_the_scheduler_may_invoke_only_the_expiry_function(roles):
    roles.authorize(SCHEDULER_SERVICE, LOCAL_ROLE_ARN, EXPIRY_GROUP, invoke())
    other = EXPIRE_FUNCTION.replace("expire-countdown", "update-button-status")
    refused = refusal(roles, SCHEDULER_SERVICE, LOCAL_ROLE_ARN, EXPIRY_GROUP, invoke(other))
    assert refused.assumed
    assert "not authorized to perform: lambda:InvokeFunction" in refused.reason


@pytest.mark.parametrize(
    ("service", "role", "source"),
    [
        (SCHEDULER_SERVICE, STATUS_ROLE, EXPIRY_GROUP),  # trusts AWS IoT only
        (IOT_SERVICE, LOCAL_ROLE_ARN, STATUS_RULE),  # trusts the scheduler only
        (IOT_SERVICE, WEB_ROLE, STATUS_RULE),  # trusts Cognito identities only
        (SCHEDULER_SERVICE, WEB_ROLE, EXPIRY_GROUP),
    ],
)
def test_a_service_the_roles_trust_policy_does_not_name_cannot_assume_it(
    roles, service, role, source
):
    refused = refusal(roles, service, role, source, invoke())
    assert not refused.assumed
    assert refused.reason == (
        f"{service} cannot assume {role}: its trust policy does not allow sts:AssumeRole"
        f" by {service} for {source}"
    )


def test_a_role_that_is_not_in_the_template_cannot_be_assumed(roles):
    missing = f"arn:aws:iam::{ACCOUNT}:role/swan-local-expiry"  # the old local name
    refused = refusal(roles, SCHEDULER_SERVICE, missing, EXPIRY_GROUP, invoke())
    assert not refused.assumed
    assert refused.reason.endswith(f"cannot assume {missing}: no such role in the template")


def test_no_roles_refuse_everything():
    refusal(NO_SERVICE_ROLES, SCHEDULER_SERVICE, LOCAL_ROLE_ARN, EXPIRY_GROUP, invoke())


def trusting(stack, statement):
    template, context = with_role(
        stack,
        "ExpirySchedulerRole",
        AssumeRolePolicyDocument={"Version": "2012-10-17", "Statement": [statement]},
    )
    return service_roles(template, context)


SCHEDULER_TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": ["scheduler.amazonaws.com"]},
    "Action": "sts:AssumeRole",
}


@pytest.mark.parametrize(
    ("statement", "assumed"),
    [
        (SCHEDULER_TRUST, True),
        (SCHEDULER_TRUST | {"Principal": "*"}, True),
        (SCHEDULER_TRUST | {"Principal": {"Service": "iot.amazonaws.com"}}, False),
        (SCHEDULER_TRUST | {"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}, False),
        (SCHEDULER_TRUST | {"Action": "sts:AssumeRoleWithWebIdentity"}, False),
        (SCHEDULER_TRUST | {"Effect": "Deny"}, False),
        (SCHEDULER_TRUST | {"Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}, True),
        (
            SCHEDULER_TRUST
            | {"Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}}},
            False,
        ),
        (
            SCHEDULER_TRUST
            | {"Condition": {"StringLike": {"aws:SourceArn": ARNS.scheduler("schedule-group/*")}}},
            True,
        ),
        (
            SCHEDULER_TRUST
            | {
                "Condition": {"StringEquals": {"aws:SourceArn": ARNS.scheduler("schedule-group/x")}}
            },
            False,
        ),
    ],
)
def test_the_trust_policy_decides_as_iam_does(stack, statement, assumed):
    roles = trusting(stack, statement)
    if assumed:
        roles.authorize(SCHEDULER_SERVICE, LOCAL_ROLE_ARN, EXPIRY_GROUP, invoke())
    else:
        assert not refusal(roles, SCHEDULER_SERVICE, LOCAL_ROLE_ARN, EXPIRY_GROUP, invoke()).assumed


@pytest.mark.parametrize(
    ("statement", "where"),
    [
        (
            {"Effect": "Allow", "NotPrincipal": {"Service": "x"}, "Action": "sts:AssumeRole"},
            "Statement[0].NotPrincipal",
        ),
        ({"Effect": "Allow", "Action": "sts:AssumeRole"}, "Statement[0].Principal"),
        (
            SCHEDULER_TRUST | {"Condition": {"ArnLike": {"aws:SourceArn": "arn:*"}}},
            "Statement[0].Condition.ArnLike",
        ),
    ],
)
def test_a_trust_policy_the_stack_cannot_evaluate_stops_it(stack, statement, where):
    with pytest.raises(RolePolicyError) as caught:
        trusting(stack, statement)
    assert caught.value.where == (
        f"Resources.ExpirySchedulerRole.Properties.AssumeRolePolicyDocument.{where}"
    )


def test_a_role_without_a_trust_policy_stops_the_stack(stack):
    template, context = with_role(stack, "StatusRuleRole")
    del template["Resources"]["StatusRuleRole"]["Properties"]["AssumeRolePolicyDocument"]
    with pytest.raises(RolePolicyError, match="a role needs a trust policy document"):
        trust_documents(template, context)


# ---------------------------------------------------------------- the rules engine


def status_engine(template, roles=None):
    """The template's StatusRule alone, on an in-memory broker."""
    context = local_deployment(parameters={"DeviceCaCertificateId": CA_ID})[1].context
    deployment = read_template(template, context)
    rules = tuple(rule for rule in deployment.rules if rule.logical_id == "StatusRule")
    narrowed = replace(deployment, functions={}, rules=rules)
    host = FunctionHost(narrowed, template, Path(), environment={})
    broker = MemoryBroker()
    chosen = service_roles(template, context) if roles is None else roles
    engine = RulesEngine(host, broker.connect("rules"), chosen)
    engine.start()
    return broker, host


def offline(broker, thing):
    broker.deliver(
        f"swan/status/{thing}", json.dumps({"state": {"reported": {"online": False}}}).encode()
    )
    return broker.on(f"$aws/things/{thing}/shadow/update")


def refusals(caplog):
    return [
        r
        for r in caplog.records
        if r.name == "swan.local.rules_engine" and r.levelno == logging.ERROR
    ]


def test_a_status_is_republished_to_the_devices_shadow(stack, caplog):
    broker, host = status_engine(stack[0])
    try:
        assert offline(broker, "pi-1") == [{"state": {"reported": {"online": False}}}]
        assert not refusals(caplog)
    finally:
        host.close()


def test_a_republish_the_role_does_not_allow_is_refused_and_logged(stack, caplog):
    template = copy.deepcopy(stack[0])
    policy = template["Resources"]["StatusRuleRole"]["Properties"]["Policies"][0]
    policy["PolicyDocument"]["Statement"] = policy["PolicyDocument"]["Statement"][1:]  # no Allow
    broker, host = status_engine(template)
    try:
        assert offline(broker, "pi-1") == []
        assert offline(broker, "pi-2") == []
        (first, second) = refusals(caplog)  # one line per refused action
        message = first.getMessage()
        assert message.startswith(
            "rule StatusRule: republish to $aws/things/pi-1/shadow/update failed: User:"
        )
        assert "because no identity-based policy allows the iot:Publish action" in message
        assert "$aws/things/pi-2/shadow/update" in second.getMessage()
    finally:
        host.close()


def test_the_roles_deny_holds_even_where_the_rule_would_publish(stack, caplog):
    template = copy.deepcopy(stack[0])
    payload = template["Resources"]["StatusRule"]["Properties"]["TopicRulePayload"]
    payload["Sql"] = "SELECT state FROM 'swan/status/+'"  # without its WHERE
    broker, host = status_engine(template)
    try:
        assert offline(broker, "button") == []
        (refused,) = refusals(caplog)
        assert "with an explicit deny in an identity-based policy" in refused.getMessage()
    finally:
        host.close()


def test_a_role_aws_iot_may_not_assume_fails_the_action(stack, caplog):
    template = copy.deepcopy(stack[0])
    trust = template["Resources"]["StatusRuleRole"]["Properties"]["AssumeRolePolicyDocument"]
    trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] = "111122223333"
    broker, host = status_engine(template)
    try:
        assert offline(broker, "pi-1") == []
        (refused,) = refusals(caplog)
        assert f"iot.amazonaws.com cannot assume {STATUS_ROLE}" in refused.getMessage()
    finally:
        host.close()


def test_an_engine_without_roles_republishes_nothing(stack, caplog):
    broker, host = status_engine(stack[0], NO_SERVICE_ROLES)
    try:
        assert offline(broker, "pi-1") == []
        (refused,) = refusals(caplog)
        assert "no such role in the template" in refused.getMessage()
    finally:
        host.close()
