"""The shadow service: what each operation publishes, for MQTT and HTTP callers, and what
it stores. An in-memory broker, a fake clock and a real SQLite file."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass

import pytest

from swan.adapters.clock import FakeClock
from swan.adapters.mqtt import MemoryBroker, MemoryTransport, Message
from swan.core.topics import ShadowTopics
from swan.local.core.shadow import (
    DeleteAccepted,
    Rejection,
    ShadowKey,
    StoredShadow,
    UpdateAccepted,
)
from swan.local.shadow_service import NamedShadowPage, ShadowService
from swan.local.shadow_store import SqliteShadowStore

T = 1_764_000_000


def encode(document: object) -> bytes:
    return json.dumps(document).encode()


@dataclass
class Rig:
    """A running service, a device on the same broker, and what was published."""

    broker: MemoryBroker
    clock: FakeClock
    store: SqliteShadowStore
    service: ShadowService
    device: MemoryTransport

    def send(self, topic: str, payload: bytes = b"") -> list[Message]:
        """Publish as a device; return what was published because of it, request first."""
        start = len(self.broker.published)
        self.device.publish(topic, payload)
        return self.broker.published[start:]

    def during(self, action) -> tuple[object, list[Message]]:
        start = len(self.broker.published)
        result = action()
        return result, self.broker.published[start:]


def topics_of(messages: list[Message]) -> list[str]:
    return [message.topic for message in messages]


def payload_on(messages: list[Message], topic: str) -> dict:
    (found,) = [message.json() for message in messages if message.topic == topic]
    return found


def make_rig(path, broker=None, clock=None) -> Rig:
    broker = broker or MemoryBroker()
    clock = clock or FakeClock(current=T + 0.5)
    store = SqliteShadowStore(path)
    service = ShadowService(store, broker.connect("shadow-service"), clock)
    service.start()
    return Rig(broker, clock, store, service, broker.connect("lamp"))


@pytest.fixture
def db(tmp_path):
    return tmp_path / "shadows.db"


@pytest.fixture
def rig(db):
    made = make_rig(db)
    yield made
    made.service.stop()
    made.store.close()


CLASSIC = ShadowTopics("lamp")
NAMED = ShadowTopics("lamp", "config")
BOTH = pytest.mark.parametrize("topics", [CLASSIC, NAMED], ids=["classic", "named"])


def key_of(topics: ShadowTopics) -> ShadowKey:
    return ShadowKey(topics.thing, topics.shadow_name)


# ---------------------------------------------------------------------------- update over MQTT


@BOTH
def test_an_update_publishes_accepted_delta_and_documents(rig, topics):
    request = {"state": {"desired": {"on": True}, "reported": {"on": False}}, "clientToken": "t1"}
    sent = rig.send(topics.update, encode(request))
    assert topics_of(sent) == [
        topics.update,
        topics.update_accepted,
        topics.update_delta,
        topics.update_documents,
    ]
    stamp = {"timestamp": T}
    assert payload_on(sent, topics.update_accepted) == {
        "state": request["state"],
        "metadata": {"desired": {"on": stamp}, "reported": {"on": stamp}},
        "version": 1,
        "timestamp": T,
        "clientToken": "t1",
    }
    assert payload_on(sent, topics.update_delta) == {
        "state": {"on": True},
        "metadata": {"on": stamp},
        "version": 1,
        "timestamp": T,
        "clientToken": "t1",
    }
    documents = payload_on(sent, topics.update_documents)
    assert documents["previous"] is None
    assert documents["current"]["version"] == 1
    assert documents["current"]["state"] == request["state"]
    assert documents["clientToken"] == "t1"


@BOTH
def test_an_update_that_leaves_no_difference_publishes_no_delta(rig, topics):
    sent = rig.send(topics.update, encode({"state": {"reported": {"on": True}}}))
    assert topics_of(sent) == [topics.update, topics.update_accepted, topics.update_documents]
    assert "clientToken" not in payload_on(sent, topics.update_accepted)


@BOTH
def test_a_rejected_update_is_answered_on_rejected_with_the_token(rig, topics):
    rig.send(topics.update, encode({"state": {"reported": {"on": True}}}))
    sent = rig.send(topics.update, encode({"state": {}, "version": 7, "clientToken": "t2"}))
    assert topics_of(sent) == [topics.update, topics.update_rejected]
    assert payload_on(sent, topics.update_rejected) == {
        "code": 409,
        "message": "Version conflict",
        "timestamp": T,
        "clientToken": "t2",
    }


def test_updates_are_stored_and_versions_count_up(rig):
    for value in range(3):
        rig.send(CLASSIC.update, encode({"state": {"reported": {"n": value}}}))
    stored = rig.store.get(ShadowKey("lamp"))
    assert stored.version == 3
    assert stored.reported == {"n": 2}


def test_documents_carry_the_previous_state(rig):
    rig.send(CLASSIC.update, encode({"state": {"reported": {"n": 1}}}))
    rig.clock.advance(10)
    sent = rig.send(CLASSIC.update, encode({"state": {"reported": {"n": 2}}}))
    documents = payload_on(sent, CLASSIC.update_documents)
    assert documents["previous"]["state"] == {"reported": {"n": 1}}
    assert documents["previous"]["version"] == 1
    assert documents["current"]["state"] == {"reported": {"n": 2}}
    assert documents["current"]["metadata"] == {"reported": {"n": {"timestamp": T + 10}}}
    assert documents["timestamp"] == T + 10


# ---------------------------------------------------------------------------- bad input over MQTT


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        (b"{not json", 400, "Invalid JSON"),
        (b'{"desired": {}}', 400, "Missing required node: state"),
        (b'{"state": {"delta": {}}, "clientToken": "t3"}', 400, "State contains an invalid node"),
        (b'{"state": {}, "version": "1"}', 400, "Invalid version"),
        (b"\xff\xfe", 415, "Unsupported documented encoding; supported encoding is UTF-8"),
        (b"{" + b" " * (128 * 1024) + b"}", 413, "The payload exceeds the maximum size allowed"),
    ],
    ids=["json", "state", "node", "version", "utf8", "oversized"],
)
def test_bad_updates_over_mqtt_get_the_aws_rejection(rig, payload, code, message):
    sent = rig.send(CLASSIC.update, payload)
    assert topics_of(sent) == [CLASSIC.update, CLASSIC.update_rejected]
    rejected = payload_on(sent, CLASSIC.update_rejected)
    assert (rejected["code"], rejected["message"]) == (code, message)
    assert rig.store.get(ShadowKey("lamp")) is None


def test_a_rejection_echoes_the_token_of_a_bad_request(rig):
    sent = rig.send(CLASSIC.update, b'{"state": {"delta": {}}, "clientToken": "t3"}')
    assert payload_on(sent, CLASSIC.update_rejected)["clientToken"] == "t3"


def test_a_merged_document_too_large_is_413(rig):
    rig.send(CLASSIC.update, encode({"state": {"reported": {"a": "x" * 5000}}}))
    sent = rig.send(CLASSIC.update, encode({"state": {"desired": {"b": "y" * 5000}}}))
    assert payload_on(sent, CLASSIC.update_rejected)["code"] == 413
    assert rig.store.get(ShadowKey("lamp")).version == 1


@pytest.mark.parametrize(
    "topic",
    [
        "$aws/things/bad.name/shadow/update",
        "$aws/things/lamp/shadow/name/bad.name/update",
        "$aws/things/" + "x" * 129 + "/shadow/get",
    ],
    ids=["thing", "shadow", "long-thing"],
)
def test_a_request_topic_with_bad_names_is_rejected_next_to_it(rig, topic):
    sent = rig.send(topic, b'{"state": {}, "clientToken": "t4"}')
    assert topics_of(sent) == [topic, f"{topic}/rejected"]
    rejected = sent[1].json()
    assert rejected["code"] == 400
    assert "invalid topic" in rejected["message"]
    assert rejected["clientToken"] == "t4"


@pytest.mark.parametrize(
    "topic",
    [
        "$aws/things/lamp/shadow/update/accepted",
        "$aws/things/lamp/shadow/name/config/update/documents",
        "$aws/things/lamp/shadow/name/config/frobnicate",
        "$aws/things/lamp/shadow/frobnicate",
        "$aws/things/bad.name/shadow/update/accepted",
        "swan/push/lamp",
    ],
)
def test_messages_that_are_not_requests_are_ignored(rig, topic):
    start = len(rig.broker.published)
    rig.service.handle_message(Message(topic, b'{"state": {}}'))
    assert rig.broker.published[start:] == []


def test_the_service_ignores_its_own_notifications(rig):
    # Also subscribed to its own answers, as a careless configuration might be.
    loop = rig.broker.connect("loop")
    loop.subscribe("$aws/things/lamp/shadow/update/+", rig.service.handle_message)
    sent = rig.send(CLASSIC.update, encode({"state": {"reported": {"on": True}}}))
    assert topics_of(sent) == [CLASSIC.update, CLASSIC.update_accepted, CLASSIC.update_documents]


# ---------------------------------------------------------------------------- get and delete


@BOTH
def test_get_over_mqtt_answers_with_the_full_document(rig, topics):
    rig.send(topics.update, encode({"state": {"desired": {"on": True}, "reported": {"on": False}}}))
    sent = rig.send(topics.get, encode({"clientToken": "g1"}))
    assert topics_of(sent) == [topics.get, topics.get_accepted]
    document = payload_on(sent, topics.get_accepted)
    assert document["state"] == {
        "desired": {"on": True},
        "reported": {"on": False},
        "delta": {"on": True},
    }
    assert (document["version"], document["timestamp"], document["clientToken"]) == (1, T, "g1")


@pytest.mark.parametrize(
    ("topics", "name"), [(CLASSIC, "lamp"), (NAMED, "config")], ids=["classic", "named"]
)
def test_get_of_a_missing_shadow_over_mqtt_is_rejected_404(rig, topics, name):
    sent = rig.send(topics.get)
    assert topics_of(sent) == [topics.get, topics.get_rejected]
    assert payload_on(sent, topics.get_rejected) == {
        "code": 404,
        "message": f"No shadow exists with name: '{name}'",
        "timestamp": T,
    }


def test_get_with_an_unreadable_payload_is_rejected(rig):
    sent = rig.send(CLASSIC.get, b"{oops")
    assert payload_on(sent, CLASSIC.get_rejected)["message"] == "Invalid JSON"


@BOTH
def test_delete_over_mqtt_publishes_only_delete_accepted(rig, topics):
    rig.send(topics.update, encode({"state": {"desired": {"on": True}}}))
    sent = rig.send(topics.delete, encode({"clientToken": "d1"}))
    assert topics_of(sent) == [topics.delete, topics.delete_accepted]
    assert payload_on(sent, topics.delete_accepted) == {
        "version": 1,
        "timestamp": T,
        "clientToken": "d1",
    }
    assert topics_of(rig.send(topics.get)) == [topics.get, topics.get_rejected]


def test_delete_of_a_missing_shadow_over_mqtt_is_rejected_404(rig):
    sent = rig.send(CLASSIC.delete, b"")
    assert topics_of(sent) == [CLASSIC.delete, CLASSIC.delete_rejected]
    assert payload_on(sent, CLASSIC.delete_rejected)["code"] == 404


def test_versions_continue_after_a_delete(rig):
    rig.send(CLASSIC.update, encode({"state": {"reported": {"on": True}}}))
    rig.send(CLASSIC.update, encode({"state": {"reported": {"on": False}}}))
    rig.send(CLASSIC.delete)
    sent = rig.send(CLASSIC.update, encode({"state": {"reported": {"on": True}}}))
    assert payload_on(sent, CLASSIC.update_accepted)["version"] == 3
    assert payload_on(sent, CLASSIC.update_documents)["previous"] is None


# ---------------------------------------------------------------------------- HTTP callers


@BOTH
def test_an_http_update_publishes_the_same_notifications(rig, topics):
    request = {"state": {"desired": {"on": True}}, "clientToken": "h1"}
    result, sent = rig.during(
        lambda: rig.service.update(key_of(topics), encode(request), via_mqtt=False)
    )
    assert isinstance(result, UpdateAccepted)
    assert result.accepted["clientToken"] == "h1"
    assert topics_of(sent) == [topics.update_accepted, topics.update_delta, topics.update_documents]
    assert payload_on(sent, topics.update_accepted) == result.accepted


def test_a_rejected_http_update_publishes_nothing(rig):
    result, sent = rig.during(
        lambda: rig.service.update(ShadowKey("lamp"), b'{"state": 1}', via_mqtt=False)
    )
    assert result == Rejection(400, "State node must be an object")
    assert sent == []


def test_an_http_get_publishes_nothing(rig):
    rig.service.update(
        ShadowKey("lamp"), encode({"state": {"reported": {"on": 1}}}), via_mqtt=False
    )
    document, sent = rig.during(lambda: rig.service.get(ShadowKey("lamp"), via_mqtt=False))
    assert document["state"] == {"reported": {"on": 1}}
    assert sent == []
    missing, sent = rig.during(lambda: rig.service.get(ShadowKey("none"), via_mqtt=False))
    assert missing.code == 404
    assert sent == []


def test_an_http_delete_publishes_delete_accepted_only_when_it_deletes(rig):
    key = ShadowKey("lamp", "config")
    rig.service.update(key, encode({"state": {"reported": {"on": 1}}}), via_mqtt=False)
    result, sent = rig.during(lambda: rig.service.delete(key, via_mqtt=False))
    assert isinstance(result, DeleteAccepted)
    assert topics_of(sent) == [NAMED.delete_accepted]
    again, sent = rig.during(lambda: rig.service.delete(key, via_mqtt=False))
    assert again.code == 404
    assert sent == []


# ---------------------------------------------------------------------------- list named


def test_named_shadows_are_listed_in_pages(rig):
    for name in ("e", "d", "c", "b", "a"):
        rig.service.update(ShadowKey("lamp", name), b'{"state": {}}', via_mqtt=False)
    rig.service.update(ShadowKey("lamp"), b'{"state": {}}', via_mqtt=False)
    rig.service.delete(ShadowKey("lamp", "c"), via_mqtt=False)
    first = rig.service.list_named_shadows("lamp", page_size=2)
    assert first.names == ("a", "b")
    second = rig.service.list_named_shadows("lamp", page_size=2, next_token=first.next_token)
    assert second.names == ("d", "e")
    assert second.next_token is None
    assert second.to_json() == {"results": ["d", "e"], "timestamp": T}
    assert rig.service.list_named_shadows("lamp").names == ("a", "b", "d", "e")


def test_an_unknown_thing_has_no_named_shadows(rig):
    assert rig.service.list_named_shadows("nobody") == NamedShadowPage((), None, T)


@pytest.mark.parametrize(
    ("page_size", "next_token", "message"),
    [
        (0, None, "pageSize must be an integer from 1 to 100"),
        (101, None, "pageSize must be an integer from 1 to 100"),
        (None, "!!!", "Invalid nextToken"),
        (None, "bm8gc3BhY2VzIGFsbG93ZWQ=", "Invalid nextToken"),
    ],
)
def test_bad_paging_is_a_400(rig, page_size, next_token, message):
    result = rig.service.list_named_shadows("lamp", page_size=page_size, next_token=next_token)
    assert result == Rejection(400, message)


# ---------------------------------------------------------------------------- restarts


def test_shadows_and_versions_survive_a_restart(db):
    broker = MemoryBroker()
    first = make_rig(db, broker)
    first.send(NAMED.update, encode({"state": {"reported": {"on": True}}}))
    first.send(NAMED.update, encode({"state": {"reported": {"on": False}}}))
    first.service.stop()
    first.store.close()

    second = make_rig(db, broker)
    document = payload_on(second.send(NAMED.get), NAMED.get_accepted)
    assert (document["state"], document["version"]) == ({"reported": {"on": False}}, 2)
    sent = second.send(NAMED.update, encode({"state": {"reported": {"on": True}}}))
    assert payload_on(sent, NAMED.update_accepted)["version"] == 3
    second.service.stop()
    second.store.close()


def test_a_stopped_service_answers_nothing(rig):
    rig.service.stop()
    assert topics_of(rig.send(CLASSIC.get)) == [CLASSIC.get]
    rig.service.start()
    assert topics_of(rig.send(CLASSIC.get)) == [CLASSIC.get, CLASSIC.get_rejected]


def test_starting_twice_subscribes_once(rig):
    rig.service.start()
    assert topics_of(rig.send(CLASSIC.get)) == [CLASSIC.get, CLASSIC.get_rejected]


# ---------------------------------------------------------------------------- failures


class FlakyStore:
    """A real store that fails its next `failures` calls, as a broken disk would."""

    def __init__(self, inner: SqliteShadowStore, failures: int = 1) -> None:
        self.inner = inner
        self.failures = failures

    def _trip(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("disk on fire")

    def get(self, key):
        self._trip()
        return self.inner.get(key)

    def put(self, key, shadow):
        self._trip()
        self.inner.put(key, shadow)

    def list_named(self, thing):
        self._trip()
        return self.inner.list_named(thing)

    def close(self):
        self.inner.close()


@pytest.fixture
def flaky(db):
    broker = MemoryBroker()
    store = FlakyStore(SqliteShadowStore(db))
    service = ShadowService(store, broker.connect("svc"), FakeClock(current=T))
    service.start()
    yield Rig(broker, FakeClock(current=T), store.inner, service, broker.connect("lamp")), store
    store.close()


@pytest.mark.parametrize(
    ("request_topic", "rejected_topic"),
    [
        (CLASSIC.update, CLASSIC.update_rejected),
        (CLASSIC.get, CLASSIC.get_rejected),
        (CLASSIC.delete, CLASSIC.delete_rejected),
    ],
    ids=["update", "get", "delete"],
)
def test_an_internal_failure_is_a_logged_500_and_the_service_carries_on(
    flaky, caplog, request_topic, rejected_topic
):
    rig, _ = flaky
    with caplog.at_level(logging.ERROR, logger="swan.local.shadow_service"):
        sent = rig.send(request_topic, b'{"state": {}, "clientToken": "boom"}')
    assert topics_of(sent) == [request_topic, rejected_topic]
    assert sent[1].json() == {
        "code": 500,
        "message": "Internal service failure",
        "timestamp": T,
        "clientToken": "boom",
    }
    assert "disk on fire" in caplog.text
    assert "Traceback" in caplog.text
    after = rig.send(CLASSIC.update, b'{"state": {"reported": {"ok": true}}}')
    assert CLASSIC.update_accepted in topics_of(after)


class ReadOnlyStore(FlakyStore):
    """A real store whose writes fail, as on a read-only file system."""

    def put(self, *_):
        raise OSError("read-only file system")


def test_a_failed_store_write_is_a_500_for_http_and_publishes_nothing(db):
    broker = MemoryBroker()
    store = ReadOnlyStore(SqliteShadowStore(db), failures=0)
    service = ShadowService(store, broker.connect("svc"), FakeClock(current=T))
    result = service.update(ShadowKey("lamp"), b'{"state": {}}', via_mqtt=False)
    assert result == Rejection(500, "Internal service failure")
    assert broker.published == []
    assert store.inner.get(ShadowKey("lamp")) is None
    store.close()


def test_a_listing_failure_is_a_500(flaky):
    rig, _ = flaky
    assert rig.service.list_named_shadows("lamp") == Rejection(500, "Internal service failure")


class RefusingTransport(MemoryTransport):
    """Delivers nothing and fails every publish, as a dropped broker connection would."""

    def publish(self, *_args, **_kwargs):
        raise ConnectionError("broker gone")


def test_a_failed_notification_is_logged_and_the_update_still_stands(db, caplog):
    store = SqliteShadowStore(db)
    service = ShadowService(store, RefusingTransport(MemoryBroker(), "svc"), FakeClock(current=T))
    with caplog.at_level(logging.ERROR, logger="swan.local.shadow_service"):
        result = service.update(ShadowKey("lamp"), b'{"state": {"reported": {}}}', via_mqtt=False)
    assert isinstance(result, UpdateAccepted)
    assert store.get(ShadowKey("lamp")).version == 1
    assert "broker gone" in caplog.text
    store.close()


class FailedFutures(MemoryTransport):
    """Accepts publishes, and then reports them failed, as a timed-out PUBACK would."""

    def publish(self, *_args, **_kwargs):
        done = Future()
        done.set_exception(TimeoutError("no PUBACK"))
        return done


def test_a_notification_that_fails_later_is_logged(db, caplog):
    store = SqliteShadowStore(db)
    service = ShadowService(store, FailedFutures(MemoryBroker(), "svc"), FakeClock(current=T))
    with caplog.at_level(logging.WARNING, logger="swan.local.shadow_service"):
        service.update(ShadowKey("lamp"), b'{"state": {}}', via_mqtt=False)
    assert "no PUBACK" in caplog.text
    store.close()


# ---------------------------------------------------------------------------- concurrency


def test_concurrent_updates_get_distinct_versions_published_in_order(rig):
    def work(index):
        for round_ in range(25):
            payload = encode({"state": {"reported": {f"w{index}": round_}}})
            rig.clock.advance(0.05)  # 20 a second in all: within the thing's request rate
            rig.service.update(ShadowKey("lamp"), payload, via_mqtt=False)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    versions = [document["version"] for document in rig.broker.on(CLASSIC.update_accepted)]
    assert versions == list(range(1, 101))
    stored = rig.store.get(ShadowKey("lamp"))
    assert stored.version == 100
    assert stored.reported == {f"w{index}": 24 for index in range(4)}
    assert isinstance(stored, StoredShadow)
