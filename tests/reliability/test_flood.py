"""One device floods the button with push requests as fast as its client goes: the gateway
passes 100 a second of them (AWS's per-connection limit), the push function refuses them
as rate-limited from history alone, and another device's push is answered at once."""

from __future__ import annotations

import json
import queue
import time

import pytest
from support import start_local_stack, unique

from swan.adapters.mqtt import connect
from swan.core.codecs import PushRequest
from swan.core.countdown import Rules

FLOOD = 3000
WAIT = 30
# Before the gateway's limit and the history-first rate limit, 1,000 requests held another
# device's push back 2-3 s, 3,000 about 11 s; now it takes a few hundred milliseconds.
ANSWERED_WITHIN = 2.0


def request(token: str) -> bytes:
    return json.dumps(PushRequest(token, "pi").to_payload()).encode()


@pytest.fixture
def stack(tmp_path):
    running = start_local_stack(tmp_path / "state", Rules())
    yield running
    running.stop()


def test_a_flood_from_one_device_does_not_hold_up_another_devices_push(stack):
    flooder, pusher = unique("pi-flood-"), unique("pi-")
    flood = connect(stack.device_endpoint(flooder))
    device = connect(stack.device_endpoint(pusher))
    replies: queue.Queue = queue.Queue()
    try:
        device.subscribe(f"swan/push/{pusher}/+", replies.put)
        for number in range(FLOOD):
            flood.publish(f"swan/push/{flooder}", request(f"flood-{number}"), qos=0)
        sent = time.monotonic()
        device.publish(f"swan/push/{pusher}", request("mine")).result(WAIT)
        reply = replies.get(timeout=WAIT)
        waited = time.monotonic() - sent
    finally:
        flood.close()
        device.close()
    assert reply.topic == f"swan/push/{pusher}/accepted"
    assert waited < ANSWERED_WITHIN
