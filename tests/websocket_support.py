"""A WebSocket client by hand for the tests of the gateway's MQTT-over-WebSocket door: URLs
presigned as the AWS IoT Device SDKs presign theirs (awscrt's SigV4 signer: query-string
SigV4 for `iotdevicegateway`, the host header signed, the session token appended after
signing), then the upgrade and MQTT packets in binary messages over a plain or TLS socket
(wsproto), with every answer and close as the client sees it."""

from __future__ import annotations

import contextlib
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from awscrt.auth import (
    AwsCredentialsProvider,
    AwsSignatureType,
    AwsSigningConfig,
    aws_sign_request,
)
from awscrt.http import HttpHeaders, HttpRequest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from support import mqtt_string, mqtt_varint
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SERVICE = "iotdevicegateway"
WAIT = 10
CONNACK_ACCEPTED = b"\x20\x02\x00\x00"


@dataclass(frozen=True)
class Door:
    """A WebSocket listener: the port to dial, the Host a client names, TLS or not."""

    port: int
    host: str
    tls: bool

    @classmethod
    def of(cls, url: str) -> Door:
        parts = urlsplit(url)
        return cls(int(parts.port or 0), f"{parts.hostname}:{parts.port}", parts.scheme == "wss")


def presign(
    host: str,
    access_key_id: str,
    secret_key: str,
    session_token: str | None,
    *,
    region: str,
    path: str = "/mqtt",
    service: str = SERVICE,
    signed_at: datetime | None = None,
    expires: int | None = None,
    sign_token: bool = False,
) -> str:
    """The request target (path and query) of a URL for `host` presigned by awscrt's SigV4
    signer; the session token appended after signing, or signed into the query if
    `sign_token` (which AWS IoT refuses)."""
    request = HttpRequest("GET", path, HttpHeaders([("Host", host)]))
    signed_token = session_token if sign_token else None
    config = AwsSigningConfig(
        signature_type=AwsSignatureType.HTTP_REQUEST_QUERY_PARAMS,
        credentials_provider=AwsCredentialsProvider.new_static(
            access_key_id, secret_key, signed_token
        ),
        region=region,
        service=service,
        date=signed_at or datetime.now(UTC),
        expiration_in_seconds=expires,
    )
    aws_sign_request(request, config).result(WAIT)
    target = str(request.path)
    if session_token is not None and not sign_token:
        target += f"&X-Amz-Security-Token={quote(session_token, safe='')}"
    return target


def presign_by_botocore(
    host: str,
    access_key_id: str,
    secret_key: str,
    session_token: str,
    *,
    region: str,
    headers: dict[str, str],
) -> str:
    """The request target of a URL for `host` presigned by botocore's signer, which signs
    every header it is handed (`headers` besides Host); the token appended after signing."""
    request = AWSRequest(method="GET", url=f"https://{host}/mqtt", headers=headers)
    SigV4QueryAuth(Credentials(access_key_id, secret_key), SERVICE, region).add_auth(request)
    parts = urlsplit(request.url)
    return f"{parts.path}?{parts.query}&X-Amz-Security-Token={quote(session_token, safe='')}"


def tampered(target: str) -> str:
    """The same target with the signature's last hex digit changed."""
    head, _, rest = target.partition("X-Amz-Signature=")
    signature, separator, tail = rest.partition("&")
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    return f"{head}X-Amz-Signature={flipped}{separator}{tail}"


class RawClient:
    """A WebSocket client (wsproto over a socket): the upgrade and its answer, then MQTT
    packets in binary messages, and the code the server closes with."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.pending: list[object] = []
        self.received = b""
        self.close_code: int | None = None

    def upgrade(self, host: str, target: str) -> tuple[int, bytes]:
        """Ask for the upgrade: (101, b"") accepted with the `mqtt` subprotocol, else the
        HTTP status and body the server refused it with."""
        self.sock.sendall(self.ws.send(Request(host=host, target=target, subprotocols=["mqtt"])))
        event = self.next_event()
        if isinstance(event, AcceptConnection):
            assert event.subprotocol == "mqtt"
            return 101, b""
        assert isinstance(event, RejectConnection), event
        body = b""
        while event.has_body:
            data = self.next_event()
            assert isinstance(data, RejectData), data
            body += data.data
            if data.body_finished:
                break
        return event.status_code, body

    def next_event(self) -> object | None:
        """The next WebSocket event, None once the server has closed the socket."""
        while not self.pending:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            self.pending.extend(self.ws.events())
            if not data and not self.pending:
                return None
        return self.pending.pop(0)

    def send(self, packet: bytes) -> None:
        self.sock.sendall(self.ws.send(BytesMessage(data=packet)))

    def send_text(self, text: str) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=text)))

    def packet(self) -> bytes | None:
        """The next whole MQTT packet from the server, None once the connection ends."""
        while (size := packet_size(self.received)) is None or len(self.received) < size:
            event = self.next_event()
            if event is None:
                return None
            if isinstance(event, CloseConnection):
                self.close_code = event.code
                return None
            if isinstance(event, BytesMessage):
                self.received += event.data
        packet, self.received = self.received[:size], self.received[size:]
        return packet

    def connect(self, client_id: str) -> bytes | None:
        """Send an MQTT 3.1.1 CONNECT (clean session) as `client_id`: the server's answer."""
        self.send(mqtt_connect(client_id))
        return self.packet()


@contextlib.contextmanager
def dial(door: Door, ca_file: Path, *, timeout: float = WAIT) -> Iterator[RawClient]:
    """A raw client connected to `door` (TLS trusting `ca_file` if the door is wss)."""
    sock = socket.create_connection(("127.0.0.1", door.port), timeout=timeout)
    if door.tls:
        context = ssl.create_default_context(cafile=str(ca_file))
        sock = context.wrap_socket(sock, server_hostname="localhost")
    try:
        yield RawClient(sock)
    finally:
        sock.close()


def packet_size(data: bytes) -> int | None:
    """The size of the MQTT packet `data` starts with, once its fixed header is whole."""
    length, multiplier = 0, 1
    for index in range(1, min(len(data), 5)):
        length += (data[index] & 0x7F) * multiplier
        if not data[index] & 0x80:
            return index + 1 + length
        multiplier *= 128
    return None


def mqtt_connect(client_id: str) -> bytes:
    body = mqtt_string("MQTT") + bytes([4, 0x02]) + (60).to_bytes(2, "big")
    body += mqtt_string(client_id)
    return b"\x10" + mqtt_varint(len(body)) + body


def mqtt_publish(topic: str, payload: bytes, packet_id: int) -> bytes:
    body = mqtt_string(topic) + packet_id.to_bytes(2, "big") + payload
    return b"\x32" + mqtt_varint(len(body)) + body  # QoS 1


def mqtt_subscribe(packet_id: int, *filters: str) -> bytes:
    body = packet_id.to_bytes(2, "big")
    for topic_filter in filters:
        body += mqtt_string(topic_filter) + b"\x01"  # QoS 1
    return b"\x82" + mqtt_varint(len(body)) + body
