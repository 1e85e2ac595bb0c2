"""What AWS IoT Core's message broker does for a client once a door has let it in, whichever
door (mutual TLS, `swan.local.gateway`; a signed WebSocket, `swan.local.web_gateway`).

Its CONNECT is read whole and held to the limits (size, client id, one a second per client
id, its last will's topic), then the client is piped to a broker listener (a unix socket of
Mosquitto), every MQTT packet framed both ways (no copies: memoryview slices of what was
read, runs of packets passed on with one write), in the callback that read it (no task woken
per read: broker -> client in `ToDevice`, fed by `swan.local.gateway_link.BrokerLink`, client
-> broker in `FromDevice`, fed by the door's connection once tapped:
`swan.local.client_link`), and held to AWS IoT Core's message broker: its limits and its
answers, and every policy of the client's principal, evaluated together for Publish,
Subscribe and Receive (`swan.local.core.broker_limits` says which limits, which answers, and
where they are documented). Refused connections and packets kept back are counted by
reason; live connections are filed by key (a certificate id, an access key id), so that a
door can close those of a key at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from swan.local.core.broker_limits import (
    AWS_LIMITS,
    BrokerLimits,
    ConnectRate,
    DeviceSession,
    Disconnect,
    Outcome,
    Refuse,
    Wait,
)
from swan.local.core.mqtt_packets import (
    CONNECT,
    CONNECTION_RATE_EXCEEDED,
    MQTT5,
    MalformedPacketError,
    decode_remaining_length,
    encode_connack,
    fixed_header,
    parse_connect,
    with_keep_alive,
)
from swan.local.gateway_link import BrokerLink, ClientSink, Holds
from swan.local.unix_socket import connect_unix_protocol

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable
    from pathlib import Path

    from swan.local.client_link import Receiver
    from swan.local.core.mqtt_packets import Connect
    from swan.local.core.policy import Principal
    from swan.local.listener import Listener

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 5.0
_ARRIVING = ""  # where connections not yet piped are filed (no key is empty)
UNACKNOWLEDGED = "unacknowledged"  # why a side is held: AWS's quota of unacknowledged publishes
PARKED_HIGH_WATER = 256 * 1024  # bytes of messages parked for a device before the broker waits


class ByteSource(Protocol):
    """What the relay reads a client from: a TLS stream, or a WebSocket's messages; read as a
    stream until the client is piped, then tapped (`swan.local.client_link`)."""

    async def read(self, n: int = -1) -> bytes: ...
    async def readexactly(self, n: int) -> bytes: ...
    async def tap(self, receiver: Receiver) -> bytes: ...


class ByteSink(Protocol):
    """What the relay writes a client (or the broker) to."""

    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Admitted:
    """A client let in: `key` files its live connections (a certificate id, an access key
    id), `principal` holds its policies, `upstream` is the broker listener it is piped to,
    `touch` notes it was seen; `closes_at` (the loop's clock) ends it, if given."""

    key: str
    principal: Principal
    upstream: Path
    touch: Callable[[], None] = lambda: None
    closes_at: float | None = None


class Relay:
    """The connections of one event loop's doors, and what they may do once in."""

    def __init__(self, limits: BrokerLimits = AWS_LIMITS) -> None:
        self.limits = limits
        self._connects = ConnectRate(limits.connects_per_second_per_client)
        self.connect_timeout = CONNECT_TIMEOUT
        self._live: dict[str, set[ByteSink]] = defaultdict(set)
        self.refused: dict[str, int] = defaultdict(int)  # reason -> count
        self.dropped: dict[str, int] = defaultdict(int)  # packets kept back: reason -> count
        self._handlers: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------ bookkeeping

    def live_connections(self, key: str) -> int:
        return len(self._live.get(key, ()))

    def close_live(self, key: str) -> None:
        """Close every live connection filed under `key` (a revoked certificate's, say)."""
        for writer in list(self._live.get(key, ())):
            log.info("closing a connection of %s...", key[:12])
            writer.close()

    def track(self, task: asyncio.Task[Any] | None, writer: ByteSink) -> None:
        """Count a connection's handler in, so that stopping waits for it to finish, and
        its connection, so that stopping closes it even before it is piped (a client still
        in its handshake or yet to send CONNECT would otherwise hold the stop up)."""
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        self._live[_ARRIVING].add(writer)

    def settled(self, writer: ByteSink) -> None:
        """The connection `track` counted in has ended."""
        self._live[_ARRIVING].discard(writer)

    @contextlib.asynccontextmanager
    async def holding(self, writer: asyncio.StreamWriter) -> AsyncIterator[None]:
        """A connection's life in its handler: counted in (`track`) while it runs, out and
        closed when it ends, however it ends."""
        self.track(asyncio.current_task(), writer)
        try:
            yield
        finally:
            self.settled(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self, servers: Iterable[Listener]) -> None:
        """Stop: the servers stop accepting, every connection is closed, and every handler
        is let finish (they may note "last seen" somewhere the caller closes next)."""
        servers = list(servers)
        for server in servers:
            server.close()
        for writers in list(self._live.values()):
            for writer in list(writers):
                writer.close()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=SHUTDOWN_TIMEOUT)
        for server in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), SHUTDOWN_TIMEOUT)

    def refuse(self, reason: str, who: str) -> None:
        """Count and log one refused connection (`who`: what it presented)."""
        self.refused[_key(reason)] += 1
        log.info("refused %s: %s", who, reason)

    # ------------------------------------------------------------ the CONNECT

    async def first_connect(self, who: str, reader: ByteSource) -> tuple[bytes, Connect] | None:
        """The client's CONNECT, read, parsed, and its client id one AWS takes; None:
        refused (one log line)."""
        packet = await self.read_connect(who, reader)
        if packet is None:
            return None
        connect = parse_connect(packet)
        problem = self.limits.client_id_problem(connect.client_id)
        if problem is not None:
            self.refuse(f"bad CONNECT: {problem}", who)
            return None
        return packet, connect

    async def read_connect(self, who: str, reader: ByteSource) -> bytes | None:
        """The client's CONNECT, whole and well formed, or None (refused, one log line)."""
        try:
            packet = await asyncio.wait_for(
                _read_connect(reader, self.limits.payload_bytes), self.connect_timeout
            )
            parse_connect(packet)
        except MalformedPacketError as error:
            self.refuse(f"bad CONNECT: {error.problem}", who)
        except TimeoutError:
            self.refuse(f"bad CONNECT: none within {self.connect_timeout:g} s", who)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.refuse("bad CONNECT: the connection closed before it ended", who)
        else:
            return packet
        return None

    # ------------------------------------------------------------ the pipe

    async def pipe(
        self,
        admitted: Admitted,
        packet: bytes,
        reader: ByteSource,
        writer: ClientSink,
    ) -> None:
        """Relay a client whose CONNECT (`packet`) its principal may make: refused if its
        last will is not its to publish, else piped to the broker, packet by packet, every
        one held to the limits and the principal's policies, until either side closes (or
        `admitted.closes_at`, on the loop's clock)."""
        connect = parse_connect(packet)
        if not self.limits.allows_the_will(connect, admitted.principal):
            will = "retained last will" if connect.will_retain else "last will"
            why = f"the policies do not allow its {will}'s topic {connect.will_topic!r}"
            self.refuse(why, admitted.key[:12])
            return
        loop = asyncio.get_running_loop()
        if not self._connects.admit(connect.client_id, loop.time()):
            self.refuse(
                "connection rate exceeded: one CONNECT a second per client id", admitted.key[:12]
            )
            if connect.protocol == MQTT5:
                writer.write(encode_connack(CONNECTION_RATE_EXCEEDED, mqtt5=True))
            return
        keep_alive = self.limits.keep_alive(connect.keep_alive)
        if keep_alive != connect.keep_alive:  # the broker keeps the period AWS would
            packet = with_keep_alive(packet, connect, keep_alive)
        session = DeviceSession(
            admitted.principal,
            mqtt5=connect.protocol == MQTT5,
            now=loop.time(),
            limits=self.limits,
            new_session=connect.clean_start,
        )
        to_device = ToDevice(self, session, writer)
        broker = await connect_unix_protocol(
            admitted.upstream,
            BrokerLink(
                writer,
                to_device.pass_on,
                lambda ending: log.warning("closing a client connection: %s", ending.reason),
                lambda size: session.bytes_delay(loop.time(), size),
            ),
            within=self.connect_timeout,
        )
        self._live[admitted.key].add(writer)
        admitted.touch()
        ending = None
        if admitted.closes_at is not None:
            ending = loop.call_at(admitted.closes_at, self._expired, connect.client_id, writer)
        log.info("client %s connected (%s...)", connect.client_id, admitted.key[:12])
        from_device = FromDevice(
            self, session, broker, writer, connect.client_id, to_device.device_sent
        )
        to_device.then = from_device.broker_sent  # the broker's PUBACKs may let the device go on
        try:
            broker.write(packet)
            from_device.received(await reader.tap(from_device))
            await asyncio.gather(from_device.done, broker.closed)
        finally:
            if ending is not None:
                ending.cancel()
            self._live[admitted.key].discard(writer)
            broker.close()
            admitted.touch()
            log.info("client %s disconnected", connect.client_id)

    def _expired(self, client_id: str, writer: ByteSink) -> None:
        log.info("client %s disconnected: its credentials expired", client_id)
        self.dropped["credentials expired"] += 1
        writer.close()

    def _pass_on(
        self,
        data: bytes,
        decide: Callable[[int, memoryview], Outcome],
        onward: ByteSink,
        back: ByteSink,
        too_large: Callable[[int, int], Disconnect | None] | None,
        park: Callable[[memoryview], None] | None = None,
    ) -> tuple[int, Disconnect | None]:
        """Frame the whole packets in `data`, pass them on in runs (one write each) and act
        on the decisions; (where the first incomplete packet starts, a Disconnect). A packet
        told to `Wait` is given to `park` and the packets after it are decided in turn;
        without `park`, it is where the packets passed on end."""
        view = memoryview(data)
        end = len(data)
        big = self.limits.payload_bytes
        start = run = 0
        try:
            while start < end and (header := fixed_header(data, start)) is not None:
                body, length = header
                if length > big and too_large and (verdict := too_large(data[start], length)):
                    return start, verdict  # before it is all read: never buffered
                stop = body + length
                if stop > end:
                    break
                outcome = decide(data[start], view[body:stop])
                if outcome is not None:
                    if run < start:
                        onward.write(view[run:start])
                    if isinstance(outcome, Disconnect):
                        return start, outcome
                    if not self._set_aside(outcome, view[start:stop], onward, back, park):
                        return start, None  # it and what follows wait, with the caller
                    run = stop
                start = stop
        except MalformedPacketError as error:
            return start, Disconnect(error.problem)
        if run < start:
            onward.write(view[run:start])
        return start, None

    def _set_aside(
        self,
        outcome: Refuse | Wait,
        packet: memoryview,
        onward: ByteSink,
        back: ByteSink,
        park: Callable[[memoryview], None] | None,
    ) -> bool:
        """Keep a refused packet back, or park one that waits; False: nowhere to park it."""
        if not isinstance(outcome, Wait):
            self._keep_back(outcome, onward, back)
        elif park is None:
            return False
        else:
            park(packet)
        return True

    def _keep_back(self, refused: Refuse, onward: ByteSink, back: ByteSink) -> None:
        self.dropped[_key(refused.reason)] += 1
        log.debug("packet kept back: %s", refused.reason)
        if refused.reply:
            back.write(refused.reply)
        if refused.instead:
            onward.write(refused.instead)


async def _read_connect(reader: ByteSource, limit: int) -> bytes:
    """The client's first packet, which must be a CONNECT of at most `limit` bytes (AWS
    "rejects publish and connect requests larger than" its message size)."""
    first = await reader.readexactly(1)
    if first[0] != CONNECT:
        raise MalformedPacketError("the first packet must be CONNECT")
    header = b""
    while (decoded := decode_remaining_length(header)) is None:
        header += await reader.readexactly(1)
    length, _ = decoded
    if length > limit:
        raise MalformedPacketError(f"a CONNECT of {length} bytes (at most {limit})")
    return first + header + await reader.readexactly(length)


class FromDevice:
    """Device -> broker, in the callback that read it: every packet framed and decided
    (`Relay._pass_on`) and passed on in runs. Three things hold the device up (it is not
    read meanwhile, and what is in flight waits): AWS's throughput limit, which delays what
    exceeds it ("delayed in processing": bytes past the limit wait until it allows them),
    AWS's quota of QoS 1 publishes the broker has not acknowledged (past it, a publish waits
    until a PUBACK has passed back: `broker_sent`), and a broker that does not keep up
    (until it has taken what was written). `done` once the device has ended, or was
    disconnected."""

    def __init__(
        self,
        relay: Relay,
        session: DeviceSession,
        broker: BrokerLink,
        back: ClientSink,
        client_id: str,
        then: Callable[[], None],
    ) -> None:
        """`then` is called after each run of packets passed on (the device's PUBACKs may
        let the broker's messages go on: `ToDevice.device_sent`)."""
        self._relay = relay
        self._session = session
        self._broker = broker
        self._back = back
        self._client_id = client_id
        self._then = then
        self._loop = asyncio.get_running_loop()
        self._held = b""  # what is not passed on yet: a packet's start, what came held up
        self._uncharged = 0  # bytes not charged to the throughput limit yet
        # Why the device is not read: "throughput", "broker" (its buffer is full),
        # UNACKNOWLEDGED (AWS's quota of QoS 1 publishes the broker has not acknowledged).
        self._holds = Holds(lambda: back.transport, self._go)
        self._waiting = False  # held for UNACKNOWLEDGED
        self.done: asyncio.Future[None] = self._loop.create_future()

    def received(self, data: bytes) -> None:
        if self.done.done() or not data:
            return
        self._held = self._held + data if self._held else data
        self._uncharged += len(data)
        self._go()

    def ended(self) -> None:
        self._end()

    def _go(self) -> None:
        if self._holds or self.done.done():
            return
        if self._uncharged:  # bytes past the throughput wait, the device unread
            delay = self._session.bytes_delay(self._loop.time(), self._uncharged)
            self._uncharged = 0
            if self._holds.hold_for("throughput", delay):
                return
        if self._held:  # (a packet's start alone is framed again: it stays held)
            self._pass_on()

    def _pass_on(self) -> None:
        data, session, now = self._held, self._session, self._loop.time()

        def decide(first: int, body: memoryview) -> Outcome:
            return session.from_device(first, body, now)

        try:
            used, ending = self._relay._pass_on(  # noqa: SLF001  (its relay's)
                data, decide, self._broker, self._back, session.too_large
            )
        except Exception:
            log.exception("device connection failed")
            self._back.close()
            self._end()
            return
        if ending is not None:
            log.info("client %s disconnected by the gateway: %s", self._client_id, ending.reason)
            self._relay.dropped[_key(ending.reason)] += 1
            if ending.reply:
                self._back.write(ending.reply)
            self._back.close()
            self._end()
            return
        self._held = data[used:]
        self._then()
        if self._held and not self._session.accepts_publishes:
            self._holds.hold(UNACKNOWLEDGED)  # until the broker's PUBACKs make room
            self._waiting = True
        if self._broker.when_writable(lambda: self._holds.release("broker")):
            self._holds.hold("broker")

    def broker_sent(self) -> None:
        """The broker has sent the device something: if it held the device up for AWS's
        unacknowledged publishes and its PUBACKs made room, the device goes on."""
        if self._waiting and self._session.accepts_publishes:  # (called for every read)
            self._waiting = False
            self._holds.release(UNACKNOWLEDGED)

    def _end(self) -> None:
        self._broker.close()
        if not self.done.done():
            self.done.set_result(None)


class ToDevice:
    """Broker -> device, in the callback that read it (`BrokerLink`): every packet framed and
    decided (`Relay._pass_on`) and passed on in runs. Past AWS's quota of messages the device
    has not acknowledged, a message waits: it is parked, and every message after it, in
    order, while the packets that are not messages (PUBACKs, SUBACKs, PINGRESPs) go on. The
    device's PUBACKs (`device_sent`) let the parked ones go on as far as the quota allows.
    Past `PARKED_HIGH_WATER` bytes parked, the broker is not read until they are under it."""

    def __init__(self, relay: Relay, session: DeviceSession, client: ClientSink) -> None:
        self._relay = relay
        self._session = session
        self._client = client
        # called after each run of packets passed on (`FromDevice.broker_sent`)
        self.then: Callable[[], None] = _nothing
        self._loop = asyncio.get_running_loop()
        self._parked: list[bytes] = []
        self._parked_size = 0
        self._link: BrokerLink | None = None

    def pass_on(self, data: bytes, link: BrokerLink) -> tuple[int, Disconnect | None]:
        """What `BrokerLink` calls with what the broker sent."""
        self._link = link
        # In order: while messages are parked there is no room (the device's PUBACKs make
        # room, and `device_sent` then passes the parked ones on until there is none), so a
        # message that comes now is parked after them.
        passed = self._relay._pass_on(data, self._decide(), self._client, link, None, self._park)  # noqa: SLF001  (its relay's)
        self.then()
        return passed

    def _decide(self) -> Callable[[int, memoryview], Outcome]:
        session, now = self._session, self._loop.time()

        def decide(first: int, body: memoryview) -> Outcome:
            return session.from_broker(first, body, now)

        return decide

    def _park(self, packet: memoryview) -> None:
        self._parked.append(bytes(packet))
        self._parked_size += len(packet)
        if self._parked_size > PARKED_HIGH_WATER and self._link is not None:
            self._link.hold(UNACKNOWLEDGED)

    def device_sent(self) -> None:
        """The device has sent the broker something: if its PUBACKs made room, the parked
        messages go on, in order, as far as the quota allows."""
        link = self._link
        if not self._parked or link is None or not self._session.sends_publishes:
            return
        parked = b"".join(self._parked)
        used, ending = self._relay._pass_on(parked, self._decide(), self._client, link, None)  # noqa: SLF001
        rest = parked[used:]
        self._parked = [rest] if rest else []
        self._parked_size = len(rest)
        if ending is not None:  # they were decided once: only a broken session would
            log.warning("closing a client connection: %s", ending.reason)
            link.close()
            self._client.close()
        elif self._parked_size <= PARKED_HIGH_WATER:
            link.release(UNACKNOWLEDGED)


def _nothing() -> None:
    pass


def _key(reason: str) -> str:
    return reason.split(":", maxsplit=1)[0]


def quiet_exceptions(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A doors' loop's exception handler: failed TLS handshakes (no certificate, unknown CA,
    expired, random bytes) are a door doing its job: a debug line, not an error with a
    traceback."""
    error = context.get("exception")
    if isinstance(error, ssl.SSLError | ConnectionError | TimeoutError):
        log.debug("connection refused at TLS: %s", error)
        return
    loop.default_exception_handler(context)
