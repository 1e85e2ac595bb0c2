"""The local Device Shadow service: the core's shadow rules, served over MQTT, kept in a store.

Both front ends call the same methods. The MQTT front end is `handle_message`, subscribed to
every shadow request topic. The HTTP front end is `swan.local.dataplane`. Each operation reads,
applies the rules, stores and publishes under one lock, so updates to a shadow never interleave
and their notifications go out in version order.

What is published, and when. AWS documents the MQTT side; where it says nothing, these are
the choices made here:
- update: `/update/accepted`, `/update/delta` (when desired still differs from reported) and
  `/update/documents`, whichever front end the update came from. An HTTP update must fire the
  same topic rules as a device's update (reference 1.4).
- delete: `/delete/accepted`, also for HTTP deletes. Like an update, a delete changes state.
- get: `/get/accepted` answers MQTT requests only. An HTTP read changes nothing, and
  subscribers must not receive a document that nobody they know of asked for.
- rejected: `/<op>/rejected` goes only to MQTT requesters. HTTP callers get the HTTP error
  instead (device-shadow-error-messages.md).
- A request topic whose thing or shadow name breaks the AWS rules is answered 400 on
  `<that topic>/rejected`, echoing the payload's clientToken when it has one.
- An unexpected failure is logged with its traceback and answered 500 "Internal service
  failure". The service keeps running.

AWS's limits, each with its source where it is enforced: a message over 128 KB is answered
413 before it is decoded, a state over 8 KB 413 (`swan.local.core.shadow`); a thing over 20
requests a second or 10 in flight is answered 429 before anything is read
(`swan.local.core.shadow_throttle`), so a flood on one thing costs little and never holds up the
others. Every payload is decoded by `swan.core.jsondoc.decode_json`, so text that is not
Unicode is 400 "Invalid JSON" (bytes that are not UTF-8: 415, as AWS documents). What goes
out is encoded before anything is stored, as strict UTF-8: nothing undecodable is published.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeAlias, TypeVar

from swan.adapters.memory import give_large_blocks_back
from swan.core import names
from swan.core.errors import InvalidTopicError
from swan.core.port_numbers import port_argument
from swan.core.topics import (
    NAMED_SHADOW_REQUESTS,
    SHADOW_REQUESTS,
    ShadowOperation,
    ShadowResponse,
    ShadowTopics,
    parse_shadow_topic,
)
from swan.local.core.shadow import (
    MAX_MESSAGE_BYTES,
    DeleteAccepted,
    Rejection,
    ShadowKey,
    UpdateAccepted,
    apply_delete,
    apply_update,
    get_document,
    parse_request_token,
)
from swan.local.core.shadow_errors import INTERNAL_FAILURE, THROTTLED
from swan.local.core.shadow_throttle import Budget, Throttled, admit, is_full
from swan.local.service_main import run_service

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from concurrent.futures import Future

    from swan.adapters.clock import Clock
    from swan.adapters.mqtt import Message, Transport
    from swan.core.jsondoc import JsonObject
    from swan.local.httpapi import HttpRequest
    from swan.local.shadow_store import ShadowStore

    _Outbox: TypeAlias = Sequence[tuple[str, bytes]]  # (topic, payload) to publish, in order

log = logging.getLogger(__name__)
NO_HTTP_API: Final = -1
"""`--http-port -1`: no iot-data HTTP API."""

SIGNAL_POLL_SECONDS: Final = 0.25

GET, UPDATE, DELETE = ShadowOperation.GET, ShadowOperation.UPDATE, ShadowOperation.DELETE
ACCEPTED, REJECTED = ShadowResponse.ACCEPTED, ShadowResponse.REJECTED
DELTA, DOCUMENTS = ShadowResponse.DELTA, ShadowResponse.DOCUMENTS

_R = TypeVar("_R")

REQUEST_FILTERS: Final = (SHADOW_REQUESTS, NAMED_SHADOW_REQUESTS)
_COMPACT: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
DEFAULT_PAGE_SIZE: Final = 25  # ListNamedShadowsForThing; AWS documents only the range
MAX_PAGE_SIZE: Final = 100
INVALID_PAGE_SIZE: Final = Rejection(400, f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE}")
INVALID_NEXT_TOKEN: Final = Rejection(400, "Invalid nextToken")
SWEEP_AT_LEAST: Final = 4096  # things whose budgets are kept before full ones are forgotten


@dataclass(frozen=True)
class NamedShadowPage:
    """One page of ListNamedShadowsForThing."""

    names: tuple[str, ...]
    next_token: str | None
    timestamp: int

    def to_json(self) -> JsonObject:
        document: JsonObject = {"results": list(self.names), "timestamp": self.timestamp}
        if self.next_token is not None:
            document["nextToken"] = self.next_token
        return document


class ShadowService:
    """AWS Device Shadow behaviour over a `ShadowStore`, answering on a `Transport`."""

    def __init__(self, store: ShadowStore, transport: Transport, clock: Clock) -> None:
        self._store = store
        self._transport = transport
        self._clock = clock
        # Reentrant: with an in-process broker, a subscriber may call back from a publish.
        self._lock = threading.RLock()
        self._subscribed: list[str] = []
        self.limits = ThingLimits()

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Answer shadow requests published on the broker."""
        for topic_filter in REQUEST_FILTERS:
            if topic_filter not in self._subscribed:
                self._transport.subscribe(topic_filter, self.handle_message)
                self._subscribed.append(topic_filter)
        log.info("shadow service answering %s", ", ".join(REQUEST_FILTERS))

    def stop(self) -> None:
        """Stop answering; operations called directly keep working."""
        while self._subscribed:
            self._transport.unsubscribe(self._subscribed.pop())

    # ---------------------------------------------------------------- operations

    def update(
        self, key: ShadowKey, payload: bytes, *, via_mqtt: bool
    ) -> UpdateAccepted | Rejection:
        """UpdateThingShadow, or a message on `/update`."""

        def work() -> tuple[UpdateAccepted | Rejection, _Outbox]:
            result = apply_update(self._store.get(key), payload, now=self._clock.now())
            if isinstance(result, Rejection):
                return result, ()
            # Encoded before storing: a shadow that cannot be published is not stored.
            outbox = [(_topic(key, UPDATE, ACCEPTED), encode_document(result.accepted))]
            if result.delta is not None:
                outbox.append((_topic(key, UPDATE, DELTA), encode_document(result.delta)))
            outbox.append((_topic(key, UPDATE, DOCUMENTS), encode_document(result.documents)))
            self._store.put(key, result.shadow)
            return result, outbox

        return self._serve(key, payload, UPDATE, work, via_mqtt=via_mqtt)

    def get(
        self, key: ShadowKey, payload: bytes = b"", *, via_mqtt: bool
    ) -> JsonObject | Rejection:
        """GetThingShadow, or a message on `/get`: the full document, delta included."""

        def work() -> tuple[JsonObject | Rejection, _Outbox]:
            token = parse_request_token(payload)
            if isinstance(token, Rejection):
                return token, ()
            document = get_document(
                self._store.get(key), key=key, now=self._clock.now(), client_token=token
            )
            if isinstance(document, Rejection):
                return document, ()
            encoded = encode_document(document)  # HTTP answers it; MQTT publishes it
            # An HTTP read publishes nothing.
            return document, ((_topic(key, GET, ACCEPTED), encoded),) if via_mqtt else ()

        return self._serve(key, payload, GET, work, via_mqtt=via_mqtt)

    def delete(
        self, key: ShadowKey, payload: bytes = b"", *, via_mqtt: bool
    ) -> DeleteAccepted | Rejection:
        """DeleteThingShadow, or a message on `/delete`. The version is kept."""

        def work() -> tuple[DeleteAccepted | Rejection, _Outbox]:
            token = parse_request_token(payload)
            if isinstance(token, Rejection):
                return token, ()
            result = apply_delete(
                self._store.get(key), key=key, now=self._clock.now(), client_token=token
            )
            if isinstance(result, Rejection):
                return result, ()
            accepted = encode_document(result.accepted)
            self._store.put(key, result.shadow)
            return result, ((_topic(key, DELETE, ACCEPTED), accepted),)

        return self._serve(key, payload, DELETE, work, via_mqtt=via_mqtt)

    def list_named_shadows(
        self, thing: str, *, page_size: int | None = None, next_token: str | None = None
    ) -> NamedShadowPage | Rejection:
        """ListNamedShadowsForThing: never the classic shadow; an unknown thing has none."""
        size = DEFAULT_PAGE_SIZE if page_size is None else page_size
        if not 1 <= size <= MAX_PAGE_SIZE:
            return INVALID_PAGE_SIZE
        after = None if next_token is None else _decode_token(next_token)
        if isinstance(after, Rejection):
            return after
        try:
            with self._lock:
                every = self._store.list_named(thing)
        except Exception:
            log.exception("listing the named shadows of %s failed", thing)
            return INTERNAL_FAILURE
        remaining = [name for name in every if after is None or name > after]
        page = tuple(remaining[:size])
        more = len(remaining) > size
        token = _encode_token(page[-1]) if more else None
        return NamedShadowPage(page, token, int(self._clock.now()))

    # ---------------------------------------------------------------- MQTT front end

    def handle_message(self, message: Message) -> None:
        """Answer one message on a shadow request topic; anything else is ignored."""
        try:
            self._dispatch(message)
        except Exception:  # one bad message must never take the service down
            log.exception("shadow request on %s failed", message.topic)

    def _dispatch(self, message: Message) -> None:
        try:
            parsed = parse_shadow_topic(message.topic)
        except InvalidTopicError as error:
            self._reject_topic(message, error)
            return
        if parsed is None or not parsed.is_request:
            log.debug("ignoring %s: not a shadow request", message.topic)
            return
        key = ShadowKey(parsed.thing, parsed.shadow_name)
        log.debug("%s %s", parsed.operation, _describe(key))
        if parsed.operation is ShadowOperation.UPDATE:
            self.update(key, message.payload, via_mqtt=True)
        elif parsed.operation is ShadowOperation.GET:
            self.get(key, message.payload, via_mqtt=True)
        else:
            self.delete(key, message.payload, via_mqtt=True)

    def _reject_topic(self, message: Message, error: InvalidTopicError) -> None:
        # The names cannot build a topic, so answer next to the request, as AWS would.
        if message.topic.rsplit("/", 1)[-1] not in tuple(ShadowOperation):
            return
        rejection = Rejection(400, str(error), _token_of(message.payload))
        self._reject(f"{message.topic}/{ShadowResponse.REJECTED}", rejection)

    # ---------------------------------------------------------------- internals

    def _serve(
        self,
        key: ShadowKey,
        payload: bytes,
        operation: ShadowOperation,
        work: Callable[[], tuple[_R | Rejection, _Outbox]],
        *,
        via_mqtt: bool,
    ) -> _R | Rejection:
        """Admit the request (the thing's limits), run `work` under the lock, then publish
        what it returns, or the rejection to MQTT requesters. HTTP callers get the result."""
        if not self.limits.enter(key.thing, self._clock.now()):
            # Cheap on purpose: a flood of requests is answered without touching the store.
            throttled = THROTTLED.with_token(_token_of(payload))
            if via_mqtt:
                self._reject(_topic(key, operation, REJECTED), throttled)
            return throttled
        try:
            with self._lock:
                try:
                    result: _R | Rejection
                    result, outbox = work()
                except Exception:
                    log.exception("request to shadow %s failed", _describe(key))
                    result, outbox = INTERNAL_FAILURE.with_token(_token_of(payload)), ()
                if isinstance(result, Rejection):
                    if via_mqtt:
                        self._reject(_topic(key, operation, REJECTED), result)
                else:
                    # The state is already stored: a failed notification is logged, not undone.
                    for topic, body in outbox:
                        self._publish(topic, body)
        finally:
            self.limits.leave(key.thing)
        return result

    def _reject(self, topic: str, rejection: Rejection) -> None:
        # Its clientToken, if any, came through decode_json: always encodable.
        self._publish(topic, encode_document(rejection.to_payload(self._clock.now())))

    def _publish(self, topic: str, payload: bytes) -> None:
        try:
            sent = self._transport.publish(topic, payload, qos=1)
        except Exception:
            log.exception("could not publish %s", topic)
            return
        sent.add_done_callback(partial(_log_failure, topic))


class ThingLimits:
    """Each thing's request budget and requests in flight, under a lock of their own, so a
    flooding thing is refused without waiting for the service's lock
    (swan.local.core.shadow_throttle).

    A full budget is the same as none, so budgets are forgotten once full: what is kept is
    bounded by the things that made requests in the last second (`BURST / rate`), twice over.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._budgets: dict[str, Budget] = {}
        self._in_flight: dict[str, int] = {}
        self._sweep_at = SWEEP_AT_LEAST

    @property
    def remembered(self) -> int:
        """How many things' budgets are kept."""
        return len(self._budgets)

    def in_flight(self, thing: str) -> int:
        """How many requests of `thing` have started and are not answered yet."""
        return self._in_flight.get(thing, 0)

    def enter(self, thing: str, now: float) -> bool:
        """Start a request of `thing` if its limits allow it; `leave` must follow."""
        with self._lock:
            in_flight = self._in_flight.get(thing, 0)
            outcome = admit(self._budgets.get(thing), now, in_flight)
            if isinstance(outcome, Throttled):
                log.debug("thing %s is over its %s limit", thing, outcome.limit)
                return False
            self._budgets[thing] = outcome.budget
            self._in_flight[thing] = in_flight + 1
            if len(self._budgets) > self._sweep_at:
                self._sweep(now)
            return True

    def leave(self, thing: str) -> None:
        """A request of `thing` is answered."""
        with self._lock:
            left = self._in_flight.pop(thing) - 1
            if left:
                self._in_flight[thing] = left

    def _sweep(self, now: float) -> None:
        # Amortised: the next sweep waits until the map has doubled again.
        self._budgets = {t: b for t, b in self._budgets.items() if not is_full(b, now)}
        self._sweep_at = max(SWEEP_AT_LEAST, 2 * len(self._budgets))


def _log_failure(topic: str, sent: Future[None]) -> None:
    error = sent.exception()
    if error is not None:
        log.warning("publish to %s failed: %s", topic, error)


@lru_cache(maxsize=16384)
def _topic(key: ShadowKey, operation: ShadowOperation, response: ShadowResponse) -> str:
    # Built once per shadow and answer: a topic is a few string joins, on every request.
    return ShadowTopics(key.thing, key.name).topic(operation, response)


def _describe(key: ShadowKey) -> str:
    return key.thing if key.name is None else f"{key.thing}/{key.name}"


def _token_of(payload: bytes) -> str | None:
    """The request's clientToken to echo in a rejection, when it has a valid one."""
    try:
        token = parse_request_token(payload)
    except Exception:  # noqa: BLE001  (already refusing; the token is a courtesy)
        return None
    return token if isinstance(token, str) else None


def encode_document(document: JsonObject) -> bytes:
    """Compact UTF-8 JSON. Raises UnicodeEncodeError for text that is not Unicode (a lone
    surrogate, which only a shadow stored before decode_json refused them can hold): no
    subscriber could decode it, so it is never published or answered."""
    return _COMPACT.encode(document).encode()


def _encode_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _decode_token(token: str) -> str | Rejection:
    try:
        name = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
    except (UnicodeError, binascii.Error):
        return INVALID_NEXT_TOKEN
    return name if names.SHADOW_NAME.fullmatch(name) else INVALID_NEXT_TOKEN


# ---------------------------------------------------------------- the process


PASSWORD_VARIABLE = "SWAN_SERVICE_PASSWORD"  # noqa: S105  (a variable name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the shadow service (MQTT and HTTP) until SIGTERM or SIGINT."""
    options = _parser().parse_args(argv)
    return run_service(lambda: _serve(options), verbose=options.verbose)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m swan.local.shadow_service",
        description="The local AWS IoT Device Shadow service: answers shadow requests on "
        "the broker and serves the iot-data HTTP API, keeping shadows in SQLite.",
    )
    parser.add_argument("--db", type=Path, required=True, help="SQLite file for the shadows")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--socket", type=Path, help="the broker's internal unix socket")
    where.add_argument("--port", type=port_argument("--port"), help="broker port (plain TCP)")
    parser.add_argument("--host", default="127.0.0.1", help="broker host (default %(default)s)")
    parser.add_argument("--username", help="broker login")
    parser.add_argument(
        "--password",
        default=os.environ.get(PASSWORD_VARIABLE),
        help=f"broker password (default: ${PASSWORD_VARIABLE}, which keeps it out of `ps`)",
    )
    parser.add_argument("--client-id", default="swan-shadow-service", help="MQTT client id")
    parser.add_argument(
        "--http-port",
        type=_http_port,
        default=0,
        help="iot-data HTTP port on 127.0.0.1 (default: any free port; -1: no HTTP API)",
    )
    parser.add_argument(
        "--credentials-dir",
        type=Path,
        help="take only iot-data requests signed (SigV4) by the keys of this state directory"
        " and allowed by the signer's role (its role-policies.json)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def _http_port(raw: str) -> int:
    """`--http-port`: a port (swan.core.port_numbers; 0 for any free one), or -1 for none."""
    if raw == str(NO_HTTP_API):
        return NO_HTTP_API
    return port_argument("--http-port", any_port=True)(raw)


def _serve(options: argparse.Namespace) -> int:
    # The composition root of this process.
    from swan.adapters.clock import SystemClock  # noqa: PLC0415
    from swan.adapters.mqtt import Endpoint, connect  # noqa: PLC0415
    from swan.local.collector import serving  # noqa: PLC0415
    from swan.local.dataplane import DataPlane  # noqa: PLC0415
    from swan.local.shadow_store import SqliteShadowStore  # noqa: PLC0415

    give_large_blocks_back(MAX_MESSAGE_BYTES)
    # A plain flag, set by the handler: an Event's set() takes the lock its wait() may be
    # holding in this very thread when the signal lands (seen: a deadlock that left the
    # service running after its parent's death signal).
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: stopping.append(number))
    with SqliteShadowStore(options.db) as store:
        endpoint = Endpoint(
            options.host,
            options.port or 0,
            options.client_id,
            username=options.username,
            password=options.password,
            socket_path=options.socket,
        )
        transport = connect(endpoint)
        service = ShadowService(store, transport, SystemClock())
        dataplane = (
            None
            if options.http_port == NO_HTTP_API
            else DataPlane(service, transport, port=options.http_port, check=_signatures(options))
        )
        try:
            service.start()
            if dataplane is not None:
                dataplane.start()
            url = "off" if dataplane is None else dataplane.url
            with serving():  # long-lived and allocation-heavy: swan.local.collector
                log.info("shadow service ready: db %s, http %s", options.db, url)
                # Wake now and then: the main thread runs a signal's handler only when it
                # runs Python, and the process that started us may be gone without a signal.
                parent = os.getppid()
                while not stopping:
                    if os.getppid() != parent:
                        log.info("the process that started the shadow service is gone")
                        break
                    time.sleep(SIGNAL_POLL_SECONDS)
                log.info("shadow service stopping")
        finally:
            # Closing the connection ends the subscriptions too, without a round trip per
            # filter that would wait out a timeout if the broker is already gone.
            _quietly(dataplane.stop if dataplane is not None else None)
            _quietly(transport.close)
    return 0


def _signatures(options: argparse.Namespace) -> Callable[[HttpRequest], None] | None:
    """The data plane's check, when it has a state directory: SigV4 by the stack's keys,
    and each call allowed by the signer's role (as the stack recorded the roles)."""
    if options.credentials_dir is None:
        return None
    from swan.local.authorization import read_role_policies  # noqa: PLC0415
    from swan.local.credentials import load_or_create  # noqa: PLC0415
    from swan.local.intrinsics import LOCAL_REGION  # noqa: PLC0415
    from swan.local.signed import require_signature  # noqa: PLC0415
    from swan.local.sigv4 import iot_data_api  # noqa: PLC0415

    keys = load_or_create(options.credentials_dir, ())
    roles = read_role_policies(options.credentials_dir)
    return require_signature(iot_data_api(LOCAL_REGION), keys.lookup, roles=roles)


def _quietly(step: Callable[[], None] | None) -> None:
    if step is None:
        return
    try:
        step()
    except Exception:
        log.exception("shutdown step failed")


if __name__ == "__main__":
    sys.exit(main())
