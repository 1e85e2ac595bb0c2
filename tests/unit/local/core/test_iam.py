"""IAM identity policies decide as AWS's policy evaluation logic says."""

from __future__ import annotations

import pytest

from swan.local.core.iam import evaluate, parse_statements
from swan.local.core.policy import Decision, PolicyDocumentError, UnsupportedPolicyError

THING = "arn:aws:iot:us-east-1:000000000000:thing/button"
ROLE = "arn:aws:iam::000000000000:role/scheduler"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource, **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def decide(document, action, resource, context=None):
    return evaluate(parse_statements(document), action, resource, context or {})


def test_an_allowed_action_on_a_named_resource_is_allowed():
    document = policy(allow(["iot:GetThingShadow"], THING))
    assert decide(document, "iot:GetThingShadow", THING) is Decision.ALLOW


def test_action_names_are_not_case_sensitive_and_take_wildcards():
    document = policy(allow("IOT:get*Shadow", THING))
    assert decide(document, "iot:GetThingShadow", THING) is Decision.ALLOW
    assert decide(document, "iot:UpdateThingShadow", THING) is Decision.IMPLICIT_DENY


def test_nothing_allowed_is_an_implicit_deny():
    document = policy(allow("iot:GetThingShadow", THING))
    assert decide(document, "iot:GetThingShadow", THING + "2") is Decision.IMPLICIT_DENY


def test_resource_globs_span_the_whole_arn_and_are_case_sensitive():
    document = policy(allow("iot:Publish", "arn:aws:iot:*:topic/swan/push/?/accepted"))
    topic = "arn:aws:iot:us-east-1:000000000000:topic/swan/push/x/accepted"
    assert decide(document, "iot:Publish", topic) is Decision.ALLOW
    assert decide(document, "iot:Publish", topic.replace("/x/", "/xy/")) is Decision.IMPLICIT_DENY
    assert decide(document, "iot:Publish", topic.upper()) is Decision.IMPLICIT_DENY


def test_an_explicit_deny_wins_over_any_allow():
    document = policy(
        allow("*", "*"), {"Effect": "Deny", "Action": "iot:DeleteThingShadow", "Resource": THING}
    )
    assert decide(document, "iot:GetThingShadow", THING) is Decision.ALLOW
    assert decide(document, "iot:DeleteThingShadow", THING) is Decision.DENY


def test_not_action_and_not_resource_cover_everything_else():
    document = policy({"Effect": "Allow", "NotAction": "iam:*", "NotResource": THING})
    other = "arn:aws:iot:us-east-1:000000000000:thing/other"
    assert decide(document, "iot:CreateThing", other) is Decision.ALLOW
    assert decide(document, "iot:CreateThing", THING) is Decision.IMPLICIT_DENY
    assert decide(document, "iam:PassRole", other) is Decision.IMPLICIT_DENY


def test_string_equals_compares_values_exactly_and_keys_in_any_case():
    condition = {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    document = policy(allow("iam:PassRole", ROLE, Condition=condition))
    passed = {"IAM:passedtoservice": "scheduler.amazonaws.com"}
    assert decide(document, "iam:PassRole", ROLE, passed) is Decision.ALLOW
    wrong = {"iam:PassedToService": "Scheduler.amazonaws.com"}
    assert decide(document, "iam:PassRole", ROLE, wrong) is Decision.IMPLICIT_DENY


def test_a_condition_key_missing_from_the_request_does_not_match():
    condition = {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    document = policy(allow("iam:PassRole", ROLE, Condition=condition))
    assert decide(document, "iam:PassRole", ROLE) is Decision.IMPLICIT_DENY


def test_string_like_takes_wildcards_and_any_of_several_values():
    condition = {"StringLike": {"aws:userid": ["nobody", "AROA*:swan-?"]}}
    document = policy(allow("iot:*", "*", Condition=condition))
    assert decide(document, "iot:x", THING, {"aws:userid": "AROA1:swan-a"}) is Decision.ALLOW
    assert decide(document, "iot:x", THING, {"aws:userid": "AROA1:swan-ab"}) is (
        Decision.IMPLICIT_DENY
    )


def test_every_condition_must_hold():
    condition = {
        "StringEquals": {"a:one": "1", "a:two": "2"},
        "StringLike": {"a:three": "3*"},
    }
    document = policy(allow("iot:*", "*", Condition=condition))
    full = {"a:one": "1", "a:two": "2", "a:three": "33"}
    assert decide(document, "iot:x", THING, full) is Decision.ALLOW
    assert decide(document, "iot:x", THING, {**full, "a:two": "0"}) is Decision.IMPLICIT_DENY


def test_policy_variables_in_resources_take_the_request_context_values_literally():
    document = policy(allow("iot:*", "arn:aws:iot:*:thing/${aws:username}", Sid="Own"))
    assert decide(document, "iot:x", THING, {"aws:username": "button"}) is Decision.ALLOW
    assert decide(document, "iot:x", THING, {"aws:username": "butto?"}) is Decision.IMPLICIT_DENY
    assert decide(document, "iot:x", THING) is Decision.IMPLICIT_DENY


def test_a_single_statement_object_is_a_document():
    document = {"Version": "2012-10-17", "Statement": allow("iot:*", "*")}
    assert decide(document, "iot:x", THING) is Decision.ALLOW


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"Version": "2008-10-17", "Statement": [allow("*", "*")]},
        policy(),
        policy("statement"),
        policy(allow("*", "*", Principal="*")),
        policy({"Effect": "Maybe", "Action": "*", "Resource": "*"}),
        policy({"Effect": "Allow", "Resource": "*"}),
        policy({"Effect": "Allow", "Action": "*", "NotAction": "*", "Resource": "*"}),
        policy(allow([], "*")),
        policy(allow("*", ["*", 1])),
        policy(allow("*", "*", Sid=1)),
        policy(allow("*", "*", Condition=["StringEquals"])),
        policy(allow("*", "*", Condition={"StringEquals": {}})),
        policy(allow("*", "*", Condition={"StringEquals": {"a:b": []}})),
    ],
)
def test_documents_iam_refuses_are_refused(document):
    with pytest.raises(PolicyDocumentError):
        parse_statements(document)


@pytest.mark.parametrize(
    "operator", ["StringNotEquals", "ForAllValues:StringLike", "ForAnyValue:Bool", "ArnLike"]
)
def test_condition_operators_not_evaluated_are_refused_not_ignored(operator):
    with pytest.raises(UnsupportedPolicyError):
        parse_statements(policy(allow("*", "*", Condition={operator: {"a:b": "c"}})))


COGNITO_AMR = "cognito-identity.amazonaws.com:amr"


def test_for_any_value_holds_when_one_of_the_requests_values_matches_one_of_the_policys():
    condition = {"ForAnyValue:StringLike": {COGNITO_AMR: ["unauth*", "graph.facebook.com"]}}
    document = policy(allow("sts:*", "*", Condition=condition))
    both = {COGNITO_AMR: ("authenticated", "graph.facebook.com")}
    assert decide(document, "sts:x", ROLE, both) is Decision.ALLOW
    assert decide(document, "sts:x", ROLE, {COGNITO_AMR: ("unauthenticated",)}) is Decision.ALLOW
    assert decide(document, "sts:x", ROLE, {COGNITO_AMR: ("authenticated",)}) is (
        Decision.IMPLICIT_DENY
    )


def test_for_any_value_over_an_empty_or_missing_key_does_not_match():
    condition = {"ForAnyValue:StringEquals": {COGNITO_AMR: "unauthenticated"}}
    document = policy(allow("sts:*", "*", Condition=condition))
    assert decide(document, "sts:x", ROLE, {COGNITO_AMR: ()}) is Decision.IMPLICIT_DENY
    assert decide(document, "sts:x", ROLE) is Decision.IMPLICIT_DENY


def test_for_any_value_takes_a_single_value_as_a_set_of_one():
    condition = {"ForAnyValue:StringEquals": {COGNITO_AMR: "unauthenticated"}}
    document = policy(allow("sts:*", "*", Condition=condition))
    assert decide(document, "sts:x", ROLE, {COGNITO_AMR: "unauthenticated"}) is Decision.ALLOW


def test_a_plain_operator_never_matches_a_multivalued_key():
    condition = {"StringEquals": {COGNITO_AMR: "unauthenticated"}}
    document = policy(allow("sts:*", "*", Condition=condition))
    assert decide(document, "sts:x", ROLE, {COGNITO_AMR: ("unauthenticated",)}) is (
        Decision.IMPLICIT_DENY
    )


def test_a_multivalued_key_is_no_policy_variable():
    document = policy(allow("iot:*", "arn:aws:iot:*:thing/${aws:username}"))
    assert decide(document, "iot:x", THING, {"aws:username": ("button",)}) is (
        Decision.IMPLICIT_DENY
    )
