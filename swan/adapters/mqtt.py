"""MQTT behind one small port, over awscrt (the library awsiotsdk builds on).

The same `Transport` is used by the project's services (plain TCP with a password, on the
broker's internal listener), by devices and the CLI (mutual TLS, as with AWS IoT Core) and,
in tests, by `MemoryBroker`, a real in-process implementation of the port.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

from swan.core.backoff import RECONNECT, Backoff
from swan.core.errors import SwanError
from swan.core.topics import matches

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from awscrt import mqtt

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
DISCONNECT_TIMEOUT = 2.0
FIRST_CONNECT: Final = Backoff(first_delay=0.5, max_delay=8.0)
"""`connect_retrying`'s waits: a refused first connect is mostly JITR, done within a second."""


@dataclass(frozen=True)
class Message:
    """One received message."""

    topic: str
    payload: bytes

    def json(self) -> Any:
        return json.loads(self.payload)


class Transport(Protocol):
    """What every part of The Swan needs from MQTT."""

    def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> Future[None]:
        """Send; the future completes when the broker acknowledged (QoS 1) or it was sent."""
        ...

    def subscribe(
        self, topic_filter: str, handler: Callable[[Message], None], *, qos: int = 1
    ) -> None:
        """Subscribe and wait for the broker's SUBACK. `handler` runs on the I/O thread."""
        ...

    def unsubscribe(self, topic_filter: str) -> None: ...

    def close(self) -> None: ...


class MqttError(SwanError, ConnectionError):
    """The broker refused or dropped us, or did not answer in time."""

    def __init__(self, what: str, cause: object) -> None:
        self.what = what
        self.cause = cause
        super().__init__(f"MQTT {what} failed: {cause}")


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to connect: with `cert_file`, mutual TLS; with `socket_path`, a
    local (unix) socket; otherwise plain TCP to `host`:`port`."""

    host: str
    port: int
    client_id: str
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keep_alive_secs: int = 30
    clean_session: bool = True
    will: tuple[str, bytes] | None = None  # topic, payload (QoS 1, not retained)
    socket_path: Path | None = None

    @classmethod
    def local(cls, socket_path: Path, client_id: str, username: str, password: str) -> Endpoint:
        return cls(
            "localhost",
            0,
            client_id,
            username=username,
            password=password,
            socket_path=socket_path,
        )


@dataclass
class CrtTransport:
    """A `Transport` over an awscrt MQTT 3.1.1 connection that reconnects by itself."""

    connection: mqtt.Connection
    on_resumed: Callable[[], None] | None = None
    _handlers: dict[str, Callable[[Message], None]] = field(default_factory=dict)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> Future[None]:
        from awscrt import mqtt  # noqa: PLC0415

        sent, _ = self.connection.publish(topic, payload, mqtt.QoS(qos))
        done: Future[None] = Future()
        sent.add_done_callback(lambda future: _settle(done, future, "publish"))
        return done

    def subscribe(
        self, topic_filter: str, handler: Callable[[Message], None], *, qos: int = 1
    ) -> None:
        from awscrt import mqtt  # noqa: PLC0415

        def deliver(topic: str, payload: bytes, **_: Any) -> None:
            try:
                handler(Message(topic, bytes(payload)))
            except Exception:  # a handler's bug must not kill the I/O thread
                log.exception("handler for %s failed on %s", topic_filter, topic)

        subscribed, _ = self.connection.subscribe(topic_filter, mqtt.QoS(qos), deliver)
        result = _wait(subscribed, "subscribe")
        if result.get("qos") is None:  # SUBACK 0x80: the broker refused
            raise MqttError("subscribe", f"{topic_filter!r} refused by the broker")
        self._handlers[topic_filter] = handler

    def unsubscribe(self, topic_filter: str) -> None:
        unsubscribed, _ = self.connection.unsubscribe(topic_filter)
        _wait(unsubscribed, "unsubscribe")
        self._handlers.pop(topic_filter, None)

    def close(self) -> None:
        try:
            # A DISCONNECT needs no answer: a broker that is gone (stopped with us, say) must
            # not hold a stop up for the whole connect timeout.
            _wait(self.connection.disconnect(), "disconnect", DISCONNECT_TIMEOUT)
        except MqttError:
            log.debug("disconnect after the connection was already gone", exc_info=True)


def connect(
    endpoint: Endpoint,
    *,
    on_interrupted: Callable[[Exception], None] | None = None,
    on_resumed: Callable[[], None] | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> CrtTransport:
    """Connect and return a transport; raises MqttError when the broker refuses."""

    # awscrt calls these with keyword arguments.
    def interrupted(*, error: Exception, **_: Any) -> None:
        log.warning("MQTT connection %s interrupted: %s", endpoint.client_id, error)
        if on_interrupted:
            on_interrupted(error)

    def resumed(*, connection: mqtt.Connection, session_present: bool, **_: Any) -> None:
        log.info("MQTT connection %s resumed", endpoint.client_id)
        if not session_present:
            # A clean session forgot our subscriptions; ask for them again.
            connection.resubscribe_existing_topics()
        if on_resumed:
            on_resumed()

    connection = _build(endpoint, interrupted, resumed)
    _wait(connection.connect(), "connect", timeout)
    return CrtTransport(connection, on_resumed)


def connect_retrying(
    endpoint: Endpoint,
    *,
    attempts: int = 6,
    backoff: Backoff = FIRST_CONNECT,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, MqttError], None] | None = None,
    **options: Any,
) -> CrtTransport:
    """`connect`, retried with `backoff` (swan.core.backoff).

    A new device's first connection is refused while it is registered just in time (on
    AWS and locally alike), and AWS allows one CONNECT a second per client id; so devices
    retry, a little later each time, never in lockstep.
    """
    for attempt in range(1, attempts + 1):
        try:
            return connect(endpoint, **options)
        except MqttError as error:
            if attempt == attempts:
                raise
            if on_retry is not None:
                on_retry(attempt, error)
            sleep(backoff.delay(attempt - 1, random.random()))  # noqa: S311 (jitter, not crypto)
    raise AssertionError  # unreachable: the loop returns or raises


def reconnect_arguments(backoff: Backoff = RECONNECT) -> dict[str, int]:
    """awscrt's MQTT 3.1.1 reconnect settings for `backoff`: that client counts whole
    seconds, so each wait is rounded up (never shorter than the policy's), at least 1 s."""
    return {
        "reconnect_min_timeout_secs": max(1, math.ceil(backoff.first_delay)),
        "reconnect_max_timeout_secs": max(1, math.ceil(backoff.max_delay)),
    }


def _build(endpoint: Endpoint, interrupted: Any, resumed: Any) -> mqtt.Connection:
    from awscrt import mqtt  # noqa: PLC0415

    will = None
    if endpoint.will is not None:
        will = mqtt.Will(endpoint.will[0], mqtt.QoS.AT_LEAST_ONCE, endpoint.will[1], False)  # noqa: FBT003
    common: dict[str, Any] = {
        "client_id": endpoint.client_id,
        "clean_session": endpoint.clean_session,
        "keep_alive_secs": endpoint.keep_alive_secs,
        "on_connection_interrupted": interrupted,
        "on_connection_resumed": resumed,
        **reconnect_arguments(),
        "will": will,
    }
    if endpoint.cert_file is not None:
        from awsiot import mqtt_connection_builder  # noqa: PLC0415

        # Exactly how a device connects to AWS IoT Core.
        return mqtt_connection_builder.mtls_from_path(
            endpoint=endpoint.host,
            port=endpoint.port,
            cert_filepath=str(endpoint.cert_file),
            pri_key_filepath=str(endpoint.key_file),
            ca_filepath=str(endpoint.ca_file) if endpoint.ca_file else None,
            enable_metrics_collection=False,
            **common,
        )
    from awscrt import io  # noqa: PLC0415

    options = io.SocketOptions()
    host, port = endpoint.host, endpoint.port
    if endpoint.socket_path is not None:
        options.domain = io.SocketDomain.Local
        host, port = str(endpoint.socket_path), 0
    return mqtt.Connection(
        client=mqtt.Client(None, None),
        host_name=host,
        port=port,
        socket_options=options,
        username=endpoint.username,
        password=endpoint.password,
        # awscrt appends SDK metrics to the username by default; brokers then refuse it.
        disable_metrics=True,
        **common,
    )


def _wait(future: Future[Any], what: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    try:
        return future.result(timeout)
    except TimeoutError:
        raise MqttError(what, f"no answer within {timeout:g} s") from None
    except Exception as error:
        raise MqttError(what, error) from error


def _settle(done: Future[None], future: Future[Any], what: str) -> None:
    error = future.exception()
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(MqttError(what, error))


# ---------------------------------------------------------------- the in-memory broker


@dataclass
class MemoryBroker:
    """An in-process broker with MQTT's topic matching, for unit tests.

    Delivery is synchronous and in order; `published` records everything sent.
    """

    published: list[Message] = field(default_factory=list)
    subscriptions: list[MemorySubscription] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def connect(self, client_id: str = "test") -> MemoryTransport:
        return MemoryTransport(self, client_id)

    def deliver(self, topic: str, payload: bytes) -> None:
        message = Message(topic, payload)
        with self.lock:
            self.published.append(message)
            targets = [s.handler for s in self.subscriptions if matches(s.topic_filter, topic)]
        for handler in targets:
            handler(message)

    def drop(self, transport: MemoryTransport, topic_filter: str | None = None) -> None:
        """Forget `transport`'s subscriptions (to `topic_filter` only, if given)."""
        with self.lock:
            self.subscriptions[:] = [
                kept
                for kept in self.subscriptions
                if kept.transport is not transport or topic_filter not in (None, kept.topic_filter)
            ]

    def on(self, topic: str) -> list[Any]:
        """The JSON payloads published to exactly `topic`, in order."""
        return [message.json() for message in self.published if message.topic == topic]

    def qos_of(self, client_id: str) -> dict[str, int]:
        """What each of `client_id`'s subscriptions asked for: filter -> QoS."""
        with self.lock:
            return {
                s.topic_filter: s.qos
                for s in self.subscriptions
                if s.transport.client_id == client_id
            }


class MemorySubscription(NamedTuple):
    transport: MemoryTransport
    topic_filter: str
    handler: Callable[[Message], None]
    qos: int


@dataclass
class MemoryTransport:
    """A `Transport` connected to a `MemoryBroker`."""

    broker: MemoryBroker
    client_id: str
    closed: bool = False

    def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> Future[None]:  # noqa: ARG002
        self.broker.deliver(topic, payload)
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def subscribe(
        self,
        topic_filter: str,
        handler: Callable[[Message], None],
        *,
        qos: int = 1,
    ) -> None:
        with self.broker.lock:
            self.broker.subscriptions.append(MemorySubscription(self, topic_filter, handler, qos))

    def unsubscribe(self, topic_filter: str) -> None:
        self.broker.drop(self, topic_filter)

    def close(self) -> None:
        self.closed = True
        self.broker.drop(self)
