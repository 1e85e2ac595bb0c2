"""The Pi client against the real local stack (MQTT 5 over mutual TLS through the device
gateway, Mosquitto, the shadow service, the push handler), with the recording matrix."""

from __future__ import annotations

import json
import queue
import signal
import threading
import time
import uuid
from dataclasses import replace

import pytest
from botocore.config import Config
from support import local_boto3, start_local_stack, unique

from device.app import PiApp, PiPlan
from device.recording import RecordingMatrix
from swan.adapters.mqtt import connect
from swan.core.backoff import Backoff
from swan.core.button_shadow import to_reported
from swan.core.codecs import PushRequest
from swan.core.countdown import Countdown, Push, Rules
from swan.core.render import AMBER, GLYPHS, GREEN
from swan.core.topics import BUTTON_SHADOW, identity_push_topic
from swan.local.virtual_pi import virtual_pi

WAIT = 10.0
RECONNECT = 10.0  # seconds from the broker being back to the Pi showing the right state
QUICK = Backoff(first_delay=0.2, max_delay=1.0)
GLYPH_FRAMES = {glyph.frame() for glyph in GLYPHS}


def start_stack(tmp_path_factory, rules):
    return start_local_stack(tmp_path_factory.mktemp("state"), rules)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_stack(tmp_path_factory, Rules())
    yield running
    running.stop()


class Said:
    """What the Pi tells its user, waited for without sleeping."""

    def __init__(self):
        self.lines = []
        self._changed = threading.Condition()

    def __call__(self, line):
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def wait_for(self, text, count=1, timeout=WAIT):
        with self._changed:
            done = self._changed.wait_for(
                lambda: sum(text in line for line in self.lines) >= count, timeout
            )
        assert done, f"the Pi never said {text!r} {count} times; it said {self.lines}"


class RunningPi:
    def __init__(self, endpoint, backoff=QUICK):
        self.matrix = RecordingMatrix()
        self.said = Said()
        plan = PiPlan(endpoint=endpoint, matrix="recording", backoff=backoff)
        self.app = PiApp(plan, self.said, matrix=self.matrix)
        self.thing = self.app.thing
        self.thread = threading.Thread(target=self.app.run, name=f"pi-{self.thing}")
        self.thread.start()

    def stop(self):
        if not self.thread.is_alive():
            return
        self.app.stop()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()


@pytest.fixture
def start_pi():
    started = []

    def start(endpoint, backoff=QUICK):
        pi = RunningPi(endpoint, backoff)
        started.append(pi)
        return pi

    yield start
    for pi in started:
        if pi.thread.is_alive():
            pi.stop()


@pytest.fixture
def service(stack):
    """A connection on the internal listener, as the project's services are; subscriptions
    land in queues."""
    transport = connect(stack.service_endpoint(unique("svc-")))
    yield Service(transport)
    transport.close()


class Service:
    def __init__(self, transport):
        self.transport = transport

    def watch(self, topic_filter):
        messages = queue.Queue()
        self.transport.subscribe(topic_filter, lambda m: messages.put(m.json()))
        return messages

    def web_push(self):
        """What a browser's Cognito identity publishes when it pushes (the WebSocket door
        and the role's checks are tests/integration/test_mqtt_websocket.py's)."""
        request = PushRequest(unique("tok-"), "web")
        payload = json.dumps(request.to_payload()).encode()
        topic = identity_push_topic(f"us-east-1:{uuid.uuid4()}")
        self.transport.publish(topic, payload).result(WAIT)

    def publish(self, topic, document):
        self.transport.publish(topic, json.dumps(document).encode()).result(WAIT)


def until(messages, predicate, timeout=WAIT):
    """The first message from the queue that `predicate` accepts."""
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            try:
                message = messages.get(timeout=0.5)
            except queue.Empty:
                continue
            if predicate(message):
                return message
    finally:
        timer.cancel()
    raise AssertionError(f"no such message within {timeout} s")


def reported(document):
    return document["state"].get("reported", {})


def counting_frame(frame):
    return sum(pixel == GREEN for pixel in frame) >= 60


# ---------------------------------------------------------------- following the countdown


def test_a_web_push_is_shown_in_counting_frames(stack, service, start_pi):
    pi = start_pi(stack.device_endpoint(unique("pi-")))
    pi.said.wait_for("connected")
    service.web_push()
    frame = pi.matrix.wait_for_frame(counting_frame)
    assert all(pixel == GREEN for pixel in frame[:60])
    assert pi.matrix.wait_for(lambda m: "last: web (web)" in m.latest.caption, WAIT)


def test_a_joystick_press_updates_the_button_shadow(stack, service, start_pi):
    documents = service.watch(BUTTON_SHADOW.update_documents)
    pi = start_pi(stack.device_endpoint(unique("pi-")))
    reports = service.watch(f"$aws/things/{pi.thing}/shadow/update/accepted")
    pi.said.wait_for("connected")
    pi.matrix.wait_for(lambda m: m.shows > 0 and m.latest.caption != "connecting ...", WAIT)
    pi.matrix.press()
    pushed = until(
        documents, lambda d: d["current"]["state"]["reported"]["lastPush"]["by"] == pi.thing
    )
    assert pushed["current"]["state"]["reported"]["lastPush"]["source"] == "pi"
    report = until(
        reports, lambda r: (r["state"]["reported"].get("lastPushSeen") or {}).get("by") == pi.thing
    )
    assert report["state"]["reported"]["online"] is True


def test_desired_brightness_is_applied_and_reported(stack, service, start_pi):
    pi = start_pi(stack.device_endpoint(unique("pi-")))
    shadow = f"$aws/things/{pi.thing}/shadow"
    reports = service.watch(f"{shadow}/update/accepted")
    answers = service.watch(f"{shadow}/get/accepted")
    pi.said.wait_for("connected")
    until(reports, lambda r: reported(r).get("online") is True)
    service.web_push()
    pi.matrix.wait_for_frame(counting_frame)
    service.publish(
        f"{shadow}/update", {"state": {"desired": {"brightness": 0.5, "lowLight": True}}}
    )
    pi.matrix.wait_for_frame(lambda f: f[0] == (0, 127, 0))
    assert pi.matrix.wait_for(lambda m: m.low_light, WAIT)
    until(reports, lambda r: reported(r).get("brightness") == 0.5)
    service.publish(f"{shadow}/get", {"clientToken": "check"})
    whole = until(answers, lambda a: a.get("clientToken") == "check")
    assert whole["state"]["reported"]["brightness"] == 0.5
    assert whole["state"]["reported"]["lowLight"] is True
    assert "delta" not in whole["state"]  # desired == reported


def test_stopping_clears_the_leds_reports_offline_and_leaves_the_last_will(
    stack, service, start_pi
):
    pi = start_pi(stack.device_endpoint(unique("pi-")))
    statuses = service.watch(f"swan/status/{pi.thing}")
    reports = service.watch(f"$aws/things/{pi.thing}/shadow/update/accepted")
    pi.said.wait_for("connected")
    until(reports, lambda r: reported(r).get("online") is True)
    pi.stop()
    assert pi.matrix.clears == 1
    assert not pi.matrix.lit
    until(reports, lambda r: reported(r).get("online") is False)
    will = until(statuses, lambda s: s["state"]["reported"]["online"] is False)
    assert will == {"state": {"reported": {"online": False}}}


def test_a_fresh_certificate_gets_in_after_jitr_with_no_manual_step(stack, start_pi):
    thing = unique("pi-new-")
    stack.certs.ensure_device(thing, now=_now())  # issued by the local CA, never registered
    pi = start_pi(stack.running.identity.endpoint(thing))
    pi.said.wait_for("connected", timeout=20)
    assert pi.app.transport.failures >= 1  # the first connect was refused
    assert "registered just in time" in " ".join(pi.said.lines)
    pi.matrix.wait_for(lambda m: m.shows > 0 and m.latest.caption != "connecting ...", WAIT)


def test_swan_up_with_pi_runs_a_virtual_pi_beside_the_stack(stack, service):
    thing = unique("pi-virtual-")
    statuses = service.watch(f"swan/status/{thing}")
    with virtual_pi(stack, thing) as child:
        until(statuses, lambda s: reported(s)["online"] is True, timeout=30)
    assert child.returncode == 0  # SIGTERM: a clean goodbye
    until(statuses, lambda s: reported(s)["online"] is False)
    log = (stack.state_dir / "logs" / f"{thing}.log").read_text()
    assert f"{thing}: connected" in log
    assert f"{thing}: stopped" in log


def test_a_pi_that_vanishes_is_marked_offline_in_its_shadow_by_its_last_will(stack, service):
    # A power cut: no goodbye. The broker publishes the will on swan/status/<thing>, and the
    # template's StatusRule republishes it to the thing's shadow, as AWS IoT would.
    thing = unique("pi-cut-")
    reports = service.watch(f"$aws/things/{thing}/shadow/update/accepted")
    with virtual_pi(stack, thing) as child:
        until(reports, lambda r: reported(r).get("online") is True, timeout=30)
        child.send_signal(signal.SIGKILL)
        child.wait(WAIT)
        offline = until(reports, lambda r: reported(r).get("online") is False)
    assert offline["state"] == {"reported": {"online": False}}


# ---------------------------------------------------------------- stacks of their own


def test_the_countdown_ends_in_failure_frames(tmp_path_factory, start_pi):
    rules = replace(Rules.for_period(4.0), min_push_interval=0)
    stack = start_stack(tmp_path_factory, rules)
    try:
        pi = start_pi(stack.device_endpoint(unique("pi-")))
        transport = connect(stack.service_endpoint(unique("svc-")))
        try:
            pi.said.wait_for("connected")
            Service(transport).web_push()
            pi.matrix.wait_for_frame(counting_frame)
            pi.matrix.wait_for_frame(lambda f: AMBER in f)  # the last second is the alarm
            failure = pi.matrix.wait_for_frame(lambda f: f in GLYPH_FRAMES)
            assert failure in GLYPH_FRAMES
            pi.matrix.wait_for(lambda m: m.latest.caption.startswith("SYSTEM FAILURE"), WAIT)
        finally:
            transport.close()
            pi.stop()  # before its gateway goes
    finally:
        stack.stop()


@pytest.mark.reliability
def test_mosquitto_restarted_the_pi_reconnects_and_resyncs_within_10_s(tmp_path_factory, start_pi):
    stack = start_stack(tmp_path_factory, Rules())
    iot_data = local_boto3(
        "iot-data", stack.endpoints().iot_data, stack, config=Config(retries={"max_attempts": 1})
    )
    try:
        # The backoff `swan pi` runs with, not the tests' quick one: the promise is the Pi's.
        pi = start_pi(stack.device_endpoint(unique("pi-")), Backoff())
        pi.said.wait_for("connected")
        pi.matrix.wait_for(lambda m: m.latest.caption == "waiting for the first push", WAIT)
        broker = stack.running.broker
        broker.stop()
        # While the broker is down, the countdown changes (over HTTP, as the handlers
        # write it): no document can reach the Pi, only its get after the reconnect.
        changed = counting_at(time.time(), by=unique("while-away-"))
        body = json.dumps({"state": {"reported": to_reported(changed)}})
        iot_data.update_thing_shadow(thingName="button", payload=body)
        broker.start()
        back = time.monotonic()
        pi.said.wait_for("reconnected", timeout=RECONNECT)
        by = changed.last_push.by
        left = RECONNECT - (time.monotonic() - back)
        assert pi.matrix.wait_for(lambda m: f"last: {by}" in m.latest.caption, left)
        assert counting_frame(pi.matrix.latest.frame)
        pi.stop()  # before its gateway goes
    finally:
        iot_data.close()
        stack.stop()


def counting_at(at, by):
    push = Push(at=at, by=by, source="cli")
    return Countdown(6480.0, at + 6480.0, "counting", push, 1, at, 0, None, at)


def _now():
    from datetime import UTC, datetime  # noqa: PLC0415

    return datetime.now(UTC)
