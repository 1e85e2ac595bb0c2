"""AWS IoT Core policy evaluation: the AWS documentation's examples, then The Swan's policies.

Sources: AWS IoT Core developer guide, `connect-and-pub.md`, `basic-policy-variables.md`,
`thing-policy-examples.md`, `pub-sub-policy.md` (the wildcard table, the topic and
topicfilter examples); IAM user guide, `reference_policies_variables.md` (`${*}` and kin).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swan.local.core.policy import (
    CONNECT,
    PUBLISH,
    RECEIVE,
    SUBSCRIBE,
    Decision,
    PolicyContext,
    PolicyDocument,
    PolicyDocumentError,
    Principal,
    UnsupportedPolicyError,
    Variable,
    Wildcard,
    client_arn,
    evaluate,
    parse_policies,
    parse_policy,
    parse_policy_text,
    parse_resource,
    topic_arn,
    topicfilter_arn,
)
from swan.local.deployment import read_template
from swan.local.intrinsics import context_for
from swan.local.template import load_template

REGION, ACCOUNT = "us-east-1", "123456789012"
ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}"
TEMPLATE = Path(__file__).parents[4] / "sam" / "template.yaml"


def document(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, *resources):
    return {"Effect": "Allow", "Action": action, "Resource": list(resources)}


def deny(action, *resources):
    return {"Effect": "Deny", "Action": action, "Resource": list(resources)}


def device(thing, client_id=None, **kwargs):
    """A device connected with its thing name as client id, unless told otherwise."""
    context = PolicyContext(thing, client_id or thing, REGION, ACCOUNT, **kwargs)
    return lambda *documents: Principal.of(documents, context)


# ---------------------------------------------------------------- AWS's examples


REGISTERED = document(
    allow("iot:Publish", f"{ARN}:topic/${{iot:Connection.Thing.ThingName}}"),
    allow("iot:Connect", f"{ARN}:client/${{iot:Connection.Thing.ThingName}}"),
)


def test_registered_device_connects_and_publishes_only_as_its_thing():
    thing = device("thing1")(REGISTERED)
    assert thing.can_connect()
    assert thing.can_publish("thing1")
    assert not thing.can_publish("thing2")
    impostor = device("thing1", client_id="thing2")(REGISTERED)
    assert not impostor.can_connect()


def test_thing_variables_of_a_certificate_without_a_thing_match_nothing():
    orphan = device(None, client_id="thing1")(REGISTERED)
    assert not orphan.can_connect()
    assert not orphan.can_publish("thing1")
    assert orphan.decide(PUBLISH, topic_arn("thing1", orphan.context)) is Decision.IMPLICIT_DENY


def test_unregistered_device_uses_its_client_id():
    policy = document(
        allow("iot:Publish", f"{ARN}:topic/${{iot:ClientId}}"),
        allow("iot:Connect", f"{ARN}:client/client1"),
    )
    client = device(None, client_id="client1")(policy)
    assert client.can_connect()
    assert client.can_publish("client1")
    assert not device(None, client_id="client2")(policy).can_connect()


SUB = "${cognito-identity.amazonaws.com:sub}"
IDENTITY = "us-east-1:8f2c7d1e-4b3a-4c5d-9e6f-0a1b2c3d4e5f"


def test_a_cognito_identity_is_held_to_resources_named_by_its_identity_id():
    policy = document(
        allow("iot:Connect", f"{ARN}:client/{SUB}"),
        allow("iot:Publish", f"{ARN}:topic/swan/push/web/{SUB}"),
    )
    browser = device(None, client_id=IDENTITY, cognito_identity=IDENTITY)(policy)
    assert browser.can_connect()
    assert browser.can_publish(f"swan/push/web/{IDENTITY}")
    assert not browser.can_publish("swan/push/web/us-east-1:0000")
    other_client_id = device(None, client_id="web", cognito_identity=IDENTITY)(policy)
    assert not other_client_id.can_connect()


def test_the_cognito_variable_has_no_value_for_a_device():
    policy = document(allow("iot:Connect", f"{ARN}:client/{SUB}"))
    assert not device("pi-kitchen")(policy).can_connect()


def test_variables_after_a_wildcard_are_substituted_too():
    policy = document(
        allow("iot:Receive", f"{ARN}:topic/*/${{iot:ClientId}}/x?"),
        allow("iot:Receive", f"{ARN}:topic/web/*/{SUB}"),  # no value for a device
    )
    pi = device("pi-kitchen")(policy)
    assert pi.can_receive("a/b/pi-kitchen/x1")
    assert not pi.can_receive("a/b/pi-hall/x1")
    assert not pi.can_receive("web/a/")
    browser = device(None, client_id=IDENTITY, cognito_identity=IDENTITY)(policy)
    assert browser.can_receive(f"web/a/{IDENTITY}")


def test_a_client_id_of_plus_subscribes_to_the_filter_plus_as_the_guide_warns():
    policy = document(allow("iot:Subscribe", f"{ARN}:topicfilter/my/${{iot:ClientId}}/topic"))
    sly = device(None, client_id="+")(policy)
    assert sly.can_subscribe("my/+/topic")
    assert not device(None, client_id="a")(policy).can_subscribe("my/+/topic")


def test_a_client_id_is_substituted_literally_not_as_a_wildcard():
    policy = document(allow("iot:Publish", f"{ARN}:topic/my/${{iot:ClientId}}"))
    star = device(None, client_id="a*")(policy)
    assert star.can_publish("my/a*")
    assert not star.can_publish("my/abc")


@pytest.mark.parametrize(
    ("resource", "topic_filter", "allowed"),
    [
        # The wildcard table of pub-sub-policy.md: * and ? are the policy's wildcards...
        ("topicfilter/some/*/topic", "some/+/topic", True),
        ("topicfilter/some/*/topic", "some/a/b/topic", True),  # * is not held to one level
        ("topicfilter/some/sensor*/topic", "some/sensor12/topic", True),
        ("topicfilter/some/sensor???/topic", "some/sensor123/topic", True),
        ("topicfilter/some/sensor???/topic", "some/sensor1234/topic", False),
        # ... and MQTT's + and # are plain characters in a policy.
        ("topicfilter/some/+/topic", "some/+/topic", True),
        ("topicfilter/some/+/topic", "some/sensor/topic", False),
        ("topicfilter/some/#", "some/#", True),
        ("topicfilter/some/#", "some/thing", False),
        # Subscribe is checked against topicfilter resources only.
        ("topic/some/+/topic", "some/+/topic", False),
        ("topic/*", "some/topic", False),
    ],
)
def test_subscribe_matches_topic_filters_with_policy_wildcards(resource, topic_filter, allowed):
    client = device("thing1")(document(allow("iot:Subscribe", f"{ARN}:{resource}")))
    assert client.can_subscribe(topic_filter) is allowed


@pytest.mark.parametrize(
    ("resource", "topic", "allowed"),
    [
        ("topic/some/?????/topic", "some/abcde/topic", True),
        ("topic/some/?????/topic", "some/abcd/topic", False),
        ("topic/some/*", "some/a/b/c", True),
        ("topic/some/*", "some", False),
        ("topic/some/#", "some/a", False),
        ("topicfilter/some/*", "some/a", False),  # Publish and Receive name topic resources
        ("*", "some/a", True),
    ],
)
def test_publish_and_receive_match_topics(resource, topic, allowed):
    policy = document(allow(["iot:Publish", "iot:Receive"], f"{ARN}:{resource}"))
    client = device("thing1")(policy)
    assert client.can_publish(topic) is allowed
    assert client.can_receive(topic) is allowed


def test_specific_topic_example_publish_subscribe_receive():
    # "Policies to publish, subscribe and receive messages to/from specific topics".
    policy = document(
        allow("iot:Connect", f"{ARN}:client/${{iot:Connection.Thing.ThingName}}"),
        allow(["iot:Publish", "iot:Receive"], f"{ARN}:topic/some_specific_topic"),
        allow("iot:Subscribe", f"{ARN}:topicfilter/some_specific_topic"),
    )
    thing = device("thing1")(policy)
    assert thing.can_connect()
    assert thing.can_publish("some_specific_topic")
    assert thing.can_subscribe("some_specific_topic")
    assert thing.can_receive("some_specific_topic")
    assert not thing.can_publish("some_other_topic")
    assert not thing.can_subscribe("some_specific_topic/#")


def test_deny_publishing_to_a_subtopic_wins_over_the_allow_of_its_parent():
    # "Policies to deny publishing messages to subtopics of a topic name".
    policy = document(
        allow("iot:Publish", f"{ARN}:topic/department/*"),
        deny("iot:Publish", f"{ARN}:topic/department/admins"),
    )
    thing = device("thing1")(policy)
    assert thing.can_publish("department/finance")
    assert thing.decide(PUBLISH, f"{ARN}:topic/department/admins") is Decision.DENY
    assert thing.can_publish("department/admins/x")  # the Deny names one topic


def test_deny_receiving_from_subtopics_with_a_wildcard():
    # "Policies to deny receiving messages from subtopics of a topic name".
    policy = document(
        allow(["iot:Subscribe"], f"{ARN}:topicfilter/topic_1/*"),
        allow(["iot:Receive"], f"{ARN}:topic/topic_1/*"),
        deny(["iot:Receive"], f"{ARN}:topic/topic_1/restricted/*"),
    )
    thing = device("thing1")(policy)
    assert thing.can_receive("topic_1/open")
    assert not thing.can_receive("topic_1/restricted/data")
    assert thing.can_subscribe("topic_1/restricted/#")  # subscribing is allowed; receiving not


# ---------------------------------------------------------------- evaluation rules


def test_explicit_deny_wins_whichever_document_or_order():
    allowing = document(allow("iot:*", "*"))
    denying = document(deny("iot:Publish", f"{ARN}:topic/secret"))
    context = PolicyContext("thing1", "thing1", REGION, ACCOUNT)
    for documents in ([allowing, denying], [denying, allowing]):
        assert evaluate(documents, PUBLISH, f"{ARN}:topic/secret", context) is Decision.DENY
        assert evaluate(documents, PUBLISH, f"{ARN}:topic/open", context) is Decision.ALLOW
        assert evaluate(documents, RECEIVE, f"{ARN}:topic/secret", context) is Decision.ALLOW


def test_nothing_attached_is_an_implicit_deny():
    context = PolicyContext("thing1", "thing1", REGION, ACCOUNT)
    assert evaluate([], CONNECT, client_arn("thing1", context), context) is Decision.IMPLICIT_DENY
    assert not Decision.IMPLICIT_DENY.allowed
    assert not Decision.DENY.allowed
    assert Decision.ALLOW.allowed


@pytest.mark.parametrize(
    ("pattern", "action", "allowed"),
    [
        ("iot:Publish", "iot:Publish", True),
        ("IOT:publish", "iot:Publish", True),  # action names are not case-sensitive
        ("iot:*", "iot:Receive", True),
        ("*", "iot:Connect", True),
        ("iot:Pub*", "iot:Publish", True),
        ("iot:?ublish", "iot:Publish", True),
        ("iot:Pub", "iot:Publish", False),
        ("greengrass:*", "iot:Publish", False),
    ],
)
def test_action_wildcards(pattern, action, allowed):
    context = PolicyContext("t", "t", REGION, ACCOUNT)
    decision = evaluate([document(allow(pattern, "*"))], action, f"{ARN}:topic/x", context)
    assert decision.allowed is allowed


def test_resource_case_matters():
    thing = device("thing1")(document(allow("iot:Publish", f"{ARN}:topic/Some")))
    assert thing.can_publish("Some")
    assert not thing.can_publish("some")


def test_not_action_and_not_resource():
    policy = document(
        {"Effect": "Allow", "NotAction": "iot:Publish", "Resource": "*"},
        {"Effect": "Allow", "Action": "iot:Publish", "NotResource": [f"{ARN}:topic/private/*"]},
    )
    thing = device("thing1")(policy)
    assert thing.can_connect()
    assert thing.can_receive("anything")
    assert thing.can_publish("public/news")
    assert not thing.can_publish("private/diary")


def test_a_statement_may_stand_alone_and_a_resource_be_text():
    policy = {
        "Version": "2012-10-17",
        "Id": "single",
        "Statement": {"Sid": "one", "Effect": "Allow", "Action": "iot:Publish", "Resource": "*"},
    }
    parsed = parse_policy(policy)
    assert parsed.statements[0].sid == "one"
    assert parsed.statements[0].resources == ("*",)
    assert device("t")(policy).can_publish("x")


def test_parsed_documents_are_taken_as_they_are():
    parsed = parse_policy(document(allow("iot:Publish", "*")))
    assert parse_policies([parsed]) == (parsed,)
    assert isinstance(parsed, PolicyDocument)


def test_a_policy_text_is_parsed_once_and_a_bad_one_fails_every_time():
    text = json.dumps(document(allow("iot:Publish", "topic/${iot:ClientId}")))
    parsed = parse_policy_text(text)
    assert parsed == parse_policy(json.loads(text))
    assert parse_policy_text(text) is parsed  # every connection of a device asks again
    bad = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]})
    for _ in range(2):
        with pytest.raises(PolicyDocumentError):
            parse_policy_text(bad)


# ---------------------------------------------------------------- policy variables


@pytest.mark.parametrize(
    ("resource", "topic", "allowed"),
    [
        ("topic/a/${*}", "a/*", True),
        ("topic/a/${*}", "a/b", False),
        ("topic/a${?}", "a?", True),
        ("topic/a${?}", "ab", False),
        ("topic/${$}{iot:ClientId}", "${iot:ClientId}", True),
        ("topic/${iot:clientid}", "thing1", True),  # variable names are not case-sensitive
        ("topic/${IOT:CONNECTION.THING.THINGNAME}", "thing1", True),
        ("topic/${iot:Certificate.Subject.CommonName}", "thing1", False),  # unknown here
        ("topic/${iot:Unknown}/x", "/x", False),
        ("topic/${iot:ClientId", "${iot:ClientId", True),  # not a variable
    ],
)
def test_policy_variables(resource, topic, allowed):
    thing = device("thing1")(document(allow("iot:Publish", f"{ARN}:{resource}")))
    assert thing.can_publish(topic) is allowed


def test_an_entry_with_an_unresolved_variable_matches_nothing_but_its_siblings_still_do():
    policy = document(
        allow("iot:Publish", f"{ARN}:topic/${{iot:Unknown}}", f"{ARN}:topic/open"),
        deny("iot:Publish", f"{ARN}:topic/${{iot:Connection.Thing.ThingName}}"),
    )
    web = device(None, client_id="web")(policy)
    assert web.can_publish("open")
    assert not web.can_publish("")


def test_resource_patterns_are_parsed_into_atoms():
    assert parse_resource("a*${iot:ClientId}?${*}") == (
        "a",
        Wildcard.ANY,
        Variable("iot:ClientId"),
        Wildcard.ONE,
        "*",
    )


def test_variables_with_default_values_are_not_supported():
    with pytest.raises(UnsupportedPolicyError, match="default values"):
        parse_resource("topic/${iot:ClientId, 'nobody'}")


def test_arn_helpers_name_the_partition_region_and_account():
    context = PolicyContext("t", "t", "cn-north-1", "111122223333", partition="aws-cn")
    assert topic_arn("a/b", context) == "arn:aws-cn:iot:cn-north-1:111122223333:topic/a/b"
    assert topicfilter_arn("a/+", context) == (
        "arn:aws-cn:iot:cn-north-1:111122223333:topicfilter/a/+"
    )
    assert client_arn("pi", context) == "arn:aws-cn:iot:cn-north-1:111122223333:client/pi"


def test_principal_asks_with_its_own_context():
    thing = device("thing1")(document(allow("iot:Subscribe", f"{ARN}:topicfilter/a/+")))
    assert thing.can_subscribe("a/+")
    assert thing.decide(SUBSCRIBE, topicfilter_arn("a/+", thing.context)) is Decision.ALLOW


# ---------------------------------------------------------------- documents AWS would refuse


@pytest.mark.parametrize(
    ("bad", "where", "problem"),
    [
        ([], "document", "JSON object"),
        ({"Version": "2012-10-17", "Statement": [], "Extra": 1}, "Extra", "not a policy"),
        ({"Statement": [allow("iot:*", "*")]}, "Version", "2012-10-17"),
        ({"Version": "2008-10-17", "Statement": [allow("iot:*", "*")]}, "Version", "2012"),
        ({"Version": "2012-10-17"}, "Statement", "non-empty"),
        (document(), "Statement", "non-empty"),
        ({"Version": "2012-10-17", "Statement": "x"}, "Statement", "non-empty"),
        (document("x"), "Statement[0]", "JSON object"),
        (document({**allow("iot:*", "*"), "Principal": "*"}), "Statement[0].Principal", "not"),
        (document({**allow("iot:*", "*"), "Effect": "allow"}), "Statement[0].Effect", "Allow"),
        (document({"Effect": "Allow", "Resource": "*"}), "Statement[0]", "exactly one"),
        (
            document({"Effect": "Allow", "Action": "a", "NotAction": "b", "Resource": "*"}),
            "Statement[0]",
            "exactly one",
        ),
        (document({"Effect": "Allow", "Action": "iot:*"}), "Statement[0]", "exactly one"),
        (document(allow([], "*")), "Statement[0].Action", "non-empty"),
        (document(allow([1], "*")), "Statement[0].Action", "text"),
        (document(allow("iot:*")), "Statement[0].Resource", "non-empty"),
        (document({**allow("iot:*", "*"), "Sid": 3}), "Statement[0].Sid", "text"),
    ],
)
def test_documents_aws_would_refuse(bad, where, problem):
    with pytest.raises(PolicyDocumentError, match=problem) as raised:
        parse_policy(bad)
    assert raised.value.where == where


def test_a_condition_is_refused_rather_than_ignored():
    conditional = document(
        {
            **allow("iot:Connect", "*"),
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": ["true"]}},
        }
    )
    with pytest.raises(UnsupportedPolicyError, match="conditions") as raised:
        parse_policy(conditional)
    assert raised.value.where == "Statement[0].Condition"
    assert isinstance(raised.value, ValueError)


# ---------------------------------------------------------------- The Swan's own policies


@pytest.fixture(scope="module")
def swan_policies():
    template = load_template(TEMPLATE)
    context = context_for(
        template,
        region=REGION,
        account_id=ACCOUNT,
        attributes={"ExpirySchedulerRole.Arn": "arn:aws:iam::123456789012:role/x"},
    )
    return read_template(template, context).policies


@pytest.fixture
def as_device(swan_policies):
    return lambda thing: device(thing)(swan_policies["DevicePolicy"].document)


OPERATIONS = ("get", "update", "delete")
RESPONSES = {
    "get": ("accepted", "rejected"),
    "update": ("accepted", "rejected", "delta", "documents"),
    "delete": ("accepted", "rejected"),
}


def shadow_topics(thing):
    """Request and response topics of the thing's classic shadow and a named one."""
    requests, responses = [], []
    for prefix in (f"$aws/things/{thing}/shadow", f"$aws/things/{thing}/shadow/name/lamp"):
        for operation in OPERATIONS:
            requests.append(f"{prefix}/{operation}")
            responses += [f"{prefix}/{operation}/{answer}" for answer in RESPONSES[operation]]
    return requests, responses


BUTTON_READS = (
    "$aws/things/button/shadow/get/accepted",
    "$aws/things/button/shadow/get/rejected",
    "$aws/things/button/shadow/update/documents",
)


def test_the_policies_are_named_after_the_stack(swan_policies):
    assert swan_policies["DevicePolicy"].name == "swan-local-device"
    assert list(swan_policies) == ["DevicePolicy"]  # a browser's identity has its role


def test_a_device_connects_only_as_its_thing(as_device, swan_policies):
    pi = as_device("pi-kitchen")
    assert pi.can_connect()
    policy = swan_policies["DevicePolicy"].document
    assert not device("pi-kitchen", client_id="pi-hall")(policy).can_connect()
    assert not device(None, client_id="pi-kitchen")(policy).can_connect()


def test_a_device_publishes_only_its_clicks_pushes_and_shadow_requests(as_device):
    button = as_device("G030JF055364XVRB")
    assert button.can_publish("iotbutton/G030JF055364XVRB")
    assert button.can_publish("swan/push/G030JF055364XVRB")
    assert not button.can_publish("iotbutton/G030JF0553648RUH")
    assert not button.can_publish("swan/push/pi-kitchen")
    requests, responses = shadow_topics("G030JF055364XVRB")
    assert all(button.can_publish(topic) for topic in requests)
    # its own shadow/*: its own answer topics too, which mislead nobody but itself
    assert all(button.can_publish(topic) for topic in responses)
    other_requests, other_responses = shadow_topics("pi-kitchen")
    assert not any(button.can_publish(topic) for topic in other_requests + other_responses)


def test_a_device_receives_its_replies_and_shadow_responses_only(as_device):
    pi = as_device("pi-kitchen")
    _, responses = shadow_topics("pi-kitchen")
    own = [*responses, "swan/push/pi-kitchen/accepted", "swan/push/pi-kitchen/rejected"]
    for topic in own:
        assert pi.can_subscribe(topic), topic
        assert pi.can_receive(topic), topic
    _, others = shadow_topics("pi-hall")
    for topic in [*others, "swan/push/pi-hall/accepted", "swan/push/web/accepted"]:
        assert not pi.can_receive(topic), topic
    assert pi.can_subscribe("$aws/things/pi-kitchen/shadow/#")  # as the SDK's shadow sample
    for wide in ("swan/push/+/accepted", "swan/push/#", "$aws/things/+/shadow/get/accepted"):
        assert not pi.can_subscribe(wide), wide
    assert not pi.can_receive("$aws/things/pi-hall/shadow/get")


def test_a_device_reads_the_button_shadow_and_never_writes_it(as_device):
    client = as_device("pi-kitchen")
    assert client.can_publish("$aws/things/button/shadow/get")
    for topic in BUTTON_READS:
        assert client.can_subscribe(topic)
        assert client.can_receive(topic)
    for topic in ("update", "delete", "name/lamp/update", "name/lamp/delete", "name/lamp/get"):
        assert not client.can_publish(f"$aws/things/button/shadow/{topic}"), topic
    assert not client.can_receive("$aws/things/button/shadow/update/accepted")
    assert not client.can_publish("$aws/things/button/shadow/update/documents")


ARN_CTX = PolicyContext(None, "x", REGION, ACCOUNT)


@pytest.mark.parametrize("name", ["button", "web"])
def test_a_device_named_the_button_or_the_web_never_connects(as_device, name):
    # Every MQTT action needs a connection; the explicit Deny wins over ConnectAsItsThing, so
    # its ${iot:ClientId} can never be "button" (the button shadow) or "web" (its push
    # topics would be the prefix of the browsers' identities', swan/push/web/<identity id>).
    impostor = as_device(name)
    assert impostor.decide(CONNECT, f"{ARN}:client/{name}") is Decision.DENY
    assert as_device(f"{name}-kitchen").can_connect()


def test_no_device_may_write_any_shadow_over_https(as_device):
    # No variable has a value over HTTPS; and no IoT policy allows the shadow's HTTP actions.
    impostor = as_device("button")
    http = f"{ARN}:thing/button"
    assert impostor.decide("iot:UpdateThingShadow", http) is not Decision.ALLOW
    assert impostor.decide("iot:DeleteThingShadow", f"{http}/lamp") is not Decision.ALLOW
