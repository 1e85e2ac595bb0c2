"""The backend task: one MQTT connection per backend process, following the button shadow
and carrying pushes.

awscrt calls back on its own I/O thread; everything is handed to the event loop, where
the task keeps a `Board` (what every browser sees) and gives it to `publish` whenever the
shadow or the link changes. Nothing is sent per second: browsers tick by themselves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from swan.adapters.follower import ButtonFollower, Observed
from swan.adapters.mqtt import MqttError
from swan.core.codecs import PushAccepted, PushRejected, PushRequest
from swan.core.errors import InvalidPayloadError
from swan.core.topics import PushOutcome, PushTopic
from webapp.view import HISTORY_LIMIT, NO_ANSWER_SECONDS, Board, LinkState, board_for

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from swan.adapters.mqtt import Message, Transport
    from swan.core.countdown import Push
    from webapp.link import LinkFactory

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0

Answer = PushAccepted | PushRejected


@dataclass(frozen=True)
class _LinkChanged:
    state: LinkState


@dataclass
class Feed:
    """The process's link to the broker; `run` is the lifespan task, `push` the web push."""

    open_link: LinkFactory
    history_limit: int = HISTORY_LIMIT
    board: Board = field(default_factory=Board)
    answer_timeout: float = NO_ANSWER_SECONDS
    retry_seconds: float = RETRY_SECONDS
    # The push history, newest first, when this process can read it (None: it cannot now).
    recent: Callable[[int], Sequence[Push] | None] | None = None
    link: LinkState = "connecting"
    _loop: asyncio.AbstractEventLoop | None = None
    _transport: Transport | None = None
    _events: asyncio.Queue[Observed | _LinkChanged] | None = None
    _pending: dict[str, asyncio.Future[Answer]] = field(default_factory=dict)
    _topic: PushTopic | None = None  # where this connection's pushes go

    async def run(self, publish: Callable[[Board, LinkState], Awaitable[None]]) -> None:
        """Connect (retrying while the broker is away), then publish every change until
        cancelled; the connection is closed on the way out."""
        self._loop = asyncio.get_running_loop()
        self._events = asyncio.Queue()
        await publish(self.board, self.link)
        try:
            follower = await self._connect(publish)
            while True:
                event = await self._events.get()
                if isinstance(event, _LinkChanged):
                    if event.state == "live":
                        follower.refresh()  # changes made while we were away
                    self.link = event.state
                else:
                    recent = None
                    if self.recent is not None:
                        recent = await asyncio.to_thread(self.recent, self.history_limit)
                    self.board = board_for(
                        self.board, event.countdown, event.version, self.history_limit, recent
                    )
                    self.link = "live"
                await publish(self.board, self.link)
        finally:
            await asyncio.to_thread(self._close)

    async def push(self, session: str, code: str | None = None) -> Answer | None:
        """Send one push request for a browser and wait for its answer (None: none came)."""
        transport, loop, topic = self._transport, self._loop, self._topic
        if transport is None or loop is None or topic is None or self.link != "live":
            return None
        # Through the local backend's topic the browser's session is its principal; through
        # an identity's topic the identity is, whatever the session says.
        session_for = session if not topic.identity else None
        request = PushRequest(uuid.uuid4().hex, "web", session=session_for, code=code or None)
        answer: asyncio.Future[Answer] = loop.create_future()
        self._pending[request.client_token] = answer
        try:
            payload = json.dumps(request.to_payload()).encode()
            await asyncio.wrap_future(transport.publish(topic.request, payload))
            return await asyncio.wait_for(answer, self.answer_timeout)
        except (TimeoutError, MqttError):
            return None
        finally:
            self._pending.pop(request.client_token, None)

    # ------------------------------------------------------------ on the event loop

    async def _connect(
        self, publish: Callable[[Board, LinkState], Awaitable[None]]
    ) -> ButtonFollower:
        while True:
            try:
                transport = await asyncio.to_thread(
                    self.open_link,
                    on_interrupted=lambda _error: self._hand(_LinkChanged("reconnecting")),
                    on_resumed=lambda: self._hand(_LinkChanged("live")),
                )
            except MqttError as error:
                log.warning("web backend cannot reach the broker, retrying: %s", error)
                await self._retry_later(publish)
                continue
            self._transport = transport
            follower = ButtonFollower(transport, self._hand)
            try:
                await asyncio.to_thread(self._subscribe, transport, follower)
            except MqttError as error:
                log.warning("web backend could not subscribe, reconnecting: %s", error)
                await asyncio.to_thread(transport.close)
                self._transport = None
                await self._retry_later(publish)
                continue
            return follower

    async def _retry_later(self, publish: Callable[[Board, LinkState], Awaitable[None]]) -> None:
        if self.link != "reconnecting":
            self.link = "reconnecting"
            await publish(self.board, self.link)
        await asyncio.sleep(self.retry_seconds)

    # ------------------------------------------------------------ on awscrt's thread

    def _subscribe(self, transport: Transport, follower: ButtonFollower) -> None:
        topic = self.open_link.push_topic()
        for outcome in PushOutcome:
            transport.subscribe(topic.reply(outcome), self._on_answer)
        self._topic = topic
        follower.start()

    def _hand(self, event: Observed | _LinkChanged) -> None:
        if self._loop is not None and self._events is not None:
            self._loop.call_soon_threadsafe(self._events.put_nowait, event)

    def _on_answer(self, message: Message) -> None:
        try:
            answer: Answer = (
                PushAccepted.from_payload(message.payload)
                if message.topic.endswith(f"/{PushOutcome.ACCEPTED}")
                else PushRejected.from_payload(message.payload)
            )
        except InvalidPayloadError as error:
            log.warning("ignored a bad push answer: %s", error)
            return
        if self._loop is not None and answer.client_token is not None:
            self._loop.call_soon_threadsafe(self._settle, answer.client_token, answer)

    def _settle(self, token: str, answer: Answer) -> None:
        waiting = self._pending.get(token)
        if waiting is not None and not waiting.done():
            waiting.set_result(answer)

    def _close(self) -> None:
        # No unsubscribing first: the disconnect ends the subscriptions, and with the broker
        # gone each unsubscribe would wait for its timeout.
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
