"""AWS IoT Core's message broker limits and answers, one device connection at a time."""

import pytest
from support import mqtt_string, mqtt_varint
from test_mqtt_packets import publish_packet, subscribe_body

from swan.local.core.broker_limits import (
    AWS_LIMITS,
    CACHE_SIZE,
    CONNECT_RATE_KEPT,
    HEADER_ALLOWANCE,
    UNMETERED,
    WAIT,
    BrokerLimits,
    ConnectRate,
    DeviceSession,
    Disconnect,
    Refuse,
    TokenBucket,
)
from swan.local.core.mqtt_packets import NOT_AUTHORIZED, Connect, encode_puback, fixed_header
from swan.local.core.policy import PolicyContext, Principal

ARN = "arn:aws:iot:us-east-1:123456789012"
KIB = 1024


def allow(action, *resources):
    return {"Effect": "Allow", "Action": action, "Resource": [f"{ARN}:{r}" for r in resources]}


def deny(action, *resources):
    return {"Effect": "Deny", "Action": action, "Resource": [f"{ARN}:{r}" for r in resources]}


DEVICE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        allow("iot:Connect", "client/${iot:ClientId}"),
        allow(
            "iot:Publish", "topic/swan/push/${iot:ClientId}", "topic/swan/push/${iot:ClientId}/*"
        ),
        allow("iot:Publish", "topic/$aws/rules/*"),
        allow("iot:Subscribe", "topicfilter/swan/push/${iot:ClientId}/*", "topicfilter/f/*"),
        allow("iot:Receive", "topic/swan/push/${iot:ClientId}/*"),
    ],
}
EVERYTHING_POLICY = {"Version": "2012-10-17", "Statement": [allow("iot:*", "*")]}
GUARD_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        deny("iot:Publish", "topic/swan/push/${iot:ClientId}/secret"),
        deny("iot:Subscribe", "topicfilter/swan/push/${iot:ClientId}/secret"),
        deny("iot:Receive", "topic/swan/push/${iot:ClientId}/secret"),
        allow("iot:Subscribe", "topicfilter/extra/only-here"),
    ],
}


def principal(*documents):
    context = PolicyContext("pi", "pi", "us-east-1", "123456789012")
    return Principal.of(documents or (DEVICE_POLICY,), context)


def session(*, mqtt5=False, limits=AWS_LIMITS, documents=(), new_session=False):
    """A device's session; by default one resumed, whose subscriptions only the broker knows
    (so what it sends is decided on the other rules alone)."""
    return DeviceSession(
        principal(*documents), mqtt5=mqtt5, now=0.0, limits=limits, new_session=new_session
    )


def from_device(device, packet, now=0.0):
    start, length = fixed_header(packet, 0)
    assert start + length == len(packet)
    return device.from_device(packet[0], memoryview(packet)[start:], now)


def from_broker(device, packet, now=0.0):
    start, _ = fixed_header(packet, 0)
    return device.from_broker(packet[0], memoryview(packet)[start:], now)


def publish(topic, payload=b"{}", *, mqtt5=False, qos=1, packet_id=5, properties=b""):
    return publish_packet(
        topic, payload, qos=qos, packet_id=packet_id, properties=properties if mqtt5 else None
    )


def subscribe(packet_id, *filters, mqtt5=False, qos=1):
    body = subscribe_body(
        packet_id, *((f, qos) for f in filters), properties=b"" if mqtt5 else None
    )
    return b"\x82" + mqtt_varint(len(body)) + body


def unsubscribe(packet_id, *filters, mqtt5=False):
    body = packet_id.to_bytes(2, "big") + (b"\x00" if mqtt5 else b"")
    body += b"".join(mqtt_string(f) for f in filters)
    return b"\xa2" + mqtt_varint(len(body)) + body


def suback(packet_id, codes, *, mqtt5=False):
    body = packet_id.to_bytes(2, "big") + (b"\x00" if mqtt5 else b"") + codes
    return b"\x90" + mqtt_varint(len(body)) + body


# ---------------------------------------------------------------- publish


@pytest.mark.parametrize("mqtt5", [False, True])
def test_a_publish_the_policies_allow_passes_on_unchanged(mqtt5):
    assert from_device(session(mqtt5=mqtt5), publish("swan/push/pi", mqtt5=mqtt5)) is None


def test_mqtt_311_a_publish_the_policies_do_not_allow_disconnects_at_either_qos():
    for qos in (0, 1):
        outcome = from_device(session(), publish("swan/push/someone-else", qos=qos))
        assert outcome == Disconnect("not authorized: publish to 'swan/push/someone-else'")


def test_mqtt_5_a_qos_1_publish_not_allowed_is_answered_not_authorized():
    outcome = from_device(session(mqtt5=True), publish("elsewhere", mqtt5=True, packet_id=258))
    assert isinstance(outcome, Refuse)
    assert outcome.reply == b"\x40\x04\x01\x02\x87\x00"  # PUBACK 0x87
    assert outcome.instead == b""


def test_mqtt_5_a_qos_0_publish_not_allowed_is_dropped_unanswered():
    outcome = from_device(session(mqtt5=True), publish("elsewhere", mqtt5=True, qos=0))
    assert outcome == Refuse("not authorized: publish to 'elsewhere'")


def test_an_explicit_deny_in_any_attached_policy_wins():
    both = session(documents=(DEVICE_POLICY, GUARD_POLICY))
    assert from_device(both, publish("swan/push/pi/secret")) == Disconnect(
        "not authorized: publish to 'swan/push/pi/secret'"
    )
    assert from_device(both, publish("swan/push/pi/other")) is None
    assert from_device(session(), publish("swan/push/pi/secret")) is None


def test_a_payload_of_128_kib_passes_and_one_byte_more_disconnects():
    device = session(mqtt5=True)
    assert from_device(device, publish("swan/push/pi", b"x" * (128 * KIB), mqtt5=True)) is None
    outcome = from_device(device, publish("swan/push/pi", b"x" * (128 * KIB + 1), mqtt5=True))
    assert outcome == Disconnect(
        f"a payload of {128 * KIB + 1} bytes (at most {128 * KIB})", b"\xe0\x01\x95"
    )


def test_mqtt_311_an_oversized_payload_disconnects_without_a_word():
    outcome = from_device(session(), publish("swan/push/pi", b"x" * (200 * KIB)))
    assert isinstance(outcome, Disconnect)
    assert outcome.reply == b""


def test_a_packet_no_payload_limit_could_pass_is_refused_on_its_fixed_header():
    device = session()
    assert device.too_large(0x30, 128 * KIB + HEADER_ALLOWANCE) is None
    assert device.too_large(0x32, 64 * KIB * KIB) == Disconnect(
        f"a packet of {64 * KIB * KIB} bytes"
    )
    assert device.too_large(0x82, 128 * KIB) is None
    assert device.too_large(0x82, 128 * KIB + 1) == Disconnect(f"a packet of {128 * KIB + 1} bytes")


@pytest.mark.parametrize(
    ("topic", "problem"),
    [
        ("swan/push/pi/" + "x" * 244, "topic of 257 bytes (at most 256)"),
        ("swan/push/pi/a/b/c/d/e/f", "topic with 8 slashes (at most 7)"),
    ],
)
def test_topics_over_aws_limits_are_refused(topic, problem):
    assert AWS_LIMITS.topic_problem(topic) == problem
    assert from_device(session(), publish(topic)) == Disconnect(
        f"topic refused: publish to {topic!r}"
    )
    outcome = from_device(session(mqtt5=True), publish(topic, mqtt5=True, packet_id=1))
    assert outcome.reply == b"\x40\x04\x00\x01\x90\x00"  # PUBACK 0x90 topic name invalid


def test_topics_at_aws_limits_pass():
    assert AWS_LIMITS.topic_problem("swan/push/pi/" + "x" * 243) is None
    assert AWS_LIMITS.topic_problem("swan/push/pi/a/b/c/d/e") is None
    assert from_device(session(), publish("swan/push/pi/a/b/c/d/e")) is None


def test_basic_ingest_prefixes_do_not_count_against_the_topic_limits():
    seven = "a/b/c/d/e/f/g/h"
    assert AWS_LIMITS.topic_problem(f"$aws/rules/my_rule/{seven}") is None
    assert AWS_LIMITS.topic_problem(f"$AWS/rules/my_rule/{'x' * 256}") is None
    assert AWS_LIMITS.topic_problem(f"$aws/rules/my_rule/{seven}/i") is not None
    assert AWS_LIMITS.topic_problem("$aws/rules/my_rule") is None
    assert AWS_LIMITS.topic_problem(f"$aws/things/{seven}") is not None
    assert from_device(session(), publish(f"$aws/rules/r/{seven}")) is None


def test_a_topic_that_is_not_utf8_is_refused():
    packet = b"\x30" + mqtt_varint(4) + b"\x00\x02\xff\xfe"
    assert isinstance(from_device(session(), packet), Disconnect)


@pytest.mark.parametrize("mqtt5", [False, True])
def test_more_than_100_publishes_a_second_are_throttled_and_the_connection_kept(mqtt5):
    device = session(mqtt5=mqtt5)
    packet = publish("swan/push/pi", mqtt5=mqtt5, packet_id=7)
    assert [from_device(device, packet, now=1.0) for _ in range(100)] == [None] * 100
    throttled = from_device(device, packet, now=1.0)
    assert isinstance(throttled, Refuse)
    assert throttled.reason == "throttled"
    assert throttled.reply == (b"\x40\x04\x00\x07\x97\x00" if mqtt5 else b"")  # 0x97 quota
    assert from_device(device, packet, now=1.01) is None  # 10 ms: one more publish


def test_a_throttled_qos_0_publish_is_dropped_unanswered():
    device = session(mqtt5=True)
    packet = publish("swan/push/pi", mqtt5=True, qos=0)
    for _ in range(100):
        from_device(device, packet)
    assert from_device(device, packet) == Refuse("throttled")


def test_without_the_rates_nothing_is_throttled_or_delayed():
    device = session(limits=UNMETERED)
    packet = publish("swan/push/pi")
    assert all(from_device(device, packet) is None for _ in range(1000))
    assert device.bytes_delay(0.0, 100 * 1024 * KIB) == 0.0


def test_reading_past_512_kib_a_second_is_delayed():
    device = session()
    assert device.bytes_delay(0.0, 512 * KIB) == 0.0
    assert device.bytes_delay(0.0, 256 * KIB) == pytest.approx(0.5)
    assert device.bytes_delay(1.5, 256 * KIB) == pytest.approx(0.0)


def test_a_token_bucket_refills_at_its_rate_up_to_one_seconds_worth():
    bucket = TokenBucket(2.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take(0.4) is False
    assert bucket.take(0.5) is True
    assert [bucket.take(10.0) for _ in range(3)] == [True, True, False]
    assert bucket.take(9.0) is False  # a clock going back refills nothing


@pytest.mark.parametrize("mqtt5", [False, True])
def test_qos_2_publishes_go_nowhere_unanswered(mqtt5):
    outcome = from_device(session(mqtt5=mqtt5), publish("swan/push/pi", mqtt5=mqtt5, qos=2))
    assert outcome == Refuse("QoS 2 (AWS IoT Core neither takes nor answers it)")


def test_mqtt_5_topic_aliases_are_followed_in_both_directions():
    device = session(mqtt5=True)
    alias = b"\x23\x00\x01"
    assert from_device(device, publish("swan/push/pi", mqtt5=True, properties=alias)) is None
    assert from_device(device, publish("", mqtt5=True, properties=alias)) is None
    assert from_device(device, publish("elsewhere", mqtt5=True, properties=alias)) is not None
    refused = from_device(device, publish("", mqtt5=True, properties=alias, packet_id=3))
    assert refused.reply == b"\x40\x04\x00\x03\x87\x00"
    assert from_broker(device, publish("swan/push/pi/x", mqtt5=True, properties=alias)) is None
    assert from_broker(device, publish("", mqtt5=True, properties=alias)) is None


def test_an_unknown_topic_alias_is_a_protocol_error():
    device = session(mqtt5=True)
    outcome = from_device(device, publish("", mqtt5=True, properties=b"\x23\x00\x09"))
    assert outcome == Disconnect("an unknown topic alias", b"\xe0\x01\x82")
    outcome = from_broker(device, publish("", mqtt5=True, properties=b"\x23\x00\x09"))
    assert outcome == Disconnect("from the broker: an unknown topic alias", b"\xe0\x01\x82")


def test_publish_decisions_stay_right_past_the_cache_size():
    device = session(limits=UNMETERED)
    for n in range(CACHE_SIZE + 10):
        assert from_device(device, publish(f"swan/push/pi/{n}")) is None
    assert isinstance(from_device(device, publish("swan/push/other")), Disconnect)


# ---------------------------------------------------------------- subscribe


@pytest.mark.parametrize("mqtt5", [False, True])
def test_subscriptions_the_policies_allow_pass_on_unchanged(mqtt5):
    packet = subscribe(1, "swan/push/pi/accepted", "swan/push/pi/rejected", mqtt5=mqtt5)
    assert from_device(session(mqtt5=mqtt5), packet) is None


@pytest.mark.parametrize(("mqtt5", "code"), [(False, 0x80), (True, 0x87)])
def test_a_subscription_not_allowed_is_answered_with_a_failure_suback(mqtt5, code):
    outcome = from_device(session(mqtt5=mqtt5), subscribe(4, "swan/push/#", mqtt5=mqtt5))
    assert outcome == Refuse(
        "subscriptions refused: 'swan/push/#'", reply=suback(4, bytes([code]), mqtt5=mqtt5)
    )


@pytest.mark.parametrize("mqtt5", [False, True])
def test_a_partly_allowed_subscribe_passes_on_narrowed_and_its_suback_is_completed(mqtt5):
    device = session(mqtt5=mqtt5)
    outcome = from_device(device, subscribe(6, "secret/#", "swan/push/pi/a", mqtt5=mqtt5))
    assert outcome.instead == subscribe(6, "swan/push/pi/a", mqtt5=mqtt5)
    assert outcome.reply == b""
    other = from_broker(device, suback(5, b"\x01", mqtt5=mqtt5))
    assert other is None  # someone else's SUBACK
    completed = from_broker(device, suback(6, b"\x01", mqtt5=mqtt5))
    failure = b"\x87" if mqtt5 else b"\x80"
    assert completed.instead == suback(6, failure + b"\x01", mqtt5=mqtt5)
    assert from_broker(device, suback(6, b"\x01", mqtt5=mqtt5)) is None  # completed once


def test_a_suback_shorter_than_its_subscribe_fills_in_failures():
    device = session()
    from_device(device, subscribe(6, "secret/#", "swan/push/pi/a", "swan/push/pi/b"))
    completed = from_broker(device, suback(6, b"\x01"))
    assert completed.instead == suback(6, b"\x80\x01\x80")


def test_every_attached_policy_counts_for_subscriptions_and_a_deny_wins():
    both = session(documents=(DEVICE_POLICY, GUARD_POLICY))
    assert from_device(both, subscribe(1, "extra/only-here")) is None
    refused = from_device(both, subscribe(2, "swan/push/pi/secret"))
    assert refused.reply == suback(2, b"\x80")
    assert from_device(session(), subscribe(1, "extra/only-here")) is not None


@pytest.mark.parametrize(("mqtt5", "code"), [(False, 0x80), (True, 0x8F)])
def test_a_filter_over_the_topic_limits_is_refused_as_invalid(mqtt5, code):
    outcome = from_device(session(mqtt5=mqtt5), subscribe(1, "f/1/2/3/4/5/6/7/8", mqtt5=mqtt5))
    assert outcome.reply == suback(1, bytes([code]), mqtt5=mqtt5)


@pytest.mark.parametrize(("mqtt5", "code"), [(False, 0x80), (True, 0x97)])
def test_more_than_8_filters_in_one_subscribe_are_all_refused(mqtt5, code):
    filters = [f"f/{n}" for n in range(9)]
    outcome = from_device(session(mqtt5=mqtt5), subscribe(1, *filters, mqtt5=mqtt5))
    assert outcome == Refuse(
        "9 filters in one SUBSCRIBE", reply=suback(1, bytes([code]) * 9, mqtt5=mqtt5)
    )
    assert from_device(session(mqtt5=mqtt5), subscribe(1, *filters[:8], mqtt5=mqtt5)) is None


@pytest.mark.parametrize(("mqtt5", "reply"), [(False, b""), (True, b"\xe0\x01\x97")])
def test_a_subscription_past_the_50_of_a_connection_disconnects(mqtt5, reply):
    device = session(mqtt5=mqtt5)
    for n in range(50):
        assert from_device(device, subscribe(n + 1, f"f/{n}", mqtt5=mqtt5)) is None
    assert from_device(device, subscribe(99, "f/0", mqtt5=mqtt5)) is None  # the same one again
    unsubscribe = b"\x00\x65" + (b"\x00" if mqtt5 else b"") + mqtt_string("f/3")
    assert from_device(device, b"\xa2" + mqtt_varint(len(unsubscribe)) + unsubscribe) is None
    assert from_device(device, subscribe(101, "f/50", mqtt5=mqtt5)) is None  # in f/3's place
    outcome = from_device(device, subscribe(102, "f/51", mqtt5=mqtt5))
    assert outcome == Disconnect("a subscription past the 50 of a connection", reply)


def test_a_subscription_at_qos_2_goes_unanswered():
    outcome = from_device(session(), subscribe(1, "swan/push/pi/a", qos=2))
    assert outcome == Refuse("a subscription at QoS 2 (AWS IoT Core does not answer it)")


# ---------------------------------------------------------------- receive


@pytest.mark.parametrize("mqtt5", [False, True])
def test_a_message_the_device_may_receive_passes_on(mqtt5):
    device = session(mqtt5=mqtt5)
    assert from_broker(device, publish("swan/push/pi/accepted", mqtt5=mqtt5)) is None


@pytest.mark.parametrize("mqtt5", [False, True])
def test_a_qos_1_message_the_device_may_not_receive_is_acknowledged_to_the_broker(mqtt5):
    both = session(mqtt5=mqtt5, documents=(DEVICE_POLICY, GUARD_POLICY))
    outcome = from_broker(both, publish("swan/push/pi/secret", mqtt5=mqtt5, packet_id=12))
    assert outcome == Refuse(
        "not authorized: receive 'swan/push/pi/secret'", reply=b"\x40\x02\x00\x0c"
    )


@pytest.mark.parametrize("mqtt5", [False, True])
def test_messages_to_the_device_past_100_a_second_are_discarded_and_acknowledged_to_the_broker(
    mqtt5,
):
    device = session(mqtt5=mqtt5)
    message = publish("swan/push/pi/accepted", mqtt5=mqtt5, packet_id=9)
    assert [from_broker(device, message, now=1.0) for _ in range(100)] == [None] * 100
    assert from_broker(device, message, now=1.0) == Refuse(
        "throttled outbound", reply=b"\x40\x02\x00\x09"
    )
    quiet = publish("swan/push/pi/accepted", mqtt5=mqtt5, qos=0)
    assert from_broker(device, quiet, now=1.0) == Refuse("throttled outbound")
    assert from_broker(device, message, now=1.01) is None  # 10 ms: one more


def test_what_a_device_publishes_and_what_it_is_sent_share_one_rate():
    device = session()
    sent = publish("swan/push/pi", packet_id=7)
    received = publish("swan/push/pi/accepted", packet_id=8)
    for n in range(100):
        assert (from_device(device, sent) if n % 2 else from_broker(device, received)) is None
    assert from_device(device, sent) == Refuse("throttled")
    assert isinstance(from_broker(device, received), Refuse)


def test_a_message_refused_for_the_policy_takes_nothing_from_the_rate():
    device = session(documents=(DEVICE_POLICY, GUARD_POLICY))
    for _ in range(200):
        assert isinstance(from_broker(device, publish("swan/push/pi/secret")), Refuse)
    assert from_device(device, publish("swan/push/pi")) is None


def test_a_qos_0_message_the_device_may_not_receive_is_dropped():
    outcome = from_broker(session(), publish("elsewhere", qos=0))
    assert outcome == Refuse("not authorized: receive 'elsewhere'")


def test_other_packets_pass_both_ways():
    device = session()
    assert from_device(device, b"\xc0\x00") is None  # PINGREQ
    assert from_device(device, b"\x40\x02\x00\x01") is None  # PUBACK
    assert from_broker(device, b"\xd0\x00") is None  # PINGRESP
    assert from_broker(device, suback(1, b"\x01")) is None  # no SUBSCRIBE narrowed


# ---------------------------------------------------------------- unacknowledged publishes


def puback(packet_id):
    return b"\x40\x02" + packet_id.to_bytes(2, "big")


# (the topic, what passes it on, what passes the answers back, the session's word for room)
INBOUND = ("swan/push/pi", from_device, from_broker, "accepts_publishes")
OUTBOUND = ("swan/push/pi/accepted", from_broker, from_device, "sends_publishes")
EACH_WAY = pytest.mark.parametrize(
    ("topic", "passes", "answers", "room"), [INBOUND, OUTBOUND], ids=["inbound", "outbound"]
)


@EACH_WAY
@pytest.mark.parametrize("mqtt5", [False, True])
def test_past_100_unacknowledged_qos_1_publishes_the_next_waits_for_a_puback(
    topic, passes, answers, room, mqtt5
):
    device = session(mqtt5=mqtt5, limits=UNMETERED)
    sent = [publish(topic, mqtt5=mqtt5, packet_id=n) for n in range(1, 102)]
    assert [passes(device, packet) for packet in sent[:100]] == [None] * 100
    assert not getattr(device, room)
    assert passes(device, sent[100]) == WAIT
    assert passes(device, publish(topic, mqtt5=mqtt5, qos=0)) == WAIT
    assert passes(device, puback(1)) is None  # the PUBACKs the other way still pass
    assert answers(device, puback(1)) is None
    assert getattr(device, room)
    assert passes(device, sent[100]) is None
    assert passes(device, sent[0]) == WAIT  # 1 again: it is new, and there is no room


@EACH_WAY
def test_a_publish_waiting_for_room_takes_nothing_from_the_rate(topic, passes, answers, room):
    device = session()
    for n in range(1, 101):
        passes(device, publish(topic, packet_id=n))
    assert not getattr(device, room)
    waiting = publish(topic, packet_id=101)
    assert [passes(device, waiting, now=1.0) for _ in range(100)] == [WAIT] * 100
    answers(device, puback(1))
    assert passes(device, waiting, now=1.0) is None  # the second's 100 are all there


def test_only_qos_1_publishes_passed_on_wait_for_an_answer():
    device = session(mqtt5=True, limits=UNMETERED)
    for n in range(1, 151):
        assert from_device(device, publish("swan/push/pi", mqtt5=True, qos=0)) is None
        refused = from_device(device, publish("swan/push/other", mqtt5=True, packet_id=n))
        assert isinstance(refused, Refuse)  # not authorized: answered by the gateway
    assert device.accepts_publishes
    assert from_broker(device, puback(7)) is None  # an answer to none of its own


def test_a_truncated_puback_from_the_broker_disconnects():
    device = session()
    from_device(device, publish("swan/push/pi"))
    outcome = from_broker(device, b"\x40\x01\x00")
    assert outcome == Disconnect("from the broker: truncated PUBACK")


def test_a_message_the_device_may_not_receive_is_discarded_even_with_no_room():
    device = session(limits=UNMETERED)
    for n in range(1, 101):
        from_broker(device, publish("swan/push/pi/accepted", packet_id=n))
    outcome = from_broker(device, publish("elsewhere", qos=0))
    assert outcome == Refuse("not authorized: receive 'elsewhere'")


def test_only_qos_1_messages_sent_wait_for_the_devices_answer():
    device = session(limits=UNMETERED)
    for _ in range(150):
        assert from_broker(device, publish("swan/push/pi/accepted", qos=0)) is None
    assert device.sends_publishes
    assert from_device(device, puback(7)) is None  # an answer to none of them


def test_a_truncated_puback_from_the_device_disconnects():
    device = session()
    from_broker(device, publish("swan/push/pi/accepted"))
    assert isinstance(from_device(device, b"\x40\x01\x00"), Disconnect)


# ---------------------------------------------------------------- protocol errors


@pytest.mark.parametrize(
    ("mqtt5", "subscribe_body", "reply"),
    [(False, b"\x00\x01", b""), (True, b"\x00\x01\x00", b"\xe0\x01\x81")],
)
def test_a_malformed_packet_disconnects(mqtt5, subscribe_body, reply):
    device = session(mqtt5=mqtt5)
    packet = b"\x82" + mqtt_varint(len(subscribe_body)) + subscribe_body
    assert from_device(device, packet) == Disconnect("a SUBSCRIBE without a topic filter", reply)
    outcome = from_broker(device, b"\x36\x03\x00\x01a")
    assert outcome == Disconnect("from the broker: PUBLISH with QoS 3", reply)


def test_a_second_connect_disconnects():
    outcome = from_device(session(mqtt5=True), b"\x10\x00")
    assert outcome == Disconnect("a second CONNECT", b"\xe0\x01\x82")


def test_client_ids_up_to_128_bytes_of_utf8():
    assert AWS_LIMITS.client_id_problem("x" * 128) is None
    assert AWS_LIMITS.client_id_problem("é" * 65) == "client id of 130 bytes (at most 128)"


def test_limits_are_values():
    assert BrokerLimits() == AWS_LIMITS
    assert UNMETERED.payload_bytes == AWS_LIMITS.payload_bytes
    assert UNMETERED.publishes_per_second is None


# ---------------------------------------------------------------- keep-alive, connect rate


@pytest.mark.parametrize(
    ("requested", "applied"),
    [(0, 1200), (1, 30), (29, 30), (30, 30), (60, 60), (1200, 1200), (1201, 1200), (65535, 1200)],
)
def test_the_keep_alive_is_awss_period_for_what_the_client_asked(requested, applied):
    assert AWS_LIMITS.keep_alive(requested) == applied


def test_a_client_id_connects_once_a_second():
    rate = ConnectRate(AWS_LIMITS.connects_per_second_per_client)
    assert rate.admit("pi-kitchen", 100.0)
    assert not rate.admit("pi-kitchen", 100.9)
    assert rate.admit("pi-hall", 100.9)  # each client id its own
    assert not rate.admit("pi-kitchen", 100.99)  # a refused one does not count
    assert rate.admit("pi-kitchen", 101.0)
    assert not rate.admit("pi-kitchen", 101.5)


def test_the_client_ids_remembered_are_bounded():
    rate = ConnectRate(1.0)
    for n in range(CONNECT_RATE_KEPT):
        assert rate.admit(f"c{n}", 100.0)
    assert rate.admit("late", 102.0)  # the others' windows have passed: forgotten
    assert len(rate._last) == 1
    assert rate.admit("c0", 102.0)
    assert not rate.admit("late", 102.5)


# ---------------------------------------------------------------- what a subscription reaches


def subscribed(*filters, mqtt5=False):
    """A new session (every subscription made on this connection) with `filters` granted."""
    device = session(mqtt5=mqtt5, new_session=True, documents=[EVERYTHING_POLICY])
    assert from_device(device, subscribe(1, *filters, mqtt5=mqtt5)) is None
    return device


@pytest.mark.parametrize("mqtt5", [False, True])
def test_a_multi_level_wildcard_does_not_reach_its_parent_as_on_aws(mqtt5):
    device = subscribed("sensor/#", mqtt5=mqtt5)
    for reached in ("sensor/", "sensor/temperature", "sensor/temperature/room1"):
        assert from_broker(device, publish(reached, mqtt5=mqtt5)) is None, reached
    held = from_broker(device, publish("sensor", mqtt5=mqtt5, qos=1, packet_id=9))
    why = "no subscription reaches 'sensor' (# is not its parent)"
    assert held == Refuse(why, reply=encode_puback(9, mqtt5=mqtt5))
    assert from_broker(device, publish("sensor", mqtt5=mqtt5, qos=0)).reply == b""


def test_a_subscription_made_later_reaches_what_the_first_did_not_until_it_goes():
    device = subscribed("sensor/#", "a/+/#")
    assert from_broker(device, publish("a/x")) is not None  # a/+/# is not a/+ either
    assert from_broker(device, publish("sensor")) is not None
    assert from_device(device, subscribe(2, "sensor")) is None
    assert from_broker(device, publish("sensor")) is None
    assert from_device(device, unsubscribe(3, "sensor")) is None
    assert from_broker(device, publish("sensor")) is not None


def test_a_shared_subscription_reaches_what_its_filter_does():
    device = subscribed("$share/group/sensor/#", mqtt5=True)
    assert from_broker(device, publish("sensor/t", mqtt5=True)) is None
    assert from_broker(device, publish("sensor", mqtt5=True)) is not None


def test_a_filter_the_broker_would_refuse_reaches_nothing():
    device = subscribed("sensor/t#")  # not MQTT: the broker refuses it
    assert from_broker(device, publish("sensor/t")) is not None


def test_a_resumed_session_gets_what_the_broker_sends():
    device = session(new_session=False, documents=[EVERYTHING_POLICY])
    assert from_broker(device, publish("sensor")) is None  # its subscriptions: the broker's


def retained(packet):
    """`packet` (a PUBLISH) with RETAIN set, as the broker sends a retained message."""
    return bytes([packet[0] | 0x01]) + packet[1:]


@pytest.mark.parametrize("mqtt5", [False, True])
def test_a_retained_message_reaches_only_a_subscription_to_its_very_topic_as_on_aws(mqtt5):
    device = subscribed("sensor/#", mqtt5=mqtt5)
    held = from_broker(device, retained(publish("sensor/t", mqtt5=mqtt5, packet_id=9)))
    why = "retained 'sensor/t', for wildcard subscriptions only"
    assert held == Refuse(why, reply=encode_puback(9, mqtt5=mqtt5))
    assert from_broker(device, publish("sensor/t", mqtt5=mqtt5)) is None  # not retained
    assert from_device(device, subscribe(2, "sensor/t", mqtt5=mqtt5)) is None
    assert from_broker(device, retained(publish("sensor/t", mqtt5=mqtt5))) is None


def test_past_retain_as_published_a_retained_message_is_the_brokers_to_send():
    device = subscribed("sensor/#", mqtt5=True)
    assert from_device(device, subscribe(2, "other/#", mqtt5=True, qos=0x08 | 1)) is None
    assert from_broker(device, retained(publish("sensor/t", mqtt5=True))) is None


def test_a_resumed_session_gets_the_retained_messages_the_broker_sends():
    device = session(new_session=False, documents=[EVERYTHING_POLICY])
    assert from_broker(device, retained(publish("sensor/t"))) is None


RETAINING_POLICY = {
    "Version": "2012-10-17",
    "Statement": [allow("iot:RetainPublish", "topic/swan/push/${iot:ClientId}")],
}


def test_mqtt_311_a_retained_publish_without_iot_retain_publish_disconnects():
    device = session()
    assert from_device(device, publish("swan/push/pi")) is None
    outcome = from_device(device, retained(publish("swan/push/pi")))
    assert outcome == Disconnect("not authorized: retained publish to 'swan/push/pi'")


def test_mqtt_5_a_retained_publish_without_iot_retain_publish_is_not_authorized():
    device = session(mqtt5=True)
    refused = from_device(device, retained(publish("swan/push/pi", mqtt5=True, packet_id=4)))
    assert refused.reply == encode_puback(4, NOT_AUTHORIZED, mqtt5=True)


def test_a_retained_publish_needs_both_iot_publish_and_iot_retain_publish():
    device = session(documents=[DEVICE_POLICY, RETAINING_POLICY])
    assert from_device(device, retained(publish("swan/push/pi"))) is None
    alone = session(documents=[RETAINING_POLICY])
    assert isinstance(from_device(alone, retained(publish("swan/push/pi"))), Disconnect)


def will(topic, *, retain=False):
    return Connect("3.1.1", "pi", None, 30, True, topic, will_retain=retain)


def test_a_last_will_is_taken_only_where_the_device_may_publish_and_retain_it():
    limits, device = AWS_LIMITS, principal()
    assert limits.allows_the_will(will(None), device)
    assert limits.allows_the_will(will("swan/push/pi"), device)
    assert not limits.allows_the_will(will("swan/push/pi", retain=True), device)
    assert not limits.allows_the_will(will("swan/status/someone-else"), device)
    assert not limits.allows_the_will(will("swan/push/pi/" + "/".join("x" * 8)), device)
    retaining = principal(DEVICE_POLICY, RETAINING_POLICY)
    assert limits.allows_the_will(will("swan/push/pi", retain=True), retaining)
