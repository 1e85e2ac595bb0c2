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

Once a device is in, it is relayed to the broker as every client is (`swan.local.relay`:
AWS IoT Core's limits and answers, and every policy attached to the certificate). The policies
are read at the connect (AWS says a policy change takes minutes to apply): one attached,
detached or changed later applies from the device's next connection. A CONNECT that is
malformed, too large or never comes is refused with one log line, as is one whose last will
the policies would not publish. Browsers come in by another door, in a process of its own
(`swan.local.web_door_service`), relayed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from swan.adapters import event_loop
from swan.adapters.descriptors import raise_descriptor_limit
from swan.certs.authority import der_certificate_id
from swan.core.topics import jitr_topic
from swan.local.client_link import ClientStream
from swan.local.core.broker_limits import AWS_LIMITS, BrokerLimits
from swan.local.core.policy import PolicyDocumentError
from swan.local.listener import Listener
from swan.local.relay import Admitted, Relay, quiet_exceptions
from swan.local.server_tls import server_context

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from swan.adapters.clock import Clock
    from swan.local.core.policy import Principal

log = logging.getLogger(__name__)

ACTIVE = "ACTIVE"
PENDING_ACTIVATION = "PENDING_ACTIVATION"
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


class DeviceGateway(Relay):
    """The device door (mutual TLS) on its own event loop, in a thread."""

    def __init__(
        self,
        plan: GatewayPlan,
        registry: CertificateRegistry,
        *,
        publish: Callable[[str, bytes], object],
        clock: Clock,
        upstream: Callable[[CertificateRecordLike], Path],
        principal: Callable[[CertificateRecordLike, str], Principal],
        limits: BrokerLimits = AWS_LIMITS,
    ) -> None:
        """`upstream` says which broker listener (a unix socket) a certificate's connections
        go to; `principal` gives the certificate's attached policies, all of them, for a
        connection with that client id; `limits` are AWS IoT Core's message broker limits."""
        super().__init__(limits)
        self.plan = plan
        self._registry = registry
        self._publish = publish
        self._clock = clock
        self._upstream = upstream
        self._principal = principal
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Listener | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.port = plan.port  # the port bound, once started (plan.port may be 0)
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

    # ------------------------------------------------------------ the loop

    def _run(self) -> None:
        try:
            loop = event_loop.new_event_loop()  # a bad SWAN_EVENT_LOOP is reported too
            self._loop = loop
            loop.set_exception_handler(quiet_exceptions)
            loop.run_until_complete(self._serve())
        except BaseException as error:  # noqa: BLE001  (reported to start())
            self._failure = error
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _serve(self) -> None:
        self._context = server_context(self.plan.cert_file, self.plan.key_file)
        self._context.verify_mode = ssl.CERT_REQUIRED
        self._load_trust()
        self._server = await Listener.open(
            self.plan.host, self.plan.port, self._handle, self._context
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    def _load_trust(self) -> None:
        pems = [ca.pem for ca in self._registry.cas() if ca.status == ACTIVE]
        if pems:
            self._context.load_verify_locations(cadata="\n".join(pems))

    async def _shutdown(self) -> None:
        # Every connection's handler finishes (they note "last seen" in the registry)
        # before the caller closes the registry.
        await self.close([self._server] if self._server is not None else [])

    # ------------------------------------------------------------ one device

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _no_delay(writer)
        async with self.holding(writer):
            try:
                record = self._admit(writer)
                if record is not None:
                    await self._relay(record, ClientStream(reader, writer), writer)
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
        reader: ClientStream,
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

    def _certificate_changed(self, record: CertificateRecordLike) -> None:
        if record.status == ACTIVE or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self.close_live, record.id)

    def _ca_changed(self, _record: CaRecordLike) -> None:
        # A CA registered after the start (RegisterCACertificate on the control plane, say):
        # the next handshake must already trust it. Loaded on the loop, between handshakes.
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._load_trust)


def _no_delay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
