"""The push path on the real local stack: a click or push request -> the button shadow ->
every subscriber; the expiry; the same Lambda handlers AWS runs."""

from __future__ import annotations

import json
import logging
import queue
import sys
import time
from dataclasses import replace

import pytest
from support import in_another_process, start_local_stack, unique

from swan.adapters.mqtt import connect
from swan.core.button_shadow import from_shadow_state
from swan.core.codecs import ButtonClick, PushRequest, ShadowDocuments
from swan.core.countdown import Rules
from swan.core.topics import BUTTON_SHADOW

WAIT = 10


def start_stack(tmp_path_factory, rules):
    return start_local_stack(tmp_path_factory.mktemp("state"), rules)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_stack(tmp_path_factory, Rules())
    yield running
    running.stop()


@pytest.fixture
def watcher(stack):
    """A subscriber to the button shadow's documents, as every client follows it."""
    transport = connect(stack.service_endpoint(unique("watch-")))
    documents = queue.Queue()
    transport.subscribe(BUTTON_SHADOW.update_documents, lambda m: documents.put(m.json()))
    yield documents
    transport.close()


def next_countdown(documents):
    message = ShadowDocuments.from_payload(documents.get(timeout=WAIT))
    return from_shadow_state({"reported": message.current.reported})


def test_a_button_click_resets_the_shared_countdown(stack, watcher):
    serial = unique("G030").upper()
    device = connect(stack.device_endpoint(serial))
    try:
        click = ButtonClick(serial, "SINGLE", 1650)
        device.publish(f"iotbutton/{serial}", json.dumps(click.to_payload()).encode()).result(WAIT)
        countdown = next_countdown(watcher)
    finally:
        device.close()
    assert countdown.last_push.by == serial
    assert countdown.last_push.source == "button"
    assert countdown.deadline - countdown.last_push.at == 6480
    assert countdown.phase == "counting"


def test_the_functions_logger_is_theirs_not_the_stacks(stack, watcher):
    serial = unique("G030").upper()
    device = connect(stack.device_endpoint(serial))
    try:
        click = ButtonClick(serial, "SINGLE", 1650)
        device.publish(f"iotbutton/{serial}", json.dumps(click.to_payload()).encode()).result(WAIT)
        next_countdown(watcher)  # the push function ran, in this process, quiet
    finally:
        device.close()
    # Powertools takes over the logger it is named after: the handlers' (swan.handlers.*),
    # never `swan`, the parent of the stack's own swan.local.* loggers.
    app = sys.modules["swan_lambda_UpdateButtonStatusFunction"]
    assert app.logger.name == "swan.handlers"
    assert logging.getLogger("swan.handlers.push").getEffectiveLevel() == logging.ERROR


def test_a_push_request_is_answered_and_seen_by_every_subscriber(stack, watcher):
    thing = unique("pi-")
    device = connect(stack.device_endpoint(thing))
    replies = queue.Queue()
    try:
        device.subscribe(f"swan/push/{thing}/+", replies.put)
        request = PushRequest(unique("tok-"), "pi")
        device.publish(f"swan/push/{thing}", json.dumps(request.to_payload()).encode())
        reply = replies.get(timeout=WAIT)
        countdown = next_countdown(watcher)
    finally:
        device.close()
    assert reply.topic == f"swan/push/{thing}/accepted"
    assert reply.json()["clientToken"] == request.client_token
    assert reply.json()["deadline"] == countdown.deadline
    assert countdown.last_push.by == thing
    # the shadow carries the push among its recent ones, numbered as the answer says
    assert countdown.recent[0].number == reply.json()["pushes"]
    assert countdown.recent[0].push == countdown.last_push


def test_pushing_too_fast_is_rejected_with_the_reason(stack):
    thing = unique("pi-")
    device = connect(stack.device_endpoint(thing))
    replies = queue.Queue()
    try:
        device.subscribe(f"swan/push/{thing}/+", replies.put)
        for token in ("one", "two"):
            payload = PushRequest(token, "cli").to_payload()
            device.publish(f"swan/push/{thing}", json.dumps(payload).encode()).result(WAIT)
        answers = {replies.get(timeout=WAIT).topic.rsplit("/", 1)[1] for _ in range(2)}
    finally:
        device.close()
    assert answers == {"accepted", "rejected"}


def test_a_request_with_a_lone_surrogate_is_answered_as_invalid(stack):
    # Valid JSON text, but "\ud800" is no Unicode character: refused, and still answered.
    thing = unique("pi-")
    device = connect(stack.device_endpoint(thing))
    replies = queue.Queue()
    try:
        device.subscribe(f"swan/push/{thing}/+", replies.put)
        payload = b'{"clientToken": "\\ud800", "source": "pi"}'
        device.publish(f"swan/push/{thing}", payload).result(WAIT)
        reply = replies.get(timeout=WAIT)
    finally:
        device.close()
    assert reply.topic == f"swan/push/{thing}/rejected"
    assert reply.json()["reason"] == "invalid_request"
    assert "clientToken" not in reply.json()


def test_a_malformed_click_writes_nothing_and_the_stack_goes_on(stack, watcher):
    serial = unique("G030").upper()
    device = connect(stack.device_endpoint(serial))
    try:
        device.publish(f"iotbutton/{serial}", b"not json").result(WAIT)
        device.publish(f"iotbutton/{serial}", b'{"serialNumber": "x", "clickType": "NO"}')
        good = ButtonClick(serial, "DOUBLE").to_payload()
        device.publish(f"iotbutton/{serial}", json.dumps(good).encode()).result(WAIT)
        countdown = next_countdown(watcher)
    finally:
        device.close()
    assert countdown.last_push.click_type == "DOUBLE"
    assert watcher.empty()


def test_nobody_pushing_ends_the_world_and_a_push_starts_a_new_run(tmp_path_factory):
    rules = replace(Rules.for_period(2.0), min_push_interval=0)
    stack = start_stack(tmp_path_factory, rules)
    try:
        transport = connect(stack.service_endpoint(unique("watch-")))
        documents = queue.Queue()
        transport.subscribe(BUTTON_SHADOW.update_documents, lambda m: documents.put(m.json()))
        serial = unique("G030").upper()
        device = connect(stack.device_endpoint(serial))
        click = json.dumps(ButtonClick(serial, "SINGLE").to_payload()).encode()
        device.publish(f"iotbutton/{serial}", click).result(WAIT)
        first = next_countdown(documents)
        assert first.phase == "counting"
        failed = next_countdown(documents)  # written by the scheduled expiry handler
        assert failed.phase == "failed"
        assert failed.failures == 1
        assert failed.failed_at == first.deadline
        device.publish(f"iotbutton/{serial}", click).result(WAIT)
        again = next_countdown(documents)
        assert again.phase == "counting"
        assert again.failures == 1
        assert again.run_started_at > first.run_started_at
        device.close()
        transport.close()
    finally:
        stack.stop()


HISTORY_OPENED_AND_CLOSED = """
import sys
from pathlib import Path
from swan.adapters.history import SqliteHistory
SqliteHistory(Path(sys.argv[1])).close()
"""
LAST_IN_HISTORY = """
import sqlite3, sys
query = "SELECT number, at FROM pushes ORDER BY number DESC LIMIT 1"
print(*(sqlite3.connect(sys.argv[1]).execute(query).fetchone() or ("none", "none")))
"""


def test_every_push_reaches_history_while_other_processes_open_and_close_it(stack, watcher):
    """`swan status` opens and closes the history the stack's functions hold open (the push
    and the expiry function, one process): every push stays in it, as the shadow counts it."""
    history = stack.state_dir / "history.db"
    serial = unique("G030").upper()
    device = connect(stack.device_endpoint(serial))
    try:
        for _ in range(3):
            in_another_process(HISTORY_OPENED_AND_CLOSED, history)
            click = ButtonClick(serial, "SINGLE", 1650)
            topic = f"iotbutton/{serial}"
            device.publish(topic, json.dumps(click.to_payload()).encode()).result(WAIT)
            countdown = next_countdown(watcher)
            last = in_another_process(LAST_IN_HISTORY, history)
            assert last == f"{countdown.pushes} {countdown.last_push.at!r}"
            time.sleep(1.1)  # past the button's minimum push interval
    finally:
        device.close()
