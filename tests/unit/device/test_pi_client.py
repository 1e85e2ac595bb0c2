"""The Pi client on an in-memory broker, one display step at a time, with a fake clock."""

from __future__ import annotations

import json
import logging
import threading

import pytest
from device_fakes import PERIOD, THING, counting

from device.display import CONNECTING, MIN_WAIT, REFUSED, WAITING
from device.lights import Lights
from device.pi import ERROR_WAIT, REPORT_FALLBACK, SHORTEST_WAIT, Pi
from device.recording import RecordingMatrix
from swan.adapters.mqtt import MemoryBroker
from swan.core.codecs import PushRejected
from swan.core.render import GREEN, render_frame

SHADOW = f"$aws/things/{THING}/shadow"


def test_before_connecting_the_pi_shows_that_it_is_connecting(clock):
    broker = MemoryBroker()  # nobody answers the get
    matrix = RecordingMatrix()
    pi = Pi(THING, broker.connect(THING), matrix, clock, firmware="1")
    pi.start()
    pi.step()
    assert matrix.frames == [CONNECTING]


@pytest.mark.usefixtures("online")
def test_on_connect_it_gets_both_shadows_and_says_it_is_online(broker, shadows):
    gets = [m.topic for m in broker.published if m.topic.endswith("/shadow/get")]
    # the button's once when it starts (a transport not yet connected drops it), then both
    assert gets == ["$aws/things/button/shadow/get"] * 2 + [f"{SHADOW}/get"]
    assert broker.on(f"swan/status/{THING}") == [{"state": {"reported": {"online": True}}}]
    assert shadows.reported() == {
        "online": True,
        "firmware": "9.9.9",
        "display": "recording",
        "brightness": 1.0,
        "lowLight": False,
        "lastPushSeen": None,
    }


@pytest.mark.usefixtures("online")
def test_nobody_pushed_yet_shows_the_waiting_frame(matrix):
    assert matrix.latest.frame == WAITING


def test_a_push_anywhere_is_shown_at_once(online, shadows, matrix, clock):
    shadows.push(counting(clock.now()))
    online.step()
    assert matrix.latest.frame == render_frame(PERIOD, PERIOD, failed=False, now=clock.now())
    assert all(pixel == GREEN for pixel in matrix.latest.frame)


def test_the_current_countdown_is_shown_after_a_restart_not_red(broker, shadows, clock):
    shadows.push(counting(clock.now() - 600))
    matrix = RecordingMatrix()
    pi = Pi(THING, broker.connect(THING), matrix, clock, firmware="1")
    pi.start()
    pi.connected()
    pi.step()
    expected = render_frame(PERIOD - 600, PERIOD, failed=False, now=clock.now())
    assert matrix.latest.frame == expected


def test_it_redraws_only_when_a_pixel_changes(online, shadows, matrix, clock):
    shadows.push(counting(clock.now()))
    waits = [online.step() for _ in range(5)]
    assert matrix.shows == 2  # waiting, then the countdown: the clock did not move
    clock.advance(waits[-1])
    online.step()
    assert matrix.shows == 3


def test_it_sleeps_until_the_frame_can_change(online, shadows, clock):
    shadows.push(counting(clock.now()))
    wait = online.step()
    assert MIN_WAIT <= wait <= PERIOD / 64 / 256 + 1e-6


def test_a_joystick_press_sends_a_push_request(broker, online, matrix):
    matrix.press()
    matrix.press()  # a burst of presses is one push: the server rate-limits anyway
    online.step()
    requests = broker.on(f"swan/push/{THING}")
    assert len(requests) == 1
    assert requests[0]["source"] == "pi"
    assert len(requests[0]["clientToken"]) == 32
    matrix.press()
    online.step()
    again = broker.on(f"swan/push/{THING}")
    assert again[1]["clientToken"] != again[0]["clientToken"]


def refuse(broker, token, reason="rate_limited", message="one push per second"):
    body = PushRejected(token, reason, message, retry_after=1.0).to_payload()
    broker.deliver(f"swan/push/{THING}/rejected", json.dumps(body).encode())


def test_a_refused_push_shows_the_hourglass_briefly(broker, online, shadows, matrix, clock):
    shadows.push(counting(clock.now()))
    online.step()
    matrix.press()
    online.step()
    token = broker.on(f"swan/push/{THING}")[0]["clientToken"]
    refuse(broker, token)
    wait = online.step()
    assert matrix.latest.frame == REFUSED
    assert matrix.latest.caption.endswith("too fast: one push per second")
    assert wait <= 2
    clock.advance(2)
    online.step()
    assert matrix.latest.frame != REFUSED


def test_someone_elses_refusal_is_not_shown(broker, online, matrix):
    matrix.press()
    online.step()
    refuse(broker, "not-mine")
    broker.deliver(f"swan/push/{THING}/accepted", b'{"clientToken": "x"}')
    online.step()
    assert matrix.latest.frame != REFUSED


def test_a_press_while_offline_is_not_sent_and_says_so(broker, online, matrix):
    online.disconnected()
    matrix.press()
    online.step()
    assert broker.on(f"swan/push/{THING}") == []
    assert matrix.latest.frame == REFUSED
    assert "offline" in matrix.latest.caption


def test_desired_lights_are_applied_then_reported(online, shadows, matrix, clock):
    shadows.push(counting(clock.now()))
    online.step()
    shadows.write(THING, {"desired": {"brightness": 0.25, "lowLight": True}})
    clock.advance(1)
    online.step()
    assert online.lights == Lights(brightness=0.25, low_light=True)
    assert matrix.low_light
    assert matrix.latest.frame[0] == (0, 63, 0)
    reported = shadows.reported()
    assert (reported["brightness"], reported["lowLight"]) == (0.25, True)


def test_an_older_delta_than_one_applied_is_ignored(broker, online):
    newer = {"state": {"brightness": 0.3}, "version": 10, "timestamp": 1}
    older = {"state": {"brightness": 0.8}, "version": 9, "timestamp": 1}
    for body in (newer, older):
        broker.deliver(f"{SHADOW}/update/delta", json.dumps(body).encode())
    assert online.lights.brightness == 0.3


def test_a_bad_desired_value_is_ignored_and_not_reported_in_a_loop(
    broker, online, shadows, clock, caplog
):
    before = len(broker.on(f"{SHADOW}/update"))
    with caplog.at_level(logging.WARNING):
        shadows.write(THING, {"desired": {"brightness": "max"}})
    clock.advance(5)
    online.step()
    assert online.lights == Lights()
    assert len(broker.on(f"{SHADOW}/update")) == before
    assert "brightness" in caplog.text


def test_after_a_restart_the_desired_section_is_applied_whole(broker, shadows, clock):
    shadows.write(THING, {"desired": {"brightness": 0.1}, "reported": {"brightness": 0.1}})
    pi = Pi(THING, broker.connect(THING), RecordingMatrix(), clock, firmware="1")
    pi.start()
    pi.connected()
    pi.step()
    assert pi.lights.brightness == 0.1


def test_reports_are_at_most_one_a_second_and_carry_the_last_push(broker, online, shadows, clock):
    for n in range(5):
        shadows.push(counting(clock.now() + n, by=f"p{n}", pushes=n + 1))
        online.step()
    clock.advance(1)
    online.step()
    updates = broker.on(f"{SHADOW}/update")
    assert len(updates) == 2  # the connect's, then one for the burst
    assert updates[-1]["state"]["reported"]["lastPushSeen"]["by"] == "p4"


def unanswered_pi(broker, shadows, clock):
    shadows.answering = False  # the shadow service has not reconnected yet
    pi = Pi(THING, broker.connect(THING), RecordingMatrix(), clock, firmware="1")
    pi.start()
    pi.connected()
    return pi


def test_without_an_answer_to_its_get_it_reports_anyway(broker, shadows, clock):
    pi = unanswered_pi(broker, shadows, clock)
    pi.step()
    assert broker.on(f"{SHADOW}/update") == []
    clock.advance(REPORT_FALLBACK)
    pi.step()
    assert len(broker.on(f"{SHADOW}/update")) == 1


def test_unanswered_gets_are_asked_again_less_and_less_often(broker, shadows, clock):
    pi = unanswered_pi(broker, shadows, clock)
    start = clock.now()

    def gets():
        return len(broker.on(f"{SHADOW}/get"))

    for seconds, expected in ((0, 1), (2, 2), (3, 2), (5.9, 2), (6, 3)):
        clock.current = start + seconds
        pi.step()
        assert gets() == expected, f"at {seconds} s"
    shadows.answering = True
    clock.current = start + 14  # the fourth get is answered: no more after it
    pi.step()
    clock.current = start + 100
    pi.step()
    assert gets() == 4


def test_bad_messages_are_logged_and_ignored(broker, online, caplog):
    with caplog.at_level(logging.WARNING):
        for topic in (
            f"{SHADOW}/update/delta",
            f"{SHADOW}/get/accepted",
            f"{SHADOW}/get/rejected",
            f"swan/push/{THING}/rejected",
        ):
            broker.deliver(topic, b"not json")
    online.step()
    assert "ignored a bad" in caplog.text


def test_an_error_in_a_step_is_logged_once_and_retried(
    online, shadows, clock, matrix, caplog, monkeypatch
):
    def broken(*_):
        raise OSError("the HAT fell off")

    monkeypatch.setattr(matrix, "show", broken)
    shadows.push(counting(clock.now()))
    with caplog.at_level(logging.ERROR):
        assert online.safe_step() == ERROR_WAIT
        assert online.safe_step() == ERROR_WAIT
    assert caplog.text.count("the display loop failed") == 1


def test_shutdown_clears_the_leds_and_reports_offline(online, shadows, matrix):
    online.shutdown()
    assert not matrix.lit
    assert matrix.clears == 1
    assert shadows.reported()["online"] is False


def test_shutdown_without_a_connection_only_clears(broker, clock):
    matrix = RecordingMatrix()
    pi = Pi(THING, broker.connect(THING), matrix, clock, firmware="1")
    pi.shutdown()
    assert matrix.clears == 1
    assert broker.published == []


def test_run_steps_until_stopped_and_wakes_on_events(broker, online, matrix):
    pushed = threading.Event()
    broker.connect("watcher").subscribe(f"swan/push/{THING}", lambda _: pushed.set())
    runner = threading.Thread(target=online.run)
    runner.start()
    try:
        matrix.press()  # the loop sleeps for long (nobody pushed yet): the press wakes it
        assert pushed.wait(5)
    finally:
        online.stop()
        runner.join(5)
    assert not runner.is_alive()


def test_a_report_due_in_a_moment_never_makes_the_loop_spin(online, shadows, clock):
    shadows.push(counting(clock.now()))
    clock.advance(1 - 1e-9)  # the next report is allowed a nanosecond from now
    assert online.step() >= SHORTEST_WAIT
