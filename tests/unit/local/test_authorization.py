"""Each function's role, read from sam/template.yaml, allows exactly the calls its handler
makes to the local APIs, and IAM's refusal answers everything else."""

from __future__ import annotations

import copy
import json

import pytest

from swan.local.authorization import (
    ADMIN_ARN,
    AccessDeniedError,
    Check,
    RolePolicyError,
    authorize,
    operation,
    role_of,
    role_statements,
)
from swan.local.intrinsics import context_for
from swan.local.stack import LOCAL_ROLE_ARN
from swan.local.template import TemplateError

CA_ID = "ab" * 32
IOT = "arn:aws:iot:us-east-1:000000000000"
CERT = f"{IOT}:cert/{'cd' * 32}"
PUSH = "UpdateButtonStatusFunctionRole"
EXPIRE = "ExpireCountdownFunctionRole"
REGISTER = "RegisterDeviceFunctionRole"


def session(role):
    return f"arn:aws:sts::000000000000:assumed-role/{role}/{role}"


@pytest.fixture(scope="module")
def names(stack):
    resources = stack[1].resources
    return {
        "group": resources["ExpiryScheduleGroup"],
        "schedule": f"{resources['ButtonThing']}-expiry",
        "device_policy": resources["DevicePolicy"],
    }


def schedule_body(role_arn=LOCAL_ROLE_ARN, group=None):
    """A CreateSchedule or UpdateSchedule body: these name the group in the body."""
    body = {"Target": {"Arn": "arn:x", "RoleArn": role_arn}}
    return json.dumps(body | ({"GroupName": group} if group else {})).encode()


def checks(api, method, path, query=None, body=b"", headers=None):
    found = operation(api, method, path, query or {}, body, headers)
    assert found is not None
    return found


def denied(role, statements, api, found):
    with pytest.raises(AccessDeniedError) as refused:
        authorize(api, session(role), statements, found)
    return refused.value


# ---------------------------------------------------------------- what the roles allow


def test_the_push_role_reads_and_writes_the_button_shadow_and_answers_pushes(roles):
    for found in (
        checks("iot-data", "GET", "/things/button/shadow"),
        checks("iot-data", "POST", "/things/button/shadow", body=b"{}"),
        checks("iot-data", "POST", "/topics/swan/push/x/accepted"),
        checks("iot-data", "POST", "/topics/swan%2Fpush%2Fx%2Frejected"),
    ):
        authorize("iot-data", session(PUSH), roles, found)


@pytest.mark.parametrize("role", [PUSH, EXPIRE])
def test_the_countdown_roles_set_the_expiry_alarm_passing_its_role_to_the_scheduler(
    roles, names, role
):
    for method in ("POST", "PUT"):
        found = checks(
            "scheduler",
            method,
            f"/schedules/{names['schedule']}",
            {},
            schedule_body(group=names["group"]),
        )
        assert found[1] == Check(
            "iam:PassRole", LOCAL_ROLE_ARN, {"iam:PassedToService": "scheduler.amazonaws.com"}
        )
        authorize("scheduler", session(role), roles, found)


def test_the_register_role_activates_a_device_and_gives_it_a_thing_and_the_policy(roles, names):
    certificate_id = CERT.rpartition("/")[2]
    target = json.dumps({"target": CERT}).encode()
    for found in (
        checks("iot", "GET", f"/certificates/{certificate_id}"),
        checks("iot", "PUT", f"/certificates/{certificate_id}", {"newStatus": "ACTIVE"}),
        checks("iot", "GET", f"/cacertificate/{CA_ID}"),
        checks("iot", "POST", "/things/device-1", body=b"{}"),
        checks("iot", "PUT", f"/target-policies/{names['device_policy']}", body=target),
        checks("iot", "PUT", "/things/device-1/principals", headers={"x-amzn-principal": CERT}),
    ):
        authorize("iot", session(REGISTER), roles, found)


# ---------------------------------------------------------------- and what they refuse


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("POST", "/things/other/shadow", {}),
        ("GET", "/things/button/shadow", {"name": "extra"}),  # a named shadow's own ARN
        ("DELETE", "/things/button/shadow", {}),
        ("GET", "/api/things/shadow/ListNamedShadowsForThing/button", {}),
        ("POST", "/topics/swan/push/x/other", {}),
        ("POST", "/topics/%24aws/things/button/shadow/update", {}),
    ],
)
def test_the_push_role_may_not_touch_other_shadows_or_topics(roles, method, path, query):
    refused = denied(PUSH, roles, "iot-data", checks("iot-data", method, path, query))
    assert refused.error_type == "ForbiddenException"
    assert refused.status == 403


def test_a_refusal_reads_as_aws_writes_it(roles):
    refused = denied(PUSH, roles, "iot-data", checks("iot-data", "POST", "/things/a/shadow"))
    assert refused.message == (
        f"User: {session(PUSH)} is not authorized to perform: iot:UpdateThingShadow on"
        f" resource: {IOT}:thing/a because no identity-based policy allows the"
        " iot:UpdateThingShadow action"
    )
    assert (refused.action, refused.resource) == ("iot:UpdateThingShadow", f"{IOT}:thing/a")


def test_the_push_role_may_not_create_things(roles):
    refused = denied(PUSH, roles, "iot", checks("iot", "POST", "/things/device-1"))
    assert refused.error_type == "AccessDeniedException"
    assert refused.resource == f"{IOT}:thing/device-1"


def test_the_register_role_may_not_write_the_button_shadow(roles):
    denied(REGISTER, roles, "iot-data", checks("iot-data", "POST", "/things/button/shadow"))


def test_the_register_role_may_attach_no_other_policy(roles):
    body = json.dumps({"target": CERT}).encode()
    refused = denied(
        REGISTER, roles, "iot", checks("iot", "PUT", "/target-policies/admin", body=body)
    )
    assert refused.resource == f"{IOT}:policy/admin"


def test_the_expiry_alarm_role_may_be_passed_to_the_scheduler_only(roles):
    to_lambda = Check(
        "iam:PassRole", LOCAL_ROLE_ARN, {"iam:PassedToService": "lambda.amazonaws.com"}
    )
    denied(PUSH, roles, "iot", (to_lambda,))
    denied(PUSH, roles, "iot", (Check("iam:PassRole", LOCAL_ROLE_ARN),))


def test_no_other_role_may_be_passed_to_a_schedule(roles, names):
    body = schedule_body("arn:aws:iam::000000000000:role/admin", names["group"])
    found = checks("scheduler", "POST", f"/schedules/{names['schedule']}", {}, body)
    refused = denied(EXPIRE, roles, "scheduler", found)
    assert (refused.action, refused.error_type) == ("iam:PassRole", "AccessDeniedException")


@pytest.mark.parametrize(
    ("method", "name", "group"),
    [
        ("DELETE", "schedule", "group"),
        ("GET", "schedule", "group"),
        ("POST", "other", "group"),
        ("POST", "schedule", None),  # the default group
    ],
)
def test_the_alarm_roles_touch_no_other_schedule(roles, names, method, name, group):
    writes = method == "POST"
    group_name = names["group"] if group else None
    found = checks(
        "scheduler",
        method,
        f"/schedules/{names[name] if name != 'other' else 'x'}",
        {"groupName": group_name} if group_name and not writes else {},
        schedule_body(group=group_name if writes else None),
    )
    denied(EXPIRE, roles, "scheduler", found)


def test_a_schedule_write_names_its_group_in_the_body_a_read_in_the_query(names):
    # As botocore's model sends GroupName: in the body of Create and Update, the query of
    # Get and Delete; the other place is not read.
    group, schedule = names["group"], names["schedule"]
    where = f"arn:aws:scheduler:us-east-1:000000000000:schedule/{{}}/{schedule}"
    body, query = schedule_body(group=group), {"groupName": group}
    assert checks("scheduler", "PUT", f"/schedules/{schedule}", {}, body)[0].resource == (
        where.format(group)
    )
    assert checks("scheduler", "PUT", f"/schedules/{schedule}", query, schedule_body())[
        0
    ].resource == where.format("default")
    assert checks("scheduler", "GET", f"/schedules/{schedule}", query, b"")[0].resource == (
        where.format(group)
    )
    assert checks("scheduler", "DELETE", f"/schedules/{schedule}", {}, body)[0].resource == (
        where.format("default")
    )


def test_a_permission_removed_from_the_template_is_refused(stack):
    template, context = stack
    trimmed = copy.deepcopy(template)
    statements = trimmed["Resources"]["UpdateButtonStatusFunction"]["Properties"]["Policies"][0]
    statements["Statement"] = [
        s for s in statements["Statement"] if s["Sid"] != "AnswerPushRequests"
    ]
    found = checks("iot-data", "POST", "/topics/swan/push/x/accepted")
    authorize("iot-data", session(PUSH), role_statements(template, context), found)
    denied(PUSH, role_statements(trimmed, context), "iot-data", found)


# ---------------------------------------------------------------- principals


def test_the_administrator_may_do_everything(roles):
    authorize("iot", ADMIN_ARN, roles, checks("iot", "DELETE", "/policies/anything"))


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:iam::000000000000:user/someone",
        session("NoSuchRole"),
        "arn:aws:iam::000000000000:role/UpdateButtonStatusFunctionRole",
    ],
)
def test_any_other_principal_may_do_nothing(roles, principal):
    with pytest.raises(AccessDeniedError):
        authorize("iot-data", principal, roles, checks("iot-data", "GET", "/things/button/shadow"))


def test_a_session_arn_names_its_role():
    assert role_of(session(PUSH)) == PUSH
    assert role_of("arn:aws:iam::000000000000:user/x") is None
    assert role_of("arn:aws:iam::000000000000:assumed-role/x/y") is None


def test_an_explicit_deny_is_named_in_the_refusal(stack):
    template, context = stack
    denying = copy.deepcopy(template)
    denying["Resources"]["RegisterDeviceFunction"]["Properties"]["Policies"].append(
        {
            "Version": "2012-10-17",
            "Statement": {"Effect": "Deny", "Action": "iot:CreateThing", "Resource": "*"},
        }
    )
    found = checks("iot", "POST", "/things/device-1")
    refused = denied(REGISTER, role_statements(denying, context), "iot", found)
    assert refused.message.endswith("with an explicit deny in an identity-based policy")


# ---------------------------------------------------------------- requests


@pytest.mark.parametrize(
    ("api", "method", "path", "headers", "body", "expected"),
    [
        ("iot", "POST", "/cacertificate", None, b"", [("iot:RegisterCACertificate", "*")]),
        ("iot", "GET", "/endpoint", None, b"", [("iot:DescribeEndpoint", "*")]),
        (
            "iot",
            "GET",
            "/policies/p/version/1",
            None,
            b"",
            [("iot:GetPolicyVersion", f"{IOT}:policy/p")],
        ),
        (
            "iot",
            "PATCH",
            "/policies/p/version/1",
            None,
            b"",
            [("iot:SetDefaultPolicyVersion", f"{IOT}:policy/p")],
        ),
        (
            "iot",
            "DELETE",
            "/things/t/principals",
            {"x-amzn-principal": CERT},
            b"",
            [("iot:DetachThingPrincipal", CERT), ("iot:DetachThingPrincipal", f"{IOT}:thing/t")],
        ),
        (
            "iot",
            "POST",
            "/target-policies/p",
            None,
            b"[]",
            [("iot:DetachPolicy", "*"), ("iot:DetachPolicy", f"{IOT}:policy/p")],
        ),
        (
            "iot",
            "POST",
            f"/attached-policies/{CERT.replace('/', '%2F')}",
            None,
            b"",
            [("iot:ListAttachedPolicies", CERT)],
        ),
        (
            "iot-data",
            "GET",
            "/api/things/shadow/ListNamedShadowsForThing/t",
            None,
            b"",
            [("iot:ListNamedShadowsForThing", f"{IOT}:thing/t")],
        ),
        (
            "iot-data",
            "DELETE",
            "/things/t/shadow",
            None,
            b"",
            [("iot:DeleteThingShadow", f"{IOT}:thing/t")],
        ),
        (
            "scheduler",
            "GET",
            "/schedules/s",
            None,
            b"",
            [
                (
                    "scheduler:GetSchedule",
                    "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s",
                )
            ],
        ),
        (
            "scheduler",
            "POST",
            "/schedules/s",
            None,
            b"{not json",
            [
                (
                    "scheduler:CreateSchedule",
                    "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s",
                )
            ],
        ),
        (
            "scheduler",
            "PUT",
            "/schedules/s",
            None,
            b'{"Target": "x"}',
            [
                (
                    "scheduler:UpdateSchedule",
                    "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s",
                )
            ],
        ),
    ],
)
def test_each_request_names_the_action_and_resources_of_the_service_reference(
    api, method, path, headers, body, expected
):
    found = checks(api, method, path, body=body, headers=headers)
    assert [(check.action, check.resource) for check in found] == expected


@pytest.mark.parametrize(
    ("api", "method", "path"),
    [
        ("iot", "GET", "/nowhere"),
        ("iot", "PATCH", "/things/t"),
        ("iot-data", "PUT", "/things/t/shadow"),
        ("iot-data", "GET", "/topics/a"),
        ("scheduler", "PATCH", "/schedules/s"),
        ("scheduler", "GET", "/schedules"),
        ("lambda", "GET", "/"),
    ],
)
def test_no_operation_is_named_where_the_api_serves_none(api, method, path):
    assert operation(api, method, path, {}, b"") is None


# ---------------------------------------------------------------- reading the template


def test_each_function_role_and_each_iam_role_gets_its_statements(roles):
    services = {"ExpirySchedulerRole", "StatusRuleRole", "WebBackendRole"}
    assert set(roles) == {PUSH, EXPIRE, REGISTER} | services
    assert all(roles.values())


def test_a_sam_policy_template_is_refused_not_ignored(stack):
    template, context = stack
    changed = copy.deepcopy(template)
    changed["Resources"]["ExpireCountdownFunction"]["Properties"]["Policies"] = [
        {"DynamoDBCrudPolicy": {"TableName": "t"}}
    ]
    with pytest.raises(RolePolicyError):
        role_statements(changed, context)


def test_an_allow_on_a_resource_the_stack_lacks_is_left_out_and_a_deny_is_not(stack):
    template, _ = stack
    bare = context_for(template, parameters={"DeviceCaCertificateId": CA_ID})
    single = copy.deepcopy(template)
    single["Resources"]["ExpireCountdownFunction"]["Properties"]["Policies"] = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Action": "*",
            "Resource": {"Fn::GetAtt": ["Nowhere", "Arn"]},
        },
    }
    assert role_statements(single, bare)[EXPIRE] == ()
    single["Resources"]["ExpireCountdownFunction"]["Properties"]["Policies"]["Statement"][
        "Effect"
    ] = "Deny"
    with pytest.raises(TemplateError):
        role_statements(single, bare)
