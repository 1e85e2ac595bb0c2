"""The shadow service under AWS's limits: a thing's 20 requests a second and 10 in flight,
128 KB messages, and text that is not Unicode, over MQTT and for HTTP callers. An in-memory
broker, a fake clock and a real SQLite file."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import pytest

from swan.adapters.clock import FakeClock
from swan.adapters.mqtt import MemoryBroker, MemoryTransport
from swan.core.jsondoc import decode_json
from swan.core.topics import ShadowTopics
from swan.local.core.shadow import MAX_MESSAGE_BYTES, Rejection, ShadowKey, StoredShadow
from swan.local.core.shadow_throttle import BURST, MAX_IN_FLIGHT
from swan.local.shadow_service import SWEEP_AT_LEAST, ShadowService, ThingLimits
from swan.local.shadow_store import SqliteShadowStore

T = 1_764_000_000
LAMP = ShadowTopics("lamp")
LAMP_CONFIG = ShadowTopics("lamp", "config")
DESK = ShadowTopics("desk")
THROTTLED = {"code": 429, "message": "Rate exceeded", "timestamp": T}


def encode(document: object) -> bytes:
    return json.dumps(document).encode()


class CountingStore:
    """A `ShadowStore`: the SQLite one, counting reads; while `gate` is set, each read says
    so on `reading` and waits for the gate to open."""

    def __init__(self, path) -> None:
        self._store = SqliteShadowStore(path)
        self.reads = 0
        self.gate: threading.Event | None = None
        self.reading = threading.Semaphore(0)

    def get(self, key: ShadowKey) -> StoredShadow | None:
        self.reads += 1
        if self.gate is not None:
            self.reading.release()
            self.gate.wait(10)
        return self._store.get(key)

    def put(self, key: ShadowKey, shadow: StoredShadow) -> None:
        self._store.put(key, shadow)

    def list_named(self, thing: str) -> list[str]:
        return self._store.list_named(thing)

    def close(self) -> None:
        self._store.close()


@dataclass
class Rig:
    broker: MemoryBroker
    clock: FakeClock
    store: CountingStore
    service: ShadowService
    device: MemoryTransport

    def send(self, topic: str, payload: bytes = b"") -> None:
        self.device.publish(topic, payload)

    def published_on(self, topic: str) -> list[dict]:
        return self.broker.on(topic)


@pytest.fixture
def rig(tmp_path):
    broker = MemoryBroker()
    clock = FakeClock(current=T + 0.5)
    store = CountingStore(tmp_path / "shadows.db")
    service = ShadowService(store, broker.connect("shadow-service"), clock)
    service.start()
    yield Rig(broker, clock, store, service, broker.connect("lamp"))
    service.stop()
    store.close()


def stored_lamp(rig: Rig) -> None:
    """A lamp shadow, put in the store directly: no request spent on it."""
    shadow = StoredShadow(reported={"on": True}, reported_metadata={"on": {"timestamp": T}})
    rig.store.put(ShadowKey("lamp"), shadow)


# ---------------------------------------------------------------------------- 20 a second


def test_a_flood_of_gets_on_one_thing_is_answered_429_past_the_twentieth(rig):
    stored_lamp(rig)
    assert BURST == 20
    reads = rig.store.reads
    for n in range(500):
        rig.send(LAMP.get, encode({"clientToken": f"g{n}"}))
    accepted = rig.published_on(LAMP.get_accepted)
    rejected = rig.published_on(LAMP.get_rejected)
    assert [answer["clientToken"] for answer in accepted] == [f"g{n}" for n in range(20)]
    assert rejected == [{**THROTTLED, "clientToken": f"g{n}"} for n in range(20, 500)]
    assert rig.store.reads - reads == 20, "a throttled request never reads the store"


def test_updates_gets_and_deletes_share_one_budget_with_the_things_named_shadows(rig):
    for n in range(10):
        rig.send(LAMP.update, encode({"state": {"reported": {"n": n}}}))
    for _ in range(5):
        rig.send(LAMP_CONFIG.get)
    for _ in range(4):
        rig.send(LAMP_CONFIG.delete)
    rig.send(LAMP.delete)  # the twentieth
    rig.send(LAMP.update, encode({"state": {}, "clientToken": "u"}))
    rig.send(LAMP_CONFIG.get, encode({"clientToken": "g"}))
    assert len(rig.published_on(LAMP.update_accepted)) == 10
    assert len(rig.published_on(LAMP.delete_accepted)) == 1
    assert rig.published_on(LAMP.update_rejected) == [{**THROTTLED, "clientToken": "u"}]
    assert rig.published_on(LAMP_CONFIG.get_rejected)[-1] == {**THROTTLED, "clientToken": "g"}


def test_a_flooded_thing_does_not_hold_up_another(rig):
    for _ in range(100):
        rig.send(LAMP.get)
    rig.send(DESK.update, encode({"state": {"reported": {"on": True}}, "clientToken": "d"}))
    assert rig.published_on(DESK.update_accepted)[0]["clientToken"] == "d"


def test_the_budget_refills_at_twenty_a_second(rig):
    for _ in range(20):
        rig.send(LAMP.get)
    rig.send(LAMP.get, encode({"clientToken": "early"}))
    rig.clock.advance(0.05)
    rig.send(LAMP.get, encode({"clientToken": "on time"}))
    rig.send(LAMP.get, encode({"clientToken": "too soon"}))
    throttled = [r["clientToken"] for r in rig.published_on(LAMP.get_rejected) if r["code"] == 429]
    assert throttled == ["early", "too soon"]
    assert rig.published_on(LAMP.get_rejected)[21] == {  # "on time" got its real answer
        "code": 404,
        "message": "No shadow exists with name: 'lamp'",
        "timestamp": T,
        "clientToken": "on time",
    }


def test_an_http_caller_over_the_rate_gets_429_and_nothing_is_published(rig):
    for _ in range(20):
        rig.service.get(ShadowKey("lamp"), via_mqtt=False)
    published = len(rig.broker.published)
    result = rig.service.update(ShadowKey("lamp"), b'{"state": {}}', via_mqtt=False)
    assert result == Rejection(429, "Rate exceeded")
    assert result.error_type == "ThrottlingException"
    assert len(rig.broker.published) == published


def test_a_throttled_request_echoes_only_a_valid_token(rig):
    for _ in range(20):
        rig.send(LAMP.get)
    rig.send(LAMP.get, b'{"clientToken": "\\ud800"}')
    rig.send(LAMP.get, b"{" + b" " * MAX_MESSAGE_BYTES)
    assert rig.published_on(LAMP.get_rejected)[20:] == [THROTTLED, THROTTLED]


def test_budgets_of_things_gone_quiet_are_forgotten(rig):
    # A budget is full again a moment after one request; full ones are swept when the map
    # has grown past SWEEP_AT_LEAST (then whenever it doubles), so it stays bounded.
    for n in range(3 * SWEEP_AT_LEAST):
        rig.clock.advance(0.001)
        rig.service.get(ShadowKey(f"thing-{n}"), via_mqtt=False)
        assert rig.service.limits.remembered <= SWEEP_AT_LEAST + 1
    assert rig.service.limits.remembered < SWEEP_AT_LEAST


# ---------------------------------------------------------------------------- 10 in flight


def test_a_thing_may_have_ten_requests_in_flight_and_the_eleventh_is_refused():
    limits = ThingLimits()
    assert all(limits.enter("lamp", T) for _ in range(MAX_IN_FLIGHT))
    assert limits.in_flight("lamp") == MAX_IN_FLIGHT
    assert not limits.enter("lamp", T)
    assert limits.enter("desk", T)
    limits.leave("lamp")
    assert limits.enter("lamp", T)
    for _ in range(MAX_IN_FLIGHT):
        limits.leave("lamp")
    assert limits.in_flight("lamp") == 0


def wait_until(condition, timeout: float = 10.0) -> None:
    # The other threads give no signal between being admitted and waiting for the lock.
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        threading.Event().wait(0.001)


def test_the_service_answers_the_eleventh_request_in_flight_429_at_once(rig):
    rig.store.gate = threading.Event()
    results: list[object] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(rig.service.get(ShadowKey("lamp"), via_mqtt=False))
        )
        for _ in range(MAX_IN_FLIGHT)
    ]
    for thread in threads:
        thread.start()
    try:
        # Ten started, none answered: one reads the store, nine wait for the lock.
        assert rig.store.reading.acquire(timeout=10)
        wait_until(lambda: rig.service.limits.in_flight("lamp") == MAX_IN_FLIGHT)
        eleventh = rig.service.get(ShadowKey("lamp"), via_mqtt=False)
    finally:
        rig.store.gate.set()
        for thread in threads:
            thread.join(10)
    assert eleventh == Rejection(429, "Rate exceeded")
    assert results == [Rejection(404, "No shadow exists with name: 'lamp'")] * MAX_IN_FLIGHT
    assert rig.service.limits.in_flight("lamp") == 0


# ---------------------------------------------------------------------------- bad text


@pytest.mark.parametrize(
    ("request_topic", "rejected_topic"),
    [
        (LAMP.get, LAMP.get_rejected),
        (LAMP.delete, LAMP.delete_rejected),
        (LAMP.update, LAMP.update_rejected),
    ],
)
def test_a_lone_surrogate_is_invalid_json_and_nothing_undecodable_goes_out(
    rig, request_topic, rejected_topic
):
    rig.send(LAMP.update, encode({"state": {"reported": {"on": True}}}))
    rig.send(request_topic, b'{"state": {"reported": {"a": 1}}, "clientToken": "\\ud800"}')
    assert rig.published_on(rejected_topic) == [
        {"code": 400, "message": "Invalid JSON", "timestamp": T}
    ]
    for message in rig.broker.published[1:]:  # the device's own request aside
        if message.topic != request_topic:
            decode_json(message.payload)


def test_a_surrogate_stored_before_it_was_refused_is_never_published(rig, caplog):
    legacy = StoredShadow(
        reported={"name": "x\ud800"}, reported_metadata={"name": {"timestamp": 1}}, version=3
    )
    rig.store.put(ShadowKey("lamp"), legacy)
    rig.send(LAMP.get, encode({"clientToken": "g"}))
    rig.send(LAMP.update, encode({"state": {"desired": {"on": True}}, "clientToken": "u"}))
    assert rig.published_on(LAMP.get_accepted) == []
    assert rig.published_on(LAMP.update_accepted) == []
    failure = {"code": 500, "message": "Internal service failure", "timestamp": T}
    assert rig.published_on(LAMP.get_rejected) == [{**failure, "clientToken": "g"}]
    assert rig.published_on(LAMP.update_rejected) == [{**failure, "clientToken": "u"}]
    assert rig.store.get(ShadowKey("lamp")) == legacy, "the refused update stored nothing"
    assert "UnicodeEncodeError" in caplog.text
    # A delete still works, and publishes only text.
    rig.send(LAMP.delete, encode({"clientToken": "d"}))
    assert rig.published_on(LAMP.delete_accepted) == [
        {"version": 3, "timestamp": T, "clientToken": "d"}
    ]
    for message in rig.broker.published:
        decode_json(message.payload)


@pytest.mark.parametrize("request_topic", [LAMP.update, LAMP.get, LAMP.delete])
def test_a_request_over_128_kb_is_413_before_it_is_decoded(rig, request_topic):
    # Not UTF-8 either: had it been decoded, the answer would be 415.
    rig.send(request_topic, b"{" + b"\xff" * MAX_MESSAGE_BYTES + b"}")
    assert rig.published_on(f"{request_topic}/rejected") == [
        {"code": 413, "message": "The payload exceeds the maximum size allowed", "timestamp": T}
    ]
