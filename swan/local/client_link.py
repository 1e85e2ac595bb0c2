"""A client's connection to a door, as the gateway reads it: a stream until the client is
piped, then a protocol.

A door reads what comes before the pipe (a WebSocket upgrade, the CONNECT) as a stream: a
few reads a connection, awaited in order. Once the client is piped, what it sends (every
viewer's PUBACK of every push, say) is handed to a `Receiver` in the callback that received
it, as `swan.local.gateway_link.BrokerLink` hands on what the broker sends: no task is woken
and no future made per read, which is most of what a stream reader costs per packet. The
stream's writer is unchanged (its flow control, closing and `wait_closed`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


class Receiver(Protocol):
    """What takes a piped client's bytes, as they arrive."""

    def received(self, data: bytes) -> None: ...
    def ended(self) -> None:
        """The client has sent its last byte (an end of file, or the connection is lost)."""


class TappableProtocol(asyncio.StreamReaderProtocol):
    """A stream's protocol whose reads can be handed to a `Receiver` (`tap`): from then on,
    what arrives goes to it instead of the stream's reader."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        on_client: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
        | None = None,
    ) -> None:
        """`on_client(reader, writer)` is called once connected, as `asyncio.start_server`
        calls it (None: the caller makes the writer)."""
        super().__init__(reader, on_client)
        self._reader = reader
        self._receiver: Receiver | None = None
        self._ended = False

    async def tap(self, receiver: Receiver) -> bytes:
        """Hand what arrives from now on to `receiver`; what the reader held and nobody read
        yet is returned, for the caller to take first. Once the client has ended,
        `receiver.ended` is called at once (after this returns)."""
        self._reader.feed_eof()  # so that reading what is held does not wait for more
        try:
            held = await self._reader.read()  # never suspends: the reader is at its end
        except (ConnectionError, OSError):  # the connection was lost with an error
            held = b""
            self._ended = True
        self._receiver = receiver
        if self._ended:
            asyncio.get_running_loop().call_soon(receiver.ended)
        return held

    def data_received(self, data: bytes) -> None:
        if self._receiver is None:
            super().data_received(data)
        else:
            self._receiver.received(data)

    def eof_received(self) -> bool | None:
        self._end()
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()
        super().connection_lost(exc)

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        if self._receiver is not None:
            self._receiver.ended()


def tappable(writer: asyncio.StreamWriter) -> TappableProtocol:
    """The protocol of a door's connection (`swan.local.listener` makes them so)."""
    protocol = writer.transport.get_protocol()
    if not isinstance(protocol, TappableProtocol):
        raise TypeError(f"not a door's connection: its protocol is {type(protocol).__name__}")
    return protocol


class ClientStream:
    """A door's connection, read as a stream (`read`, `readexactly`) until it is tapped."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._protocol = tappable(writer)

    async def read(self, n: int = -1) -> bytes:
        return await self._reader.read(n)

    async def readexactly(self, n: int) -> bytes:
        return await self._reader.readexactly(n)

    async def tap(self, receiver: Receiver) -> bytes:
        """What arrives from now on goes to `receiver`; what was held is returned."""
        return await self._protocol.tap(receiver)
