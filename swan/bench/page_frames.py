"""A page's WebSocket frames once the upgrade is done, as plain bytes. Pure.

The bench's pages read thousands of frames a push; wsproto's general parser (a generator
per frame, an event object per message) was a fifth of a worker's CPU, the bench's own
cost. The upgrade itself is still wsproto's (`swan.bench.pages`); what follows it is
simple on this side: a server's frames are never masked, a client's always are, and the
door negotiates no extension. RFC 6455, section 5.2 (framing), 5.3 (masking), 5.4
(fragmentation), 5.5 (control frames).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final

CONTINUATION: Final = 0x0
TEXT: Final = 0x1
BINARY: Final = 0x2
CLOSE: Final = 0x8
PING: Final = 0x9
PONG: Final = 0xA
_FIN: Final = 0x80
_RESERVED: Final = 0x70
_OPCODE: Final = 0x0F
_MASKED: Final = 0x80
_LENGTH: Final = 0x7F
_LENGTH_16: Final = 126
_LENGTH_64: Final = 127
_CONTROL: Final = 0x8  # opcodes from 8 up are control frames
_CONTROL_MOST: Final = 125  # a control frame's longest payload
_MASK_SIZE: Final = 4
_OPCODES: Final = frozenset((CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG))


class FrameError(ValueError):
    """The server sent what a client must fail the connection for (RFC 6455, 5.1 and 5.2)."""


def client_frame(payload: bytes, opcode: int = BINARY, mask: bytes | None = None) -> bytes:
    """One final frame from a client: masked, with a fresh random key unless `mask` is given
    (RFC 6455, 5.3: a client masks every frame, with a key the server cannot predict)."""
    key = os.urandom(_MASK_SIZE) if mask is None else mask
    size = len(payload)
    if size < _LENGTH_16:
        header = bytes((_FIN | opcode, _MASKED | size))
    elif size < 1 << 16:
        header = bytes((_FIN | opcode, _MASKED | _LENGTH_16)) + size.to_bytes(2, "big")
    else:
        header = bytes((_FIN | opcode, _MASKED | _LENGTH_64)) + size.to_bytes(8, "big")
    return header + key + _xor(payload, key)


def close_code(payload: bytes) -> int:
    """A close frame's status code; 1005 (no status received) when it carries none."""
    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005  # noqa: PLR2004


@dataclass
class FrameReader:
    """A server's frames out of a byte stream: `feed` takes what arrived and returns each
    message now whole, and each control frame, as (opcode, payload), in order; a fragmented
    message comes back once, with its first frame's opcode."""

    _held: bytearray = field(default_factory=bytearray)
    _message: bytearray = field(default_factory=bytearray)
    _opcode: int | None = None  # the fragmented message under way, if any

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._held += data
        out: list[tuple[int, bytes]] = []
        at = 0
        while (frame := self._frame(at)) is not None:
            first, start, end = frame
            self._take(first, bytes(self._held[start:end]), out)
            at = end
        del self._held[:at]
        return out

    def _frame(self, at: int) -> tuple[int, int, int] | None:
        """(first byte, payload start, payload end) of the whole frame at `at`, if whole."""
        held = self._held
        if len(held) - at < 2:  # noqa: PLR2004  (the two bytes every header has)
            return None
        first, second = held[at], held[at + 1]
        if first & _RESERVED:
            raise FrameError("a frame with a reserved bit set (no extension was agreed)")
        if second & _MASKED:
            raise FrameError("a masked frame from the server")
        length, start = second & _LENGTH, at + 2
        if length == _LENGTH_16:
            start += 2
            if len(held) < start:
                return None
            length = int.from_bytes(held[start - 2 : start], "big")
        elif length == _LENGTH_64:
            start += 8
            if len(held) < start:
                return None
            length = int.from_bytes(held[start - 8 : start], "big")
        end = start + length
        return (first, start, end) if len(held) >= end else None

    def _take(self, first: int, payload: bytes, out: list[tuple[int, bytes]]) -> None:
        opcode, final = first & _OPCODE, bool(first & _FIN)
        if opcode not in _OPCODES:
            raise FrameError(f"a frame with the reserved opcode {opcode:#x}")
        if opcode >= _CONTROL:
            if not final or len(payload) > _CONTROL_MOST:
                raise FrameError("a control frame fragmented or longer than 125 bytes")
            out.append((opcode, payload))
        elif opcode == CONTINUATION:
            if self._opcode is None:
                raise FrameError("a continuation frame with no message under way")
            self._message += payload
            if final:
                out.append((self._opcode, bytes(self._message)))
                self._message.clear()
                self._opcode = None
        elif self._opcode is not None:
            raise FrameError("a new message before the last one was finished")
        elif final:
            out.append((opcode, payload))
        else:
            self._opcode = opcode
            self._message += payload


def _xor(payload: bytes, key: bytes) -> bytes:
    size = len(payload)
    if not size:
        return b""
    mask = (key * (size // _MASK_SIZE + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(size, "big")
