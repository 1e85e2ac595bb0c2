"""The broker ACL derived from the IoT policies, and Mosquitto's ACL check, side by side.

The golden files are the ACLs the template's device policy and the browsers' identity role
make; the properties check that the ACL lets a client do exactly what `swan.local.core.policy`
says AWS would. What `acl_allows` models
was checked against Mosquitto 2.0.11 (tests/integration/test_policy_acl.py does so too).
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swan.core.errors import InvalidTopicError
from swan.local.authorization import role_documents
from swan.local.core.acl import (
    Access,
    AclRule,
    AclSyntaxError,
    AclTranslationError,
    MosquittoAcl,
    acl_allows,
    listener_context,
    mosquitto_acl,
    parse_acl,
)
from swan.local.core.policy import PolicyContext, Principal
from swan.local.deployment import read_template
from swan.local.intrinsics import context_for
from swan.local.template import load_template
from swan.local.web_gateway import mqtt_documents

ROOT = Path(__file__).parents[4]
GOLDEN = Path(__file__).parent / "golden" / "acl"
REGION, ACCOUNT = "us-east-1", "123456789012"
ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}"
THINGS = listener_context(REGION, ACCOUNT, things=True)
NO_THINGS = listener_context(REGION, ACCOUNT, things=False)
THING = "${iot:Connection.Thing.ThingName}"


IDENTITY_ROLE = "WebBackendRole"
# The listener each document's ACL is for: the device listener (thing variables are the
# client id) and the identity listener (the Cognito identity id is the client id).
LISTENERS = {"DevicePolicy": {"things": True}, IDENTITY_ROLE: {"things": False, "identities": True}}


@cache
def swan():
    """The template's device policy and the browsers' role's MQTT statements, resolved as
    the local stack resolves them."""
    template = load_template(ROOT / "sam" / "template.yaml")
    context = context_for(template, attributes={"ExpirySchedulerRole.Arn": "arn:role"})
    deployment = read_template(template, context)
    policies = {name: policy.document for name, policy in deployment.policies.items()}
    (policies[IDENTITY_ROLE],) = mqtt_documents(role_documents(template, context)[IDENTITY_ROLE])
    return deployment.context, policies


@cache
def acl_for(name):
    context, policies = swan()
    return mosquitto_acl(
        [policies[name]], listener_context(context.region, context.account_id, **LISTENERS[name])
    )


def document(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, *resources):
    return {"Effect": "Allow", "Action": action, "Resource": list(resources)}


def deny(action, *resources):
    return {"Effect": "Deny", "Action": action, "Resource": list(resources)}


def lines(acl):
    return [line for line in acl.splitlines() if not line.startswith("#")]


def readable(*topics):
    """Subscribe and Receive allowed on the same topics, as the ACL needs."""
    return (
        allow("iot:Subscribe", *(f"{ARN}:topicfilter/{t}" for t in topics)),
        allow("iot:Receive", *(f"{ARN}:topic/{t}" for t in topics)),
    )


# ---------------------------------------------------------------- the template's ACLs


@pytest.mark.parametrize(
    ("policy", "golden"), [("DevicePolicy", "device"), (IDENTITY_ROLE, "identity")]
)
def test_the_template_policies_make_the_golden_acls(policy, golden):
    assert acl_for(policy) == (GOLDEN / f"{golden}.acl").read_text()


def test_the_golden_acls_load_in_mosquitto_terms():
    for golden in ("device", "identity"):
        acl = parse_acl((GOLDEN / f"{golden}.acl").read_text())
        assert acl.users == {}
        assert all(rule.topic for rule in acl.patterns)


# ---------------------------------------------------------------- ACL == policy, by property

NAME_CHARS = string.ascii_letters + string.digits + ":_-"
names = st.text(alphabet=NAME_CHARS, min_size=1, max_size=8)
shadow_names = st.text(alphabet=NAME_CHARS + "$", min_size=1, max_size=8)
IDENTITY = "us-east-1:8f2c7d1e-4b3a-4c5d-9e6f-0a1b2c3d4e5f"
clients = st.one_of(
    names, st.sampled_from(["button", "web", "pi-kitchen", "G030JF055364XVRB", IDENTITY])
)
OPERATIONS = ("get", "update", "delete", "list")
ANSWERS = (None, "accepted", "rejected", "delta", "documents", "other")


@st.composite
def family_topics(draw, client):
    """A topic of one of The Swan's families, about the client, another thing or identity,
    button or web."""
    thing = draw(st.sampled_from([client, draw(names), "button", "web", IDENTITY]))
    family = draw(st.sampled_from(["click", "push", "identity", "shadow", "named", "random"]))
    if family == "click":
        return f"iotbutton/{thing}"
    if family in ("push", "identity"):
        answer = draw(st.sampled_from(ANSWERS))
        prefix = "swan/push" if family == "push" else "swan/push/web"
        return f"{prefix}/{thing}" + (f"/{answer}" if answer else "")
    if family in ("shadow", "named"):
        prefix = f"$aws/things/{thing}/shadow"
        if family == "named":
            prefix += f"/name/{draw(shadow_names)}"
        answer = draw(st.sampled_from(ANSWERS))
        return f"{prefix}/{draw(st.sampled_from(OPERATIONS))}" + (f"/{answer}" if answer else "")
    levels = draw(st.lists(st.text(alphabet=NAME_CHARS + "$ ", max_size=6), max_size=5))
    return "/".join([*levels, "x"])


@cache
def parsed_acl_for(name):
    return parse_acl(acl_for(name))


def principal(policy, client):
    context, policies = swan()
    if policy == "DevicePolicy":
        who = PolicyContext(client, client, context.region, context.account_id)
    else:
        who = PolicyContext(
            None, client, context.region, context.account_id, cognito_identity=client
        )
    return Principal.of([policies[policy]], who)


def aws_allows(who, access, topic):
    if access is Access.WRITE:
        return who.can_publish(topic)
    return who.can_subscribe(topic) and who.can_receive(topic)


@pytest.mark.parametrize("policy", ["DevicePolicy", IDENTITY_ROLE])
@settings(max_examples=300)
@given(client=clients, data=st.data())
def test_the_acl_allows_exactly_what_the_policy_allows(policy, client, data):
    topic = data.draw(family_topics(client))
    acl = parsed_acl_for(policy)
    who = principal(policy, client)
    for access in Access:
        assert acl_allows(acl, client, access, topic) == aws_allows(who, access, topic), (
            access,
            topic,
        )


VOCABULARY = (
    "$aws", "things", "shadow", "name", "get", "update", "delete", "accepted", "rejected",
    "delta", "documents", "swan", "push", "iotbutton", "button", "web", "lamp", "",
)  # fmt: skip


@pytest.mark.parametrize("policy", ["DevicePolicy", IDENTITY_ROLE])
@settings(max_examples=300)
@given(client=clients, data=st.data())
def test_the_acl_never_allows_more_than_the_policy(policy, client, data):
    words = st.sampled_from([*VOCABULARY, client])
    topic = "/".join(data.draw(st.lists(words, min_size=1, max_size=9)))
    if not topic:
        topic = "x"
    acl = parsed_acl_for(policy)
    who = principal(policy, client)
    for access in Access:
        if acl_allows(acl, client, access, topic):
            assert aws_allows(who, access, topic), (access, topic)


def test_the_devices_own_shadow_wildcard_is_exact_even_across_levels():
    # A trailing * becomes +/#, which spans levels as AWS's * does (a middle one would be
    # narrower: see test_a_whole_middle_level_star_becomes_plus_in_an_allow).
    topic = "$aws/things/pi/shadow/name/a/b/get"
    assert principal("DevicePolicy", "pi").can_publish(topic)
    assert acl_allows(acl_for("DevicePolicy"), "pi", Access.WRITE, topic)
    assert not acl_allows(acl_for("DevicePolicy"), "pi", Access.WRITE, "$aws/things/pi/shadow")
    assert not principal("DevicePolicy", "pi").can_publish("$aws/things/pi/shadow")


# ---------------------------------------------------------------- the translation


def test_identity_variables_become_the_client_id_pattern():
    policy = document(
        allow("iot:Publish", f"{ARN}:topic/a/{THING}", f"{ARN}:topic/b/${{iot:ClientId}}"),
        allow("iot:Connect", f"{ARN}:client/{THING}"),
    )
    assert lines(mosquitto_acl([policy], THINGS)) == ["pattern write a/%c", "pattern write b/%c"]


def test_without_things_thing_variables_match_nothing():
    policy = document(
        allow("iot:Publish", f"{ARN}:topic/a/{THING}", f"{ARN}:topic/b/${{iot:ClientId}}"),
        deny("iot:Publish", f"{ARN}:topic/b/{THING}"),
    )
    assert lines(mosquitto_acl([policy], NO_THINGS)) == ["pattern write b/%c"]


def test_a_concrete_identity_gives_literal_topics():
    policy = document(allow("iot:Publish", f"{ARN}:topic/a/{THING}", f"{ARN}:topic/${{iot:X}}"))
    context = PolicyContext("pi", "pi", REGION, ACCOUNT)
    assert lines(mosquitto_acl([policy], context)) == ["pattern write a/pi"]


def test_a_trailing_star_becomes_one_or_more_levels():
    policy = document(allow("iot:Publish", f"{ARN}:topic/a/*"), *readable("a/*", "b/*"))
    assert lines(mosquitto_acl([policy], THINGS)) == [
        "pattern readwrite a/+/#",
        "pattern read b/+/#",
    ]


def test_a_whole_middle_level_star_becomes_plus_in_an_allow():
    policy = document(allow("iot:Publish", f"{ARN}:topic/a/*/b", f"{ARN}:topic/a/*/b"))
    assert lines(mosquitto_acl([policy], THINGS)) == ["pattern write a/+/b"]


def test_denies_come_first_and_are_written_once():
    policy = document(
        allow("iot:Publish", f"{ARN}:topic/a/*"),
        *readable("a/*"),
        deny(["iot:Publish", "iot:Receive"], f"{ARN}:topic/a/secret/*", f"{ARN}:topic/a/x"),
        deny("iot:Subscribe", f"{ARN}:topicfilter/a/secret/*"),
    )
    assert lines(mosquitto_acl([policy], THINGS)) == [
        "pattern deny a/secret/+/#",
        "pattern deny a/x",
        "pattern readwrite a/+/#",
    ]


def test_other_actions_and_resources_are_not_the_acls_business():
    policy = document(
        allow(["iot:Connect", "iot:GetThingShadow"], "*"),
        allow("iot:*", f"{ARN}:thing/pi", f"{ARN}:client/pi", f"{ARN}:topic/"),
        {"Effect": "Allow", "NotAction": "iot:*", "NotResource": "*"},
    )
    assert lines(mosquitto_acl([policy], THINGS)) == []


def test_every_document_counts():
    first = document(allow("iot:Publish", f"{ARN}:topic/a"))
    second = document(deny("iot:Publish", f"{ARN}:topic/a"))
    assert lines(mosquitto_acl([first, second], THINGS)) == ["pattern deny a", "pattern write a"]


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (allow("iot:Publish", f"{ARN}:topic/*"), "first level"),
        (allow("iot:Publish", f"{ARN}:topic/*/a"), "first level"),
        (allow("iot:Publish", "*"), "before the topic"),
        (allow("iot:Publish", f"arn:aws:iot:*:{ACCOUNT}:topic/a"), "before the topic"),
        (allow("iot:Publish", f"{ARN}:top?c/a"), "before the topic"),
        (allow("iot:Publish", f"{ARN}:topic/a/b*"), "not a whole topic level"),
        (allow("iot:Publish", f"{ARN}:topic/a/b?"), "not a whole topic level"),
        (allow("iot:Publish", f"{ARN}:topic/a/x{THING}"), "not a whole topic level"),
        (allow("iot:Publish", f"{ARN}:topic/a/+"), "matches no topic name"),
        (allow("iot:Publish", f"{ARN}:topic/a/#"), "matches no topic name"),
        (allow("iot:Publish", f"{ARN}:topic/a/%c"), "substitute"),
        (allow("iot:Publish", f"{ARN}:topic/a/%u"), "substitute"),
        (deny("iot:Publish", f"{ARN}:topic/a/*/b"), "deny less"),
        (
            allow("iot:Publish", f"arn:aws:iot:{REGION}:${{iot:ClientId}}:topic/a"),
            "before the topic",
        ),
        (
            {"Effect": "Deny", "Action": "iot:Publish", "NotResource": f"{ARN}:topic/a"},
            "NotResource",
        ),
        (allow("iot:Receive", f"{ARN}:topic/a"), "subscribed to"),
        (deny("iot:Subscribe", f"{ARN}:topicfilter/a"), "cannot refuse a subscription"),
    ],
)
def test_what_an_acl_cannot_say_exactly_is_refused(statement, problem):
    with pytest.raises(AclTranslationError, match=problem) as raised:
        mosquitto_acl([document(statement)], THINGS)
    assert "policy 1" in raised.value.where


def test_a_receive_is_subscribable_through_a_wider_filter_pattern():
    policy = document(
        allow("iot:Subscribe", f"{ARN}:topicfilter/a/*"),
        allow("iot:Receive", f"{ARN}:topic/a/b", f"{ARN}:topic/a/{THING}/c"),
    )
    assert lines(mosquitto_acl([policy], THINGS)) == ["pattern read a/b", "pattern read a/%c/c"]


def test_a_wider_filter_must_really_cover_the_receive():
    policy = document(
        allow("iot:Subscribe", f"{ARN}:topicfilter/a/*/c", f"{ARN}:topicfilter/a/?"),
        allow("iot:Receive", f"{ARN}:topic/a/b"),
    )
    with pytest.raises(AclTranslationError, match="subscribed to"):
        mosquitto_acl([policy], THINGS)


def test_a_publish_deny_may_not_take_away_receiving():
    policy = document(
        *readable(f"$aws/things/{THING}/x"), deny("iot:Publish", f"{ARN}:topic/$aws/things/pi/x")
    )
    with pytest.raises(AclTranslationError, match="also stop receiving") as raised:
        mosquitto_acl([policy], THINGS)
    assert raised.value.where.endswith("topic/$aws/things/pi/x'")


def test_a_receive_deny_elsewhere_does_not_excuse_a_publish_deny():
    policy = document(
        *readable("a/x"),
        deny("iot:Publish", f"{ARN}:topic/a/x"),
        deny("iot:Receive", f"{ARN}:topic/a/x/y"),
    )
    with pytest.raises(AclTranslationError, match="also stop receiving"):
        mosquitto_acl([policy], THINGS)


def test_a_receive_deny_may_not_take_away_publishing():
    policy = document(
        allow("iot:Publish", f"{ARN}:topic/a/{THING}"), deny("iot:Receive", f"{ARN}:topic/a/*")
    )
    with pytest.raises(AclTranslationError, match="also stop publishing"):
        mosquitto_acl([policy], THINGS)


def test_a_deny_below_an_allowed_topic_takes_nothing_away():
    # a/b/c is one level deeper than anything allowed: no topic matches both.
    policy = document(*readable("a/b"), deny("iot:Publish", f"{ARN}:topic/a/b/c"))
    assert lines(mosquitto_acl([policy], THINGS)) == ["pattern deny a/b/c", "pattern read a/b"]


def test_a_deny_that_is_denied_both_ways_may_overlap():
    policy = document(
        allow("iot:Publish", f"{ARN}:topic/a/{THING}"),
        *readable(f"a/{THING}", "b/*"),
        deny(["iot:Publish", "iot:Receive"], f"{ARN}:topic/a/*", f"{ARN}:topic/b/c/d"),
    )
    assert lines(mosquitto_acl([policy], THINGS)) == [
        "pattern deny a/+/#",
        "pattern deny b/c/d",
        "pattern readwrite a/%c",
        "pattern read b/+/#",
    ]


# ---------------------------------------------------------------- Mosquitto's check


def allows(acl, client_id, access, topic, **kwargs):
    return acl_allows(acl, client_id, Access(access), topic, **kwargs)


def test_a_deny_line_wins_wherever_it_is_and_refuses_reading_too():
    acl = "pattern readwrite all/#\npattern deny all/secret\n"
    assert allows(acl, "c", "write", "all/x")
    assert not allows(acl, "c", "write", "all/secret")
    assert not allows(acl, "c", "read", "all/secret")


def test_client_id_patterns():
    acl = "pattern write foo/%c\npattern read bar/%c/+/#\npattern write mid/pre-%c\n"
    assert allows(acl, "dev1", "write", "foo/dev1")
    assert not allows(acl, "dev1", "write", "foo/dev2")
    assert not allows(acl, "dev1", "read", "foo/dev1")
    assert allows(acl, "dev1", "read", "bar/dev1/")
    assert allows(acl, "dev1", "read", "bar/dev1/a/b")
    assert not allows(acl, "dev1", "read", "bar/dev1")
    assert allows(acl, "dev1", "write", "mid/pre-dev1")  # Mosquitto 2.0 substitutes anywhere
    assert allows(acl, "a/b", "write", "foo/a/b")  # a / in a client id spans levels
    assert not allows("pattern write foo/#\n", "a+b", "write", "foo/x")  # + or # in an id:
    assert not allows("pattern write foo/#\n", "a#", "write", "foo/x")  # patterns refuse all


def test_hash_matches_its_parent_level_and_no_dollar_topics():
    acl = "pattern write hash/#\npattern write #\n"
    assert allows(acl, "c", "write", "hash")
    assert allows(acl, "c", "write", "any/thing")
    assert not allows(acl, "c", "write", "$aws/x")


def test_topic_lines_belong_to_a_user_and_win_over_patterns():
    acl = """\
# comment

topic write anon/t
topic deny anon/t/deny
user alice
topic write alice/#
topic deny alice/no
topic pat/deny
pattern write pat/#
pattern deny pat/deny
pattern write u/%u
"""
    assert allows(acl, "dev1", "write", "anon/t")
    assert not allows(acl, "dev1", "write", "anon/t/deny")
    assert not allows(acl, "dev1", "write", "alice/x")
    assert not allows(acl, "dev1", "write", "pat/deny")
    assert allows(acl, "dev1", "write", "pat/ok")
    assert not allows(acl, "dev1", "write", "u/dev1")  # %u lines skip clients without one
    assert allows(acl, "dev2", "write", "alice/x", username="alice")
    assert not allows(acl, "dev2", "write", "alice/no", username="alice")
    assert allows(acl, "dev2", "read", "pat/deny", username="alice")  # user lines come first
    assert allows(acl, "dev2", "write", "u/alice", username="alice")
    assert not allows(acl, "dev2", "write", "anon/t", username="alice")
    assert allows(acl, "dev3", "write", "u/bob", username="bob")
    assert not allows(acl, "dev3", "write", "pat/ok", username="b+b")


def test_no_lines_for_a_client_allow_nothing():
    assert not allows("user alice\ntopic write a\n", "c", "write", "a")
    assert not allows("", "c", "write", "a")
    assert not allows("topic read a\n", "c", "write", "a")


def test_an_empty_client_id_matches_no_client_id_pattern():
    assert not allows("pattern write %c\n", "", "write", "x")


def test_a_parsed_acl_is_taken_as_it_is():
    acl = MosquittoAcl(patterns=(AclRule("a/%c", frozenset({Access.READ})),))
    assert acl_allows(acl, "c", Access.READ, "a/c")


def test_an_invalid_topic_is_the_callers_mistake():
    with pytest.raises(InvalidTopicError):
        allows("pattern write #\n", "c", "write", "a/+")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("topic\n", "must not be empty"),
        ("topic sometimes a/b\n", "access is"),
        ("pattern write a/#/b\n", "# must be"),
        ("user  \n", "needs a username"),
        ("  # not a comment\n", "expected topic, pattern or user"),
        ("acl write a\n", "expected topic, pattern or user"),
    ],
)
def test_lines_mosquitto_would_refuse(text, problem):
    with pytest.raises(AclSyntaxError, match=problem) as raised:
        parse_acl(f"# first\n{text}")
    assert raised.value.line_number == 2


def test_parsing_follows_mosquittos_tokens():
    acl = parse_acl("topic read\n  pattern   write   a b  \n")
    assert acl.users == {None: (AclRule("read", frozenset(Access)),)}
    assert acl.patterns == (AclRule("a b", frozenset({Access.WRITE})),)
