"""The client's side of MQTT 3.1.1, as much as a page of web speaks, as plain bytes. Pure.

A page connects (clean session, a keep-alive, no will), subscribes to the button shadow's
documents, the answers to a get and to its pushes, publishes one get (QoS 1), unsubscribes
from the get's answers once its own is in, acknowledges what arrives at QoS 1 and pings when
it has sent nothing for its keep-alive. The packets are built and framed with the project's
own MQTT code (`swan.local.core.mqtt_packets`, which the device gateway uses); only what a client
sends and the gateway never does (CONNECT, a PUBLISH, UNSUBSCRIBE, PINGREQ, the CONNACK's
answer) is built here. MQTT 3.1.1 (OASIS), sections 3.1 CONNECT, 3.2 CONNACK, 3.3 PUBLISH,
3.10 UNSUBSCRIBE, 3.12 PINGREQ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from swan.local.core.mqtt_packets import (
    CONNECT,
    Subscribe,
    encode_puback,
    encode_remaining_length,
    encode_subscribe,
    fixed_header,
)

PINGREQ: Final = b"\xc0\x00"
CONNACK_ACCEPTED: Final = 0
_PROTOCOL: Final = b"\x00\x04MQTT\x04"  # protocol name and level 4: MQTT 3.1.1
_CLEAN_SESSION: Final = 0x02
_USERNAME: Final = 0x80
_PASSWORD: Final = 0x40
_PUBLISH_QOS0: Final = 0x30
_PUBLISH_QOS1: Final = 0x32
_UNSUBSCRIBE: Final = 0xA2  # UNSUBSCRIBE's reserved flags are 0010
_CONNACK_SIZE: Final = 2


def connect_packet(
    client_id: str, *, keep_alive: int, username: str | None = None, password: str | None = None
) -> bytes:
    """CONNECT with a clean session and no will; a username and password only if given."""
    flags = _CLEAN_SESSION
    payload = _string(client_id)
    if username is not None:
        flags |= _USERNAME
        payload += _string(username)
    if password is not None:
        flags |= _PASSWORD
        payload += _string(password)
    body = _PROTOCOL + bytes((flags,)) + keep_alive.to_bytes(2, "big") + payload
    return _packet(CONNECT, body)


def publish_packet(topic: str, payload: bytes, packet_id: int = 0) -> bytes:
    """A PUBLISH, not retained: at QoS 1 with `packet_id`, at QoS 0 without one (0)."""
    if packet_id:
        return _packet(_PUBLISH_QOS1, _string(topic) + packet_id.to_bytes(2, "big") + payload)
    return _packet(_PUBLISH_QOS0, _string(topic) + payload)


def unsubscribe_packet(packet_id: int, filters: tuple[str, ...]) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"".join(_string(f) for f in filters)
    return _packet(_UNSUBSCRIBE, body)


def subscribe_packet(packet_id: int, filters: tuple[tuple[str, int], ...]) -> bytes:
    """One SUBSCRIBE of `filters`, each (filter, the QoS it asks for)."""
    return encode_subscribe(Subscribe(packet_id, filters))


def puback_packet(packet_id: int) -> bytes:
    return encode_puback(packet_id, mqtt5=False)


def connack_code(body: bytes) -> int:
    """A CONNACK's return code (0: accepted); a truncated one reads as refused (0xFF)."""
    return body[1] if len(body) >= _CONNACK_SIZE else 0xFF


@dataclass
class Framer:
    """Whole packets out of a byte stream: `feed` takes what arrived and returns every
    packet now complete, as (first byte, body); the rest waits for more bytes."""

    _held: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._held += data
        packets = []
        at = 0
        while (header := fixed_header(self._held, at)) is not None:
            body_start, length = header
            end = body_start + length
            if end > len(self._held):
                break
            packets.append((self._held[at], bytes(self._held[body_start:end])))
            at = end
        del self._held[:at]
        return packets


def _string(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + encode_remaining_length(len(body)) + body
