"""The backend's one MQTT connection, opened by one small factory.

Locally the backend logs in as the thing `web` with its client certificate, exactly as a
device does (and, like a device, retries the first connect that registration refuses).
On AWS (or against the local stand-in's Cognito and WebSocket door) it connects over a
SigV4-signed websocket with the credentials of an unauthenticated Cognito identity, kept
fresh by a cache that awscrt asks at every (re)connect, as that identity: its identity id
is its client id and its pushes go on `swan/web/<identity id>/push`, the only ones the
identity pool's role allows it (so every backend process, having an identity of its own,
has a client id of its own too).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

from swan.adapters.mqtt import Endpoint, MqttError, connect_retrying
from swan.core.topics import WEB_SENDER, PushTopic
from webapp.credentials import CredentialsCache, CredentialsUnavailableError
from webapp.settings import CognitoLogin

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.adapters.mqtt import Transport
    from webapp.credentials import Credentials
    from webapp.settings import MqttLogin

log = logging.getLogger(__name__)


class LinkFactory(Protocol):
    """Open a connection that reconnects by itself and reports when it drops and returns;
    `push_topic` says where the connection's pushes go (known once it is open)."""

    def __call__(
        self, *, on_interrupted: Callable[[Exception], None], on_resumed: Callable[[], None]
    ) -> Transport: ...

    def push_topic(self) -> PushTopic: ...


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

    return _Link(open_link, lambda: PushTopic(WEB_SENDER))


def link_for(login: MqttLogin | CognitoLogin) -> LinkFactory:
    """The factory for the configured login: Cognito and SigV4 on AWS, mTLS locally."""
    if isinstance(login, CognitoLogin):
        return cognito_link(login)
    return mtls_link(login)


def cognito_link(
    login: CognitoLogin,
    *,
    fetch: Callable[[], Credentials] | None = None,
    identity_id: Callable[[], str | None] | None = None,
    clock: Callable[[], float] = time.time,
) -> LinkFactory:
    """A factory for the AWS login: one identity and one credentials cache per process.

    `fetch` gets new credentials and `identity_id` says whose they are (default: the
    identity pool's, through boto3).
    """
    from webapp.sigv4 import connect_websocket, credentials_provider  # noqa: PLC0415

    if fetch is None or identity_id is None:
        from webapp.cognito import CognitoIdentity, cognito_client  # noqa: PLC0415

        identity = CognitoIdentity(cognito_client(login.region), login.identity_pool_id, clock)
        fetch, identity_id = identity.fetch, lambda: identity.identity_id
    cache = CredentialsCache(fetch, clock)
    provider = credentials_provider(cache.get)

    def client_id() -> str:
        found = identity_id()
        if found is None:
            raise MqttError("connect", "no Cognito identity yet")
        return found

    def open_link(
        *, on_interrupted: Callable[[Exception], None], on_resumed: Callable[[], None]
    ) -> Transport:
        try:
            cache.get()  # a Cognito failure says so, rather than as a signing error
        except CredentialsUnavailableError as error:
            raise MqttError("connect", error) from error
        return connect_websocket(
            login, client_id(), provider, on_interrupted=on_interrupted, on_resumed=on_resumed
        )

    return _Link(open_link, lambda: PushTopic(client_id(), identity=True))


class _Link:
    """A `LinkFactory` made of its two halves."""

    def __init__(self, opener: Callable[..., Transport], topic: Callable[[], PushTopic]) -> None:
        self._open = opener
        self._topic = topic

    def __call__(
        self, *, on_interrupted: Callable[[Exception], None], on_resumed: Callable[[], None]
    ) -> Transport:
        return self._open(on_interrupted=on_interrupted, on_resumed=on_resumed)

    def push_topic(self) -> PushTopic:
        return self._topic()
