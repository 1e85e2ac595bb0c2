"""Following the button shadow: get it on connect, then every `/update/documents`.

What every client does (the web backend, the Pi, `swan up`'s console): the newest version
wins, older or repeated messages are dropped (shadow messages are not ordered), and a
reconnect asks for the document again.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from swan.core.button_shadow import from_shadow_state
from swan.core.codecs import ShadowDocuments, ShadowErrorResponse, ShadowGetAccepted
from swan.core.errors import InvalidPayloadError
from swan.core.topics import BUTTON_SHADOW, ShadowTopics

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.adapters.mqtt import Message, Transport
    from swan.core.countdown import Countdown

log = logging.getLogger(__name__)

NOT_FOUND = 404


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
    ) -> None:
        self._transport = transport
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
        self._transport.subscribe(t.update_documents, self._on_documents)
        self._transport.subscribe(t.get_accepted, self._on_get)
        self._transport.subscribe(t.get_rejected, self._on_get_rejected)
        self.refresh()

    def stop(self) -> None:
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
        self._offer(Observed(countdown, accepted.snapshot.version))

    def _on_get_rejected(self, message: Message) -> None:
        try:
            error = ShadowErrorResponse.from_payload(message.payload)
        except InvalidPayloadError:
            return
        if error.client_token == self._token and error.code == NOT_FOUND:
            self._offer(Observed(None, 0))

    def _offer(self, observed: Observed) -> None:
        with self._lock:
            latest = self._latest
            if latest is not None and observed.version <= latest.version:
                return
            self._latest = observed
        self.loaded.set()
        self._on_change(observed)
