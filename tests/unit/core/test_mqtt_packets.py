import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swan.core.mqtt_packets import (
    Connect,
    MalformedPacketError,
    decode_remaining_length,
    parse_connect,
)


def varint(value):
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def string(text):
    raw = text.encode() if isinstance(text, str) else text
    return len(raw).to_bytes(2, "big") + raw


def connect(
    client_id="pi-kitchen", *, level=4, name=b"MQTT", username=None, will=False, flags=0x02
):
    if username is not None:
        flags |= 0x80
    if will:
        flags |= 0x04
    variable = string(name) + bytes([level, flags]) + (30).to_bytes(2, "big")
    if level == 5:
        properties = bytes([0x11]) + (60).to_bytes(4, "big")  # session expiry interval
        variable += varint(len(properties)) + properties
    payload = string(client_id)
    if will:
        if level == 5:
            payload += varint(0)
        payload += string("swan/status/pi-kitchen") + string(b"offline")
    if username is not None:
        payload += string(username)
    body = variable + payload
    return bytes([0x10]) + varint(len(body)) + body


def test_mqtt_311_connect():
    assert parse_connect(connect()) == Connect("3.1.1", "pi-kitchen", None, 30, True)


def test_mqtt_5_connect_with_properties_will_and_username():
    packet = connect("G030", level=5, username="?SDK=PythonV2", will=True)
    assert parse_connect(packet) == Connect("5", "G030", "?SDK=PythonV2", 30, True)


def test_mqtt_311_connect_with_a_last_will():
    assert parse_connect(connect(will=True)).client_id == "pi-kitchen"


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
        parse_connect(b"\x10" + varint(len(data)) + data)


@given(st.text(min_size=1, max_size=100), st.sampled_from([3, 4, 5]))
def test_client_ids_round_trip(client_id, level):
    name = b"MQIsdp" if level == 3 else b"MQTT"
    assert parse_connect(connect(client_id, level=level, name=name)).client_id == client_id
