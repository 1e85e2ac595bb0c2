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
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
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

from swan.core.mqtt_packets import MalformedPacketError, decode_remaining_length, parse_connect
from swan.core.topics import jitr_topic

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from swan.adapters.clock import Clock

log = logging.getLogger(__name__)

ACTIVE = "ACTIVE"
PENDING_ACTIVATION = "PENDING_ACTIVATION"
CONNECT_TIMEOUT = 10.0
HANDSHAKE_TIMEOUT = 10.0
PIPE_CHUNK = 65536
MAX_CONNECT_BYTES = 65536
LOCAL_ACCOUNT = "000000000000"


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


@dataclass(frozen=True)
class GatewayPlan:
    host: str
    port: int
    cert_file: Path
    key_file: Path


class DeviceGateway:
    """The gateway on its own asyncio loop, in a thread."""

    def __init__(
        self,
        plan: GatewayPlan,
        registry: CertificateRegistry,
        *,
        publish: Callable[[str, bytes], object],
        clock: Clock,
        upstream: Callable[[CertificateRecordLike], Path],
        may_connect: Callable[[CertificateRecordLike, str], bool] | None = None,
    ) -> None:
        """`upstream` says which broker listener (a unix socket) a certificate's connections
        go to; `may_connect` checks its policies for the connect."""
        self.plan = plan
        self._registry = registry
        self._publish = publish
        self._clock = clock
        self._upstream = upstream
        self._may_connect = may_connect or (lambda _record, _client_id: True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._live: dict[str, set[asyncio.StreamWriter]] = defaultdict(set)
        self.refused: dict[str, int] = defaultdict(int)  # reason -> count
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = plan.port  # the port bound, once started (plan.port may be 0)
        registry.on_change(self._certificate_changed)
        registry.on_ca_change(self._ca_changed)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
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
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.set_exception_handler(_quiet_exceptions)
        try:
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
        self._server = await asyncio.start_server(
            self._handle,
            self.plan.host,
            self.plan.port,
            ssl=self._context,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    def _load_trust(self) -> None:
        pems = [ca.pem for ca in self._registry.cas() if ca.status == ACTIVE]
        if pems:
            self._context.load_verify_locations(cadata="\n".join(pems))

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
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

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _no_delay(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            record = self._admit(writer)
            if record is not None:
                await self._relay(record, reader, writer)
        except Exception:
            log.exception("device connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _admit(self, writer: asyncio.StreamWriter) -> CertificateRecordLike | None:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        certificate = x509.load_der_x509_certificate(der)
        certificate_id = hashlib.sha256(der).hexdigest()
        record = self._registry.certificate(certificate_id)
        if record is None:
            ca = self._registry.ca_for(certificate)
            if ca is None or ca.status != ACTIVE or not ca.auto_registration:
                self._refuse("unknown certificate", certificate_id)
                return None
            pem = certificate.public_bytes(Encoding.PEM)
            record = self._registry.register_certificate(
                pem, ca_id=ca.id, status=PENDING_ACTIVATION
            )
        if record.status == PENDING_ACTIVATION:
            self._announce(record)
            self._refuse("pending activation (just-in-time registration)", certificate_id)
            return None
        if record.status != ACTIVE:
            self._refuse(f"certificate {record.status}", certificate_id)
            return None
        return record

    async def _relay(
        self,
        record: CertificateRecordLike,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        packet = await asyncio.wait_for(_read_packet(reader), CONNECT_TIMEOUT)
        try:
            connect = parse_connect(packet)
        except MalformedPacketError as error:
            self._refuse(f"bad CONNECT: {error.problem}", record.id)
            return
        things = self._registry.principal_things(record.arn)
        if connect.client_id not in things:
            why = f"client id {connect.client_id!r} is not the certificate's thing {things}"
            self._refuse(why, record.id)
            return
        if not self._may_connect(record, connect.client_id):
            self._refuse("the certificate's policies do not allow this connect", record.id)
            return
        upstream_reader, upstream_writer = await asyncio.open_unix_connection(
            str(self._upstream(record))
        )
        self._live[record.id].add(writer)
        self._registry.touch(record.id, self._clock.now())
        log.info("device %s connected (certificate %s...)", connect.client_id, record.id[:12])
        try:
            upstream_writer.write(packet)
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            self._live[record.id].discard(writer)
            upstream_writer.close()
            self._registry.touch(record.id, self._clock.now())
            log.info("device %s disconnected", connect.client_id)

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

    def _refuse(self, reason: str, certificate_id: str) -> None:
        key = reason.split(":", maxsplit=1)[0]
        self.refused[key] += 1
        log.info("refused certificate %s...: %s", certificate_id[:12], reason)

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


async def _read_packet(reader: asyncio.StreamReader) -> bytes:
    first = await reader.readexactly(1)
    header = b""
    while (decoded := decode_remaining_length(header)) is None:
        header += await reader.readexactly(1)
    length, _ = decoded
    if length > MAX_CONNECT_BYTES:
        raise MalformedPacketError(f"a CONNECT of {length} bytes")
    return first + header + await reader.readexactly(length)


async def _pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(PIPE_CHUNK):
            target.write(chunk)
            await target.drain()
    except (ConnectionError, OSError, asyncio.IncompleteReadError):
        pass
    finally:
        target.close()


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
