import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import mqtt_string, mqtt_varint

from swan.local.core.mqtt_packets import (
    MAX_REMAINING_LENGTH,
    Connect,
    MalformedPacketError,
    PublishHeader,
    Suback,
    Subscribe,
    decode_remaining_length,
    encode_connack,
    encode_disconnect,
    encode_puback,
    encode_remaining_length,
    encode_suback,
    encode_subscribe,
    fixed_header,
    leading_packet_id,
    parse_connect,
    parse_publish,
    parse_suback,
    parse_subscribe,
    parse_unsubscribe,
    with_keep_alive,
)


def connect(
    client_id="pi-kitchen", *, level=4, name=b"MQTT", username=None, will=False, flags=0x02
):
    if username is not None:
        flags |= 0x80
    if will:
        flags |= 0x04
    variable = mqtt_string(name) + bytes([level, flags]) + (30).to_bytes(2, "big")
    if level == 5:
        properties = bytes([0x11]) + (60).to_bytes(4, "big")  # session expiry interval
        variable += mqtt_varint(len(properties)) + properties
    payload = mqtt_string(client_id)
    if will:
        if level == 5:
            payload += mqtt_varint(0)
        payload += mqtt_string("swan/status/pi-kitchen") + mqtt_string(b"offline")
    if username is not None:
        payload += mqtt_string(username)
    body = variable + payload
    return bytes([0x10]) + mqtt_varint(len(body)) + body


def test_mqtt_311_connect():
    assert parse_connect(connect()) == Connect("3.1.1", "pi-kitchen", None, 30, True)


def test_mqtt_5_connect_with_properties_will_and_username():
    packet = connect("G030", level=5, username="?SDK=PythonV2", will=True)
    assert parse_connect(packet) == Connect(
        "5", "G030", "?SDK=PythonV2", 30, True, "swan/status/pi-kitchen"
    )


def test_mqtt_311_connect_with_a_last_will():
    parsed = parse_connect(connect(will=True))
    assert (parsed.client_id, parsed.will_topic) == ("pi-kitchen", "swan/status/pi-kitchen")


@pytest.mark.parametrize("level", [4, 5])
def test_a_last_will_to_be_retained_says_so(level):
    assert parse_connect(connect(level=level, will=True, flags=0x22)).will_retain
    assert not parse_connect(connect(level=level, will=True)).will_retain
    assert not parse_connect(connect(level=level, flags=0x22)).will_retain  # no will at all


@pytest.mark.parametrize("level", [4, 5])
def test_a_connect_asks_for_another_keep_alive_and_says_the_same_otherwise(level):
    packet = connect("G030", level=level, username="u", will=True)
    changed = with_keep_alive(packet, parse_connect(packet), 1200)
    assert parse_connect(changed).keep_alive == 1200
    assert parse_connect(changed) == Connect(**{**vars(parse_connect(packet)), "keep_alive": 1200})
    assert len(changed) == len(packet)
    assert with_keep_alive(changed, parse_connect(changed), 30) == packet


def test_a_refusing_connack_carries_mqtt_5s_reason_code():
    assert encode_connack(0x9F, mqtt5=True) == bytes([0x20, 3, 0, 0x9F, 0])
    assert encode_connack(0x03, mqtt5=False) == bytes([0x20, 2, 0, 0x03])


def test_mqtt_31_connect():
    assert parse_connect(connect(name=b"MQIsdp", level=3)).protocol == "3.1"


def test_a_long_client_id_needs_a_two_byte_length():
    client_id = "x" * 300
    assert parse_connect(connect(client_id)).client_id == client_id


@pytest.mark.parametrize(
    ("packet", "problem"),
    [
        (b"", "first packet must be CONNECT"),
        (b"\x30\x00", "first packet must be CONNECT"),
        (b"\x10", "truncated fixed header"),
        (b"\x10\x80\x80\x80\x80\x01", "longer than four bytes"),
        (connect()[:-1], "says"),
        (connect(name=b"HTTP"), "unknown protocol"),
        (connect(flags=0x03), "reserved connect flag"),
        (bytes([0x10, 2, 0, 9]), "truncated CONNECT"),
    ],
)
def test_malformed_packets_are_named(packet, problem):
    with pytest.raises(MalformedPacketError, match=problem):
        parse_connect(packet)


def test_a_client_id_that_is_not_utf8():
    with pytest.raises(MalformedPacketError, match="not UTF-8"):
        parse_connect(connect(b"\xff\xfe"))


def test_truncated_properties():
    packet = bytearray(connect(level=5))
    body = bytes(packet[2:12]) + b"\xff"
    with pytest.raises(MalformedPacketError, match="variable-length integer"):
        parse_connect(bytes([0x10, len(body)]) + body)


def test_remaining_length_needs_more_bytes():
    assert decode_remaining_length(b"\x80") is None
    assert decode_remaining_length(b"\xc1\x02") == (321, 2)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_are_refused_cleanly(data):
    with contextlib.suppress(MalformedPacketError):
        parse_connect(b"\x10" + mqtt_varint(len(data)) + data)


@given(st.text(min_size=1, max_size=100), st.sampled_from([3, 4, 5]))
def test_client_ids_round_trip(client_id, level):
    name = b"MQIsdp" if level == 3 else b"MQTT"
    assert parse_connect(connect(client_id, level=level, name=name)).client_id == client_id


# ---------------------------------------------------------------- framing


def publish_packet(topic, payload=b"", *, qos=0, packet_id=1, properties=None):
    """A PUBLISH as a device sends it; `properties` (bytes) makes it MQTT 5."""
    body = mqtt_string(topic)
    if qos:
        body += packet_id.to_bytes(2, "big")
    if properties is not None:
        body += mqtt_varint(len(properties)) + properties
    body += payload
    return bytes([0x30 | qos << 1]) + mqtt_varint(len(body)) + body


def test_the_fixed_header_gives_where_the_body_starts_and_its_length():
    packet = publish_packet("a/b", b"x" * 200)
    assert fixed_header(packet, 0) == (3, len(packet) - 3)
    assert fixed_header(b"\xc0\x00", 0) == (2, 0)  # PINGREQ


def test_the_fixed_header_of_a_packet_further_along():
    first, second = publish_packet("a"), publish_packet("b", b"y" * 300)
    assert fixed_header(first + second, len(first)) == (len(first) + 3, len(second) - 3)


@pytest.mark.parametrize("data", [b"\x30", b"\x30\x80", b"\x30\xff\xff", b"\x30\xff\xff\xff"])
def test_a_fixed_header_not_all_there_yet(data):
    assert fixed_header(data, 0) is None


def test_a_remaining_length_of_five_bytes_is_malformed():
    with pytest.raises(MalformedPacketError, match="longer than four bytes"):
        fixed_header(b"\x30\xff\xff\xff\xff\x01", 0)


@given(st.integers(0, MAX_REMAINING_LENGTH))
def test_remaining_lengths_round_trip(length):
    encoded = encode_remaining_length(length)
    assert fixed_header(b"\x30" + encoded, 0) == (1 + len(encoded), length)


def test_a_remaining_length_too_large_to_encode():
    with pytest.raises(MalformedPacketError, match="a packet of"):
        encode_remaining_length(MAX_REMAINING_LENGTH + 1)


# ---------------------------------------------------------------- PUBLISH


def body_of(packet):
    start, _ = fixed_header(packet, 0)
    return memoryview(packet)[start:]


def test_an_mqtt_311_publish_at_qos_1():
    packet = publish_packet("swan/push/pi", b"{}", qos=1, packet_id=513)
    assert parse_publish(packet[0], body_of(packet), mqtt5=False) == PublishHeader(
        b"swan/push/pi", 1, 513, 2, None
    )


def test_an_mqtt_311_publish_at_qos_0_has_no_packet_id():
    packet = publish_packet("t", b"abc")
    assert parse_publish(packet[0], body_of(packet), mqtt5=False) == (b"t", 0, 0, 3, None)


def test_an_mqtt_5_publish_with_a_topic_alias_among_other_properties():
    properties = b"".join(
        [
            b"\x01\x01",  # payload format indicator
            b"\x02" + (60).to_bytes(4, "big"),  # message expiry
            b"\x03" + mqtt_string("application/json"),  # content type
            b"\x26" + mqtt_string("k") + mqtt_string("v"),  # user property
            b"\x0b\x81\x01",  # subscription identifier (a two-byte varint)
            b"\x23\x00\x07",  # topic alias 7
        ]
    )
    packet = publish_packet("a/b", b"12345", qos=1, packet_id=9, properties=properties)
    assert parse_publish(packet[0], body_of(packet), mqtt5=True) == (b"a/b", 1, 9, 5, 7)


def test_an_mqtt_5_publish_by_its_topic_alias_alone():
    packet = publish_packet("", b"p", properties=b"\x23\x00\x02")
    assert parse_publish(packet[0], body_of(packet), mqtt5=True) == (b"", 0, 0, 1, 2)


def test_an_mqtt_5_publish_without_properties():
    packet = publish_packet("a", b"p", properties=b"")
    assert parse_publish(packet[0], body_of(packet), mqtt5=True) == (b"a", 0, 0, 1, None)


@pytest.mark.parametrize(
    ("first", "body", "mqtt5", "problem"),
    [
        (0x36, b"\x00\x01a", False, "QoS 3"),
        (0x30, b"\x00", False, "truncated PUBLISH"),
        (0x30, b"\x00\x05ab", False, "truncated PUBLISH"),
        (0x32, b"\x00\x01a\x00", False, "truncated PUBLISH"),
        (0x30, b"\x00\x01a\x05\x23", True, "truncated PUBLISH properties"),
        (0x30, b"\x00\x01a", True, "variable-length integer"),
        (0x30, b"\x00\x01a\x02\x23\x00", True, "truncated property"),
        (0x30, b"\x00\x01a\x01\x03", True, "truncated property"),
        (0x30, b"\x00\x01a\x02\x7f\x00", True, "unknown property 0x7f"),
    ],
)
def test_malformed_publishes_are_named(first, body, mqtt5, problem):
    with pytest.raises(MalformedPacketError, match=problem):
        parse_publish(first, memoryview(body), mqtt5=mqtt5)


def test_pubacks_for_mqtt_311_and_mqtt_5():
    assert encode_puback(258, mqtt5=False) == b"\x40\x02\x01\x02"
    assert encode_puback(258, 0x87, mqtt5=False) == b"\x40\x02\x01\x02"
    assert encode_puback(258, mqtt5=True) == b"\x40\x02\x01\x02"
    assert encode_puback(258, 0x87, mqtt5=True) == b"\x40\x04\x01\x02\x87\x00"


# ---------------------------------------------------------------- SUBSCRIBE, SUBACK


def subscribe_body(packet_id, *filters, properties=None):
    body = packet_id.to_bytes(2, "big")
    if properties is not None:
        body += mqtt_varint(len(properties)) + properties
    for topic_filter, options in filters:
        body += mqtt_string(topic_filter) + bytes([options])
    return body


def test_an_mqtt_311_subscribe():
    body = subscribe_body(7, ("a/+", 1), ("b/#", 0))
    assert parse_subscribe(body, mqtt5=False) == Subscribe(7, (("a/+", 1), ("b/#", 0)))


def test_an_mqtt_5_subscribe_keeps_its_properties_and_options():
    body = subscribe_body(7, ("a", 0x25), properties=b"\x0b\x05")
    assert parse_subscribe(body, mqtt5=True) == Subscribe(7, (("a", 0x25),), b"\x02\x0b\x05")


def test_a_subscribe_encoded_is_what_a_client_sends():
    body = subscribe_body(300, ("a/+", 1), properties=b"")
    packet = encode_subscribe(Subscribe(300, (("a/+", 1),), b"\x00"))
    assert packet == b"\x82" + mqtt_varint(len(body)) + body


@pytest.mark.parametrize(
    ("body", "problem"),
    [(b"\x00\x07", "without a topic filter"), (b"\x00", "truncated SUBSCRIBE")],
)
def test_malformed_subscribes_are_named(body, problem):
    with pytest.raises(MalformedPacketError, match=problem):
        parse_subscribe(body, mqtt5=False)


def test_unsubscribe_filters_for_mqtt_311_and_mqtt_5():
    assert parse_unsubscribe(b"\x00\x01" + mqtt_string("a") + mqtt_string("b/#"), mqtt5=False) == (
        "a",
        "b/#",
    )
    assert parse_unsubscribe(b"\x00\x01\x00" + mqtt_string("a"), mqtt5=True) == ("a",)


def test_subacks_parse_and_encode_for_both_versions():
    assert parse_suback(b"\x00\x09\x01\x80", mqtt5=False) == Suback(9, b"\x01\x80")
    assert parse_suback(b"\x00\x09\x00\x01\x87", mqtt5=True) == Suback(9, b"\x01\x87", b"\x00")
    assert encode_suback(Suback(9, b"\x01\x80"), mqtt5=False) == b"\x90\x04\x00\x09\x01\x80"
    assert encode_suback(Suback(9, b"\x87"), mqtt5=True) == b"\x90\x04\x00\x09\x00\x87"
    kept = Suback(9, b"\x01", b"\x03\x1f\x00\x00")
    assert encode_suback(kept, mqtt5=True) == b"\x90\x07\x00\x09\x03\x1f\x00\x00\x01"


def test_a_suback_packet_id():
    assert leading_packet_id(b"\x01\x02\x00", "SUBACK") == 258
    with pytest.raises(MalformedPacketError, match="truncated SUBACK"):
        leading_packet_id(b"\x01", "SUBACK")


def test_an_mqtt_5_disconnect_carries_its_reason():
    assert encode_disconnect(0x95) == b"\xe0\x01\x95"
