"""Render: remaining time -> one 8x8 frame for the Sense HAT (counting, alarm, failure)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from swan.core.countdown import ALARM_SECONDS
from swan.core.errors import InvalidSettingError
from swan.core.render import (
    AMBER,
    BLACK,
    GLYPHS,
    GREEN,
    MIN_WAIT_SECONDS,
    PIXELS,
    RED,
    STEPS,
    SUBSTEPS,
    YELLOW,
    Frame,
    frame_to_text,
    next_change,
    render_frame,
)

PERIOD = 6480.0  # 108 minutes
NOW = 1_764_087_120.0  # a whole second, so the alarm is in its bright half
STEP = PERIOD / STEPS  # seconds per sub-step while counting
GOLDEN = Path(__file__).parent / "golden" / "frames"
REGOLD = os.environ.get("SWAN_REGOLD") == "1"


def counting(remaining: float, period: float = PERIOD) -> Frame:
    return render_frame(remaining, period, failed=False, now=NOW)


def rows(frame: Frame) -> list[Frame]:
    return [frame[start : start + 8] for start in range(0, PIXELS, 8)]


def greenish(frame: Frame) -> int:
    return sum(1 for r, g, _ in frame if g > r)


def remaining_for(steps_left: int, period: float = PERIOD) -> float:
    return steps_left * period / STEPS


# ---------------------------------------------------------------- golden frames

GOLDEN_CASES = {
    "full": {"remaining": PERIOD, "now": NOW},
    "three_quarters": {"remaining": PERIOD * 3 / 4, "now": NOW},
    "half": {"remaining": PERIOD / 2, "now": NOW},
    "quarter": {"remaining": PERIOD / 4, "now": NOW},
    # LED 40 (row 5, column 0) has half of its 256 sub-steps left: yellow.
    "frontier_mid_fade": {"remaining": remaining_for(40 * SUBSTEPS + 128), "now": NOW},
    # LED 20 (row 2, column 4) has a quarter of its sub-steps left: orange, between red and yellow.
    "frontier_quarter_fade": {"remaining": remaining_for(20 * SUBSTEPS + 64), "now": NOW},
    "alarm_bright": {"remaining": 120.0, "now": NOW + 0.25},
    "alarm_dim": {"remaining": 120.0, "now": NOW + 0.75},
    **{f"failure_glyph_{index}": {"remaining": 0.0, "now": NOW + index} for index in range(5)},
}


@pytest.mark.parametrize(("name", "case"), GOLDEN_CASES.items(), ids=list(GOLDEN_CASES))
def test_frame_matches_its_golden_file(name, case):
    frame = render_frame(case["remaining"], PERIOD, failed=False, now=case["now"])
    header = f"# {name}: remaining={case['remaining']!r} period={PERIOD!r} now={case['now']!r}\n"
    text = header + frame_to_text(frame)
    path = GOLDEN / f"{name}.txt"
    if REGOLD:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run the tests once with SWAN_REGOLD=1"
    assert path.read_text() == text


# ---------------------------------------------------------------- counting


def test_a_full_period_is_all_green():
    assert counting(PERIOD) == (GREEN,) * 64


def test_half_the_period_is_four_green_rows_over_four_red_rows():
    assert rows(counting(PERIOD / 2)) == [(GREEN,) * 8] * 4 + [(RED,) * 8] * 4


def test_red_grows_back_from_the_bottom_right():
    frame = counting(remaining_for(63 * SUBSTEPS))
    assert frame[:63] == (GREEN,) * 63
    assert frame[63] == RED


def test_any_time_left_keeps_the_first_led_from_pure_red():
    assert counting(0.001)[0] != RED
    assert counting(0.001)[1:] == (RED,) * 63


@pytest.mark.parametrize(
    ("substeps_left", "colour"),
    [
        (256, GREEN),
        (192, (128, 255, 0)),
        (128, YELLOW),
        (64, (255, 128, 0)),
        (1, (255, 2, 0)),
    ],
)
def test_the_frontier_led_fades_green_yellow_red(substeps_left, colour):
    frame = counting(remaining_for(10 * SUBSTEPS + substeps_left))
    assert frame[:10] == (GREEN,) * 10
    assert frame[10] == colour
    assert frame[11:] == (RED,) * 53


def test_time_beyond_the_period_is_drawn_as_a_full_period():
    assert counting(PERIOD * 2) == counting(PERIOD)


def test_the_period_scales_the_matrix():
    assert counting(300.0, period=600.0) == counting(PERIOD / 2)


# ---------------------------------------------------------------- alarm


def test_the_alarm_starts_with_four_minutes_left():
    assert GREEN in counting(ALARM_SECONDS + 0.001)
    assert counting(ALARM_SECONDS) == (AMBER,) * 64


def test_the_alarm_spreads_its_four_minutes_over_the_matrix_in_amber_and_red():
    assert rows(counting(ALARM_SECONDS / 2)) == [(AMBER,) * 8] * 4 + [(RED,) * 8] * 4


def test_the_alarm_pulses_bright_then_dim_each_second():
    bright = render_frame(100.0, PERIOD, failed=False, now=NOW + 0.49)
    dim = render_frame(100.0, PERIOD, failed=False, now=NOW + 0.5)
    assert bright == render_frame(100.0, PERIOD, failed=False, now=NOW)
    assert dim == render_frame(100.0, PERIOD, failed=False, now=NOW + 0.99)
    assert all(max(d) * 4 <= max(b) for b, d in zip(bright, dim, strict=True))
    assert all(max(d) > 0 for d in dim)


def test_a_period_shorter_than_the_alarm_given_is_all_alarm_starting_full():
    def four_minute_alarm(remaining: float, period: float) -> Frame:
        return render_frame(remaining, period, failed=False, now=NOW, alarm_seconds=ALARM_SECONDS)

    assert four_minute_alarm(60.0, period=60.0) == (AMBER,) * 64
    assert four_minute_alarm(30.0, period=60.0 * 2) == counting(ALARM_SECONDS / 4)


def test_the_alarm_is_the_periods_own_unless_given():
    # A 60 s run: the last quarter (15 s) is the alarm, not the whole run.
    assert GREEN in counting(15.001, period=60.0)
    assert counting(15.0, period=60.0) == (AMBER,) * 64
    assert next_change(15.0001, 60.0, failed=False, now=NOW) == pytest.approx(0.0001)


def test_no_alarm_when_alarm_seconds_is_zero():
    frame = render_frame(ALARM_SECONDS / 2, PERIOD, failed=False, now=NOW, alarm_seconds=0)
    assert frame[0] == GREEN
    assert AMBER not in frame


# ---------------------------------------------------------------- failure


def test_no_time_left_shows_the_hieroglyphs():
    assert counting(0.0) == GLYPHS[0].frame()


def test_time_below_zero_is_drawn_as_none():
    assert counting(-500.0) == counting(0.0)


def test_a_failed_run_shows_the_hieroglyphs_whatever_the_time_left():
    assert render_frame(PERIOD, PERIOD, failed=True, now=NOW) == counting(0.0)


def test_the_glyphs_change_every_second_and_cycle():
    frames = [render_frame(0, PERIOD, failed=True, now=NOW + second) for second in range(6)]
    assert len(set(frames[:5])) == 5
    assert frames[5] == frames[0]
    assert render_frame(0, PERIOD, failed=True, now=NOW + 0.999) == frames[0]


def test_three_black_glyphs_on_red_then_two_red_glyphs_on_black():
    assert [(glyph.ink, glyph.paper) for glyph in GLYPHS] == [(BLACK, RED)] * 3 + [(RED, BLACK)] * 2


def test_every_glyph_fills_the_matrix_with_ink_and_paper():
    for glyph in GLYPHS:
        frame = glyph.frame()
        assert len(frame) == 64
        assert set(frame) == {BLACK, RED}


# ---------------------------------------------------------------- next change


def test_counting_changes_with_each_sub_step():
    assert next_change(PERIOD, PERIOD, failed=False, now=NOW) == pytest.approx(STEP)
    assert next_change(PERIOD * 2, PERIOD, failed=False, now=NOW) == pytest.approx(PERIOD + STEP)


def test_counting_changes_when_the_alarm_starts():
    assert next_change(ALARM_SECONDS + 0.01, PERIOD, failed=False, now=NOW) == pytest.approx(0.01)


def test_the_alarm_changes_at_each_half_second():
    # Exactly on a sub-step boundary (about 100 s left) the next step is 15 ms away.
    remaining = remaining_for(6827, ALARM_SECONDS)
    assert next_change(remaining, PERIOD, failed=False, now=NOW + 0.49) == pytest.approx(0.01)


def test_the_alarm_changes_with_each_sub_step():
    remaining = remaining_for(6827, ALARM_SECONDS)
    step = ALARM_SECONDS / STEPS
    assert next_change(remaining, PERIOD, failed=False, now=NOW) == pytest.approx(step)


def test_the_last_sub_step_ends_when_time_runs_out():
    assert next_change(0.001, PERIOD, failed=False, now=NOW, alarm_seconds=0) == (
        pytest.approx(0.001)
    )


def test_a_rounding_error_at_a_step_boundary_never_gives_a_zero_wait():
    tiny = 5e-324  # here remaining - (steps - 1) * span / STEPS rounds to 0
    wait = next_change(tiny, PERIOD, failed=False, now=NOW, alarm_seconds=tiny)
    assert wait == MIN_WAIT_SECONDS


def test_failure_changes_at_the_next_whole_second():
    assert next_change(0, PERIOD, failed=False, now=NOW + 0.25) == pytest.approx(0.75)
    assert next_change(PERIOD, PERIOD, failed=True, now=NOW) == 1.0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"remaining": float("nan")}, "remaining"),
        ({"remaining": float("inf")}, "remaining"),
        ({"period": 0.0}, "period"),
        ({"period": -1.0}, "period"),
        ({"period": float("inf")}, "period"),
        ({"now": float("nan")}, "now"),
        ({"alarm_seconds": -1.0}, "alarm_seconds"),
        ({"alarm_seconds": float("nan")}, "alarm_seconds"),
    ],
)
def test_bad_input_is_refused_by_name(arguments, name):
    good = {
        "remaining": 60.0,
        "period": PERIOD,
        "failed": False,
        "now": NOW,
        "alarm_seconds": 240.0,
    }
    for function in (render_frame, next_change):
        with pytest.raises(InvalidSettingError) as refused:
            function(**(good | arguments))
        assert refused.value.name == name


# ---------------------------------------------------------------- text


def test_text_names_the_well_known_colours_and_lists_exact_rgb():
    text = frame_to_text(counting(PERIOD / 2))
    assert text == "GGGGGGGG\n" * 4 + "RRRRRRRR\n" * 4 + "\nG 00ff00\nR ff0000\n"


def test_text_gives_every_other_colour_its_own_symbol():
    frame = tuple((index, 0, 255) for index in range(64))
    lines = frame_to_text(frame).splitlines()
    grid, legend = lines[:8], lines[9:]
    symbols = "".join(grid)
    assert len(set(symbols)) == 64
    assert legend[0] == f"{symbols[0]} 0000ff"
    assert legend[63] == f"{symbols[63]} 3f00ff"


# ---------------------------------------------------------------- properties

REMAINING = st.floats(min_value=-1e5, max_value=1e6)
PERIODS = st.floats(min_value=1.0, max_value=1e5)
NOWS = st.floats(min_value=0.0, max_value=4e9)
ALARMS = st.floats(min_value=0.0, max_value=1e3)


@given(REMAINING, PERIODS, st.booleans(), NOWS, ALARMS)
def test_every_frame_is_64_valid_pixels(remaining, period, failed, now, alarm_seconds):
    frame = render_frame(remaining, period, failed=failed, now=now, alarm_seconds=alarm_seconds)
    assert len(frame) == 64
    for pixel in frame:
        assert len(pixel) == 3
        assert all(type(channel) is int and 0 <= channel <= 255 for channel in pixel)


@given(REMAINING, REMAINING, PERIODS, NOWS, ALARMS)
def test_green_never_grows_as_time_runs_out(first, second, period, now, alarm_seconds):
    later, earlier = sorted((first, second))
    frames = [
        render_frame(left, period, failed=False, now=now, alarm_seconds=alarm_seconds)
        for left in (earlier, later)
    ]
    assert greenish(frames[1]) <= greenish(frames[0])


@given(REMAINING, PERIODS, st.booleans(), NOWS)
def test_failure_frames_never_contain_green(remaining, period, failed, now):
    assume(failed or remaining <= 0)
    frame = render_frame(remaining, period, failed=failed, now=now)
    assert all(g == 0 for _, g, _ in frame)


@given(st.floats(min_value=0.001, max_value=ALARM_SECONDS), NOWS)
def test_alarm_frames_are_never_green(remaining, now):
    assert greenish(render_frame(remaining, PERIOD, failed=False, now=now)) == 0


@given(REMAINING, PERIODS, st.booleans(), NOWS, ALARMS, st.floats(min_value=0, max_value=1))
def test_the_frame_holds_until_its_next_change(
    remaining, period, failed, now, alarm_seconds, fraction
):
    wait = next_change(remaining, period, failed=failed, now=now, alarm_seconds=alarm_seconds)
    assert wait >= MIN_WAIT_SECONDS
    elapsed = wait * fraction - 1e-6
    assume(wait > MIN_WAIT_SECONDS)  # the floor may outlast a change, by design
    assume(elapsed >= 0)
    before = render_frame(remaining, period, failed=failed, now=now, alarm_seconds=alarm_seconds)
    after = render_frame(
        remaining - elapsed, period, failed=failed, now=now + elapsed, alarm_seconds=alarm_seconds
    )
    assert after == before


@given(st.floats(min_value=ALARM_SECONDS + 1, max_value=PERIOD), NOWS)
def test_while_counting_the_frame_changes_right_after_its_next_change(remaining, now):
    wait = next_change(remaining, PERIOD, failed=False, now=now)
    before = render_frame(remaining, PERIOD, failed=False, now=now)
    after = render_frame(remaining - wait - 1e-6, PERIOD, failed=False, now=now + wait + 1e-6)
    assert after != before
