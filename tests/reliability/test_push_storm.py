"""A hundred pushers at once, ten pushes each: every push is either in history or was
answered as rate-limited, none vanish, and the button shadow is written no more often than
the coalescing bound (AWS: 20 a second per thing)."""

from __future__ import annotations

import json
import queue
import random
import threading
import time
from dataclasses import dataclass, replace

import pytest
from support import start_local_stack, unique

from swan.adapters.history import SqliteHistory
from swan.adapters.mqtt import connect
from swan.core.coalesce import bucket
from swan.core.codecs import PushRequest
from swan.core.countdown import Push, Rules
from swan.core.topics import BUTTON_SHADOW
from swan.local.client import admin_signer, call, shadow_url

PUSHERS = 100
PUSHES_EACH = 10
SENDERS = 4
WAIT = 60


@dataclass
class Storm:
    sent: dict[str, str]  # clientToken -> thing
    answers: dict[str, str]  # clientToken -> accepted | rejected
    writes: list[float]  # when each /update/documents arrived
    elapsed: float
    history: list[tuple[int, Push]]
    shadow: dict

    def outcome(self, wanted: str) -> list[str]:
        return [token for token, outcome in self.answers.items() if outcome == wanted]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    rules = replace(Rules(), min_push_interval=1.0)
    running = start_local_stack(tmp_path_factory.mktemp("state"), rules)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def storm(stack) -> Storm:
    replies: queue.Queue[dict] = queue.Queue()
    answers: dict[str, str] = {}
    writes: list[float] = []
    watcher = connect(stack.service_endpoint(unique("watch-")))
    watcher.subscribe(
        "swan/push/+/+", lambda m: replies.put({"outcome": m.topic.rsplit("/", 1)[1], **m.json()})
    )
    watcher.subscribe(BUTTON_SHADOW.update_documents, lambda _m: writes.append(time.monotonic()))
    senders = [connect(stack.service_endpoint(unique("pusher-"))) for _ in range(SENDERS)]
    sent: dict[str, str] = {}
    lock = threading.Lock()

    def pusher(index: int) -> None:
        thing = f"storm-{index:03d}"
        rng = random.Random(index)  # noqa: S311  (spacing, not secrets)
        for _ in range(PUSHES_EACH):
            token = unique("t")
            with lock:
                sent[token] = thing
            payload = json.dumps(PushRequest(token, "pi").to_payload()).encode()
            senders[index % SENDERS].publish(f"swan/push/{thing}", payload)
            time.sleep(rng.uniform(0.05, 0.6))

    started = time.monotonic()
    threads = [threading.Thread(target=pusher, args=(i,)) for i in range(PUSHERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    deadline = time.monotonic() + WAIT
    while len(answers) < PUSHERS * PUSHES_EACH and time.monotonic() < deadline:
        try:
            reply = replies.get(timeout=1)
        except queue.Empty:
            continue
        answers[reply["clientToken"]] = reply["outcome"]
    elapsed = time.monotonic() - started
    for transport in (*senders, watcher):
        transport.close()
    history = SqliteHistory(stack.state_dir / "history.db")
    try:
        entries = history.since(0)
    finally:
        history.close()
    signer = admin_signer(stack.state_dir, "iot-data")
    shadow = call("GET", shadow_url(stack.endpoints().iot_data, "button", None), signer=signer)
    return Storm(sent, answers, writes, elapsed, entries, shadow)


def test_every_push_request_is_answered(storm):
    assert len(storm.sent) == PUSHERS * PUSHES_EACH
    assert set(storm.answers) == set(storm.sent)


def test_pushing_faster_than_once_a_second_is_refused_not_lost(storm):
    assert storm.outcome("accepted")
    assert storm.outcome("rejected")


def test_every_accepted_push_is_in_history_once(storm):
    assert len(storm.history) == len(storm.outcome("accepted"))
    numbers = [number for number, _ in storm.history]
    assert numbers == sorted(set(numbers))
    assert {push.by for _, push in storm.history} == {f"storm-{i:03d}" for i in range(PUSHERS)}


def test_the_shadow_counts_every_accepted_push(storm):
    assert storm.shadow["state"]["reported"]["pushes"] == len(storm.outcome("accepted"))


def test_the_shadow_is_written_within_the_coalescing_bound(storm, stack):
    capacity, rate = bucket(stack.rules)
    assert len(storm.writes) <= capacity + rate * storm.elapsed
    for index, start in enumerate(storm.writes):
        in_one_second = [at for at in storm.writes[index:] if at < start + 1]
        # +1: delivery jitter at the subscriber can bring two writes closer together
        assert len(in_one_second) <= capacity + rate + 1
