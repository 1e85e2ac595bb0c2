"""Following the button shadow: the newest version wins; a throttled get is asked again."""

from __future__ import annotations

import json

from swan.adapters.follower import ButtonFollower
from swan.adapters.mqtt import MemoryBroker, MemoryTransport
from swan.core.button_shadow import to_reported
from swan.core.countdown import Push, Rules, press
from swan.core.topics import BUTTON_SHADOW


class Later:
    """Retries the follower asks for, run by hand."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, object]] = []
        self.cancelled = 0

    def __call__(self, delay, action):
        self.pending.append((delay, action))
        return self.cancel

    def cancel(self):
        self.cancelled += 1

    def run(self):
        delay, action = self.pending.pop(0)
        action()
        return delay


def answer_gets(broker, answers):
    """A shadow service that answers each get with the next of `answers` (a code or a doc)."""
    service = MemoryTransport(broker, "shadow-service")

    def on_get(message):
        token = json.loads(message.payload)["clientToken"]
        answer = answers.pop(0)
        if isinstance(answer, int):
            body = {"code": answer, "message": "Rate exceeded", "timestamp": 1}
            topic = BUTTON_SHADOW.get_rejected
        else:
            body = {"state": {"reported": answer}, "metadata": {}, "version": 3, "timestamp": 1}
            topic = BUTTON_SHADOW.get_accepted
        service.publish(topic, json.dumps(body | {"clientToken": token}).encode())

    service.subscribe(BUTTON_SHADOW.get, on_get)


REPORTED = to_reported(press(None, Push(1_764_087_120.0, "pi-kitchen", "pi"), Rules()).countdown)


def test_a_throttled_get_is_asked_again_after_growing_pauses_until_it_is_answered():
    broker = MemoryBroker()
    answer_gets(broker, [429, 429, REPORTED])
    later = Later()
    seen = []
    follower = ButtonFollower(MemoryTransport(broker, "pi"), seen.append, later=later)
    follower.start()
    assert seen == []
    first = later.run()
    second = later.run()
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0
    assert [observed.version for observed in seen] == [3]
    assert later.pending == []
    assert follower.loaded.is_set()


def test_stopping_cancels_a_pending_retry():
    broker = MemoryBroker()
    answer_gets(broker, [429])
    later = Later()
    follower = ButtonFollower(MemoryTransport(broker, "pi"), lambda _: None, later=later)
    follower.start()
    follower.stop()
    assert later.cancelled == 1


def test_someone_elses_throttled_get_is_not_retried():
    broker = MemoryBroker()
    later = Later()
    follower = ButtonFollower(MemoryTransport(broker, "pi"), lambda _: None, later=later)
    follower.start()
    other = MemoryTransport(broker, "other")
    body = {"code": 429, "message": "Rate exceeded", "timestamp": 1, "clientToken": "theirs"}
    other.publish(BUTTON_SHADOW.get_rejected, json.dumps(body).encode())
    assert later.pending == []


def test_the_documents_are_followed_at_qos_0_and_the_get_answers_at_qos_1():
    broker = MemoryBroker()
    ButtonFollower(MemoryTransport(broker, "pi"), lambda _: None).start()
    assert broker.qos_of("pi") == {
        BUTTON_SHADOW.update_documents: 0,
        BUTTON_SHADOW.get_accepted: 1,
        BUTTON_SHADOW.get_rejected: 1,
    }
