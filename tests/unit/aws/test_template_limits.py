"""sam/template.yaml as AWS sees it: every `!Sub` resolved for the longest partition, region
and account and the longest stack name `swan deploy` takes, and every name and IoT policy
document held to the limit AWS documents for it (swan.deploy.limits, which `swan deploy`
uses to refuse a stack name, at once)."""

from __future__ import annotations

import copy

import pytest
from aws_support import template

from swan.deploy import limits

TEMPLATE = template()
LONGEST = limits.longest_stack_name(TEMPLATE)


def measured(stack_name: str) -> list[limits.Measure]:
    return limits.measure(TEMPLATE, stack_name)


def test_the_worst_case_is_the_longest_partition_and_region_botocore_knows():
    partition, region = limits.worst_case()
    assert len(partition) >= len("aws-us-gov")
    assert len(region) >= len("us-isof-south-1")


@pytest.mark.parametrize("stack_name", ["swan", "swan-prod", "a" * LONGEST])
def test_aws_takes_every_name_and_document_of_the_stack(stack_name):
    found = measured(stack_name)
    assert [str(m) for m in found if not m.fits] == []


def test_the_iot_policy_fits_in_2048_characters_for_the_longest_arns():
    documents = {
        m.where: m.length for m in measured("a" * LONGEST) if m.limit is limits.IOT_POLICY_DOCUMENT
    }
    assert set(documents) == {"Resources.DevicePolicy.Properties.PolicyDocument"}
    assert all(length <= 2048 for length in documents.values()), documents
    assert all(length > 1000 for length in documents.values())  # whole ARNs were measured


def test_every_limit_the_template_meets_is_measured():
    kinds = {m.limit for m in measured("swan")}
    for limit in (
        limits.IOT_POLICY_DOCUMENT,
        limits.FUNCTION_NAME,
        limits.SCHEDULE_GROUP_NAME,
        limits.SCHEDULE_NAME,
        limits.ROLE_NAME,
        limits.LOG_GROUP_NAME,
        limits.TOPIC_RULE_NAME,
        limits.ROLE_POLICIES,
        limits.IOT_THING_NAME,
        limits.ORIGIN_ACCESS_CONTROL_NAME,
        limits.STACK_NAME,
    ):
        assert limit in kinds, limit.what
        assert limit.source.startswith("https://docs.aws.amazon.com/"), limit.what


def test_each_function_and_its_generated_role_and_rules_are_measured():
    wheres = [m.where for m in measured("swan")]
    for function in (
        "UpdateButtonStatusFunction",
        "ExpireCountdownFunction",
        "RegisterDeviceFunction",
    ):
        assert f"Resources.{function}.Properties.FunctionName" in wheres
        assert any(f"SAM's {function}Role" in where for where in wheres)
    rules = [w for w in wheres if "Events." in w]
    assert len(rules) == 4  # ButtonClick, PushRequest, IdentityPushRequest, CertificateRegistered


def test_the_schedule_the_functions_create_is_named_in_their_policies():
    names = {m.value for m in measured("swan") if m.limit is limits.SCHEDULE_NAME}
    assert names == {"button-expiry"}


def test_one_character_more_than_the_longest_stack_name_breaks_a_function_name():
    assert 64 - len("-update-button-status") == LONGEST
    (breach,) = limits.breaches(TEMPLATE, "a" * (LONGEST + 1))
    assert breach.limit is limits.FUNCTION_NAME
    assert breach.length == 65


def test_a_stack_name_too_long_is_refused_naming_the_limit_and_the_longest():
    with pytest.raises(limits.StackNameTooLongError) as refused:
        limits.check_stack_name(TEMPLATE, "s" * 50)
    assert refused.value.longest == LONGEST
    assert "Lambda function name" in str(refused.value)
    assert f"at most {LONGEST} characters" in str(refused.value)
    assert isinstance(refused.value, ValueError)  # the CLI's exit code 2
    limits.check_stack_name(TEMPLATE, "s" * LONGEST)


def test_a_policy_document_over_2048_characters_is_a_breach():
    bigger = copy.deepcopy(TEMPLATE)
    statements = bigger["Resources"]["DevicePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    statements += copy.deepcopy(statements)
    broken = [m for m in limits.breaches(bigger, "swan") if m.limit is limits.IOT_POLICY_DOCUMENT]
    assert [m.where for m in broken] == ["Resources.DevicePolicy.Properties.PolicyDocument"]


def test_whitespace_is_not_counted_and_variables_are_counted_as_written():
    (device,) = [
        m for m in measured("swan") if m.where == "Resources.DevicePolicy.Properties.PolicyDocument"
    ]
    assert " " not in device.value
    assert "${iot:ClientId}" in device.value
    assert "arn:aws-us-gov:iot:us-isof-south-1:123456789012:" in device.value
