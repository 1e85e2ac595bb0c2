"""One client's connection to the broker, as the gateway holds it: a protocol, not a stream.

What the broker sends a client (every viewer's copy of a documents message, say) is framed,
decided and written to the client in the callback that received it: no task is woken and no
future made per message, which is most of what a stream reader costs per packet and what a
fan-out to thousands of clients pays thousands of times. The decisions are the gateway's
own (`pass_on`), unchanged. Flow control both ways: a client that does not read fast enough
pauses the reading from the broker until its buffer drains (as awaiting its `drain` did);
what the client sends the broker is written with `write` and paced by `when_writable` (the
client is not read while the broker's buffer is full: `swan.local.relay.FromDevice`). What
the broker sends is also charged to the client's throughput (`charge`: AWS processes "data
received or sent over a client connection" at 512 KiB/s and delays what exceeds it): past
it, what came is held and the broker is not read until the limit allows.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final, Protocol, cast

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.local.core.broker_limits import Disconnect

CLIENT_HIGH_WATER: Final = 64 * 1024  # bytes buffered for a client before the broker waits


class ClientSink(Protocol):
    """What the link writes a client to: a TLS stream, or a WebSocket."""

    @property
    def transport(self) -> asyncio.BaseTransport: ...

    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    async def drain(self) -> None: ...
    def close(self) -> None: ...


class Holds:
    """Why one side of a pipe is not read (a full buffer on the other side, AWS's throughput
    limit): the side's transport is paused at the first reason and resumed when the last is
    released, then `resumed` is called to go on with what it holds. Used both ways: the
    broker's side (`BrokerLink`) and the client's (`swan.local.relay.FromDevice`)."""

    def __init__(
        self, transport: Callable[[], asyncio.BaseTransport | None], resumed: Callable[[], None]
    ) -> None:
        self._transport = transport
        self._resumed = resumed
        self._reasons: set[str] = set()
        self._loop = asyncio.get_running_loop()

    def __bool__(self) -> bool:
        return bool(self._reasons)

    def __contains__(self, why: str) -> bool:
        return why in self._reasons

    def hold(self, why: str) -> None:
        if not self._reasons:
            self._reading(paused=True)
        self._reasons.add(why)

    def hold_for(self, why: str, seconds: float) -> bool:
        """Hold for `seconds`, if more than none (AWS's throughput: what exceeds it waits);
        whether it holds."""
        if seconds <= 0:
            return False
        self.hold(why)
        self._loop.call_later(seconds, self.release, why)
        return True

    def release(self, why: str) -> None:
        """Let go of `why` (nothing, if it does not hold); the last one resumes the side."""
        if why not in self._reasons:
            return
        self._reasons.discard(why)
        if not self._reasons:
            self._reading(paused=False)
            self._resumed()

    def _reading(self, *, paused: bool) -> None:
        # A stream's transport: asyncio's, or an event loop's own (uvloop's).
        transport = cast("asyncio.ReadTransport | None", self._transport())
        if transport is None or transport.is_closing():
            return
        if paused:
            transport.pause_reading()
        else:
            transport.resume_reading()


class BrokerLink(asyncio.Protocol):
    """The broker's side of one piped client (see the module's docstring)."""

    def __init__(
        self,
        client: ClientSink,
        pass_on: Callable[[bytes, BrokerLink], tuple[int, Disconnect | None]],
        on_ending: Callable[[Disconnect], None],
        charge: Callable[[int], float] = lambda _size: 0.0,
    ) -> None:
        """`pass_on(data, link)` frames the whole packets of `data`, writes those the client
        may have to it (and answers for the others on `link`) and says where the first
        incomplete packet starts, or that the client must be disconnected (`on_ending`).
        `charge(size)`: the seconds the broker must wait after sending `size` bytes."""
        self._client = client
        self._buffered = _buffer_size(client)  # looked up once: asked after every read
        self._pass_on = pass_on
        self._on_ending = on_ending
        self._charge = charge
        self._transport: asyncio.Transport | None = None
        self._held = b""  # what is not passed on yet: a packet's start, what came held up
        self._uncharged = 0  # bytes not charged to the throughput limit yet
        self._paused: asyncio.Future[None] | None = None  # writes to the broker paused
        # Why the broker is not read: "client" (its buffer is full), "throughput".
        self._holds = Holds(lambda: self._transport, self._go)
        self._drainer: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[None] = self._loop.create_future()

    # ------------------------------------------------------------ from the broker

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A unix stream's transport: asyncio's, or an event loop's own (uvloop's do not
        # subclass asyncio.Transport, but are one).
        self._transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        if self.closed.done():
            return
        self._held = self._held + data if self._held else data
        self._uncharged += len(data)
        self._go()

    def _go(self) -> None:
        if self._holds or self.closed.done():
            return
        if self._uncharged:  # past the client's throughput: held, the broker not read, till paid
            delay, self._uncharged = self._charge(self._uncharged), 0
            if self._holds.hold_for("throughput", delay):
                return
        if self._held:  # (a packet's start alone is framed again: it stays held)
            self._pass_held()

    def _pass_held(self) -> None:
        whole = self._held
        used, ending = self._pass_on(whole, self)
        if ending is not None:
            self._on_ending(ending)
            self.close()
            self._client.close()
            return
        self._held = whole[used:]
        if "client" not in self._holds and self._buffered() > CLIENT_HIGH_WATER:
            self._wait_for_client()

    def eof_received(self) -> bool:
        return False  # the broker is done: close

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002  (any cause)
        self._client.close()
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        if not self.closed.done():
            self.closed.set_result(None)

    def _wait_for_client(self) -> None:
        """Stop reading the broker until the client's buffer has drained."""
        if self._transport is None:
            return
        self._holds.hold("client")
        self._drainer = self._loop.create_task(self._client_drained())

    async def _client_drained(self) -> None:
        try:
            await self._client.drain()
        except (ConnectionError, OSError):
            self.close()
            return
        self._holds.release("client")

    def hold(self, why: str) -> None:
        """Stop reading the broker until `release(why)` (a client's parked messages)."""
        self._holds.hold(why)

    def release(self, why: str) -> None:
        self._holds.release(why)

    # ------------------------------------------------------------ to the broker

    def pause_writing(self) -> None:
        if self._paused is None or self._paused.done():
            self._paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def when_writable(self, then: Callable[[], None]) -> bool:
        """Whether writes to the broker are paused (its buffer is full); if so, `then` is
        called once they resume (or the broker is gone)."""
        if self._paused is None or self._paused.done():
            return False
        self._paused.add_done_callback(lambda _: then())
        return True

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _buffer_size(client: ClientSink) -> Callable[[], int]:
    """What the client's transport holds unsent, as a call. Any write transport has it,
    asyncio's or an event loop's own (uvloop's)."""
    size = getattr(client.transport, "get_write_buffer_size", None)
    return size if callable(size) else _nothing_buffered


def _nothing_buffered() -> int:
    return 0
