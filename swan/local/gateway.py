"""The device gateway: what AWS IoT Core's front door does, in front of Mosquitto.

It terminates mutual TLS on the device port and looks the client certificate up in the
registry by its AWS certificate id (SHA-256 of the DER):
- ACTIVE: the device's first packet must be a CONNECT whose client id is the thing the
  certificate is attached to (and its policies must allow the connect); then the bytes are
  piped to the broker's gateway listener, where the ACL derived from the same policies
  applies;
- unknown, but signed by a CA registered with auto-registration: registered as
  PENDING_ACTIVATION, the JITR event `$aws/events/certificates/registered/<caId>` is
  published with AWS's payload, and the connection is closed, as AWS does; a certificate
  still PENDING_ACTIVATION fires the event again;
- INACTIVE, REVOKED, unknown CA, expired, not yet valid, self-signed: refused.
Deactivating or revoking a certificate closes its live connections at once; a CA registered
while the gateway runs is trusted from the next handshake on.

Once a device is in, the gateway frames every MQTT packet both ways (no copies: memoryview
slices of what was read, runs of packets passed on with one write) and holds each to AWS IoT
Core's message broker: its limits and its answers, and every policy attached to the
certificate, evaluated together for Publish, Subscribe and Receive (`swan.local.core.broker_limits`
says which limits, which answers, and where they are documented). The policies are read at
the connect (AWS says a policy change takes minutes to apply): one attached, detached or changed
later applies from the device's next connection. A CONNECT that is malformed, too large or never
comes is refused with one log line, as is one whose last will the policies would not publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from swan.adapters import event_loop
from swan.adapters.descriptors import raise_descriptor_limit
from swan.certs.authority import der_certificate_id
from swan.core.topics import jitr_topic
from swan.local.core.broker_limits import (
    AWS_LIMITS,
    BrokerLimits,
    ConnectRate,
    DeviceSession,
    Disconnect,
    Outcome,
    Refuse,
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
from swan.local.core.policy import PolicyDocumentError
from swan.local.gateway_link import BrokerLink, ClientSink
from swan.local.listener import Listener
from swan.local.unix_socket import connect_unix_protocol

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence
    from pathlib import Path

    from swan.adapters.clock import Clock
    from swan.local.core.mqtt_packets import Connect
    from swan.local.core.policy import Principal

log = logging.getLogger(__name__)

ACTIVE = "ACTIVE"
PENDING_ACTIVATION = "PENDING_ACTIVATION"
CONNECT_TIMEOUT = 10.0
PIPE_CHUNK = 65536
LOCAL_ACCOUNT = "000000000000"
_ARRIVING = ""  # where connections not yet piped are filed (no certificate id is empty)


class CaRecordLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def pem(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def auto_registration(self) -> bool: ...


class CertificateRecordLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def arn(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def ca_id(self) -> str | None: ...


class CertificateRegistry(Protocol):
    """What the gateway needs from the registry (swan.local.registry)."""

    def certificate(self, certificate_id: str) -> CertificateRecordLike | None: ...
    def ca_for(self, certificate: x509.Certificate) -> CaRecordLike | None: ...
    def cas(self) -> Sequence[CaRecordLike]: ...
    def register_certificate(
        self, pem: bytes, *, ca_id: str | None, status: str
    ) -> CertificateRecordLike: ...
    def principal_things(self, principal_arn: str) -> Sequence[str]: ...
    def touch(self, certificate_id: str, now: float) -> None: ...
    def on_change(self, callback: Callable[[CertificateRecordLike], None]) -> None: ...
    def on_ca_change(self, callback: Callable[[CaRecordLike], None]) -> None: ...


class ByteSource(Protocol):
    """What the relay reads a client from: a TLS stream, or a WebSocket's messages."""

    async def read(self, n: int = -1) -> bytes: ...
    async def readexactly(self, n: int) -> bytes: ...


class ByteSink(Protocol):
    """What the relay writes a client (or the broker) to."""

    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    async def drain(self) -> None: ...
    def close(self) -> None: ...


class Door(Protocol):
    """Another way into the gateway (MQTT over WebSocket): its servers, opened on the
    gateway's loop; the gateway closes them when it stops."""

    async def open(self, gateway: DeviceGateway) -> list[Listener]: ...


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


@dataclass(frozen=True)
class GatewayPlan:
    host: str
    port: int
    cert_file: Path
    key_file: Path


class DeviceGateway:
    """The gateway on its own asyncio loop, in a thread."""

    def __init__(  # noqa: PLR0913  (each is a separate outside thing)
        self,
        plan: GatewayPlan,
        registry: CertificateRegistry,
        *,
        publish: Callable[[str, bytes], object],
        clock: Clock,
        upstream: Callable[[CertificateRecordLike], Path],
        principal: Callable[[CertificateRecordLike, str], Principal],
        limits: BrokerLimits = AWS_LIMITS,
        doors: Sequence[Door] = (),
    ) -> None:
        """`upstream` says which broker listener (a unix socket) a certificate's connections
        go to; `principal` gives the certificate's attached policies, all of them, for a
        connection with that client id; `limits` are AWS IoT Core's message broker limits;
        `doors` are other ways in (MQTT over WebSocket), opened on the gateway's loop."""
        self.plan = plan
        self._registry = registry
        self._publish = publish
        self._clock = clock
        self._upstream = upstream
        self._principal = principal
        self.limits = limits
        self._connects = ConnectRate(limits.connects_per_second_per_client)
        self.connect_timeout = CONNECT_TIMEOUT
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Listener | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._live: dict[str, set[ByteSink]] = defaultdict(set)
        self.refused: dict[str, int] = defaultdict(int)  # reason -> count
        self.dropped: dict[str, int] = defaultdict(int)  # packets kept back: reason -> count
        self._handlers: set[asyncio.Task[Any]] = set()
        self.port = plan.port  # the port bound, once started (plan.port may be 0)
        self.doors = tuple(doors)
        self._door_servers: list[Listener] = []
        registry.on_change(self._certificate_changed)
        registry.on_ca_change(self._ca_changed)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        raise_descriptor_limit()  # a connection is a descriptor (two, piped to the broker)
        self._thread = threading.Thread(target=self._run, name="device-gateway", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._failure is not None:
            raise self._failure
        log.info("device gateway on %s:%s", self.plan.host, self.port)

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        with contextlib.suppress(Exception):
            future.result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def live_connections(self, certificate_id: str) -> int:
        return len(self._live.get(certificate_id, ()))

    # ------------------------------------------------------------ the loop

    def _run(self) -> None:
        try:
            loop = event_loop.new_event_loop()  # a bad SWAN_EVENT_LOOP is reported too
            self._loop = loop
            loop.set_exception_handler(_quiet_exceptions)
            loop.run_until_complete(self._serve())
        except BaseException as error:  # noqa: BLE001  (reported to start())
            self._failure = error
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _serve(self) -> None:
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(self.plan.cert_file, self.plan.key_file)
        self._context.verify_mode = ssl.CERT_REQUIRED
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._load_trust()
        self._server = await Listener.open(
            self.plan.host, self.plan.port, self._handle, self._context
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        for door in self.doors:
            self._door_servers.extend(await door.open(self))

    def _load_trust(self) -> None:
        pems = [ca.pem for ca in self._registry.cas() if ca.status == ACTIVE]
        if pems:
            self._context.load_verify_locations(cadata="\n".join(pems))

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for server in self._door_servers:
            server.close()
        for writers in list(self._live.values()):
            for writer in list(writers):
                writer.close()
        # Let every connection's handler finish (they note "last seen" in the registry)
        # before the caller closes the registry.
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    # ------------------------------------------------------------ one device

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

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _no_delay(writer)
        async with self.holding(writer):
            try:
                record = self._admit(writer)
                if record is not None:
                    await self._relay(record, reader, writer)
            except Exception:
                log.exception("device connection failed")

    def _admit(self, writer: asyncio.StreamWriter) -> CertificateRecordLike | None:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        certificate = x509.load_der_x509_certificate(der)
        certificate_id = der_certificate_id(der)
        record = self._registry.certificate(certificate_id)
        if record is None:
            ca = self._registry.ca_for(certificate)
            if ca is None or ca.status != ACTIVE or not ca.auto_registration:
                self.refuse("unknown certificate", f"certificate {certificate_id[:12]}...")
                return None
            pem = certificate.public_bytes(Encoding.PEM)
            record = self._registry.register_certificate(
                pem, ca_id=ca.id, status=PENDING_ACTIVATION
            )
        if record.status == PENDING_ACTIVATION:
            self._announce(record)
            why = "pending activation (just-in-time registration)"
            self.refuse(why, f"certificate {certificate_id[:12]}...")
            return None
        if record.status != ACTIVE:
            self.refuse(f"certificate {record.status}", f"certificate {certificate_id[:12]}...")
            return None
        return record

    async def _relay(
        self,
        record: CertificateRecordLike,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        who = f"certificate {record.id[:12]}..."
        first = await self.first_connect(who, reader)
        if first is None:
            return
        packet, connect = first
        things = self._registry.principal_things(record.arn)
        if connect.client_id not in things:
            why = f"client id {connect.client_id!r} is not the certificate's thing {things}"
            self.refuse(why, who)
            return
        try:
            principal = self._principal(record, connect.client_id)
        except PolicyDocumentError as error:
            self.refuse(f"an attached policy cannot be evaluated: {error}", who)
            return
        if not principal.can_connect():
            self.refuse("the certificate's policies do not allow this connect", who)
            return

        def touch() -> None:
            self._registry.touch(record.id, self._clock.now())

        await self.pipe(
            Admitted(record.id, principal, self._upstream(record), touch),
            packet,
            reader,
            writer,
        )

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
        if not self._may_leave_a_will(admitted.principal, connect.will_topic):
            why = f"the policies do not allow its last will's topic {connect.will_topic!r}"
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
        )
        broker = await connect_unix_protocol(
            admitted.upstream,
            BrokerLink(
                writer,
                lambda data, link: self._pass_on(data, session.from_broker, writer, link, None),
                lambda ending: log.warning("closing a device connection: %s", ending.reason),
            ),
            within=self.connect_timeout,
        )
        self._live[admitted.key].add(writer)
        admitted.touch()
        ending = None
        if admitted.closes_at is not None:
            ending = loop.call_at(admitted.closes_at, self._expired, connect.client_id, writer)
        log.info("client %s connected (%s...)", connect.client_id, admitted.key[:12])
        try:
            broker.write(packet)
            await asyncio.gather(
                self._from_device(session, reader, broker, writer, connect.client_id),
                broker.closed,
            )
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

    def _may_leave_a_will(self, principal: Principal, topic: str | None) -> bool:
        """AWS refuses a connect whose last will it would not let the device publish
        (its lifecycle event says AUTHORIZATION_FAILED, "including when a Last Will topic is
        not authorized": https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html)."""
        if topic is None:
            return True
        return self.limits.topic_problem(topic) is None and principal.can_publish(topic)

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

    async def _from_device(
        self,
        session: DeviceSession,
        device: ByteSource,
        broker: ByteSink,
        back: ByteSink,
        client_id: str,
    ) -> None:
        """Device -> broker: every packet framed and decided; the throughput limit holds."""
        loop = asyncio.get_running_loop()
        held = b""
        try:
            while chunk := await device.read(PIPE_CHUNK):
                data = held + chunk if held else chunk
                now = loop.time()

                def decide(first: int, body: memoryview, now: float = now) -> Outcome:
                    return session.from_device(first, body, now)

                used, ending = self._pass_on(data, decide, broker, back, session.too_large)
                if ending is not None:
                    log.info("device %s disconnected by the gateway: %s", client_id, ending.reason)
                    self.dropped[_key(ending.reason)] += 1
                    if ending.reply:
                        back.write(ending.reply)
                    back.close()
                    return
                held = data[used:]
                await broker.drain()
                delay = session.bytes_delay(now, len(chunk))
                if delay > 0:
                    await asyncio.sleep(delay)  # AWS delays what exceeds the throughput
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            broker.close()

    def _pass_on(
        self,
        data: bytes,
        decide: Callable[[int, memoryview], Outcome],
        onward: ByteSink,
        back: ByteSink,
        too_large: Callable[[int, int], Disconnect | None] | None,
    ) -> tuple[int, Disconnect | None]:
        """Frame the whole packets in `data`, pass them on in runs (one write each) and act
        on the decisions; (where the first incomplete packet starts, a Disconnect)."""
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
                    self._keep_back(outcome, onward, back)
                    run = stop
                start = stop
        except MalformedPacketError as error:
            return start, Disconnect(error.problem)
        if run < start:
            onward.write(view[run:start])
        return start, None

    def _keep_back(self, refused: Refuse, onward: ByteSink, back: ByteSink) -> None:
        self.dropped[_key(refused.reason)] += 1
        log.debug("packet kept back: %s", refused.reason)
        if refused.reply:
            back.write(refused.reply)
        if refused.instead:
            onward.write(refused.instead)

    def _announce(self, record: CertificateRecordLike) -> None:
        now_ms = int(self._clock.now() * 1000)
        event = {
            "certificateId": record.id,
            "caCertificateId": record.ca_id,
            "timestamp": now_ms,
            "certificateStatus": PENDING_ACTIVATION,
            "awsAccountId": LOCAL_ACCOUNT,
            "certificateRegistrationTimestamp": str(now_ms),
        }
        self._publish(jitr_topic(str(record.ca_id)), json.dumps(event).encode())
        log.info("certificate %s... registered, pending activation", record.id[:12])

    def refuse(self, reason: str, who: str) -> None:
        """Count and log one refused connection (`who`: what it presented)."""
        key = reason.split(":", maxsplit=1)[0]
        self.refused[key] += 1
        log.info("refused %s: %s", who, reason)

    def _certificate_changed(self, record: CertificateRecordLike) -> None:
        if record.status == ACTIVE or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._disconnect, record.id)

    def _ca_changed(self, _record: CaRecordLike) -> None:
        # A CA registered after the start (RegisterCACertificate on the control plane, say):
        # the next handshake must already trust it. Loaded on the loop, between handshakes.
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._load_trust)

    def _disconnect(self, certificate_id: str) -> None:
        for writer in list(self._live.get(certificate_id, ())):
            log.info("closing a connection of certificate %s...", certificate_id[:12])
            writer.close()


async def _read_connect(reader: ByteSource, limit: int) -> bytes:
    """The device's first packet, which must be a CONNECT of at most `limit` bytes (AWS
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


def _key(reason: str) -> str:
    return reason.split(":", maxsplit=1)[0]


def _no_delay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _quiet_exceptions(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Failed TLS handshakes (no certificate, unknown CA, expired, random bytes) are the
    # gateway doing its job: a debug line, not an error with a traceback.
    error = context.get("exception")
    if isinstance(error, ssl.SSLError | ConnectionError | TimeoutError):
        log.debug("connection refused at TLS: %s", error)
        return
    loop.default_exception_handler(context)
