"""The clients of web, many on one asyncio loop: pages, and the direct subscribers they are
compared with.

A page does what the static page does in a browser, without drawing anything: it gets an
unauthenticated Cognito identity and its credentials from the stack's Cognito Identity
(boto3, unsigned, as the browser's SDK calls it), presigns `ws://127.0.0.1:<port>/mqtt`
with SigV4 for `iotdevicegateway` (botocore's signer; the host with its port signed, the
payload hash the SHA-256 of the empty body, the session token appended after signing, as
AWS IoT documents for temporary credentials:
https://docs.aws.amazon.com/iot/latest/developerguide/iam-users-groups-roles.html), upgrades
to a WebSocket with the `mqtt` subprotocol (wsproto; its frames by `swan.bench.page_frames`),
and speaks MQTT 3.1.1 in binary messages as its identity id (the only client id its role lets
it connect as).

Over MQTT it does what the page's link (webapp/components/swan_link.jsx) does: connects
with a clean session and a 60 s keep-alive, subscribes to the button shadow's documents at
QoS 0 (`DOCUMENTS_QOS`) and at QoS 1 to the get answers and its own push topic's answers,
publishes a get (QoS 1, with a client token) and, once the answer with its token is in,
unsubscribes from the get's answers (every page hears every page's get answers while
subscribed: a thousand pages opening would otherwise hear a million).

A direct subscriber is the same MQTT client on a raw unix socket to the broker's internal
listener: no WebSocket, no signature, no gateway. Each client notes when each documents
message arrives (`time.monotonic`, CLOCK_MONOTONIC, which every process on the machine
shares) with the push count it carries, and counts the bytes it sends and receives on its
socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol, cast
from urllib.parse import quote, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, RejectConnection, Request
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from swan.adapters.mqtt import Message
from swan.bench import page_frames, page_wire
from swan.bench.push import PushCounts
from swan.core.errors import SwanError
from swan.core.topics import BUTTON_SHADOW, DOCUMENTS_QOS, PushOutcome, PushTopic
from swan.local.core.mqtt_packets import (
    CONNACK_TYPE,
    PUBLISH_TYPE,
    SUBACK_FAILURE,
    SUBACK_TYPE,
    parse_publish,
    parse_suback,
)
from swan.local.unix_socket import connect_unix_protocol

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Iterable
    from pathlib import Path

ANSWERS_QOS: Final = 1  # as the page: the answers to its own requests (the documents: 0)
# The page's keep-alive (KEEPALIVE_SECONDS in swan_link.jsx). AWS IoT Core takes 30 to 1,200 s
# (message broker limits, https://docs.aws.amazon.com/general/latest/gr/iot-core.html).
KEEP_ALIVE: Final = 60
GET_ANSWERS: Final = (BUTTON_SHADOW.get_accepted, BUTTON_SHADOW.get_rejected)
UNIX_CONNECT_WITHIN: Final = 10.0  # the longest a direct subscriber waits for the backlog
CLOSE_WITHIN: Final = 5.0  # the longest a close waits for what was written to go out
_SUBSCRIBE_ID, _GET_ID, _UNSUBSCRIBE_ID = 1, 2, 3


class PageError(SwanError, ConnectionError):
    """A client of web could not connect, was refused, or lost its connection."""

    def __init__(self, who: str, problem: str) -> None:
        self.who = who
        self.problem = problem
        super().__init__(f"{who} {problem}")


@dataclass(frozen=True)
class Credentials:
    """An identity's temporary credentials, as Cognito's GetCredentialsForIdentity gives them."""

    identity_id: str
    access_key_id: str
    secret_key: str
    session_token: str


def presigned_target(url: str, credentials: Credentials, region: str) -> str:
    """The request target (path and query) of `url` presigned as the page presigns it."""
    from botocore.auth import SigV4QueryAuth  # noqa: PLC0415  (botocore: only where pages open)
    from botocore.awsrequest import AWSRequest  # noqa: PLC0415
    from botocore.credentials import Credentials as Keys  # noqa: PLC0415

    parts = urlsplit(url)
    # http: botocore signs the SHA-256 of the (empty) body, as the page's signer does.
    request = AWSRequest(method="GET", url=f"http://{parts.netloc}{parts.path}")
    keys = Keys(credentials.access_key_id, credentials.secret_key)  # the token is not signed
    SigV4QueryAuth(keys, "iotdevicegateway", region).add_auth(request)
    signed = urlsplit(request.url)
    token = quote(credentials.session_token, safe="")
    return f"{signed.path}?{signed.query}&X-Amz-Security-Token={token}"


class _Link(Protocol):
    """How MQTT's bytes travel on the socket: as they are, or in WebSocket messages."""

    def opening(self) -> bytes: ...

    def wrap(self, mqtt: bytes) -> bytes: ...

    def unwrap(self, data: bytes) -> tuple[bytes, bytes]:
        """(MQTT bytes that arrived, bytes to send back at once)."""
        ...

    @property
    def open(self) -> bool: ...


class _RawLink:
    open = True

    def opening(self) -> bytes:
        return b""

    def wrap(self, mqtt: bytes) -> bytes:
        return mqtt

    def unwrap(self, data: bytes) -> tuple[bytes, bytes]:
        return data, b""


class _WebSocketLink:
    """The upgrade by wsproto (the presigned request, the answer checked), then frames by
    `page_frames`: wsproto is given the upgrade's answer and nothing after it, so that no
    frame is left inside it."""

    def __init__(self, who: str, host: str, target: str) -> None:
        self._who = who
        self._host = host
        self._target = target
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._answer = bytearray()  # the upgrade's answer, until its blank line
        self._frames = page_frames.FrameReader()
        self.open = False

    def opening(self) -> bytes:
        return self._ws.send(Request(host=self._host, target=self._target, subprotocols=["mqtt"]))

    def wrap(self, mqtt: bytes) -> bytes:
        return page_frames.client_frame(mqtt)

    def unwrap(self, data: bytes) -> tuple[bytes, bytes]:
        if not self.open:
            data = self._upgrade(data)
        mqtt, back = bytearray(), bytearray()
        try:
            for opcode, payload in self._frames.feed(data):
                if opcode == page_frames.BINARY:
                    mqtt += payload
                elif opcode == page_frames.PING:
                    back += page_frames.client_frame(payload, page_frames.PONG)
                elif opcode == page_frames.CLOSE:
                    code = page_frames.close_code(payload)
                    raise PageError(self._who, f"was closed by the gateway ({code})")
                elif opcode == page_frames.TEXT:
                    raise PageError(self._who, "was sent a text message (MQTT's are binary)")
        except page_frames.FrameError as error:
            raise PageError(self._who, f"broke the WebSocket protocol: {error}") from error
        return bytes(mqtt), bytes(back)

    def _upgrade(self, data: bytes) -> bytes:
        """Hold what arrives until the upgrade's answer is whole, have wsproto judge it;
        what came after it (frames already)."""
        self._answer += data
        end = self._answer.find(b"\r\n\r\n")
        if end < 0:
            return b""
        answer, rest = bytes(self._answer[: end + 4]), bytes(self._answer[end + 4 :])
        self._answer.clear()
        try:
            self._ws.receive_data(answer)
            for event in self._ws.events():
                if isinstance(event, AcceptConnection):
                    self.open = True
                elif isinstance(event, RejectConnection):
                    raise PageError(self._who, f"was refused the upgrade: {event.status_code}")
        except (RemoteProtocolError, LocalProtocolError) as error:
            raise PageError(self._who, f"broke the WebSocket protocol: {error}") from error
        if not self.open:
            raise PageError(self._who, "was not answered its upgrade")
        return rest


class Audience:
    """What the clients of one process share: the push count read once from each distinct
    documents message (`counts`), and one wait for all of them to get past a push
    (`wait_past`). The bench's clients share the machine with what they measure: a task
    per client per push, woken by each of its reads, was a quarter of a worker's CPU."""

    def __init__(self) -> None:
        self.counts = PushCounts()
        self._above = 0.0
        self._behind: set[Session] = set()
        self._caught_up = asyncio.Event()

    async def wait_past(self, sessions: Iterable[Session], above: float, within: float) -> None:
        """Until each of `sessions` has seen a push count above `above` or is closed, or
        `within` seconds have passed."""
        self._above = above
        self._behind = {s for s in sessions if not s.past(above)}
        self._caught_up.clear()
        try:
            if self._behind:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(within):
                        await self._caught_up.wait()
        finally:
            self._behind = set()

    def heard(self, session: Session) -> None:
        """`session` saw something (a push, its end): one fewer to wait for if it is past."""
        if session in self._behind and session.past(self._above):
            self._behind.discard(session)
            if not self._behind:
                self._caught_up.set()


class Session(asyncio.Protocol):
    """One client following the button shadow: a page, or a direct subscriber. It is its
    socket's protocol: what arrives is taken as it arrives (no stream in between, no task
    woken per read; a worker holds a thousand of them on one loop)."""

    def __init__(
        self,
        client_id: str,
        clock: Callable[[], float] = time.monotonic,
        audience: Audience | None = None,
    ) -> None:
        """`audience`: what this client shares with the others of its process; its own by
        default."""
        self.client_id = client_id
        self._clock = clock
        self._audience = Audience() if audience is None else audience
        self._framer = page_wire.Framer()
        self._link: _Link = _RawLink()
        self._writer: asyncio.WriteTransport | None = None
        self._lost: asyncio.Future[None] | None = None  # resolved when the socket is closed
        self._failed: PageError | None = None
        self._changed = asyncio.Event()
        self._connack: int | None = None
        self._suback: bytes | None = None
        self._token = uuid.uuid4().hex
        self.got: str | None = None  # the get's answer: "accepted", or "rejected <code>"
        self.seen: list[tuple[int, float]] = []  # (pushes, arrival) of each documents message
        self.most: int | None = None  # the highest push count seen (None: none yet)
        self.sent_bytes = 0
        self.received_bytes = 0
        self.last_sent = clock()

    @property
    def alive(self) -> bool:
        return self._failed is None and self._writer is not None

    async def open_page(self, ws_url: str, credentials: Credentials, region: str) -> None:
        """Connect as a page: the presigned upgrade, then MQTT as the identity id."""
        parts = urlsplit(ws_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        target = presigned_target(ws_url, credentials, region)
        self._link = _WebSocketLink(self.client_id, f"{host}:{port}", target)
        await asyncio.get_running_loop().create_connection(lambda: self, host, port)
        await self._open(PushTopic(self.client_id, identity=True))

    async def open_device(self, host: str, port: int, context: ssl.SSLContext) -> None:
        """Connect as a device that follows the button shadow (a Pi, say): mutual TLS with
        the device's certificate, MQTT 3.1.1 as its thing, one subscription to the
        documents (at `DOCUMENTS_QOS`, as the Pi's); no get, so that a broker without the
        shadow service serves it too."""
        await asyncio.get_running_loop().create_connection(
            lambda: self, host, port, ssl=context, server_hostname=host
        )
        await self._connect()
        await self._subscribe(((BUTTON_SHADOW.update_documents, DOCUMENTS_QOS),))

    async def open_direct(self, socket_path: Path, username: str, password: str) -> None:
        """Connect as a direct subscriber on the broker's unix socket."""
        await connect_unix_protocol(socket_path, self, within=UNIX_CONNECT_WITHIN)
        await self._open(PushTopic(self.client_id), username, password)

    async def _open(
        self,
        pushes: PushTopic,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        """CONNECT, SUBSCRIBE as the page does, its get, and UNSUBSCRIBE from the get's answers
        once its own is in. `pushes`: the client's own push topic, whose answers it follows."""
        self._write(self._link.opening())
        if not self._link.open:
            await self._until(lambda: self._link.open)
        await self._connect(username, password)
        answers = (*GET_ANSWERS, *(pushes.reply(outcome) for outcome in PushOutcome))
        await self._subscribe(
            (
                (BUTTON_SHADOW.update_documents, DOCUMENTS_QOS),
                *((answer, ANSWERS_QOS) for answer in answers),
            )
        )
        get = json.dumps({"clientToken": self._token}).encode()
        self.send(page_wire.publish_packet(BUTTON_SHADOW.get, get, _GET_ID))
        await self._until(lambda: self.got is not None)
        self.send(page_wire.unsubscribe_packet(_UNSUBSCRIBE_ID, GET_ANSWERS))

    async def _connect(self, username: str | None = None, password: str | None = None) -> None:
        """CONNECT (clean session, the page's keep-alive) and its CONNACK, accepted."""
        connect = page_wire.connect_packet(
            self.client_id, keep_alive=KEEP_ALIVE, username=username, password=password
        )
        self.send(connect)
        await self._until(lambda: self._connack is not None)
        if self._connack != page_wire.CONNACK_ACCEPTED:
            raise PageError(self.client_id, f"was refused its CONNECT ({self._connack})")

    async def _subscribe(self, followed: tuple[tuple[str, int], ...]) -> None:
        """One SUBSCRIBE of (filter, QoS) pairs and its SUBACK, every filter granted."""
        self.send(page_wire.subscribe_packet(_SUBSCRIBE_ID, followed))
        await self._until(lambda: self._suback is not None)
        if self._suback is None or SUBACK_FAILURE in self._suback:
            raise PageError(self.client_id, f"was refused a subscription ({self._suback!r})")

    def past(self, pushes: float) -> bool:
        """Whether a push count above `pushes` arrived here, or never will (it is closed)."""
        return (self.most is not None and self.most > pushes) or self._failed is not None

    def ping_if_quiet(self, now: float) -> None:
        """A PINGREQ if nothing was sent for the keep-alive (MQTT 3.1.1, 3.1.2.10)."""
        if self.alive and now - self.last_sent >= KEEP_ALIVE:
            self.send(page_wire.PINGREQ)

    def send(self, packet: bytes) -> None:
        self._write(self._link.wrap(packet))

    async def close(self, within: float = CLOSE_WITHIN) -> None:
        """Close the socket, once what was written has gone out; past `within` seconds (a
        server that reads nothing, a handshake that never ends), it is dropped instead.
        Bounded: a worker closes its clients when a try to open one times out."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        if self._lost is not None and not self._lost.done():
            try:
                async with asyncio.timeout(within):
                    await asyncio.shield(self._lost)
            except TimeoutError:
                if writer is not None:
                    writer.abort()
        self._fail(PageError(self.client_id, "was closed"))

    # ------------------------------------------------------------ the socket's protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._writer = cast("asyncio.WriteTransport", transport)
        self._lost = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if self._failed is not None:
            return
        self.received_bytes += len(data)
        try:
            self._take(data, self._clock())
        except PageError as error:
            self._fail(error)
        except ValueError as error:  # MQTT this client cannot read
            self._fail(PageError(self.client_id, f"failed: {error}"))

    def eof_received(self) -> bool:
        self._fail(PageError(self.client_id, "lost its connection"))
        return False  # the transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        why = "lost its connection" if exc is None else f"failed: {exc}"
        self._fail(PageError(self.client_id, why))
        self._writer = None
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    def _fail(self, error: PageError) -> None:
        """The end of this client, for the first reason given: it reads nothing more."""
        if self._failed is None:
            self._failed = error
        if self._writer is not None:
            self._writer.close()
        self._changed.set()
        self._audience.heard(self)

    # ------------------------------------------------------------ the connection

    def _write(self, data: bytes) -> None:
        if data and self._writer is not None:
            self._writer.write(data)
            self.sent_bytes += len(data)
            self.last_sent = self._clock()

    async def _until(self, done: Callable[[], bool]) -> None:
        while not done():
            if self._failed is not None:
                raise self._failed
            self._changed.clear()
            await self._changed.wait()

    def _take(self, data: bytes, at: float) -> None:
        mqtt, back = self._link.unwrap(data)
        self._write(back)
        for first, body in self._framer.feed(mqtt):
            self._handle(first, body, at)
        self._changed.set()

    def _handle(self, first: int, body: bytes, at: float) -> None:
        kind = first >> 4
        if kind == PUBLISH_TYPE:
            header = parse_publish(first, body, mqtt5=False)
            if header.qos:
                self.send(page_wire.puback_packet(header.packet_id))
            topic = header.topic.decode()
            payload = body[len(body) - header.payload_size :]
            if topic == BUTTON_SHADOW.update_documents:
                pushes = self._audience.counts(Message(topic, payload))
                if pushes is not None:
                    self.seen.append((pushes, at))
                    if self.most is None or pushes > self.most:
                        self.most = pushes
                        self._audience.heard(self)
            elif topic in GET_ANSWERS:
                self._take_get_answer(topic, payload)
        elif kind == CONNACK_TYPE:
            self._connack = page_wire.connack_code(body)
        elif kind == SUBACK_TYPE:
            self._suback = parse_suback(body, mqtt5=False).codes

    def _take_get_answer(self, topic: str, payload: bytes) -> None:
        """Our get's answer (any other page's is heard too, until we unsubscribe)."""
        try:
            answer = json.loads(payload)
        except ValueError:
            return
        if not isinstance(answer, dict) or answer.get("clientToken") != self._token:
            return
        if topic == BUTTON_SHADOW.get_accepted:
            self.got = "accepted"
        else:
            code = answer.get("code")
            self.got = f"rejected {code if isinstance(code, int) else '?'}"
