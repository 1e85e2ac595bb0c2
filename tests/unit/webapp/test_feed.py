"""The backend task against an in-memory broker: the shadow becomes the board, pushes are
answered, and a dropped link shows as reconnecting until it is back."""

from __future__ import annotations

import asyncio
import json

from swan.adapters.mqtt import MemoryBroker, MqttError
from swan.core.button_shadow import to_reported
from swan.core.countdown import Countdown, Push
from swan.core.topics import BUTTON_SHADOW, WEB_SENDER, PushTopic
from webapp.feed import Feed
from webapp.view import waiting_board

COUNTDOWN = Countdown(
    period_seconds=6480.0,
    deadline=10_000.0,
    phase="counting",
    last_push=Push(3520.0, "pi-kitchen", "pi"),
    pushes=7,
    run_started_at=1000.0,
    failures=0,
    failed_at=None,
    updated_at=3520.0,
)


class ShadowService:
    """Answers gets for the button shadow with `reported`, as the shadow service does."""

    def __init__(self, broker: MemoryBroker, reported: dict | None, version: int = 5) -> None:
        self.broker = broker
        self.reported = reported
        self.version = version
        self.gets = 0
        self.transport = broker.connect("shadow-service")
        self.transport.subscribe(BUTTON_SHADOW.get, self._on_get)

    def _on_get(self, message) -> None:
        self.gets += 1
        token = message.json()["clientToken"]
        answer = {
            "state": {"reported": self.reported},
            "version": self.version,
            "timestamp": 1,
            "clientToken": token,
        }
        self.broker.deliver(BUTTON_SHADOW.get_accepted, json.dumps(answer).encode())

    def update(self, reported: dict, version: int) -> None:
        documents = {
            "previous": None,
            "current": {"state": {"reported": reported}, "version": version},
            "timestamp": 2,
        }
        self.broker.deliver(BUTTON_SHADOW.update_documents, json.dumps(documents).encode())


class Link:
    """A link factory over the memory broker that remembers the callbacks."""

    def __init__(self, broker: MemoryBroker, failures: int = 0) -> None:
        self.broker = broker
        self.failures = failures
        self.opened = 0
        self.on_interrupted = None
        self.on_resumed = None

    def __call__(self, *, on_interrupted, on_resumed):
        self.opened += 1
        if self.opened <= self.failures:
            raise MqttError("connect", "refused")
        self.on_interrupted, self.on_resumed = on_interrupted, on_resumed
        return self.broker.connect("web")

    def push_topic(self):
        return PushTopic(WEB_SENDER)


async def running(feed: Feed, boards: list):
    async def publish(board, link):
        boards.append((board, link))

    return asyncio.create_task(feed.run(publish))


async def stopped(task):
    """Cancel the feed as the app's shutdown does, and wait until it has closed its link."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def until(check):
    """Poll `check` (state changed by the feed's callbacks); at most two seconds."""
    async with asyncio.timeout(2.0):
        while not check():  # noqa: ASYNC110 (the feed offers no event to wait on)
            await asyncio.sleep(0.005)


def test_the_shadow_becomes_the_board_and_changes_follow():
    broker = MemoryBroker()
    shadow = ShadowService(broker, to_reported(COUNTDOWN))
    feed = Feed(Link(broker), board=waiting_board(6480))
    boards = []

    async def scenario():
        task = await running(feed, boards)
        await until(lambda: boards and boards[-1][1] == "live")
        later = Countdown(**{**COUNTDOWN.__dict__, "pushes": 8, "deadline": 11_000.0})
        shadow.update(to_reported(later), version=6)
        shadow.update(to_reported(COUNTDOWN), version=4)  # old news, dropped
        await until(lambda: boards[-1][0].version == 6)
        await stopped(task)

    asyncio.run(scenario())
    assert boards[0] == (waiting_board(6480), "connecting")
    first, link = boards[1]
    assert link == "live"
    assert (first.version, first.last_by, first.last_source) == (5, "pi-kitchen", "Raspberry Pi")
    assert [board.version for board, _ in boards[1:]] == [5, 6]
    assert boards[-1][0].deadline == 11_000.0
    # cancelled: the feed unsubscribed and closed; only the shadow service is left
    assert [topic for _, topic, _ in broker.subscriptions] == [BUTTON_SHADOW.get]


def test_a_push_is_sent_for_the_browser_and_its_answer_returned():
    broker = MemoryBroker()
    ShadowService(broker, None)
    requests = []

    def push_handler(message):
        request = message.json()
        requests.append(request)
        answer = {"clientToken": request["clientToken"], "deadline": 9.0, "pushes": 3}
        broker.deliver("swan/push/web/accepted", json.dumps(answer).encode())

    broker.connect("rules").subscribe("swan/push/web", push_handler)
    feed = Feed(Link(broker))
    boards = []

    async def scenario():
        task = await running(feed, boards)
        await until(lambda: feed.link == "live")
        answer = await feed.push("browser-1", "4 8 15 16 23 42")
        await stopped(task)
        return answer

    answer = asyncio.run(scenario())
    assert answer.pushes == 3
    assert requests == [
        {
            "clientToken": answer.client_token,
            "source": "web",
            "session": "browser-1",
            "code": "4 8 15 16 23 42",
        }
    ]


def test_a_refusal_is_returned_and_silence_is_none():
    broker = MemoryBroker()
    ShadowService(broker, None)
    answered = []

    def refuse_first(message):
        request = message.json()
        if answered:
            return  # the second one goes unanswered
        answered.append(request)
        refusal = {
            "clientToken": request["clientToken"],
            "reason": "rate_limited",
            "message": "one push per second",
            "retryAfter": 0.4,
        }
        broker.deliver("swan/push/web/rejected", json.dumps(refusal).encode())

    broker.connect("rules").subscribe("swan/push/web", refuse_first)
    feed = Feed(Link(broker), answer_timeout=0.05)

    async def scenario():
        task = await running(feed, [])
        await until(lambda: feed.link == "live")
        first = await feed.push("browser-1")
        second = await feed.push("browser-1")
        await stopped(task)
        return first, second

    first, second = asyncio.run(scenario())
    assert (first.reason, first.retry_after) == ("rate_limited", 0.4)
    assert second is None


def test_no_push_goes_out_while_the_link_is_down():
    feed = Feed(Link(MemoryBroker()))
    assert asyncio.run(feed.push("browser-1")) is None


def test_a_dropped_link_shows_reconnecting_and_asks_for_the_shadow_again_on_return():
    broker = MemoryBroker()
    shadow = ShadowService(broker, to_reported(COUNTDOWN))
    link = Link(broker)
    feed = Feed(link)
    boards = []

    async def scenario():
        task = await running(feed, boards)
        await until(lambda: feed.link == "live")
        link.on_interrupted(ConnectionError("gone"))
        await until(lambda: boards[-1][1] == "reconnecting")
        link.on_resumed()
        await until(lambda: boards[-1][1] == "live")
        await stopped(task)

    asyncio.run(scenario())
    assert [state for _, state in boards] == ["connecting", "live", "reconnecting", "live"]
    assert shadow.gets == 2


def test_an_unreachable_broker_is_retried():
    broker = MemoryBroker()
    ShadowService(broker, None)
    link = Link(broker, failures=2)
    feed = Feed(link, retry_seconds=0.01)
    boards = []

    async def scenario():
        task = await running(feed, boards)
        await until(lambda: feed.link == "live")
        await stopped(task)

    asyncio.run(scenario())
    assert link.opened == 3
    assert [state for _, state in boards] == ["connecting", "reconnecting", "live"]


def test_with_a_history_source_the_board_lists_what_it_returns():
    broker = MemoryBroker()
    ShadowService(broker, to_reported(COUNTDOWN))
    asked = []

    def recent(limit):
        asked.append(limit)
        return [Push(3520.0, "pi-kitchen", "pi"), Push(3000.0, "laptop", "cli")]

    feed = Feed(Link(broker), history_limit=4, recent=recent)
    boards = []

    async def scenario():
        task = await running(feed, boards)
        await until(lambda: feed.link == "live")
        await stopped(task)

    asyncio.run(scenario())
    assert asked == [4]
    assert [row.by for row in boards[-1][0].history] == ["pi-kitchen", "laptop"]
