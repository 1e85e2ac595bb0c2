"""MQTT over WebSocket, server side, on asyncio streams (RFC 6455 through wsproto).

`accept` reads the HTTP upgrade request and lets `decide` answer it: None accepts (with the
`mqtt` subprotocol the client offered), a `Refusal` answers its HTTP status instead. The
accepted connection is a `WebSocketStream`: MQTT's byte stream carried in binary messages,
read and written as the gateway's relay reads and writes a TLS stream (a stream until the
client is piped, then tapped: `swan.local.client_link`), so every packet is framed and held to
the same limits and policies whichever door a client came in by.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError

from swan.local.client_link import tappable

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.local.client_link import Receiver

MQTT_SUBPROTOCOL: Final = "mqtt"
READ_CHUNK: Final = 65536
BINARY_FINAL: Final = 0x82  # FIN, opcode 0x2 (binary)
SHORT_LENGTH: Final = 126  # lengths below fit the header's 7 bits
MEDIUM_LENGTH: Final = 1 << 16  # below: 126 and 16 bits; from here: 127 and 64 bits
# RFC 6455 section 7.4.1: 1003, "a type of data it cannot accept" (MQTT is binary only).
UNACCEPTABLE_DATA: Final = 1003
NORMAL_CLOSURE: Final = 1000


@dataclass(frozen=True)
class Refusal:
    """An upgrade refused: the HTTP status, and a short text body saying why."""

    status: int
    reason: str


@dataclass(frozen=True)
class Upgrade:
    """The upgrade request as the client sent it: the target (path and query, still
    percent-encoded), the Host header, and every header with a lower-case name."""

    target: str
    host: str
    headers: dict[str, str]


async def accept(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    decide: Callable[[Upgrade], Refusal | None],
) -> WebSocketStream | None:
    """Complete the handshake `decide` allows (None: refused and answered, or not a
    WebSocket upgrade at all). Reads at most the request (h11 bounds its size)."""
    connection = WSConnection(ConnectionType.SERVER)
    while True:
        data = await reader.read(READ_CHUNK)
        try:
            connection.receive_data(data or None)
            request = next((e for e in connection.events() if isinstance(e, Request)), None)
        except RemoteProtocolError as error:
            _answer(writer, connection, error.event_hint)
            return None
        if request is not None:
            break
        if not data:
            return None
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in request.extra_headers
    }
    # wsproto keeps these two out of extra_headers; a client may have signed them (SigV4
    # signs the headers it lists), so they are put back as sent, values comma-joined.
    for name, values in (
        ("sec-websocket-protocol", request.subprotocols),
        ("sec-websocket-extensions", request.extensions),
    ):
        if values:
            headers[name] = ", ".join(str(value) for value in values)
    refusal = decide(Upgrade(request.target, request.host, headers))
    if refusal is not None:
        body = refusal.reason.encode()
        reject = RejectConnection(
            status_code=refusal.status,
            headers=[(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
            has_body=True,
        )
        writer.write(connection.send(reject) + connection.send(RejectData(data=body)))
        return None
    subprotocol = MQTT_SUBPROTOCOL if MQTT_SUBPROTOCOL in request.subprotocols else None
    writer.write(connection.send(AcceptConnection(subprotocol=subprotocol)))
    return WebSocketStream(reader, writer, connection)


def _answer(writer: asyncio.StreamWriter, connection: WSConnection, hint: object | None) -> None:
    """Answer a request wsproto could not take (not an upgrade, say) as it suggests."""
    if isinstance(hint, RejectConnection):
        with contextlib.suppress(Exception):
            writer.write(connection.send(RejectConnection(status_code=hint.status_code)))


class WebSocketStream:
    """MQTT's bytes in WebSocket binary messages: `read`/`readexactly` as a StreamReader,
    `write`/`drain`/`close` as a StreamWriter; once tapped (`tap`), each message's bytes
    go to a `Receiver` as they arrive. A text message, which MQTT never sends, closes the
    connection (1003); pings are answered; a close is answered and ends the stream."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ws: WSConnection
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._ws = ws
        self._buffer = bytearray()
        self._ended = False
        self._receiver: Receiver | None = None
        self._told_the_end = False

    # ------------------------------------------------------------ reading

    async def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (all that is buffered if `n` < 0); b"" once the peer has closed."""
        while not self._buffer and not self._ended:
            await self._fill()
        size = len(self._buffer) if n < 0 else min(n, len(self._buffer))
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        return chunk

    async def readexactly(self, n: int) -> bytes:
        while len(self._buffer) < n and not self._ended:
            await self._fill()
        if len(self._buffer) < n:
            partial = bytes(self._buffer)
            self._buffer.clear()
            raise asyncio.IncompleteReadError(partial, n)
        chunk = bytes(self._buffer[:n])
        del self._buffer[:n]
        return chunk

    async def _fill(self) -> None:
        self._take(await self._reader.read(READ_CHUNK))

    def _take(self, data: bytes) -> None:
        """Unwrap what the client sent (b"": its end): messages' bytes to the buffer."""
        try:
            self._ws.receive_data(data or None)
            for event in self._ws.events():
                self._on(event)
        except RemoteProtocolError:
            self._ended = True
            self._writer.close()
            return
        if not data:
            self._ended = True

    def _on(self, event: object) -> None:
        if isinstance(event, BytesMessage):
            self._buffer += event.data
        elif isinstance(event, TextMessage):
            self._send_close(UNACCEPTABLE_DATA, "MQTT over WebSocket is binary")
            self._ended = True
            self._writer.close()
        elif isinstance(event, Ping):
            self._writer.write(self._ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            if self._ws.state is ConnectionState.REMOTE_CLOSING:
                self._writer.write(self._ws.send(event.response()))
            else:  # wsproto's verdict on a frame it could not parse (an unmasked one, say):
                # RFC 6455 7.1.7, fail the connection, here with its code (1002, 1007, ...).
                self._send_close(event.code, event.reason)
                self._writer.close()
            self._ended = True

    # ------------------------------------------------------------ tapped

    async def tap(self, receiver: Receiver) -> bytes:
        """From now on, each message's bytes go to `receiver` as they arrive (and its end,
        to `ended`); the bytes held and not read yet are returned, for the caller to take
        first."""
        self._receiver = receiver
        raw = await tappable(self._writer).tap(self)
        if raw and not self._ended:
            self._take(raw)
        held = bytes(self._buffer)
        self._buffer.clear()
        if self._ended:
            asyncio.get_running_loop().call_soon(self._tell_the_end)
        return held

    def received(self, data: bytes) -> None:
        """The connection's bytes, once tapped."""
        if self._ended:
            return
        self._take(data)
        if self._buffer and self._receiver is not None:
            message = bytes(self._buffer)
            self._buffer.clear()
            self._receiver.received(message)
        if self._ended:
            self._tell_the_end()

    def ended(self) -> None:
        """The connection's end, once tapped."""
        if not self._ended:
            self._take(b"")
        self._tell_the_end()

    def _tell_the_end(self) -> None:
        if self._receiver is not None and not self._told_the_end:
            self._told_the_end = True
            self._receiver.ended()

    # ------------------------------------------------------------ writing

    @property
    def transport(self) -> asyncio.BaseTransport:
        """The connection's transport (what is buffered for the client is read from it)."""
        return self._writer.transport

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """One binary message: framed here (the door negotiates no extension, so a server's
        frame is a header and the bytes), one write, one copy."""
        if self._ws.state is ConnectionState.OPEN:
            self._writer.write(binary_frame_header(len(data)) + data)

    async def drain(self) -> None:
        await self._writer.drain()

    def close(self) -> None:
        self._send_close(NORMAL_CLOSURE)
        self._writer.close()

    async def wait_closed(self) -> None:
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    def _send_close(self, code: int, reason: str | None = None) -> None:
        if self._ws.state is ConnectionState.OPEN and not self._writer.is_closing():
            with contextlib.suppress(Exception):
                self._writer.write(self._ws.send(CloseConnection(code=code, reason=reason)))


def binary_frame_header(length: int) -> bytes:
    """The header of a server's final, unmasked binary frame of `length` bytes (RFC 6455
    section 5.2: FIN and opcode 0x2, then the length in 7 bits, or 126 and 16 bits, or 127
    and 64 bits)."""
    if length < SHORT_LENGTH:
        return bytes((BINARY_FINAL, length))
    if length < MEDIUM_LENGTH:
        return bytes((BINARY_FINAL, 126)) + length.to_bytes(2, "big")
    return bytes((BINARY_FINAL, 127)) + length.to_bytes(8, "big")
