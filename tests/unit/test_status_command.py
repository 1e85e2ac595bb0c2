"""`swan status`: its text and its JSON say the same phase, the countdown's own."""

from __future__ import annotations

import pytest

from swan.commands.status import as_json, as_text
from swan.core.button_shadow import from_shadow_state, to_reported
from swan.core.countdown import Pressed, Push, press
from swan.settings import Settings

T0 = 1_764_000_000.0


def a_run(period: str, *, carried: bool = True):
    """A run started under SWAN_PERIOD_SECONDS=`period`, as status reads it from the shadow
    (one written before the shadow carried `alarmSeconds` when not `carried`)."""
    settings = Settings.from_env({"SWAN_PERIOD_SECONDS": period})
    outcome = press(None, Push(at=T0, by="G030JF0553648RUH", source="button"), settings.rules)
    assert isinstance(outcome, Pressed)
    reported = to_reported(outcome.countdown)
    if not carried:
        del reported["alarmSeconds"]
    return from_shadow_state({"reported": reported})


@pytest.mark.parametrize(
    ("period", "elapsed", "phase"),
    [
        ("60", 0, "counting"),
        ("60", 44, "counting"),
        ("60", 45, "alarm"),
        ("60", 60, "failed"),
        ("6480", 6480 - 241, "counting"),
        ("6480", 6480 - 240, "alarm"),
    ],
)
@pytest.mark.parametrize("carried", [True, False])
def test_status_json_and_text_agree_on_the_phase(period, elapsed, phase, carried):
    countdown = a_run(period, carried=carried)
    now = T0 + elapsed
    assert as_json(countdown, [], {}, now)["phase"] == phase
    assert f"({phase};" in as_text(countdown, [], {}, now)


def test_a_one_minute_run_is_not_all_alarm():
    # SWAN_PERIOD_SECONDS=60: the JSON said "alarm" from the first second (issue 16).
    countdown = a_run("60")
    assert as_json(countdown, [], {}, T0 + 1)["phase"] == "counting"


def test_the_text_shows_the_time_left_as_minutes_and_seconds():
    countdown = a_run("6480")
    assert as_text(countdown, [], {}, T0 + 0.5).startswith("108:00 left")
    assert as_text(countdown, [], {}, T0 + 6480 - 61).startswith("01:01 left")
    assert as_text(countdown, [], {}, T0 + 6480).startswith("SYSTEM FAILURE")
