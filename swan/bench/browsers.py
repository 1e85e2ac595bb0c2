"""Pages of the web app without a browser: one websocket each, speaking what Reflex's
frontend speaks (`swan.bench.reflex_wire`), many of them on one asyncio loop.

A `Page` opens its websocket (wsproto over an asyncio stream), sends the CONNECT with the
hydrate event, answers the server's pings, and notes when each change of the shared
board's push count arrives. It renders nothing: what is measured is the backend's push to
every page, not a browser's drawing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TYPE_CHECKING

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

from swan.bench import reflex_wire
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

READ_SIZE = 65536


class PageError(SwanError, ConnectionError):
    """A page could not open its websocket, or the backend refused or dropped it."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"a page of the web app {problem}")


class Page:
    """One page's websocket to the backend at `host`:`port`."""

    def __init__(self, host: str, port: int, clock: Callable[[], float]) -> None:
        self.host = host
        self.port = port
        self.token = uuid.uuid4().hex
        self._clock = clock
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._text: list[str] = []
        self._hydrated = asyncio.Event()
        self._changed = asyncio.Event()
        self._failed: PageError | None = None
        # The board's push count as each change arrived: (pushes, arrival time).
        self.seen: list[tuple[int, float]] = []

    @property
    def pushes(self) -> int | None:
        """The board's push count as last seen (None: not seen yet)."""
        return self.seen[-1][0] if self.seen else None

    async def open(self) -> None:
        """Connect, hydrate and join the board (bounded by the caller); PageError if the
        backend refuses or drops the page, OSError if it cannot be reached."""
        reader, self._writer = await asyncio.open_connection(self.host, self.port)
        target = reflex_wire.event_target(self.token)
        self._send(Request(host=f"{self.host}:{self.port}", target=target))
        self._reader_task = asyncio.create_task(self._read(reader))
        await self._until(self._hydrated)

    async def wait_for_pushes(self, pushes: int) -> float | None:
        """When the board first showed at least `pushes` (None: the page was closed)."""
        while True:
            for seen, at in self.seen:
                if seen >= pushes:
                    return at
            if self._failed is not None or self._reader_task is None:
                return None
            self._changed.clear()
            await self._changed.wait()

    async def close(self) -> None:
        """Leave the namespace, close the websocket and the connection (best effort)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):  # the backend may be gone already
                writer.write(self._ws.send(TextMessage(data=reflex_wire.DISCONNECT)))
                writer.write(self._ws.send(CloseConnection(code=1000)))
                await writer.drain()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        task, self._reader_task = self._reader_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._changed.set()

    # ------------------------------------------------------------ the connection

    async def _until(self, event: asyncio.Event) -> None:
        waiting = asyncio.ensure_future(event.wait())
        reading = self._reader_task
        try:
            if reading is not None:
                await asyncio.wait({waiting, reading}, return_when=asyncio.FIRST_COMPLETED)
            else:
                await waiting
        finally:
            waiting.cancel()
        if self._failed is not None:
            raise self._failed
        if not event.is_set():
            raise PageError("lost its websocket")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                data = await reader.read(READ_SIZE)
                self._ws.receive_data(data or None)  # b"" / None: the peer closed
                for event in self._ws.events():
                    self._handle(event)
                if not data:
                    break
        except (OSError, PageError) as error:
            self._failed = error if isinstance(error, PageError) else PageError(str(error))
        finally:
            if self._failed is None:
                self._failed = PageError("was disconnected by the backend")
            self._changed.set()

    def _handle(self, event: Event) -> None:
        if isinstance(event, AcceptConnection):
            return
        if isinstance(event, RejectConnection):
            raise PageError(f"was refused its websocket (HTTP {event.status_code})")
        if isinstance(event, (Ping, CloseConnection)):
            self._send(event.response())
        elif isinstance(event, TextMessage):
            self._text.append(event.data)
            if event.message_finished:
                text, self._text = "".join(self._text), []
                self._on_packet(reflex_wire.parse(text))

    def _on_packet(self, packet: reflex_wire.Packet) -> None:
        if packet.kind == "open":
            self._send(TextMessage(data=reflex_wire.connect_packet()))
        elif packet.kind == "ping":
            self._send(TextMessage(data=reflex_wire.PONG))
        elif packet.kind == "refused":
            raise PageError(f"was refused by the backend: {packet.data}")
        elif packet.kind == "event":
            name, update = packet.data
            if name != "event":
                return
            pushes = reflex_wire.board_pushes(update)
            if pushes is not None:
                self.seen.append((pushes, self._clock()))
                self._changed.set()
            if reflex_wire.hydrated(update):
                self._hydrated.set()

    def _send(self, event: Event) -> None:
        if self._writer is not None:
            self._writer.write(self._ws.send(event))
