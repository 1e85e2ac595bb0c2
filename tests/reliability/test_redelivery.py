"""QoS 1 may deliver a push request twice; it is counted once."""

from __future__ import annotations

import json
import queue
from dataclasses import replace

import pytest
from support import start_local_stack, unique

from swan.adapters.history import SqliteHistory
from swan.adapters.mqtt import connect
from swan.core.codecs import PushRequest
from swan.core.countdown import Rules

WAIT = 20


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # no rate limit: only the clientToken can tell the second delivery apart
    rules = replace(Rules(), min_push_interval=0)
    running = start_local_stack(tmp_path_factory.mktemp("state"), rules)
    yield running
    running.stop()


def test_the_same_push_request_delivered_twice_is_counted_once(stack):
    thing = unique("pi-")
    device = connect(stack.device_endpoint(thing))
    replies = queue.Queue()
    try:
        device.subscribe(f"swan/push/{thing}/+", replies.put)
        payload = json.dumps(PushRequest("once-only", "pi").to_payload()).encode()
        device.publish(f"swan/push/{thing}", payload).result(WAIT)
        first = replies.get(timeout=WAIT)
        device.publish(f"swan/push/{thing}", payload).result(WAIT)  # the redelivery
        second = replies.get(timeout=WAIT)
    finally:
        device.close()
    assert first.topic == second.topic == f"swan/push/{thing}/accepted"
    assert first.json()["pushes"] == second.json()["pushes"]
    history = SqliteHistory(stack.state_dir / "history.db")
    try:
        mine = [push for _, push in history.since(0) if push.by == thing]
    finally:
        history.close()
    assert len(mine) == 1
