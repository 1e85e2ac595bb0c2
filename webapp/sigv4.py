"""MQTT over websockets signed with SigV4, with awscrt: not the page's (see
`webapp.credentials`; kept for tests/integration/test_mqtt_websocket.py).

awsiotsdk signs the websocket upgrade (service `iotdevicegateway`) with credentials it asks
a provider for at every connect and reconnect; the provider here is a delegate that asks
`source`. The connection is wrapped in the project's `Transport`, and reconnects by itself
as the device connections do (`swan.adapters.mqtt`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from swan.adapters.mqtt import CONNECT_TIMEOUT, CrtTransport, MqttError
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable

    from awscrt.auth import AwsCredentialsProvider

    from webapp.credentials import Credentials
    from webapp.settings import CognitoLogin

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
        reconnect_min_timeout_secs=1,
        reconnect_max_timeout_secs=32,
        enable_metrics_collection=False,
    )
    try:
        connection.connect().result(timeout)
    except TimeoutError as error:
        raise MqttError("connect", f"no answer within {timeout:g} s") from error
    except Exception as error:  # awscrt raises its own error types, one per failure
        raise MqttError("connect", error) from error
    return CrtTransport(connection, on_resumed)
