"""Just enough of the MQTT wire format for the device gateway: the CONNECT packet.

The gateway reads a device's first packet to learn its client id (AWS IoT's policies and
the broker's ACL are keyed on it), then passes the bytes on unchanged. MQTT 3.1.1 and 5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from swan.core.errors import SwanError

CONNECT: Final = 0x10
MAX_REMAINING_LENGTH: Final = 268_435_455  # four bytes of variable-length integer
PROTOCOLS: Final = {(b"MQTT", 4): "3.1.1", (b"MQTT", 5): "5", (b"MQIsdp", 3): "3.1"}
_USERNAME_FLAG: Final = 0x80
_PASSWORD_FLAG: Final = 0x40
_WILL_FLAG: Final = 0x04
_RESERVED_FLAG: Final = 0x01


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


def decode_remaining_length(header: bytes) -> tuple[int, int] | None:
    """(remaining length, bytes used) from the bytes after the packet type, or None when
    more bytes are needed."""
    value = 0
    for index, byte in enumerate(header[:4]):
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, index + 1
    if len(header) >= 4:  # noqa: PLR2004  (the fourth byte still said "more")
        raise MalformedPacketError("remaining length longer than four bytes")
    return None


def parse_connect(packet: bytes) -> Connect:
    """Parse a whole CONNECT packet (fixed header included)."""
    if not packet or packet[0] != CONNECT:
        raise MalformedPacketError("the first packet must be CONNECT")
    decoded = decode_remaining_length(packet[1:])
    if decoded is None:
        raise MalformedPacketError("truncated fixed header")
    length, used = decoded
    body = packet[1 + used :]
    if len(body) != length:
        raise MalformedPacketError(f"CONNECT says {length} bytes, has {len(body)}")
    reader = _Reader(body)
    name = reader.binary()
    level = reader.byte()
    protocol = PROTOCOLS.get((name, level))
    if protocol is None:
        raise MalformedPacketError(f"unknown protocol {name!r} level {level}")
    flags = reader.byte()
    if flags & _RESERVED_FLAG:
        raise MalformedPacketError("the reserved connect flag is set")
    keep_alive = reader.uint16()
    if protocol == "5":
        reader.skip(reader.varint())  # CONNECT properties
    client_id = reader.text()
    if flags & _WILL_FLAG:
        if protocol == "5":
            reader.skip(reader.varint())  # will properties
        reader.binary()  # will topic
        reader.binary()  # will payload
    username = reader.text() if flags & _USERNAME_FLAG else None
    return Connect(protocol, client_id, username, keep_alive, bool(flags & 0x02))


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def take(self, count: int) -> bytes:
        if count < 0 or self._at + count > len(self._data):
            raise MalformedPacketError("truncated CONNECT")
        chunk = self._data[self._at : self._at + count]
        self._at += count
        return chunk

    def skip(self, count: int) -> None:
        self.take(count)

    def byte(self) -> int:
        return self.take(1)[0]

    def uint16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def binary(self) -> bytes:
        return self.take(self.uint16())

    def text(self) -> str:
        try:
            return self.binary().decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPacketError("a string is not UTF-8") from None

    def varint(self) -> int:
        decoded = decode_remaining_length(self._data[self._at : self._at + 4])
        if decoded is None:
            raise MalformedPacketError("truncated variable-length integer")
        value, used = decoded
        self._at += used
        return value
