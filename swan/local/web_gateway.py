"""The gateway's second door: MQTT over a SigV4-signed WebSocket, for browsers' Cognito
identities, as AWS IoT Core serves it on `wss://<endpoint>/mqtt`.

Locally the door listens on loopback twice: `wss://localhost:<port>/mqtt` with the stack's
server certificate (as AWS serves it; what awscrt and any TLS client use) and
`ws://127.0.0.1:<port>/mqtt` in plain text for a browser, which cannot trust the local CA.
Before any MQTT:
- the Host must be a loopback name (no DNS rebinding), the path `/mqtt`;
- the URL must be presigned with SigV4 for `iotdevicegateway` in the stack's region, by
  credentials the stack issued and still valid, the session token appended after signing
  (`swan.local.sigv4.iot_gateway_api`); anything else is answered `403` with the reason;
- the credentials must be a Cognito identity's: their role's statements from the template,
  with `${cognito-identity.amazonaws.com:sub}` the identity's id, are its policies (the one
  evaluator, swan.local.core.policy, devices' too). Other credentials (the administrator's, a
  function role's) are refused here: locally only identities ride the WebSocket.
Then the client is relayed as a device is (`swan.local.relay`), in the door's own process
(`swan.local.web_door_service`): its CONNECT must be allowed by the role (the client id is
the identity id), every packet is held to AWS IoT Core's limits and the role, and the
connection is dropped when its credentials expire (or after 24 hours, AWS IoT's longest
WebSocket connection: https://docs.aws.amazon.com/general/latest/gr/iot-core.html).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from swan.local.authorization import role_of
from swan.local.core.policy import (
    CONNECT,
    PUBLISH,
    RECEIVE,
    SUBSCRIBE,
    PolicyContext,
    PolicyDocument,
    PolicyDocumentError,
    Principal,
    glob_matches,
    parse_policies,
    plain_glob,
)
from swan.local.core.sigv4 import is_loopback_host
from swan.local.listener import Listener
from swan.local.relay import Admitted
from swan.local.server_tls import server_context
from swan.local.sigv4 import IncomingRequest, RequestRefusedError, SigV4Verifier, iot_gateway_api
from swan.local.websocket import Refusal, Upgrade, accept

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from swan.local.relay import Relay
    from swan.local.sigv4 import SigningKey

log = logging.getLogger(__name__)

MQTT_PATH: Final = "/mqtt"
HANDSHAKE_TIMEOUT: Final = 10.0
LONGEST_CONNECTION: Final = 24 * 3600.0
_MQTT_ACTIONS: Final = (CONNECT, PUBLISH, SUBSCRIBE, RECEIVE)


@dataclass(frozen=True)
class WebDoorPlan:
    """Where the door listens (port 0: any free one) and the TLS server identity."""

    host: str
    ws_port: int
    wss_port: int
    cert_file: Path
    key_file: Path


def door_url(port: int, *, tls: bool) -> str:
    """The endpoint a client presigns: `wss://localhost:<port>/mqtt` (as AWS serves it, for
    a client that trusts the local CA) or `ws://127.0.0.1:<port>/mqtt` (for a browser)."""
    if tls:
        return f"wss://localhost:{port}{MQTT_PATH}"
    return f"ws://127.0.0.1:{port}{MQTT_PATH}"


def mqtt_documents(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A role's resolved identity policy (`swan.local.authorization.role_documents`), keeping
    only the statements that can apply to MQTT (iot:Connect/Publish/Subscribe/Receive):
    those are what AWS IoT Core evaluates for a connection signed with the role's
    credentials."""
    statements = [s for s in document.get("Statement", []) if _about_mqtt(s)]
    return [{**document, "Statement": statements}] if statements else []


def _about_mqtt(statement: Mapping[str, Any]) -> bool:
    if "NotAction" in statement:
        return True
    actions = statement.get("Action", [])
    patterns = [actions] if isinstance(actions, str) else list(actions)
    return any(
        glob_matches(plain_glob(pattern.casefold()), action.casefold())
        for pattern in patterns
        for action in _MQTT_ACTIONS
    )


class WebSocketDoor:
    """Admits WebSocket clients into a relay (`swan.local.relay`), on its loop (`open`)."""

    def __init__(  # noqa: PLR0913  (each is a separate outside thing)
        self,
        plan: WebDoorPlan,
        *,
        region: str,
        account: str,
        partition: str,
        lookup: Callable[[str], SigningKey | None],
        roles: Mapping[str, list[dict[str, Any]]],
        upstream: Path,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`lookup` finds the credentials the stack issued; `roles` holds each role's MQTT
        statements (`mqtt_documents`) by role name; `upstream` is the broker listener
        identities are piped to."""
        self.plan = plan
        self._verifier = SigV4Verifier(iot_gateway_api(region), lookup)
        self._region, self._account, self._partition = region, account, partition
        self._roles = roles
        self._parsed: dict[str, tuple[PolicyDocument, ...]] = {}  # by role, once parsed
        self._upstream = upstream
        self._now = now
        self._relay_to: Relay | None = None
        self.ws_port = plan.ws_port
        self.wss_port = plan.wss_port

    def url(self, *, tls: bool = True) -> str:
        """The endpoint a client presigns (`door_url`)."""
        return door_url(self.wss_port if tls else self.ws_port, tls=tls)

    async def open(self, relay: Relay) -> list[Listener]:
        """Listen on both ports, on the running loop, admitting clients into `relay`; the
        caller closes the servers (`Relay.close`)."""
        self._relay_to = relay
        context = server_context(self.plan.cert_file, self.plan.key_file)
        plain = await Listener.open(self.plan.host, self.plan.ws_port, self._handle)
        secure = await Listener.open(self.plan.host, self.plan.wss_port, self._handle, context)
        self.ws_port = int(plain.sockets[0].getsockname()[1])
        self.wss_port = int(secure.sockets[0].getsockname()[1])
        log.info("MQTT over WebSocket on %s and %s", self.url(), self.url(tls=False))
        return [plain, secure]

    # ------------------------------------------------------------ one client

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        relay = self._relay_to
        if relay is None:  # pragma: no cover - servers start only through open()
            writer.close()
            return
        admitted: list[SigningKey] = []
        async with relay.holding(writer):
            try:
                stream = await asyncio.wait_for(
                    accept(reader, writer, lambda upgrade: self._decide(upgrade, admitted)),
                    HANDSHAKE_TIMEOUT,
                )
                if stream is not None and admitted:
                    await self._pipe(relay, admitted[0], stream)
                    stream.close()
            except TimeoutError:
                relay.refuse("no WebSocket upgrade within the time allowed", "a web client")
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                pass
            except Exception:
                log.exception("web client connection failed")

    def _decide(self, upgrade: Upgrade, admitted: list[SigningKey]) -> Refusal | None:
        relay = self._relay_to
        assert relay is not None  # noqa: S101  (set before any server starts)
        if not is_loopback_host(upgrade.host):
            relay.refuse(f"bad upgrade: Host {upgrade.host!r} is not this machine", "web")
            return Refusal(403, "only loopback names are served")
        path, _, query = upgrade.target.partition("?")
        if path != MQTT_PATH:
            relay.refuse(f"bad upgrade: no endpoint at {quote(path)}", "a web client")
            return Refusal(404, f"MQTT over WebSocket is served at {MQTT_PATH}")
        headers = {**upgrade.headers, "host": upgrade.host}
        try:
            key = self._verifier.verify(IncomingRequest("GET", path, query, headers), self._now())
        except RequestRefusedError as refused:
            relay.refuse(f"bad signature: {refused.message}", "a web client")
            return Refusal(403, refused.message)
        if key.identity_id is None or role_of(key.principal_arn) not in self._roles:
            relay.refuse("not a Cognito identity's credentials", key.access_key_id)
            return Refusal(403, "only a Cognito identity's credentials connect here")
        admitted.append(key)
        return None

    async def _pipe(self, relay: Relay, key: SigningKey, stream: Any) -> None:
        who = f"identity {key.identity_id}"
        first = await relay.first_connect(who, stream)
        if first is None:
            return
        packet, connect = first
        try:
            principal = self._principal(key, connect.client_id)
        except PolicyDocumentError as error:
            relay.refuse(f"the role's policies cannot be evaluated: {error}", who)
            return
        if not principal.can_connect():
            relay.refuse(f"the role does not allow connecting as {connect.client_id!r}", who)
            return
        loop = asyncio.get_running_loop()
        remaining = LONGEST_CONNECTION
        if key.expires_at is not None:
            remaining = min(remaining, (key.expires_at - self._now()).total_seconds())
        admitted = Admitted(
            key.access_key_id, principal, self._upstream, closes_at=loop.time() + remaining
        )
        await relay.pipe(admitted, packet, stream, stream)

    def _principal(self, key: SigningKey, client_id: str) -> Principal:
        role = role_of(key.principal_arn)
        documents = self._policies(role) if role is not None else ()
        context = PolicyContext(
            None,
            client_id,
            self._region,
            self._account,
            self._partition,
            cognito_identity=key.identity_id,
        )
        return Principal.of(documents, context)

    def _policies(self, role: str) -> tuple[PolicyDocument, ...]:
        """A role's MQTT statements, parsed at its first connection, not at every one (they
        do not change while the door runs). Ones that fail are parsed, and fail, again."""
        parsed = self._parsed.get(role)
        if parsed is None:
            parsed = self._parsed[role] = parse_policies(self._roles[role])
        return parsed
