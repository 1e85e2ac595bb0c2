"""The gateway's listening sockets: connections that have not said anything yet cost little,
are bounded in number and time, and never crowd out a client that does its handshake.

`asyncio.start_server(ssl=...)` makes a TLS object for every TCP connection at once (about
290 KB each, measured; issue 17: 3,000 half-open connections took the stack from 90 MB to
900 MB, and the memory never came back). Here a connection goes through two stages:
1. **arriving**: accepted, nothing read yet. It costs a socket and a future until its first
   byte (the ClientHello) arrives, at most `arriving_seconds`; one that closes instead, or
   whose first byte cannot start a TLS handshake, is closed there;
2. **handshaking**: the TLS handshake (or, without TLS, nothing: the connection is handed on
   at its first byte), at most `handshake_seconds`.
Each stage holds at most `per_source` connections from one address and `total` in all;
past either bound the *oldest* connection of that stage (from that address first) is
closed to make room, so a flood of silent connections churns through the bounds while a
client that speaks at once gets through within its round trips. Then `on_client(reader,
writer)` takes the connection, as `asyncio.start_server` would call it (its protocol can be
tapped once the client is piped: `swan.local.client_link`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
from asyncio import sslproto
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from swan.adapters.event_loop import has_own_tls
from swan.local.client_link import TappableProtocol

if TYPE_CHECKING:
    import ssl
    from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

BACKLOG: Final = 4096
TLS_RECORD: Final = 2**14  # the most plaintext one TLS record carries
TLS_HANDSHAKE: Final = 0x16  # a TLS record of type handshake: every ClientHello starts so


@dataclass(frozen=True)
class Bounds:
    """How many connections one stage holds, from one address and in all, and for how long."""

    per_source: int = 256
    total: int = 1024
    seconds: float = 10.0


ARRIVING: Final = Bounds(per_source=2048, total=8192, seconds=10.0)
HANDSHAKING: Final = Bounds(per_source=256, total=512, seconds=10.0)


class Stage:
    """The connections in one stage, oldest first; `enter` makes room by closing the oldest."""

    def __init__(self, name: str, bounds: Bounds) -> None:
        self.name = name
        self.bounds = bounds
        self._tasks: OrderedDict[asyncio.Task[Any], str] = OrderedDict()
        self._by_source: defaultdict[str, int] = defaultdict(int)
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._tasks)

    def enter(self, task: asyncio.Task[Any], source: str) -> None:
        if self._by_source[source] >= self.bounds.per_source:
            self._evict(next(t for t, s in self._tasks.items() if s == source))
        if len(self._tasks) >= self.bounds.total:
            self._evict(next(iter(self._tasks)))
        self._tasks[task] = source
        self._by_source[source] += 1

    def leave(self, task: asyncio.Task[Any]) -> None:
        source = self._tasks.pop(task, None)
        if source is None:
            return
        self._by_source[source] -= 1
        if not self._by_source[source]:
            del self._by_source[source]

    def _evict(self, task: asyncio.Task[Any]) -> None:
        self.leave(task)
        self.evicted += 1
        task.cancel()


class Listener:
    """One listening socket; `close` stops accepting (connections already handed on stay)."""

    def __init__(
        self,
        sock: socket.socket,
        on_client: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
        ssl_context: ssl.SSLContext | None,
        *,
        arriving: Bounds = ARRIVING,
        handshaking: Bounds = HANDSHAKING,
    ) -> None:
        self.sockets = [sock]
        self._on_client = on_client
        self._ssl = ssl_context
        self.arriving = Stage("arriving", arriving)
        self.handshaking = Stage("handshaking", handshaking)
        self._accepting: asyncio.Task[None] | None = None
        self._clients: set[asyncio.Task[Any]] = set()
        self.refused = 0  # handshakes that failed or timed out

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        on_client: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
        ssl_context: ssl.SSLContext | None = None,
        **bounds: Bounds,
    ) -> Listener:
        sock = socket.create_server((host, port), backlog=BACKLOG, reuse_port=False)
        sock.setblocking(False)  # noqa: FBT003  (socket's own API)
        listener = cls(sock, on_client, ssl_context, **bounds)
        listener._accepting = asyncio.get_running_loop().create_task(listener._accept())
        return listener

    def close(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
        for stage in (self.arriving, self.handshaking):
            for task in list(stage._tasks):  # noqa: SLF001  (its own stages)
                task.cancel()
        with contextlib.suppress(OSError):
            self.sockets[0].close()

    async def wait_closed(self) -> None:
        if self._accepting is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting

    # ------------------------------------------------------------ the stages

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        listening = self.sockets[0]
        while True:
            try:
                client, address = await loop.sock_accept(listening)
            except OSError as error:  # out of descriptors, say: wait, and go on
                log.warning("cannot accept a connection: %s", error)
                await asyncio.sleep(0.1)
                continue
            client.setblocking(False)  # noqa: FBT003  (socket's own API)
            task = loop.create_task(self._greet(client, str(address[0])))
            self._clients.add(task)
            task.add_done_callback(self._clients.discard)

    async def _greet(self, client: socket.socket, source: str) -> None:
        task = asyncio.current_task()
        assert task is not None  # noqa: S101  (a task runs this)
        handed_on = False
        try:
            self.arriving.enter(task, source)
            try:
                await asyncio.wait_for(_readable(client), self.arriving.bounds.seconds)
            finally:
                self.arriving.leave(task)
            first = client.recv(1, socket.MSG_PEEK)
            if not first or (self._ssl is not None and first[0] != TLS_HANDSHAKE):
                self.refused += 1  # gone, or not TLS: no TLS object is made for it
                _discard_sent(client)  # so the close is a FIN, not a reset
                return
            self.handshaking.enter(task, source)
            try:
                await asyncio.wait_for(self._connect(client), self.handshaking.bounds.seconds)
                handed_on = True
            finally:
                self.handshaking.leave(task)
        except (TimeoutError, OSError):
            self.refused += 1
        finally:
            if not handed_on:
                with contextlib.suppress(OSError):
                    client.close()

    async def _connect(self, client: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2**16)
        protocol = TappableProtocol(reader, self._on_client)
        if self._ssl is None:
            await loop.connect_accepted_socket(lambda: protocol, client)
            return
        timeout = math.ceil(self.handshaking.bounds.seconds)  # a bound on top
        if has_own_tls(loop):  # uvloop's TLS: in C, and its read buffer is not resident
            await loop.connect_accepted_socket(
                lambda: protocol, client, ssl=self._ssl, ssl_handshake_timeout=timeout
            )
            return
        # What `connect_accepted_socket(ssl=...)` does, with a TLS layer that reads a record
        # at a time (`RecordSizedTls`).
        handshaken: asyncio.Future[None] = loop.create_future()
        tls = RecordSizedTls(
            loop,
            protocol,
            self._ssl,
            handshaken,
            server_side=True,
            ssl_handshake_timeout=timeout,
        )
        transport, _ = await loop.connect_accepted_socket(lambda: tls, client)
        try:
            await handshaken
        except BaseException:
            transport.close()
            raise


class RecordSizedTls(sslproto.SSLProtocol):
    """asyncio's TLS layer, reading at most one TLS record's plaintext (2^14 bytes, RFC 8446
    section 5.1) at a time instead of 256 KiB: each connection holds a receive buffer of that
    size for its whole life (256 KiB resident per idle device, 2.5 GB for 10,000), and each
    read allocated that much before trimming it. A record never carries more, so nothing is
    read in more pieces than before."""

    max_size = TLS_RECORD


async def _readable(client: socket.socket) -> None:
    """Wait until the peer sends its first byte (or closes): nothing is read or allocated."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    descriptor = client.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(descriptor, wake)
    try:
        await ready
    finally:
        loop.remove_reader(descriptor)


def _discard_sent(client: socket.socket) -> None:
    """Read and drop what the peer has sent already (at most 64 KiB, without waiting)."""
    with contextlib.suppress(OSError):
        client.recv(65536)
