"""The backend's one MQTT connection, opened by one small factory.

Locally the backend logs in as the thing `web` with its client certificate, exactly as a
device does (and, like a device, retries the first connect that registration refuses).
On AWS the same factory will open a SigV4 websocket with Cognito credentials instead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from swan.adapters.mqtt import Endpoint, MqttError, connect_retrying

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.adapters.mqtt import Transport
    from webapp.settings import MqttLogin

log = logging.getLogger(__name__)


class LinkFactory(Protocol):
    """Open a connection that reconnects by itself and reports when it drops and returns."""

    def __call__(
        self, *, on_interrupted: Callable[[Exception], None], on_resumed: Callable[[], None]
    ) -> Transport: ...


def mtls_link(login: MqttLogin, attempts: int = 4) -> LinkFactory:
    """A factory for the local login: mutual TLS on the device port."""
    endpoint = Endpoint(
        login.host,
        login.port,
        login.client_id,
        ca_file=login.ca_file,
        cert_file=login.cert_file,
        key_file=login.key_file,
    )

    def open_link(
        *, on_interrupted: Callable[[Exception], None], on_resumed: Callable[[], None]
    ) -> Transport:
        def retrying(attempt: int, error: MqttError) -> None:
            log.info("web backend connect attempt %d failed, retrying: %s", attempt, error)

        for path in (login.ca_file, login.cert_file, login.key_file):
            if not path.is_file():  # awscrt would fail with a less helpful message
                raise MqttError("connect", f"{path} does not exist (issue the certificate)")
        return connect_retrying(
            endpoint,
            attempts=attempts,
            on_retry=retrying,
            on_interrupted=on_interrupted,
            on_resumed=on_resumed,
        )

    return open_link
