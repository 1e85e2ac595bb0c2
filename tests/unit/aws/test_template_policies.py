"""Least privilege, read from sam/template.yaml: every role and IoT policy of the AWS
deployment allows exactly the actions on exactly the resources listed here, nothing more;
and a browser's Cognito role reads the button shadow and pushes only as itself, as AWS IoT
Core would evaluate it (swan.local.core.policy)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from aws_support import template

from swan.local.core.acl import Access, acl_allows, listener_context, mosquitto_acl
from swan.local.core.policy import Decision, PolicyContext, Principal, evaluate
from swan.local.intrinsics import context_for, resolve

REGION, ACCOUNT, STACK = "eu-west-1", "111122223333", "swan"
CA_ID = "ab" * 32
IOT = f"arn:aws:iot:{REGION}:{ACCOUNT}"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/swan-HistoryTable-1"
SCHEDULER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/swan-ExpirySchedulerRole-1"
SCHEDULE = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/swan-expiry/button-expiry"
EXPIRE_FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:swan-expire-countdown"


@pytest.fixture(scope="module")
def aws():
    """The template and a context that resolves it as CloudFormation would in an account."""
    document = template()
    context = context_for(
        document,
        parameters={"DeviceCaCertificateId": CA_ID},
        resources={
            "ButtonThing": "button",
            "DevicePolicy": f"{STACK}-device",
            "ExpiryScheduleGroup": f"{STACK}-expiry",
            "HistoryTable": "swan-HistoryTable-1",
            "WebIdentityPool": f"{REGION}:0000-pool",
            "SiteBucket": "swan-sitebucket-1",
            "SiteDistribution": "E2EXAMPLE",
        },
        attributes={
            "HistoryTable.Arn": TABLE_ARN,
            "ExpirySchedulerRole.Arn": SCHEDULER_ROLE,
            "StatusRuleRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/swan-StatusRuleRole-1",
            "WebBackendRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/swan-WebBackendRole-1",
            "SiteBucket.Arn": "arn:aws:s3:::swan-sitebucket-1",
        },
        region=REGION,
        account_id=ACCOUNT,
        stack_name=STACK,
    )
    return document, context


def resolved(aws, logical_id: str, *path: str) -> Any:
    document, context = aws
    value = document["Resources"][logical_id]
    for key in path:
        value = value[key]
    return resolve(value, context, ".".join(("Resources", logical_id, *path)))


def grants(documents) -> set[tuple[str, str, str]]:
    """Every (effect, action, resource) the documents name."""
    found = set()
    for document in documents:
        for statement in document["Statement"]:
            actions = statement["Action"]
            resources = statement["Resource"]
            for action, resource in itertools.product(
                [actions] if isinstance(actions, str) else actions,
                [resources] if isinstance(resources, str) else resources,
            ):
                found.add((statement["Effect"], action, resource))
    return found


def allow(actions, *resources):
    return {("Allow", action, resource) for action in actions for resource in resources}


SHADOW = allow(["iot:GetThingShadow", "iot:UpdateThingShadow"], f"{IOT}:thing/button")
EXPIRY_ALARM = allow(["scheduler:CreateSchedule", "scheduler:UpdateSchedule"], SCHEDULE) | allow(
    ["iam:PassRole"], SCHEDULER_ROLE
)

FUNCTION_GRANTS = {
    "UpdateButtonStatusFunction": SHADOW
    | EXPIRY_ALARM
    | allow(
        ["iot:Publish"],
        f"{IOT}:topic/swan/push/*/accepted",
        f"{IOT}:topic/swan/push/*/rejected",
    )
    | allow(
        ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"], TABLE_ARN
    ),
    "ExpireCountdownFunction": SHADOW | EXPIRY_ALARM,
    "RegisterDeviceFunction": allow(
        ["iot:DescribeCertificate", "iot:UpdateCertificate"], f"{IOT}:cert/*"
    )
    | allow(["iot:DescribeCACertificate"], f"{IOT}:cacert/{CA_ID}")
    | allow(["iot:CreateThing"], f"{IOT}:thing/*")
    | allow(["iot:AttachPolicy"], f"{IOT}:cert/*", f"{IOT}:policy/{STACK}-device")
    | allow(["iot:AttachThingPrincipal"], f"{IOT}:cert/*", f"{IOT}:thing/*"),
}


@pytest.mark.parametrize("function", sorted(FUNCTION_GRANTS))
def test_each_function_may_do_exactly_its_job(aws, function):
    policies = resolved(aws, function, "Properties", "Policies")
    # only inline documents: no SAM policy templates, no managed policies by name or ARN
    assert all(isinstance(policy, dict) for policy in policies)
    assert grants(policies) == FUNCTION_GRANTS[function]


def test_the_functions_pass_the_scheduler_role_only_to_the_scheduler(aws):
    for function in ("UpdateButtonStatusFunction", "ExpireCountdownFunction"):
        (policy,) = resolved(aws, function, "Properties", "Policies")
        (statement,) = [s for s in policy["Statement"] if s["Action"] == "iam:PassRole"]
        assert statement["Condition"] == {
            "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
        }


def test_the_scheduler_role_may_only_run_the_expiry_function_of_this_account(aws):
    role = resolved(aws, "ExpirySchedulerRole", "Properties")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert grants(p["PolicyDocument"] for p in role["Policies"]) == allow(
        ["lambda:InvokeFunction"], EXPIRE_FUNCTION
    )


def test_the_status_rule_may_only_republish_to_shadows_never_the_buttons(aws):
    role = resolved(aws, "StatusRuleRole", "Properties")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "iot.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    documents = [p["PolicyDocument"] for p in role["Policies"]]
    button = f"{IOT}:topic/$aws/things/button/shadow/update"
    assert grants(documents) == allow(
        ["iot:Publish"], f"{IOT}:topic/$aws/things/*/shadow/update"
    ) | {("Deny", "iot:Publish", button)}
    context = PolicyContext(None, "rule", REGION, ACCOUNT)
    kitchen = f"{IOT}:topic/$aws/things/pi-kitchen/shadow/update"
    assert evaluate(documents, "iot:Publish", kitchen, context) is Decision.ALLOW
    assert evaluate(documents, "iot:Publish", button, context) is Decision.DENY
    rule = resolved(aws, "StatusRule", "Properties", "TopicRulePayload")
    assert rule["Sql"] == "SELECT state FROM 'swan/status/+' WHERE topic(3) <> 'button'"
    (action,) = rule["Actions"]
    assert action["Republish"]["Topic"] == "$$aws/things/${topic(3)}/shadow/update"


def test_only_unauthenticated_identities_of_this_pool_get_the_web_role(aws):
    role = resolved(aws, "WebBackendRole", "Properties")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {
        "StringEquals": {"cognito-identity.amazonaws.com:aud": f"{REGION}:0000-pool"},
        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"},
    }
    attachment = resolved(aws, "WebIdentityPoolRoles", "Properties")
    assert attachment["Roles"] == {
        "unauthenticated": f"arn:aws:iam::{ACCOUNT}:role/swan-WebBackendRole-1"
    }
    pool = resolved(aws, "WebIdentityPool", "Properties")
    assert pool["AllowUnauthenticatedIdentities"] is True
    assert "CognitoIdentityProviders" not in pool


# ---------------------------------------------------------------- a browser's identity


def web_role_policy(aws) -> dict[str, Any]:
    (policy,) = resolved(aws, "WebBackendRole", "Properties", "Policies")
    return policy["PolicyDocument"]


SUB = "${cognito-identity.amazonaws.com:sub}"
IDENTITY = f"{REGION}:8f2c7d1e-4b3a-4c5d-9e6f-0a1b2c3d4e5f"
OTHER_IDENTITY = f"{REGION}:00000000-1111-2222-3333-444444444444"
SHADOW_READS = (
    "$aws/things/button/shadow/get/accepted",
    "$aws/things/button/shadow/get/rejected",
    "$aws/things/button/shadow/update/documents",
)
WEB_ROLE_GRANTS = (
    allow(["iot:Connect"], f"{IOT}:client/{SUB}")
    | allow(
        ["iot:Publish"],
        f"{IOT}:topic/swan/push/web/{SUB}",
        f"{IOT}:topic/$aws/things/button/shadow/get",
    )
    | allow(
        ["iot:Subscribe"],
        f"{IOT}:topicfilter/swan/push/web/{SUB}/accepted",
        f"{IOT}:topicfilter/swan/push/web/{SUB}/rejected",
        *(f"{IOT}:topicfilter/{topic}" for topic in SHADOW_READS),
    )
    | allow(
        ["iot:Receive"],
        f"{IOT}:topic/swan/push/web/{SUB}/accepted",
        f"{IOT}:topic/swan/push/web/{SUB}/rejected",
        *(f"{IOT}:topic/{topic}" for topic in SHADOW_READS),
    )
)


def identity(aws, identity_id=IDENTITY, client_id=None) -> Principal:
    """A browser's Cognito identity, connected with `client_id` (its identity id)."""
    context = PolicyContext(
        None, client_id or identity_id, REGION, ACCOUNT, cognito_identity=identity_id
    )
    return Principal.of([web_role_policy(aws)], context)


def test_the_web_role_allows_nothing_but_a_browsers_mqtt(aws):
    allowed = {grant for grant in grants([web_role_policy(aws)]) if grant[0] == "Allow"}
    assert allowed == WEB_ROLE_GRANTS
    assert all(grant[0] == "Allow" for grant in grants([web_role_policy(aws)]))


@pytest.mark.parametrize(
    ("client_id", "allowed"),
    [
        (IDENTITY, True),
        (OTHER_IDENTITY, False),  # another browser: it keeps its connection
        ("web", False),
        ("web.4f2a9c1e0b7d", False),
        ("pi-kitchen", False),
        ("G030JF0553648RUH", False),
        ("button", False),
    ],
)
def test_an_identity_connects_only_as_itself(aws, client_id, allowed):
    assert identity(aws, client_id=client_id).can_connect() is allowed


def test_an_identity_pushes_and_hears_answers_only_on_its_own_topics(aws):
    browser = identity(aws)
    mine, theirs = f"swan/push/web/{IDENTITY}", f"swan/push/web/{OTHER_IDENTITY}"
    assert browser.can_publish(mine)
    assert not browser.can_publish(theirs)
    for outcome in ("accepted", "rejected"):
        assert browser.can_subscribe(f"{mine}/{outcome}")
        assert browser.can_receive(f"{mine}/{outcome}")
        assert not browser.can_subscribe(f"{theirs}/{outcome}")
        assert not browser.can_receive(f"{theirs}/{outcome}")
    assert not browser.can_subscribe("swan/push/web/+/accepted")
    assert not browser.can_publish("swan/push/web")  # nobody's topic
    assert not browser.can_publish(f"swan/push/{IDENTITY}")  # a device's kind of topic


TOPICS = [
    "swan/push/pi-kitchen",
    "swan/push/pi-kitchen/accepted",
    "iotbutton/G030JF0553648RUH",
    "$aws/things/button/shadow/get",
    "$aws/things/button/shadow/get/accepted",
    "$aws/things/button/shadow/get/rejected",
    "$aws/things/button/shadow/update",
    "$aws/things/button/shadow/update/accepted",
    "$aws/things/button/shadow/update/documents",
    "$aws/things/button/shadow/update/delta",
    "$aws/things/button/shadow/delete",
    "$aws/things/button/shadow/name/x/update",
    "$aws/things/pi-kitchen/shadow/update",
    "$aws/things/pi-kitchen/shadow/get/accepted",
    "$aws/events/certificates/registered/abc",
    "swan/status/pi-kitchen",
    "#",
    "swan/#",
    "$aws/things/button/shadow/#",
]


@pytest.mark.parametrize("topic", TOPICS)
def test_apart_from_its_push_topics_an_identity_only_reads_the_button_shadow(aws, topic):
    browser = identity(aws)
    assert browser.can_publish(topic) is (topic == "$aws/things/button/shadow/get")
    assert browser.can_subscribe(topic) is (topic in SHADOW_READS)
    assert browser.can_receive(topic) is (topic in SHADOW_READS)


def test_the_web_role_derives_a_local_acl_for_identities(aws):
    acl = mosquitto_acl(
        [web_role_policy(aws)], listener_context(REGION, ACCOUNT, things=False, identities=True)
    )
    assert acl_allows(acl, IDENTITY, Access.WRITE, f"swan/push/web/{IDENTITY}")
    assert not acl_allows(acl, IDENTITY, Access.WRITE, f"swan/push/web/{OTHER_IDENTITY}")
    assert acl_allows(acl, IDENTITY, Access.READ, f"swan/push/web/{IDENTITY}/accepted")
    assert not acl_allows(acl, IDENTITY, Access.READ, f"swan/push/web/{OTHER_IDENTITY}/accepted")
    assert acl_allows(acl, IDENTITY, Access.READ, "$aws/things/button/shadow/update/documents")
    assert not acl_allows(acl, IDENTITY, Access.WRITE, "$aws/things/button/shadow/update")


def test_the_web_role_cannot_write_or_delete_the_button_shadow_over_http(aws):
    context = PolicyContext(None, IDENTITY, REGION, ACCOUNT, cognito_identity=IDENTITY)
    for action in ("iot:UpdateThingShadow", "iot:DeleteThingShadow", "iot:GetThingShadow"):
        decision = evaluate([web_role_policy(aws)], action, f"{IOT}:thing/button", context)
        assert decision is not Decision.ALLOW


# ---------------------------------------------------------------- the device policy


def device_policy(aws) -> dict[str, Any]:
    return resolved(aws, "DevicePolicy", "Properties", "PolicyDocument")


ITSELF = "${iot:ClientId}"
BUTTON_READS = ("$aws/things/button/shadow/get/*", "$aws/things/button/shadow/update/documents")
DEVICE_GRANTS = (
    allow(["iot:Connect"], f"{IOT}:client/${{iot:Connection.Thing.ThingName}}")
    | {
        ("Deny", "iot:Connect", f"{IOT}:client/button"),
        ("Deny", "iot:Connect", f"{IOT}:client/web"),
    }
    | allow(
        ["iot:Publish"],
        *(
            f"{IOT}:topic/{topic}"
            for topic in (
                f"iotbutton/{ITSELF}",
                f"swan/push/{ITSELF}",
                f"swan/status/{ITSELF}",
                f"$aws/things/{ITSELF}/shadow/*",
                "$aws/things/button/shadow/get",
            )
        ),
    )
    | allow(
        ["iot:Subscribe"],
        *(
            f"{IOT}:topicfilter/{topic}"
            for topic in (f"swan/push/{ITSELF}/*", f"$aws/things/{ITSELF}/shadow/*", *BUTTON_READS)
        ),
    )
    | allow(
        ["iot:Receive"],
        *(
            f"{IOT}:topic/{topic}"
            for topic in (f"swan/push/{ITSELF}/*", f"$aws/things/{ITSELF}/shadow/*", *BUTTON_READS)
        ),
    )
)


def test_the_device_policy_allows_its_own_topics_and_reading_the_button_only(aws):
    assert grants([device_policy(aws)]) == DEVICE_GRANTS


@pytest.mark.parametrize(
    "thing", ["pi-kitchen", "G030JF0553648RUH", "button", "web", "button-2", "x:y_z"]
)
def test_no_device_that_may_connect_may_write_the_button_shadow_or_hear_an_identity(aws, thing):
    # A device acts only on a connection: the Deny on Connect for "button" and "web" is what
    # keeps the button shadow and the identities' push topics (swan/push/web/*) from a thing
    # so named (${iot:ClientId} = thing name).
    device = Principal.of([device_policy(aws)], PolicyContext(thing, thing, REGION, ACCOUNT))
    writes = [
        f"$aws/things/button/shadow/{topic}"
        for topic in ("update", "delete", "update/documents", "get/accepted", "name/x/update")
    ]
    wrongs = [
        *(device.can_publish(topic) for topic in [*writes, "swan/push/web"]),
        device.can_receive("swan/push/web/accepted"),
        device.can_subscribe(f"swan/push/web/{IDENTITY}/accepted"),
        device.can_receive(f"swan/push/web/{IDENTITY}/accepted"),
    ]
    assert device.can_connect() is (thing not in ("button", "web"))
    assert not (device.can_connect() and any(wrongs))


def test_the_device_policy_needs_a_thing_whose_name_is_the_client_id(aws):
    policy = device_policy(aws)
    assert not Principal.of([policy], PolicyContext(None, "pi", REGION, ACCOUNT)).can_connect()
    assert not Principal.of([policy], PolicyContext("pi", "pj", REGION, ACCOUNT)).can_connect()


# ---------------------------------------------------------------- the whole template


def iam_documents(document: dict[str, Any]):
    """Every IAM or IoT policy document in the template, with where it is."""
    for logical_id, resource in document["Resources"].items():
        properties = resource.get("Properties", {})
        for index, policy in enumerate(properties.get("Policies", [])):
            if isinstance(policy, dict):
                yield f"{logical_id}.Policies[{index}]", policy.get("PolicyDocument", policy)
        if "PolicyDocument" in properties:
            yield logical_id, properties["PolicyDocument"]


def test_no_policy_in_the_template_names_every_resource(aws):
    document, context = aws
    checked = 0
    for where, policy in iam_documents(document):
        for statement in resolve(policy, context, where)["Statement"]:
            resources = statement.get("Resource", [])
            resources = [resources] if isinstance(resources, str) else resources
            assert "*" not in resources, where
            assert all(not r.endswith(":*") for r in resources), where
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if statement["Effect"] == "Allow":
                assert all(not a.endswith("*") for a in actions), where
            checked += 1
    assert checked > 20


def test_the_device_policy_is_the_only_iot_policy(aws):
    document, _ = aws
    kinds = {logical_id: r["Type"] for logical_id, r in document["Resources"].items()}
    assert sorted(k for k, kind in kinds.items() if kind == "AWS::IoT::Policy") == ["DevicePolicy"]
    assert "AWS::IoT::PolicyPrincipalAttachment" not in kinds.values()


def test_the_site_bucket_is_private_and_read_only_by_the_distribution(aws):
    bucket = resolved(aws, "SiteBucket", "Properties")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    policy = resolved(aws, "SiteBucketPolicy", "Properties", "PolicyDocument")
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "OnlyTheDistributionReads",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::swan-sitebucket-1/*",
            "Condition": {
                "StringEquals": {
                    "AWS:SourceArn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2EXAMPLE"
                }
            },
        }
    ]


def test_the_site_is_served_from_the_bucket_alone(aws):
    document, _ = aws
    config = resolve(
        document["Resources"]["SiteDistribution"]["Properties"]["DistributionConfig"],
        context_for(
            document,
            parameters={"DeviceCaCertificateId": CA_ID},
            attributes={
                "SiteBucket.RegionalDomainName": "b.s3.eu-west-1.amazonaws.com",
                "SiteOriginAccessControl.Id": "OAC1",
            },
        ),
        "DistributionConfig",
    )
    assert [o["Id"] for o in config["Origins"]] == ["site"]
    assert "CacheBehaviors" not in config
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "site"
    assert config["Origins"][0]["OriginAccessControlId"] == "OAC1"
