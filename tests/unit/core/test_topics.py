"""Topics: every topic of The Swan built in one place, parsed back, and MQTT filter matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swan.core.errors import InvalidTopicError
from swan.core.topics import (
    AWS_MAX_TOPIC_BYTES,
    BUTTON_CLICKS,
    BUTTON_SHADOW,
    BUTTON_THING,
    IDENTITY_PUSH_REQUESTS,
    JITR_EVENTS,
    MAX_TOPIC_BYTES,
    NAMED_SHADOW_REQUESTS,
    PUSH_REPLIES,
    PUSH_REQUESTS,
    SHADOW_REQUESTS,
    WEB_IDENTITIES,
    PushOutcome,
    PushTopic,
    ShadowOperation,
    ShadowResponse,
    ShadowTopic,
    ShadowTopics,
    button_topic,
    identity_push_topic,
    jitr_topic,
    matches,
    parse_button_topic,
    parse_jitr_topic,
    parse_push_topic,
    parse_shadow_topic,
    push_reply_topic,
    push_topic,
    reaches,
    validate_aws_limits,
    validate_filter,
    validate_topic,
)

SERIAL = "G030JF0553648RUH"
CA_ID = "a3" * 32
LONGEST_THING = "t" * 128
LONGEST_SHADOW = "s" * 64

# ---------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("topic_filter", "topic"),
    [
        ("foo/bar", "foo/bar"),
        ("foo/+", "foo/bar"),
        ("foo/+/baz", "foo/bar/baz"),
        ("foo/+/#", "foo/bar/baz"),
        ("A/B/+/#", "A/B/B/C"),
        ("#", "foo/bar/baz"),
        ("#", "/foo/bar"),
        ("/#", "/foo/bar"),
        ("+/+", "/finance"),
        ("/+", "/finance"),
        ("foo/#", "foo"),
        ("foo/#", "foo/"),
        ("foo/+", "foo/"),
        ("foo//bar", "foo//bar"),
        ("foo/+/bar", "foo//bar"),
        ("foo/#", "foo/$bar"),
        ("foo/+/baz", "foo/$bar/baz"),
        ("$SYS/bar", "$SYS/bar"),
        ("$SYS/#", "$SYS/broker/load"),
        ("$aws/#", "$aws/things/x/shadow/update"),
        ("$aws/things/+/shadow/+", "$aws/things/x/shadow/update"),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking/wimbledon"),
    ],
)
def test_filter_matches_topic(topic_filter, topic):
    assert matches(topic_filter, topic)


@pytest.mark.parametrize(
    ("topic_filter", "topic"),
    [
        ("test/6/#", "test/3"),
        ("foo/bar", "foo"),
        ("foo/bar", "foo/bar/baz"),
        ("foo/+", "foo/bar/baz"),
        ("foo/+", "foo"),
        ("foo/+/baz", "foo/bar/bar"),
        ("foo/+/#", "fo2/bar/baz"),
        ("/#", "foo/bar"),
        ("+", "/finance"),
        ("Foo/Bar", "foo/bar"),
        ("#", "$SYS/bar"),
        ("#", "$aws/things/x/shadow/update"),
        ("+/bar", "$SYS/bar"),
        ("+/things/x/shadow/update", "$aws/things/x/shadow/update"),
        ("$BOB/bar", "$SYS/bar"),
        ("foo/bar/#", "foo/baz"),
    ],
)
def test_filter_does_not_match_topic(topic_filter, topic):
    assert not matches(topic_filter, topic)


def test_hash_matches_the_parent_level():
    assert matches("a/#", "a")


@pytest.mark.parametrize(
    ("topic_filter", "topic", "reached"),
    [
        ("sensor/#", "sensor", False),  # AWS: "the parent topic is not matched"
        ("sensor/#", "sensor/", True),
        ("sensor/#", "sensor/temperature", True),
        ("sensor/#", "sensor/temperature/room1", True),
        ("a/+/#", "a/x", False),
        ("a/+/#", "a/x/y", True),
        ("#", "a", True),
        ("$share/group/sensor/#", "sensor/t", True),
        ("$share/group/sensor/#", "sensor", False),
        ("a/+", "a", False),
    ],
)
def test_what_aws_delivers_to_a_subscription(topic_filter, topic, reached):
    assert reaches(topic_filter, topic) is reached


_LEVEL = st.sampled_from(["a", "b", "", "+"])


@given(
    st.lists(_LEVEL, max_size=4).map(lambda levels: "/".join(["t", *levels])),
    st.booleans(),
    st.lists(st.sampled_from(["a", "b", ""]), max_size=5).map(lambda ls: "/".join(["t", *ls])),
)
def test_aws_reaches_what_mqtt_matches_but_the_parent_of_a_multi_level_wildcard(
    head, wildcard, topic
):
    topic_filter = f"{head}/#" if wildcard else head
    parent = wildcard and topic.count("/") < topic_filter.count("/")
    assert reaches(topic_filter, topic) == (matches(topic_filter, topic) and not parent)


def test_plus_matches_an_empty_level():
    assert matches("a/+/c", "a//c")


def test_hash_does_not_match_dollar_topics():
    assert not matches("#", "$aws/things/x/shadow/update")


def test_dollar_filter_matches_dollar_topics():
    assert matches("$aws/#", "$aws/things/x/shadow/update")


def test_matching_refuses_an_invalid_filter():
    with pytest.raises(InvalidTopicError):
        matches("a/#/b", "a/x/b")


def test_matching_refuses_a_topic_with_wildcards():
    with pytest.raises(InvalidTopicError):
        matches("a/+", "a/+")


# ---------------------------------------------------------------- topic and filter rules


@pytest.mark.parametrize("topic", ["a", "/", "a/b", "a//b", "$aws/x", "ünïcödé/✓", " "])
def test_valid_topic_names_pass(topic):
    validate_topic(topic)


@pytest.mark.parametrize(
    ("topic", "problem"),
    [
        ("", "must not be empty"),
        ("a/+", "wildcards"),
        ("a/#", "wildcards"),
        ("a+b", "wildcards"),
        ("a\0b", "NUL"),
        ("\ud800", "UTF-8"),
        ("x" * (MAX_TOPIC_BYTES + 1), "65536 bytes"),
        ("é" * 32768, "65536 bytes"),
    ],
)
def test_invalid_topic_names_are_refused(topic, problem):
    with pytest.raises(InvalidTopicError, match=problem) as refused:
        validate_topic(topic)
    assert refused.value.topic == topic


def test_a_topic_of_the_mqtt_maximum_size_is_valid():
    validate_topic("x" * MAX_TOPIC_BYTES)


@pytest.mark.parametrize(
    "topic_filter", ["#", "+", "a/#", "a/+", "+/+", "+/a/#", "/#", "a//+", "$aws/things/+"]
)
def test_valid_filters_pass(topic_filter):
    validate_filter(topic_filter)


@pytest.mark.parametrize(
    ("topic_filter", "problem"),
    [
        ("", "must not be empty"),
        ("a/#/b", "# must be the whole last level"),
        ("a#", "# must be the whole last level"),
        ("a/b#", "# must be the whole last level"),
        ("#/", "# must be the whole last level"),
        ("a+", r"\+ must be a whole level"),
        ("a/+b/c", r"\+ must be a whole level"),
        ("a\0/#", "NUL"),
    ],
)
def test_invalid_filters_are_refused(topic_filter, problem):
    with pytest.raises(InvalidTopicError, match=problem):
        validate_filter(topic_filter)


def test_aws_allows_256_bytes_and_7_slashes():
    validate_aws_limits("a/b/c/d/e/f/g/" + "x" * (AWS_MAX_TOPIC_BYTES - 14))


def test_aws_refuses_a_topic_over_256_bytes():
    with pytest.raises(InvalidTopicError, match="257 bytes"):
        validate_aws_limits("x" * (AWS_MAX_TOPIC_BYTES + 1))


def test_aws_refuses_an_eighth_slash():
    with pytest.raises(InvalidTopicError, match="8 slashes"):
        validate_aws_limits("a/b/c/d/e/f/g/h/i")


def test_aws_reserved_topics_may_have_more_slashes():
    validate_aws_limits(ShadowTopics("x", "y").update_accepted)


def test_aws_limits_also_check_the_mqtt_string_rules():
    with pytest.raises(InvalidTopicError, match="must not be empty"):
        validate_aws_limits("")


def test_the_longest_topics_the_swan_builds_fit_within_aws_limits():
    longest = [
        ShadowTopics(LONGEST_THING, LONGEST_SHADOW).update_documents,
        push_reply_topic(LONGEST_THING, PushOutcome.REJECTED),
        button_topic("D" * 64),
        jitr_topic(CA_ID),
    ]
    for topic in longest:
        validate_topic(topic)
        validate_aws_limits(topic)


# ---------------------------------------------------------------- properties

LEVELS = st.text(alphabet="ab$é/", max_size=4).filter(lambda level: "/" not in level)
TOPICS = st.lists(LEVELS, min_size=1, max_size=6).map("/".join).filter(bool)


@given(TOPICS)
def test_a_topic_matches_itself_as_a_filter(topic):
    assert matches(topic, topic)


@given(TOPICS)
def test_hash_matches_every_topic_except_dollar_ones(topic):
    assert matches("#", topic) == (not topic.startswith("$"))


@given(TOPICS, TOPICS)
def test_a_filter_without_wildcards_matches_only_the_same_topic(topic_filter, topic):
    assert matches(topic_filter, topic) == (topic_filter == topic)


@given(TOPICS, st.data())
def test_wildcards_in_place_of_levels_still_match(topic, data):
    levels = topic.split("/")
    generalised = [data.draw(st.sampled_from([level, "+"])) for level in levels]
    cut = data.draw(st.integers(min_value=0, max_value=len(levels)))
    topic_filter = "/".join([*generalised[:cut], "#"])
    starts_with_wildcard = topic_filter[0] in "+#"
    assert matches(topic_filter, topic) == (not (topic.startswith("$") and starts_with_wildcard))


# ---------------------------------------------------------------- button clicks


def test_button_clicks_arrive_on_the_serial_topic():
    assert button_topic(SERIAL) == "iotbutton/G030JF0553648RUH"
    assert matches(BUTTON_CLICKS, button_topic(SERIAL))


def test_button_topic_parses_back_to_its_serial():
    assert parse_button_topic(button_topic(SERIAL)) == SERIAL


@pytest.mark.parametrize("topic", ["iotbutton", "iotbutton/a/b", "swan/push/x", "xiotbutton/a"])
def test_other_topics_are_not_button_topics(topic):
    assert parse_button_topic(topic) is None


@pytest.mark.parametrize("serial", ["", "G030-JF05", "G030 JF05", "x" * 65, "+"])
def test_bad_button_serials_are_refused(serial):
    with pytest.raises(InvalidTopicError, match="letters and digits"):
        button_topic(serial)
    with pytest.raises(InvalidTopicError):
        parse_button_topic(f"iotbutton/{serial}")


# ---------------------------------------------------------------- push requests


def test_push_requests_and_replies():
    assert push_topic("pi-kitchen") == "swan/push/pi-kitchen"
    assert push_reply_topic("pi-kitchen", PushOutcome.ACCEPTED) == "swan/push/pi-kitchen/accepted"
    assert push_reply_topic("cli-1", PushOutcome.REJECTED) == "swan/push/cli-1/rejected"


def test_push_subscriptions_separate_requests_from_replies():
    request = push_topic("pi-kitchen")
    reply = push_reply_topic("pi-kitchen", PushOutcome.ACCEPTED)
    assert matches(PUSH_REQUESTS, request)
    assert not matches(PUSH_REQUESTS, reply)
    assert matches(PUSH_REPLIES, reply)
    assert not matches(PUSH_REPLIES, request)


def test_push_topics_parse_back():
    assert parse_push_topic(push_topic("pi-kitchen")) == PushTopic("pi-kitchen")
    reply = push_reply_topic("cli-1", PushOutcome.REJECTED)
    assert parse_push_topic(reply) == PushTopic("cli-1", PushOutcome.REJECTED)


IDENTITY = "us-east-1:8f2c7d1e-4b3a-4c5d-9e6f-0a1b2c3d4e5f"


def test_an_identity_pushes_and_hears_back_on_its_own_topics():
    assert identity_push_topic(IDENTITY) == f"swan/push/web/{IDENTITY}"
    request = parse_push_topic(f"swan/push/web/{IDENTITY}")
    assert request == PushTopic(IDENTITY, identity=True)
    assert request.request == f"swan/push/web/{IDENTITY}"
    assert request.reply(PushOutcome.ACCEPTED) == f"swan/push/web/{IDENTITY}/accepted"
    assert parse_push_topic(request.reply(PushOutcome.REJECTED)) == PushTopic(
        IDENTITY, PushOutcome.REJECTED, identity=True
    )
    assert matches(IDENTITY_PUSH_REQUESTS, request.request)
    assert not matches(IDENTITY_PUSH_REQUESTS, request.reply(PushOutcome.ACCEPTED))


def test_a_devices_push_topic_knows_its_replies():
    parsed = parse_push_topic("swan/push/pi-kitchen")
    assert parsed is not None
    assert not parsed.identity
    assert parsed.reply(PushOutcome.ACCEPTED) == "swan/push/pi-kitchen/accepted"


@pytest.mark.parametrize(
    "identity",
    [
        "",
        "accepted",
        "rejected",
        "pi-kitchen",
        "us-east-1:XYZ",
        "us east 1:ab",
        f"us-east-1:{'a' * 50}",
    ],
)
def test_a_push_on_a_topic_with_no_identity_id_is_refused(identity):
    with pytest.raises(InvalidTopicError, match="Cognito identity id"):
        parse_push_topic(f"swan/push/web/{identity}")
    with pytest.raises(InvalidTopicError, match="Cognito identity id"):
        identity_push_topic(identity)


@pytest.mark.parametrize(
    "topic",
    [
        "swan/push",
        "swan/push/x/maybe",
        "swan/push/x/accepted/y",
        "iotbutton/x",
        "swan/push/web/x/maybe",
        "swan/push/web/x/accepted/y",
        f"swan/push/{WEB_IDENTITIES}",
    ],
)
def test_other_topics_are_not_push_topics(topic):
    assert parse_push_topic(topic) is None


@pytest.mark.parametrize("sender", ["", "pi kitchen", "pi.kitchen", "x" * 129])
def test_bad_push_senders_are_refused(sender):
    with pytest.raises(InvalidTopicError, match="thing name"):
        push_topic(sender)
    with pytest.raises(InvalidTopicError):
        parse_push_topic(f"swan/push/{sender}")


# ---------------------------------------------------------------- shadows


def test_classic_shadow_topics():
    topics = ShadowTopics("pi-kitchen")
    prefix = "$aws/things/pi-kitchen/shadow"
    assert topics.prefix == prefix
    assert (
        topics.get,
        topics.get_accepted,
        topics.get_rejected,
        topics.update,
        topics.update_accepted,
        topics.update_rejected,
        topics.update_delta,
        topics.update_documents,
        topics.delete,
        topics.delete_accepted,
        topics.delete_rejected,
    ) == tuple(
        f"{prefix}/{suffix}"
        for suffix in (
            "get",
            "get/accepted",
            "get/rejected",
            "update",
            "update/accepted",
            "update/rejected",
            "update/delta",
            "update/documents",
            "delete",
            "delete/accepted",
            "delete/rejected",
        )
    )


def test_named_shadow_topics():
    topics = ShadowTopics("pi-kitchen", "settings")
    assert topics.update_delta == "$aws/things/pi-kitchen/shadow/name/settings/update/delta"
    assert topics.delete == "$aws/things/pi-kitchen/shadow/name/settings/delete"


def test_the_button_shadow_is_the_classic_shadow_of_the_button_thing():
    assert BUTTON_THING == "button"
    assert BUTTON_SHADOW.update_documents == "$aws/things/button/shadow/update/documents"


@pytest.mark.parametrize(
    ("thing", "shadow_name"),
    [("", None), ("a b", None), ("a/b", None), ("x" * 129, None), ("$x", None), ("x", "")],
)
def test_bad_shadow_names_are_refused(thing, shadow_name):
    with pytest.raises(InvalidTopicError):
        ShadowTopics(thing, shadow_name)


def test_shadow_names_may_contain_dollar_but_thing_names_may_not():
    assert ShadowTopics("x", "$config").get == "$aws/things/x/shadow/name/$config/get"
    with pytest.raises(InvalidTopicError, match="thing name"):
        ShadowTopics("$x")
    with pytest.raises(InvalidTopicError, match="shadow name"):
        ShadowTopics("x", "s" * 65)


def test_only_update_has_delta_and_documents():
    with pytest.raises(InvalidTopicError, match="no delta response"):
        BUTTON_SHADOW.topic(ShadowOperation.GET, ShadowResponse.DELTA)
    with pytest.raises(InvalidTopicError, match="no documents response"):
        ShadowTopic(BUTTON_THING, None, ShadowOperation.DELETE, ShadowResponse.DOCUMENTS)


ALL_SHADOW_TOPICS = [
    ShadowTopic(thing, shadow_name, operation, response)
    for thing, shadow_name in [("button", None), ("pi-1", "settings"), ("a:b_c-d", "$x")]
    for operation in ShadowOperation
    for response in [None, *ShadowResponse]
    if response in (None, ShadowResponse.ACCEPTED, ShadowResponse.REJECTED)
    or operation is ShadowOperation.UPDATE
]


@pytest.mark.parametrize("parsed", ALL_SHADOW_TOPICS, ids=lambda parsed: parsed.topic)
def test_every_shadow_topic_parses_back(parsed):
    assert parse_shadow_topic(parsed.topic) == parsed


def test_a_parsed_request_knows_its_replies():
    request = parse_shadow_topic("$aws/things/pi-1/shadow/name/settings/update")
    assert request is not None
    assert request.is_request
    assert request.topics == ShadowTopics("pi-1", "settings")
    assert request.reply(ShadowResponse.REJECTED) == (
        "$aws/things/pi-1/shadow/name/settings/update/rejected"
    )


def test_a_parsed_response_is_not_a_request():
    response = parse_shadow_topic(BUTTON_SHADOW.update_delta)
    assert response is not None
    assert not response.is_request


@pytest.mark.parametrize(
    "topic",
    [
        "$aws/things/x/shadow",
        "$aws/things/x/shadow/",
        "$aws/things/x/shadow/patch",
        "$aws/things/x/shadow/get/delta",
        "$aws/things/x/shadow/delete/documents",
        "$aws/things/x/shadow/update/accepted/extra",
        "$aws/things/x/shadow/update/later",
        "$aws/things/x/shadow/name/get",
        "$aws/things/x/shadow/name/s",
        "$aws/things/x/shadow/name/s/s/update",
        "$aws/things/x/jobs/get",
        "$aws/things/x/y/shadow/get",
        "aws/things/x/shadow/get",
        "things/x/shadow/get",
        "swan/push/x",
    ],
)
def test_other_topics_are_not_shadow_topics(topic):
    assert parse_shadow_topic(topic) is None


@pytest.mark.parametrize(
    "topic",
    [
        "$aws/things//shadow/update",
        "$aws/things/bad name/shadow/update",
        "$aws/things/$x/shadow/get",
        f"$aws/things/{'x' * 129}/shadow/get",
        "$aws/things/x/shadow/name//update",
        "$aws/things/x/shadow/name/bad.name/update",
    ],
)
def test_shadow_topics_with_bad_names_are_refused(topic):
    with pytest.raises(InvalidTopicError):
        parse_shadow_topic(topic)


def test_shadow_request_subscriptions_catch_requests_only():
    classic = ShadowTopics("pi-1")
    named = ShadowTopics("pi-1", "settings")
    assert matches(SHADOW_REQUESTS, classic.update)
    assert matches(SHADOW_REQUESTS, classic.get)
    assert matches(SHADOW_REQUESTS, classic.delete)
    assert not matches(SHADOW_REQUESTS, classic.update_accepted)
    assert not matches(SHADOW_REQUESTS, named.update)
    assert matches(NAMED_SHADOW_REQUESTS, named.update)
    assert not matches(NAMED_SHADOW_REQUESTS, named.update_accepted)
    assert not matches(NAMED_SHADOW_REQUESTS, classic.update_accepted)


def test_a_catch_all_subscriber_never_sees_shadow_traffic():
    assert not matches("#", BUTTON_SHADOW.update_documents)
    assert not matches("+/things/button/shadow/update/documents", BUTTON_SHADOW.update_documents)


# ---------------------------------------------------------------- JITR events


def test_jitr_events_arrive_per_ca():
    topic = jitr_topic(CA_ID)
    assert topic == f"$aws/events/certificates/registered/{CA_ID}"
    assert matches(JITR_EVENTS, topic)
    assert parse_jitr_topic(topic) == CA_ID


@pytest.mark.parametrize(
    "topic",
    [
        "$aws/events/certificates/registered",
        f"$aws/events/certificates/registered/{CA_ID}/x",
        f"$aws/events/certificates/deleted/{CA_ID}",
        "$aws/things/x/shadow/get",
    ],
)
def test_other_topics_are_not_jitr_topics(topic):
    assert parse_jitr_topic(topic) is None


@pytest.mark.parametrize("ca_id", ["", "abc", "g" * 64, "a" * 63, "a" * 65, "A" * 64])
def test_bad_ca_certificate_ids_are_refused(ca_id):
    with pytest.raises(InvalidTopicError, match="64 lowercase hex digits"):
        jitr_topic(ca_id)
    with pytest.raises(InvalidTopicError):
        parse_jitr_topic(f"$aws/events/certificates/registered/{ca_id}")
