"""What the Pi shows: the core's frames at the Pi's brightness, its own frames, the caption,
and how long the picture stays the same (bounded: never a busy loop, never asleep for long)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.display import (
    CONNECTING,
    MAX_WAIT,
    MIN_WAIT,
    REFUSED,
    WAITING,
    Notice,
    compose,
)
from device.lights import Lights
from swan.core.countdown import Countdown, Push
from swan.core.render import GLYPHS, render_frame

NOW = 1_764_087_120.0
PERIOD = 6480.0


def countdown(deadline=NOW + PERIOD, *, phase="counting", pushes=1, failures=0, period=PERIOD):
    return Countdown(
        period_seconds=period,
        deadline=deadline,
        phase=phase,
        last_push=Push(at=deadline - period, by="pi-kitchen", source="pi"),
        pushes=pushes,
        run_started_at=deadline - period,
        failures=failures,
        failed_at=None if phase == "counting" else deadline,
        updated_at=deadline - period,
    )


def scene(value, *, now=NOW, loaded=True, online=True, lights=None, notice=None, captions=True):
    return compose(
        value,
        loaded=loaded,
        online=online,
        lights=lights or Lights(),
        notice=notice,
        now=now,
        captions=captions,
    )


def test_before_the_shadow_arrives_a_blue_light_waits_in_the_middle():
    shown = scene(None, loaded=False)
    assert shown.frame == CONNECTING
    assert shown.caption == "connecting ..."
    assert shown.wait == MAX_WAIT


def test_before_anyone_pushed_the_matrix_is_dim_and_full():
    shown = scene(None)
    assert shown.frame == WAITING
    assert shown.caption == "waiting for the first push"


def test_counting_shows_the_core_frame_and_the_time_left():
    shown = scene(countdown(), now=NOW + 61.5)
    assert shown.frame == render_frame(PERIOD - 61.5, PERIOD, failed=False, now=NOW + 61.5)
    assert shown.caption == "106:59  counting  ·  1 push  ·  last: pi-kitchen (pi)"


def test_with_a_caption_the_wait_ends_when_the_shown_second_changes():
    shown = scene(countdown(), now=NOW + 61.75)
    assert shown.wait == pytest.approx(0.25)  # 6418.25 s left: "6419" until 6418


def test_without_a_caption_only_the_frame_counts_so_the_pi_sleeps_longer():
    shown = scene(countdown(), now=NOW + 61.75, captions=False)
    assert shown.wait > 0.25
    assert shown.wait <= PERIOD / 64 / 256 + 1e-9  # one sub-step of the frontier LED


def test_the_alarm_pulses_amber_and_says_so():
    value = countdown()
    now = NOW + PERIOD - 100
    shown = scene(value, now=now)
    assert shown.frame == render_frame(100, PERIOD, failed=False, now=now)
    assert "ALARM" in shown.caption
    assert shown.wait <= 0.5


def test_failure_shows_the_glyphs_and_the_failures_counted():
    value = countdown(deadline=NOW - 10, phase="failed", failures=3)
    shown = scene(value)
    assert shown.frame == GLYPHS[0].frame()
    assert shown.caption == "SYSTEM FAILURE  ·  3 failures"


def test_a_passed_deadline_is_a_failure_before_the_expiry_is_written():
    shown = scene(countdown(deadline=NOW - 1))
    assert shown.frame in {glyph.frame() for glyph in GLYPHS}
    assert shown.caption.startswith("SYSTEM FAILURE")


def test_brightness_scales_every_led():
    shown = scene(countdown(), lights=Lights(brightness=0.5))
    full = scene(countdown()).frame
    assert shown.frame == tuple((r // 2, g // 2, b // 2) for r, g, b in full)


def test_a_notice_covers_the_countdown_until_it_ends():
    notice = Notice("too fast: one push per second", REFUSED, until=NOW + 2)
    shown = scene(countdown(), notice=notice)
    assert shown.frame == REFUSED
    assert shown.caption.endswith("too fast: one push per second")
    assert shown.wait <= 2
    after = scene(countdown(), notice=notice, now=NOW + 2)
    assert after.frame != REFUSED


def test_offline_is_said_but_the_countdown_goes_on():
    shown = scene(countdown(), online=False)
    assert shown.caption.endswith("offline")
    assert shown.frame == scene(countdown()).frame


def test_a_short_period_gets_a_short_alarm():
    assert scene(countdown(deadline=NOW + 1.0, period=4.0)).caption.startswith("00:01  ALARM")
    assert "counting" in scene(countdown(deadline=NOW + 1.5, period=4.0)).caption
    assert "counting" in scene(countdown(deadline=NOW + 241)).caption
    assert "ALARM" in scene(countdown(deadline=NOW + 240)).caption


def test_the_leds_follow_the_alarm_the_shadow_carries():
    carried = replace(countdown(deadline=NOW + 100), alarm_seconds=60.0)
    assert "counting" in scene(carried).caption
    assert "ALARM" in scene(replace(carried, deadline=NOW + 60)).caption


@given(
    left=st.floats(min_value=-10, max_value=PERIOD * 2),
    now=st.floats(min_value=NOW, max_value=NOW + 10_000),
    captions=st.booleans(),
    period=st.sampled_from([1.0, 4.0, 60.0, PERIOD]),
)
def test_the_wait_is_always_bounded(left, now, captions, period):
    shown = scene(countdown(deadline=now + left, period=period), now=now, captions=captions)
    assert MIN_WAIT <= shown.wait <= MAX_WAIT
