"""MQTT over a SigV4-signed WebSocket, with awscrt: how a Python client reaches AWS IoT Core
(or the local stand-in's WebSocket door) with temporary credentials, as a browser's page
does with mqtt.js.

awsiotsdk signs the WebSocket upgrade (service `iotdevicegateway`, the session token
appended after signing) with credentials it asks a provider for at every connect and
reconnect; `credentials_provider` is a delegate that asks `source` (a Cognito identity's
credentials, say). The connection is wrapped in the project's `Transport` and reconnects by
itself as the device connections do (`swan.adapters.mqtt`). awscrt always speaks TLS over
WebSockets: locally, the door's `wss://localhost:<port>/mqtt` with the local CA.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from swan.adapters.mqtt import CONNECT_TIMEOUT, CrtTransport, MqttError, reconnect_arguments
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from awscrt.auth import AwsCredentialsProvider

# AWS IoT's websockets listen on 443.
DEFAULT_WEBSOCKET_PORT: Final = 443


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials and when they expire (epoch seconds); `fetched_at` is when
    they were fetched, by the same clock."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: float
    fetched_at: float


@dataclass(frozen=True)
class CognitoLogin:
    """MQTT over WebSockets to `endpoint`, signed (SigV4) with the credentials of an
    unauthenticated identity of `identity_pool_id`, as that identity."""

    endpoint: str
    region: str
    identity_pool_id: str
    port: int = DEFAULT_WEBSOCKET_PORT
    # None: the system's trust store (AWS's endpoints); a file: a private CA (local).
    ca_file: Path | None = None


log = logging.getLogger(__name__)

KEEP_ALIVE_SECS = 30


def credentials_provider(source: Callable[[], Credentials]) -> AwsCredentialsProvider:
    """An awscrt credentials provider that answers with `source()` every time it is asked."""
    from awscrt.auth import AwsCredentials, AwsCredentialsProvider  # noqa: PLC0415

    def delegate() -> AwsCredentials:
        try:
            credentials = source()
        except SwanError as error:
            # awscrt fails the signing (and the connect) and prints the traceback.
            log.warning("no credentials to sign the websocket with: %s", error)
            raise
        return AwsCredentials(
            credentials.access_key_id,
            credentials.secret_access_key,
            credentials.session_token,
            expiration=datetime.fromtimestamp(credentials.expiration, UTC),
        )

    return AwsCredentialsProvider.new_delegate(delegate)


def connect_websocket(
    login: CognitoLogin,
    client_id: str,
    provider: AwsCredentialsProvider,
    *,
    on_interrupted: Callable[[Exception], None] | None = None,
    on_resumed: Callable[[], None] | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> CrtTransport:
    """Connect as `client_id` over a SigV4-signed websocket; MqttError when it fails."""
    from awsiot import mqtt_connection_builder  # noqa: PLC0415

    def interrupted(*, error: Exception, **_: Any) -> None:
        log.warning("MQTT websocket %s interrupted: %s", client_id, error)
        if on_interrupted:
            on_interrupted(error)

    def resumed(*, connection: Any, session_present: bool, **_: Any) -> None:
        log.info("MQTT websocket %s resumed", client_id)
        if not session_present:  # a clean session forgot our subscriptions
            connection.resubscribe_existing_topics()
        if on_resumed:
            on_resumed()

    connection = mqtt_connection_builder.websockets_with_default_aws_signing(
        region=login.region,
        credentials_provider=provider,
        endpoint=login.endpoint,
        port=login.port,
        client_id=client_id,
        ca_filepath=str(login.ca_file) if login.ca_file else None,
        clean_session=True,
        keep_alive_secs=KEEP_ALIVE_SECS,
        on_connection_interrupted=interrupted,
        on_connection_resumed=resumed,
        **reconnect_arguments(),
        enable_metrics_collection=False,
    )
    try:
        connection.connect().result(timeout)
    except TimeoutError as error:
        raise MqttError("connect", f"no answer within {timeout:g} s") from error
    except Exception as error:  # awscrt raises its own error types, one per failure
        raise MqttError("connect", error) from error
    return CrtTransport(connection, on_resumed)
