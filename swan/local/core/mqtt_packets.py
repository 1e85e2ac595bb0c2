"""The MQTT wire format, as much of it as the device gateway needs (MQTT 3.1.1 and 5).

The gateway reads a device's CONNECT to learn its client id (AWS IoT's policies are keyed on
it), then frames every packet in both directions without copying (`fixed_header` on the
bytes read) and looks inside only the packets it must decide on: PUBLISH (topic, QoS,
packet id, payload size, topic alias), SUBSCRIBE and UNSUBSCRIBE (their filters) and SUBACK
(its reason codes). It builds the few packets it answers with: PUBACK, SUBACK, a SUBSCRIBE
with fewer filters, and MQTT 5's DISCONNECT.

Names and codes are the OASIS standards': MQTT 3.1.1 (section 2 for the fixed header, 3.3
PUBLISH, 3.8 SUBSCRIBE, 3.9 SUBACK) and MQTT 5.0 (2.2.2 properties, 2.4 reason codes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, NamedTuple

from swan.core.errors import SwanError

# Packet types: the high nibble of a packet's first byte.
CONNECT: Final = 0x10
CONNACK_TYPE: Final = 2
PUBLISH_TYPE: Final = 3
PUBACK_TYPE: Final = 4
SUBSCRIBE_TYPE: Final = 8
SUBACK_TYPE: Final = 9
UNSUBSCRIBE_TYPE: Final = 10
CONNECT_TYPE: Final = 1
DISCONNECT_TYPE: Final = 14

MAX_REMAINING_LENGTH: Final = 268_435_455  # four bytes of variable-length integer
PROTOCOLS: Final = {(b"MQTT", 4): "3.1.1", (b"MQTT", 5): "5", (b"MQIsdp", 3): "3.1"}
MQTT5: Final = "5"

# Reason codes (MQTT 5.0 section 2.4); SUBACK_FAILURE is MQTT 3.1.1's one failure code.
SUBACK_FAILURE: Final = 0x80
MALFORMED_PACKET: Final = 0x81
PROTOCOL_ERROR: Final = 0x82
NOT_AUTHORIZED: Final = 0x87
TOPIC_FILTER_INVALID: Final = 0x8F
TOPIC_NAME_INVALID: Final = 0x90
PACKET_TOO_LARGE: Final = 0x95
QUOTA_EXCEEDED: Final = 0x97
CONNECTION_RATE_EXCEEDED: Final = 0x9F

_USERNAME_FLAG: Final = 0x80
_PASSWORD_FLAG: Final = 0x40
_WILL_FLAG: Final = 0x04
_WILL_RETAIN_FLAG: Final = 0x20
_RESERVED_FLAG: Final = 0x01
_MORE: Final = 0x80
_TOPIC_ALIAS: Final = 0x23
_SUBSCRIBE_FIRST_BYTE: Final = 0x82  # SUBSCRIBE's reserved flags are 0010
_VARINT_BYTES: Final = 4
_UINT16: Final = 0xFFFF

# MQTT 5 properties (section 2.2.2.2) by the kind of value each identifier carries.
_BYTE_PROPERTIES: Final = frozenset((0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A))
_TWO_BYTE_PROPERTIES: Final = frozenset((0x13, 0x21, 0x22, 0x23))
_FOUR_BYTE_PROPERTIES: Final = frozenset((0x02, 0x11, 0x18, 0x27))
_VARINT_PROPERTIES: Final = frozenset((0x0B,))
_SIZED_PROPERTIES: Final = frozenset((0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F))
_PAIR_PROPERTIES: Final = frozenset((0x26,))

Bytes = bytes | bytearray | memoryview


class MalformedPacketError(SwanError, ValueError):
    """The bytes are not the MQTT packet they should be."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"malformed MQTT packet: {problem}")


@dataclass(frozen=True)
class Connect:
    """What the gateway needs from a CONNECT packet."""

    protocol: str
    client_id: str
    username: str | None
    keep_alive: int
    clean_start: bool
    will_topic: str | None = None
    # where the keep-alive's two bytes are in the packet (not part of what it says)
    keep_alive_at: int = field(default=0, compare=False)
    will_retain: bool = False  # the broker is to retain the last will when it publishes it


class PublishHeader(NamedTuple):
    """A PUBLISH's variable header. `topic` is the raw UTF-8 (empty when MQTT 5 sends only
    a topic alias); `packet_id` is 0 for QoS 0."""

    topic: bytes
    qos: int
    packet_id: int
    payload_size: int
    topic_alias: int | None


@dataclass(frozen=True)
class Subscribe:
    """A SUBSCRIBE: each filter with its options byte (MQTT 3.1.1: the requested QoS).
    `properties` is MQTT 5's property block as sent (length included), empty for 3.1.1."""

    packet_id: int
    filters: tuple[tuple[str, int], ...]
    properties: bytes = b""


@dataclass(frozen=True)
class Suback:
    """A SUBACK: one reason code per filter of its SUBSCRIBE (MQTT 3.1.1: granted QoS or
    0x80). `properties` as in `Subscribe`."""

    packet_id: int
    codes: bytes
    properties: bytes = b""


# ---------------------------------------------------------------- framing


def decode_remaining_length(header: Bytes) -> tuple[int, int] | None:
    """(remaining length, bytes used) from the bytes after the packet type, or None when
    more bytes are needed."""
    value = 0
    for index, byte in enumerate(header[:_VARINT_BYTES]):
        value |= (byte & 0x7F) << (7 * index)
        if not byte & _MORE:
            return value, index + 1
    if len(header) >= _VARINT_BYTES:  # the fourth byte still said "more"
        raise MalformedPacketError("remaining length longer than four bytes")
    return None


def fixed_header(data: Bytes, start: int) -> tuple[int, int] | None:
    """(where the body starts, its length) of the packet at `data[start]`, or None when the
    fixed header is not all there yet. The body may not be all there either: the caller
    compares `body_start + length` with what it holds. The hot path of the gateway."""
    at = start + 1
    end = len(data)
    if at >= end:
        return None
    byte = data[at]
    if byte < _MORE:  # packets under 128 bytes: one length byte
        return at + 1, byte
    value = byte & 0x7F
    for index in range(1, _VARINT_BYTES):
        if at + index >= end:
            return None
        byte = data[at + index]
        value |= (byte & 0x7F) << (7 * index)
        if byte < _MORE:
            return at + index + 1, value
    raise MalformedPacketError("remaining length longer than four bytes")


def encode_remaining_length(length: int) -> bytes:
    """The variable-length integer for `length` (at most 268,435,455)."""
    if not 0 <= length <= MAX_REMAINING_LENGTH:
        raise MalformedPacketError(f"a packet of {length} bytes")
    out = bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        out.append(byte | (_MORE if length else 0))
        if not length:
            return bytes(out)


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + encode_remaining_length(len(body)) + body


# ---------------------------------------------------------------- CONNECT


def parse_connect(packet: Bytes) -> Connect:
    """Parse a whole CONNECT packet (fixed header included)."""
    if not packet or packet[0] != CONNECT:
        raise MalformedPacketError("the first packet must be CONNECT")
    decoded = decode_remaining_length(packet[1:])
    if decoded is None:
        raise MalformedPacketError("truncated fixed header")
    length, used = decoded
    start = 1 + used
    body = packet[start:]
    if len(body) != length:
        raise MalformedPacketError(f"CONNECT says {length} bytes, has {len(body)}")
    reader = _Reader(body, "CONNECT")
    name = reader.binary()
    level = reader.byte()
    protocol = PROTOCOLS.get((bytes(name), level))
    if protocol is None:
        raise MalformedPacketError(f"unknown protocol {bytes(name)!r} level {level}")
    flags = reader.byte()
    if flags & _RESERVED_FLAG:
        raise MalformedPacketError("the reserved connect flag is set")
    keep_alive_at = start + reader.at
    keep_alive = reader.uint16()
    if protocol == MQTT5:
        reader.skip(reader.varint())  # CONNECT properties
    client_id = reader.text()
    will_topic = None
    if flags & _WILL_FLAG:
        if protocol == MQTT5:
            reader.skip(reader.varint())  # will properties
        will_topic = reader.text()
        reader.binary()  # will payload
    username = reader.text() if flags & _USERNAME_FLAG else None
    clean_start = bool(flags & 0x02)
    return Connect(
        protocol,
        client_id,
        username,
        keep_alive,
        clean_start,
        will_topic,
        keep_alive_at,
        will_retain=will_topic is not None and bool(flags & _WILL_RETAIN_FLAG),
    )


def with_keep_alive(packet: Bytes, connect: Connect, seconds: int) -> bytes:
    """The same whole CONNECT (`connect`, as `parse_connect` read it) asking for `seconds` of
    keep-alive (0 to 65535): the two bytes after the connect flags (MQTT 3.1.1 and MQTT 5,
    section 3.1.2.10)."""
    at = connect.keep_alive_at
    return bytes(packet[:at]) + seconds.to_bytes(2, "big") + bytes(packet[at + 2 :])


def encode_connack(reason: int, *, mqtt5: bool) -> bytes:
    """A CONNACK refusing the connection: MQTT 5's reason code, no session, no properties
    (MQTT 3.1.1 has no code for most refusals: its caller closes the connection instead)."""
    return _packet(CONNACK_TYPE << 4, bytes((0, reason, 0)) if mqtt5 else bytes((0, reason)))


# ---------------------------------------------------------------- PUBLISH


def parse_publish(first: int, body: Bytes, *, mqtt5: bool) -> PublishHeader:
    """The variable header of a whole PUBLISH body (what follows the fixed header)."""
    qos = (first >> 1) & 3
    if qos == 3:  # noqa: PLR2004  (both QoS bits set)
        raise MalformedPacketError("PUBLISH with QoS 3")
    size = len(body)
    if size < 2:  # noqa: PLR2004  (the topic's length)
        raise MalformedPacketError("truncated PUBLISH")
    at = 2 + (body[0] << 8 | body[1])
    topic_end = at
    packet_id = 0
    if qos:
        at += 2
        if at > size:
            raise MalformedPacketError("truncated PUBLISH")
        packet_id = body[at - 2] << 8 | body[at - 1]
    alias = None
    if mqtt5:
        length, used = _varint(body, at)
        start, at = at + used, at + used + length
        if at > size:
            raise MalformedPacketError("truncated PUBLISH properties")
        if length:
            alias = _topic_alias(body[start:at])
    elif topic_end > size:
        raise MalformedPacketError("truncated PUBLISH")
    return PublishHeader(bytes(body[2:topic_end]), qos, packet_id, size - at, alias)


def _topic_alias(properties: Bytes) -> int | None:
    """The Topic Alias property among a PUBLISH's properties, if any."""
    at = 0
    alias = None
    while at < len(properties):
        identifier = properties[at]
        if identifier == _TOPIC_ALIAS and at + 3 <= len(properties):
            alias = properties[at + 1] << 8 | properties[at + 2]
        at = _property_end(properties, at)
    return alias


def _property_end(properties: Bytes, at: int) -> int:
    """Where the property starting at `at` ends."""
    identifier = properties[at]
    at += 1
    if identifier in _BYTE_PROPERTIES:
        end = at + 1
    elif identifier in _TWO_BYTE_PROPERTIES:
        end = at + 2
    elif identifier in _FOUR_BYTE_PROPERTIES:
        end = at + 4
    elif identifier in _VARINT_PROPERTIES:
        end = at + _varint(properties, at)[1]
    elif identifier in _SIZED_PROPERTIES:
        end = _sized_end(properties, at)
    elif identifier in _PAIR_PROPERTIES:
        end = _sized_end(properties, _sized_end(properties, at))
    else:
        raise MalformedPacketError(f"unknown property 0x{identifier:02x}")
    if end > len(properties):
        raise MalformedPacketError("truncated property")
    return end


def _sized_end(data: Bytes, at: int) -> int:
    if at + 2 > len(data):
        raise MalformedPacketError("truncated property")
    return at + 2 + (data[at] << 8 | data[at + 1])


def _varint(data: Bytes, at: int) -> tuple[int, int]:
    decoded = decode_remaining_length(data[at : at + _VARINT_BYTES])
    if decoded is None:
        raise MalformedPacketError("truncated variable-length integer")
    return decoded


def encode_puback(packet_id: int, reason: int = 0, *, mqtt5: bool) -> bytes:
    """A PUBACK; MQTT 5 carries `reason` (a success may leave it out, section 3.4.2.1)."""
    body = packet_id.to_bytes(2, "big")
    if mqtt5 and reason:
        body += bytes((reason, 0))  # the reason code, then no properties
    return _packet(0x40, body)


# ---------------------------------------------------------------- SUBSCRIBE and SUBACK


def parse_subscribe(body: Bytes, *, mqtt5: bool) -> Subscribe:
    """A whole SUBSCRIBE body."""
    reader = _Reader(body, "SUBSCRIBE")
    packet_id = reader.uint16()
    properties = reader.properties() if mqtt5 else b""
    filters: list[tuple[str, int]] = []
    while not reader.done:
        topic_filter = reader.text()
        filters.append((topic_filter, reader.byte()))
    if not filters:
        raise MalformedPacketError("a SUBSCRIBE without a topic filter")
    return Subscribe(packet_id, tuple(filters), properties)


def encode_subscribe(subscribe: Subscribe) -> bytes:
    body = bytearray(subscribe.packet_id.to_bytes(2, "big"))
    body += subscribe.properties
    for topic_filter, options in subscribe.filters:
        body += _string(topic_filter) + bytes((options,))
    return _packet(_SUBSCRIBE_FIRST_BYTE, bytes(body))


def parse_unsubscribe(body: Bytes, *, mqtt5: bool) -> tuple[str, ...]:
    """The topic filters of a whole UNSUBSCRIBE body."""
    reader = _Reader(body, "UNSUBSCRIBE")
    reader.uint16()  # packet id
    if mqtt5:
        reader.properties()
    filters: list[str] = []
    while not reader.done:
        filters.append(reader.text())
    return tuple(filters)


def parse_suback(body: Bytes, *, mqtt5: bool) -> Suback:
    reader = _Reader(body, "SUBACK")
    packet_id = reader.uint16()
    properties = reader.properties() if mqtt5 else b""
    return Suback(packet_id, reader.rest(), properties)


def leading_packet_id(body: Bytes, packet: str) -> int:
    """The packet id of a SUBACK's or PUBACK's body (its first two bytes)."""
    if len(body) < 2:  # noqa: PLR2004
        raise MalformedPacketError(f"truncated {packet}")
    return int(body[0] << 8 | body[1])


def encode_suback(suback: Suback, *, mqtt5: bool) -> bytes:
    properties = (suback.properties or b"\x00") if mqtt5 else b""
    return _packet(0x90, suback.packet_id.to_bytes(2, "big") + properties + suback.codes)


def encode_disconnect(reason: int) -> bytes:
    """MQTT 5's DISCONNECT from the server, with a reason code (no properties)."""
    return _packet(0xE0, bytes((reason,)))


def _string(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


class _Reader:
    def __init__(self, data: Bytes, packet: str) -> None:
        self._data = data
        self._at = 0
        self._packet = packet

    @property
    def done(self) -> bool:
        return self._at >= len(self._data)

    @property
    def at(self) -> int:
        return self._at

    def take(self, count: int) -> Bytes:
        if count < 0 or self._at + count > len(self._data):
            raise MalformedPacketError(f"truncated {self._packet}")
        chunk = self._data[self._at : self._at + count]
        self._at += count
        return chunk

    def skip(self, count: int) -> None:
        self.take(count)

    def byte(self) -> int:
        return self.take(1)[0]

    def uint16(self) -> int:
        chunk = self.take(2)
        return int(chunk[0] << 8 | chunk[1])

    def binary(self) -> Bytes:
        return self.take(self.uint16())

    def text(self) -> str:
        try:
            return bytes(self.binary()).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPacketError("a string is not UTF-8") from None

    def varint(self) -> int:
        value, used = _varint(self._data, self._at)
        self._at += used
        return value

    def properties(self) -> bytes:
        """An MQTT 5 property block, as sent (its length included)."""
        start = self._at
        self.skip(self.varint())
        return bytes(self._data[start : self._at])

    def rest(self) -> bytes:
        chunk = bytes(self._data[self._at :])
        self._at = len(self._data)
        return chunk
