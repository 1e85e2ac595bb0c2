"""Following the button shadow: get it on connect, then every `/update/documents`.

What every client does (the Pi, `swan up`'s console; the page the same in its script): the
newest version wins, older or repeated messages are dropped (shadow messages are not
ordered), and a reconnect asks for the document again. A get refused as throttled (AWS
serves 20 shadow requests a second per thing, so a hundred devices back at once are refused
in part) is asked again after a jittered, growing pause, until the document arrives.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from swan.core.backoff import Backoff
from swan.core.button_shadow import from_shadow_state
from swan.core.codecs import ShadowDocuments, ShadowErrorResponse, ShadowGetAccepted
from swan.core.errors import InvalidPayloadError
from swan.core.topics import BUTTON_SHADOW, DOCUMENTS_QOS, ShadowTopics

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.adapters.mqtt import Message, Transport
    from swan.core.countdown import Countdown

log = logging.getLogger(__name__)

NOT_FOUND = 404
THROTTLED = 429
RETRY: Final = Backoff(first_delay=0.5, max_delay=30.0)
"""A throttled get's waits (swan.core.backoff)."""


def _timer(delay: float, action: Callable[[], None]) -> Callable[[], None]:
    """Run `action` after `delay` seconds on a daemon thread; returns a canceller."""
    timer = threading.Timer(delay, action)
    timer.daemon = True
    timer.start()
    return timer.cancel


@dataclass(frozen=True)
class Observed:
    """The button's countdown at a shadow version (None: nobody has pushed yet)."""

    countdown: Countdown | None
    version: int


class ButtonFollower:
    def __init__(
        self,
        transport: Transport,
        on_change: Callable[[Observed], None],
        topics: ShadowTopics = BUTTON_SHADOW,
        *,
        later: Callable[[float, Callable[[], None]], Callable[[], None]] = _timer,
    ) -> None:
        """`later(delay, action)` runs a retry and returns its canceller (tests pass their own)."""
        self._transport = transport
        self._later = later
        self._retries = 0
        self._cancel_retry: Callable[[], None] | None = None
        self._on_change = on_change
        self._topics = topics
        self._lock = threading.Lock()
        self._latest: Observed | None = None
        self._token = f"follow-{uuid.uuid4().hex[:12]}"
        self.loaded = threading.Event()

    @property
    def latest(self) -> Observed | None:
        with self._lock:
            return self._latest

    def start(self) -> None:
        t = self._topics
        self._transport.subscribe(t.update_documents, self._on_documents, qos=DOCUMENTS_QOS)
        self._transport.subscribe(t.get_accepted, self._on_get)
        self._transport.subscribe(t.get_rejected, self._on_get_rejected)
        self.refresh()

    def stop(self) -> None:
        with self._lock:
            cancel, self._cancel_retry = self._cancel_retry, None
        if cancel is not None:
            cancel()
        t = self._topics
        for topic in (t.update_documents, t.get_accepted, t.get_rejected):
            self._transport.unsubscribe(topic)

    def refresh(self) -> None:
        """Ask for the whole document (on connect, and again after a reconnect)."""
        payload = f'{{"clientToken": "{self._token}"}}'.encode()
        self._transport.publish(self._topics.get, payload)

    def _on_documents(self, message: Message) -> None:
        try:
            documents = ShadowDocuments.from_payload(message.payload)
            countdown = from_shadow_state({"reported": documents.current.reported})
        except InvalidPayloadError as error:
            log.warning("ignored a bad button shadow document: %s", error)
            return
        self._offer(Observed(countdown, documents.current.version))

    def _on_get(self, message: Message) -> None:
        try:
            accepted = ShadowGetAccepted.from_payload(message.payload)
            if accepted.client_token != self._token:
                return  # someone else's get
            countdown = from_shadow_state({"reported": accepted.snapshot.reported})
        except InvalidPayloadError as error:
            log.warning("ignored a bad button shadow: %s", error)
            return
        with self._lock:
            self._retries = 0
        self._offer(Observed(countdown, accepted.snapshot.version))

    def _on_get_rejected(self, message: Message) -> None:
        try:
            error = ShadowErrorResponse.from_payload(message.payload)
        except InvalidPayloadError:
            return
        if error.client_token != self._token:
            return
        if error.code == NOT_FOUND:
            self._offer(Observed(None, 0))
        elif error.code == THROTTLED:
            self._retry_later()

    def _retry_later(self) -> None:
        with self._lock:
            delay = RETRY.delay(self._retries, random.random())  # noqa: S311  (spreading)
            self._retries += 1
            log.info("the button shadow get was throttled; asking again in %.1f s", delay)
            self._cancel_retry = self._later(delay, self.refresh)

    def _offer(self, observed: Observed) -> None:
        with self._lock:
            latest = self._latest
            if latest is not None and observed.version <= latest.version:
                return
            self._latest = observed
        self.loaded.set()
        self._on_change(observed)
