"""MQTT 5 for devices, over awsiotsdk's mTLS builder: the `Transport` port of
swan.adapters.mqtt, plus what a device that runs for months needs from its connection.

- The client keeps itself connected: awscrt's MQTT 5 client retries the first connect (that
  just-in-time registration refuses) and every dropped connection, with exponential backoff
  and jitter, forever, until `close`.
- Subscriptions are kept here and asked for again on every connection (each one starts a
  clean session), then `on_connected` runs, so the caller can resynchronise.
- Nothing queues while offline: operations fail at once when there is no connection, and
  the caller decides what is worth doing again after the next connect.
- A last will (topic, payload), published by the broker when the connection dies without
  a DISCONNECT, or when `close(with_will=True)` asks for it.

The same code connects to AWS IoT Core and to the local device gateway; only the endpoint
differs. Callbacks run on awscrt's event-loop thread: handlers must not block on MQTT.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from swan.adapters.mqtt import Endpoint, Message, MqttError
from swan.core.backoff import RECONNECT, Backoff
from swan.core.topics import matches

if TYPE_CHECKING:
    from collections.abc import Callable

    from awscrt import mqtt5

log = logging.getLogger(__name__)

ANSWER_TIMEOUT: Final = 10.0
STOP_TIMEOUT: Final = 5.0
KEEP_ALIVE_SECONDS: Final = 60
"""AWS IoT allows 30-1200 s; a minute notices a dead link soon, for one ping a minute."""
FIRST_ERROR_CODE: Final = 0x80
"""MQTT 5 reason codes from 0x80 up are failures; below, successes (0x10: nobody listened)."""


@dataclass(frozen=True)
class Will:
    """The message the broker publishes for us when we vanish (QoS 1, not retained)."""

    topic: str
    payload: bytes


def builder_arguments(endpoint: Endpoint, *, will: Will | None, backoff: Backoff) -> dict[str, Any]:
    """The keyword arguments for awsiotsdk's `mqtt5_client_builder.mtls_from_path`, without
    the callbacks: exactly how a device connects to AWS IoT Core.

    awscrt reconnects by itself from `backoff`'s first wait up to its longest, with
    decorrelated jitter; a connection that lasted 30 s starts over from the first (awscrt's
    default; setting that option explicitly made awscrt 0.36 wait the longest every time)."""
    from awscrt import mqtt5  # noqa: PLC0415

    if endpoint.cert_file is None or endpoint.key_file is None:
        raise MqttError("connect", f"{endpoint.client_id}: MQTT 5 devices need a certificate")
    return {
        "endpoint": endpoint.host,
        "port": endpoint.port,
        "cert_filepath": str(endpoint.cert_file),
        "pri_key_filepath": str(endpoint.key_file),
        "ca_filepath": str(endpoint.ca_file) if endpoint.ca_file else None,
        "client_id": endpoint.client_id,
        "keep_alive_interval_sec": KEEP_ALIVE_SECONDS,
        "session_behavior": mqtt5.ClientSessionBehaviorType.CLEAN,
        # Nothing piles up while offline: a press made then is refused, not sent hours later.
        "offline_queue_behavior": mqtt5.ClientOperationQueueBehaviorType.FAIL_ALL_ON_DISCONNECT,
        "retry_jitter_mode": mqtt5.ExponentialBackoffJitterMode.DECORRELATED,
        "min_reconnect_delay_ms": round(backoff.first_delay * 1000),
        "max_reconnect_delay_ms": round(backoff.max_delay * 1000),
        "connack_timeout_ms": round(ANSWER_TIMEOUT * 1000),
        "ack_timeout_sec": round(ANSWER_TIMEOUT),
        "will": None
        if will is None
        else mqtt5.PublishPacket(
            topic=will.topic, payload=will.payload, qos=mqtt5.QoS.AT_LEAST_ONCE, retain=False
        ),
        # The SDK's metrics would go into the username, which the local broker reads.
        "enable_metrics_collection": False,
    }


class Mqtt5Transport:
    """A `Transport` over an awscrt MQTT 5 client that keeps itself connected."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        will: Will | None = None,
        backoff: Backoff = RECONNECT,
        on_connected: Callable[[], None] | None = None,
        on_disconnected: Callable[[Exception | None], None] | None = None,
        on_connect_failed: Callable[[Exception | None], None] | None = None,
    ) -> None:
        from awsiot import mqtt5_client_builder  # noqa: PLC0415

        self.endpoint = endpoint
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._on_connect_failed = on_connect_failed
        self._lock = threading.Lock()
        self._handlers: dict[str, Callable[[Message], None]] = {}
        self._connected = threading.Event()
        self._stopped = threading.Event()
        self.connections = 0
        self.failures = 0
        self._client = mqtt5_client_builder.mtls_from_path(
            **builder_arguments(endpoint, will=will, backoff=backoff),
            on_publish_received=self._received,
            on_lifecycle_connection_success=self._connection_success,
            on_lifecycle_connection_failure=self._connection_failure,
            on_lifecycle_disconnection=self._disconnection,
            on_lifecycle_stopped=self._lifecycle_stopped,
        )

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start connecting in the background (and keep connecting until `close`)."""
        self._stopped.clear()
        self._client.start()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def close(self, *, with_will: bool = False) -> None:
        """Disconnect and stop reconnecting; `with_will` has the broker publish the will."""
        from awscrt import mqtt5  # noqa: PLC0415

        reason = (
            mqtt5.DisconnectReasonCode.DISCONNECT_WITH_WILL_MESSAGE
            if with_will
            else mqtt5.DisconnectReasonCode.NORMAL_DISCONNECTION
        )
        self._client.stop(mqtt5.DisconnectPacket(reason_code=reason))
        if not self._stopped.wait(STOP_TIMEOUT):
            log.warning("MQTT client %s did not stop in time", self.endpoint.client_id)
        self._connected.clear()

    # ------------------------------------------------------------ the port

    def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> Future[None]:
        from awscrt import mqtt5  # noqa: PLC0415

        done: Future[None] = Future()
        try:
            sent = self._client.publish(
                mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS(qos))
            )
        except Exception as error:  # noqa: BLE001  (awscrt refuses synchronously at times)
            done.set_exception(MqttError("publish", error))
            return done
        sent.add_done_callback(lambda future: _settle_publish(done, future))
        return done

    def subscribe(
        self, topic_filter: str, handler: Callable[[Message], None], *, qos: int = 1
    ) -> None:
        """Keep `handler` for `topic_filter`; when connected, subscribe now and wait for the
        SUBACK (a refusal raises MqttError). Offline, the next connection subscribes."""
        with self._lock:
            self._handlers[topic_filter] = handler
            # Under the lock: either the connection's own resubscribe sees this handler,
            # or we see that connection and subscribe ourselves (twice is harmless).
            connected = self._connected.is_set()
        if not connected:
            return
        try:
            suback = self._client.subscribe(_subscribe_packet([topic_filter], qos)).result(
                ANSWER_TIMEOUT
            )
        except Exception as error:  # noqa: BLE001  (the connection dropped: it comes back)
            log.info("subscribe %s postponed to the next connection: %s", topic_filter, error)
            return
        _check_suback(suback, [topic_filter])

    def unsubscribe(self, topic_filter: str) -> None:
        from awscrt import mqtt5  # noqa: PLC0415

        with self._lock:
            self._handlers.pop(topic_filter, None)
        if not self.connected:
            return
        try:
            self._client.unsubscribe(mqtt5.UnsubscribePacket([topic_filter])).result(ANSWER_TIMEOUT)
        except Exception:
            log.debug("unsubscribe %s without a connection", topic_filter, exc_info=True)

    @property
    def topic_filters(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._handlers)

    # ------------------------------------------------------------ awscrt's callbacks

    def _received(self, data: mqtt5.PublishReceivedData) -> None:
        packet = data.publish_packet
        message = Message(packet.topic, bytes(packet.payload or b""))
        with self._lock:
            handlers = [h for f, h in self._handlers.items() if _matches(f, message.topic)]
        for handler in handlers:
            try:
                handler(message)
            except Exception:  # a handler's bug must not kill the event loop
                log.exception("handler failed on a message on %s", message.topic)

    def _connection_success(self, _data: mqtt5.LifecycleConnectSuccessData) -> None:
        self.connections += 1
        log.info("MQTT 5 %s connected (connection %d)", self.endpoint.client_id, self.connections)
        with self._lock:
            self._connected.set()
            filters = tuple(self._handlers)
        if filters:
            # Not waited for here (this is the event loop); the broker takes packets in
            # order, so these subscriptions are in place before anything sent after them.
            sent = self._client.subscribe(_subscribe_packet(list(filters), 1))
            sent.add_done_callback(lambda future: _log_suback(future, list(filters)))
        _call(self._on_connected)

    def _connection_failure(self, data: mqtt5.LifecycleConnectFailureData) -> None:
        self.failures += 1
        log.info("MQTT 5 %s could not connect: %s", self.endpoint.client_id, data.exception)
        _call(self._on_connect_failed, data.exception)

    def _disconnection(self, data: mqtt5.LifecycleDisconnectData) -> None:
        self._connected.clear()
        log.info("MQTT 5 %s disconnected: %s", self.endpoint.client_id, data.exception)
        _call(self._on_disconnected, data.exception)

    def _lifecycle_stopped(self, _data: mqtt5.LifecycleStoppedData) -> None:
        self._connected.clear()
        self._stopped.set()


def _subscribe_packet(filters: list[str], qos: int) -> mqtt5.SubscribePacket:
    from awscrt import mqtt5  # noqa: PLC0415

    return mqtt5.SubscribePacket([mqtt5.Subscription(f, mqtt5.QoS(qos)) for f in filters])


def _check_suback(suback: mqtt5.SubackPacket, filters: list[str]) -> None:
    refused = [
        f"{topic_filter} ({code.name if hasattr(code, 'name') else code})"
        for topic_filter, code in zip(filters, suback.reason_codes or (), strict=False)
        if int(code) >= FIRST_ERROR_CODE
    ]
    if refused:
        raise MqttError("subscribe", f"refused by the broker: {', '.join(refused)}")


def _log_suback(future: Future[Any], filters: list[str]) -> None:
    try:
        _check_suback(future.result(), filters)
    except Exception as error:  # noqa: BLE001  (a callback: say it, never raise it)
        log.warning("resubscribing %s failed: %s", filters, error)


def _settle_publish(done: Future[None], future: Future[Any]) -> None:
    error = future.exception()
    if error is not None:
        done.set_exception(MqttError("publish", error))
        return
    puback = future.result().puback
    code = None if puback is None else puback.reason_code
    if code is not None and int(code) >= FIRST_ERROR_CODE:
        done.set_exception(MqttError("publish", f"refused by the broker: {code}"))
    else:
        done.set_result(None)


def _matches(topic_filter: str, topic: str) -> bool:
    try:
        return matches(topic_filter, topic)
    except ValueError:
        return False


def _call(hook: Callable[..., None] | None, *args: object) -> None:
    if hook is None:
        return
    try:
        hook(*args)
    except Exception:  # a hook's bug must not kill the event loop
        log.exception("MQTT lifecycle hook failed")
