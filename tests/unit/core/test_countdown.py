from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swan.core.countdown import (
    ALARM_SECONDS,
    DEFAULT_PERIOD_SECONDS,
    RECENT_LIMIT,
    Countdown,
    NumberedPush,
    Pressed,
    Push,
    Refused,
    Rules,
    alarm_window,
    clock_text,
    code_matches,
    expire,
    phase_at,
    press,
    remaining,
    remember,
)
from swan.core.errors import InvalidSettingError

T0 = 1_764_000_000.0
RULES = Rules()
SWAN = Rules(rule_set="swan")
CODE = "4 8 15 16 23 42"


def push_at(at, by="pi-kitchen", source="pi", code=None):
    return Push(at=at, by=by, source=source, code=code)


def accepted(outcome):
    assert isinstance(outcome, Pressed), outcome
    return outcome


def started(at=T0, rules=RULES):
    return accepted(press(None, push_at(at), rules)).countdown


def test_the_period_is_108_minutes_and_the_alarm_the_last_4():
    assert DEFAULT_PERIOD_SECONDS == 6480
    assert ALARM_SECONDS == 240
    assert Rules().period_seconds == 6480


def test_first_push_starts_the_first_run():
    outcome = accepted(press(None, push_at(T0), RULES))
    assert outcome.new_run
    assert not outcome.failure_recorded
    assert outcome.countdown == Countdown(
        period_seconds=6480,
        deadline=T0 + 6480,
        phase="counting",
        last_push=push_at(T0),
        pushes=1,
        run_started_at=T0,
        failures=0,
        failed_at=None,
        updated_at=T0,
        recent=(NumberedPush(1, push_at(T0)),),
        rule_set="anytime",
        alarm_seconds=240,
    )


def test_push_resets_the_deadline_to_a_full_period_from_server_time():
    countdown = started()
    later = accepted(press(countdown, push_at(T0 + 1000, by="web"), RULES))
    assert later.countdown.deadline == T0 + 1000 + 6480
    assert later.countdown.last_push == push_at(T0 + 1000, by="web")
    assert later.countdown.pushes == 2
    assert later.countdown.run_started_at == T0
    assert not later.new_run


def test_period_is_configurable_for_demos():
    demo = Rules(period_seconds=30, alarm_seconds=10)
    countdown = started(rules=demo)
    assert countdown.deadline == T0 + 30
    assert countdown.period_seconds == 30
    assert phase_at(countdown, T0 + 19, demo.alarm_seconds) == "counting"
    assert phase_at(countdown, T0 + 20, demo.alarm_seconds) == "alarm"


def test_a_late_arriving_older_push_never_moves_the_deadline_back():
    countdown = accepted(press(started(), push_at(T0 + 100), RULES)).countdown
    older = accepted(press(countdown, push_at(T0 + 50, by="slow-lambda"), RULES)).countdown
    assert older.deadline == T0 + 100 + 6480
    assert older.last_push == push_at(T0 + 100)
    assert older.pushes == 3


def test_the_countdown_keeps_the_latest_pushes_newest_first_with_their_numbers():
    countdown = started()
    for second in range(1, 20):
        countdown = accepted(press(countdown, push_at(T0 + second, by=f"pi-{second}"), RULES))
        countdown = countdown.countdown
    assert len(countdown.recent) == RECENT_LIMIT == 12
    assert [entry.number for entry in countdown.recent] == list(range(20, 8, -1))
    assert countdown.recent[0] == NumberedPush(20, push_at(T0 + 19, by="pi-19"))
    assert countdown.recent[-1] == NumberedPush(9, push_at(T0 + 8, by="pi-8"))


def test_recent_pushes_are_numbered_as_history_numbers_them():
    outcome = accepted(press(started(), push_at(T0 + 1, by="web"), RULES, number=17))
    assert [entry.number for entry in outcome.countdown.recent] == [17, 1]


def test_the_recent_pushes_outlive_a_failure_and_go_on_in_the_next_run():
    before = accepted(press(started(), push_at(T0 + 10, by="web"), RULES)).countdown
    failed = expire(before, T0 + 10 + 6480)
    assert failed is not None
    assert failed.recent == before.recent
    again = accepted(press(failed, push_at(T0 + 9000, by="cli-1"), RULES)).countdown
    assert [entry.number for entry in again.recent] == [3, 2, 1]
    late = accepted(press(before, push_at(T0 + 7000, by="cli-1"), RULES)).countdown
    assert late.failures == 1
    assert [entry.number for entry in late.recent] == [3, 2, 1]


def test_the_countdown_carries_the_rules_of_the_last_push():
    demo = Rules.for_period(30, "swan")
    first = accepted(press(None, push_at(T0, code=CODE), demo)).countdown
    assert (first.rule_set, first.alarm_seconds) == ("swan", 7.5)
    pushed = accepted(press(first, push_at(T0 + 25, code=CODE), Rules.for_period(60))).countdown
    assert (pushed.period_seconds, pushed.rule_set, pushed.alarm_seconds) == (60, "anytime", 15)


def test_remember_keeps_one_entry_per_number_the_one_already_there():
    kept = NumberedPush(2, push_at(T0 + 2))
    recent = remember((kept, NumberedPush(1, push_at(T0))), NumberedPush(2, push_at(T0 + 9)))
    assert recent == (kept, NumberedPush(1, push_at(T0)))
    assert remember((), *(NumberedPush(n, push_at(T0 + n)) for n in range(1, 30)))[-1].number == 18


def test_the_history_number_sets_the_push_count():
    countdown = started()
    outcome = accepted(press(countdown, push_at(T0 + 1), RULES, number=17))
    assert outcome.countdown.pushes == 17
    # a number behind the stored count never lowers it
    assert (
        accepted(press(outcome.countdown, push_at(T0 + 2), RULES, number=3)).countdown.pushes == 18
    )


@pytest.mark.parametrize(
    ("seconds_after_push", "phase"),
    [
        (0, "counting"),
        (6480 - 240 - 0.001, "counting"),
        (6480 - 240, "alarm"),
        (6480 - 0.001, "alarm"),
        (6480, "failed"),
        (10_000, "failed"),
    ],
)
def test_phase_boundaries(seconds_after_push, phase):
    assert phase_at(started(), T0 + seconds_after_push) == phase


def test_remaining_counts_down_and_stops_at_zero():
    countdown = started()
    assert remaining(countdown, T0 - 60) == 6480  # a viewer whose clock runs behind
    assert remaining(countdown, T0) == 6480
    assert remaining(countdown, T0 + 6000.5) == 479.5
    assert remaining(countdown, T0 + 7000) == 0


def test_expire_marks_the_failure_at_the_deadline():
    countdown = started()
    failed = expire(countdown, T0 + 6480)
    assert failed == replace(
        countdown, phase="failed", failures=1, failed_at=T0 + 6480, updated_at=T0 + 6480
    )
    assert remaining(failed, T0 + 6480) == 0
    assert phase_at(failed, T0) == "failed"


def test_expire_before_the_deadline_does_nothing():
    assert expire(started(), T0 + 6479.999) is None


def test_expire_is_idempotent():
    failed = expire(started(), T0 + 7000)
    assert failed is not None
    assert expire(failed, T0 + 8000) is None


def test_expire_after_a_push_moved_the_deadline_does_nothing():
    pushed = accepted(press(started(), push_at(T0 + 6000), RULES)).countdown
    assert expire(pushed, T0 + 6480) is None


def test_push_after_failure_starts_a_new_run_and_keeps_the_failure_count():
    failed = expire(started(), T0 + 6480)
    assert failed is not None
    outcome = accepted(press(failed, push_at(T0 + 9000, by="web"), RULES))
    assert outcome.new_run
    assert not outcome.failure_recorded
    assert outcome.countdown.phase == "counting"
    assert outcome.countdown.run_started_at == T0 + 9000
    assert outcome.countdown.deadline == T0 + 9000 + 6480
    assert outcome.countdown.failures == 1
    assert outcome.countdown.failed_at is None
    assert outcome.countdown.pushes == 2


def test_push_after_an_unrecorded_failure_records_it_and_starts_again():
    outcome = accepted(press(started(), push_at(T0 + 6480), RULES))
    assert outcome.new_run
    assert outcome.failure_recorded
    assert outcome.countdown.failures == 1
    assert outcome.countdown.run_started_at == T0 + 6480


class TestSwanRules:
    def test_the_code_is_required(self):
        refused = press(None, push_at(T0), SWAN)
        assert refused == Refused("wrong_code", "the code is 4 8 15 16 23 42, then Execute")

    def test_a_wrong_code_is_refused_even_in_the_alarm(self):
        countdown = started()
        refused = press(countdown, push_at(T0 + 6400, code="4 8 15 16 23 43"), SWAN)
        assert isinstance(refused, Refused)
        assert refused.reason == "wrong_code"

    def test_the_first_push_with_the_code_starts_the_world(self):
        assert accepted(press(None, push_at(T0, code=CODE), SWAN)).new_run

    def test_pushing_before_the_alarm_is_too_early(self):
        countdown = accepted(press(None, push_at(T0, code=CODE), SWAN)).countdown
        refused = press(countdown, push_at(T0 + 1000, code=CODE), SWAN)
        assert isinstance(refused, Refused)
        assert refused.reason == "too_early"
        assert refused.retry_after == 6480 - 240 - 1000
        assert "4 minutes" in refused.message

    def test_the_code_is_accepted_when_the_alarm_sounds(self):
        countdown = accepted(press(None, push_at(T0, code=CODE), SWAN)).countdown
        outcome = accepted(press(countdown, push_at(T0 + 6240, code=CODE), SWAN))
        assert outcome.countdown.deadline == T0 + 6240 + 6480

    def test_the_code_is_accepted_after_failure(self):
        countdown = accepted(press(None, push_at(T0, code=CODE), SWAN)).countdown
        failed = expire(countdown, T0 + 6480)
        assert accepted(press(failed, push_at(T0 + 7000, code=CODE), SWAN)).new_run


@pytest.mark.parametrize(
    "entered",
    ["4 8 15 16 23 42", "4, 8, 15, 16, 23, 42", "  4 8 15 16 23 42\n", "4,8,15,16,23,42"],
)
def test_code_matches_the_numbers_however_separated(entered):
    assert code_matches(entered)


@pytest.mark.parametrize(
    "entered",
    [
        None,
        "",
        "4815162342",
        "4 8 15 16 23",
        "4 8 15 16 23 42 108",
        "4 8 15 16 23 42x",
        "42 23 16 15 8 4",
    ],
)
def test_code_does_not_match_anything_else(entered):
    assert not code_matches(entered)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"period_seconds": 0}, "period_seconds"),
        ({"alarm_seconds": -1}, "alarm_seconds"),
        ({"period_seconds": 60, "alarm_seconds": 61}, "alarm_seconds"),
        ({"rule_set": "chaos"}, "rule_set"),
        ({"min_push_interval": -0.1}, "min_push_interval"),
        ({"shadow_writes_per_second": 0}, "shadow_writes_per_second"),
    ],
)
def test_rules_refuse_nonsense(kwargs, name):
    with pytest.raises(InvalidSettingError) as raised:
        Rules(**kwargs)
    assert raised.value.name == name
    assert isinstance(raised.value, ValueError)


# ---------------------------------------------------------------- properties

times = st.floats(min_value=0, max_value=1e6, allow_nan=False)
periods = st.floats(min_value=1, max_value=1e5, allow_nan=False)


@given(gaps=st.lists(times, min_size=1, max_size=30), period=periods)
def test_remaining_is_never_negative_nor_above_the_period(gaps, period):
    rules = Rules(period_seconds=period, alarm_seconds=0)
    countdown = None
    now = T0
    for gap in gaps:
        now += gap
        countdown = accepted(press(countdown, push_at(now), rules)).countdown
        assert remaining(countdown, now) == pytest.approx(period)
        for probe in (now, now + gap, now + period, now + 2 * period):
            assert 0 <= remaining(countdown, probe) <= period


@given(gaps=st.lists(times, min_size=1, max_size=30), period=periods)
def test_pushes_count_every_push_and_failures_never_go_back(gaps, period):
    rules = Rules(period_seconds=period, alarm_seconds=0)
    countdown = None
    now = T0
    for index, gap in enumerate(gaps, start=1):
        now += gap
        before = countdown.failures if countdown else 0
        expired = expire(countdown, now) if countdown else None
        countdown = expired or countdown
        countdown = accepted(press(countdown, push_at(now), rules)).countdown
        assert countdown.pushes == index
        assert countdown.failures >= before
        assert countdown.phase == "counting"


@given(gap=times, late=times)
def test_expire_twice_is_the_same_as_once(gap, late):
    countdown = started()
    first = expire(countdown, T0 + gap)
    if first is None:
        assert gap < 6480
    else:
        assert expire(first, T0 + gap + late) is None
        assert first.failures == countdown.failures + 1


@pytest.mark.parametrize(("period", "alarm"), [(6480, 240), (960, 240), (30, 7.5), (0.4, 0.1)])
def test_rules_for_a_short_period_keep_an_alarm(period, alarm):
    rules = Rules.for_period(period, "swan")
    assert (rules.period_seconds, rules.alarm_seconds, rules.rule_set) == (period, alarm, "swan")
    assert alarm_window(period) == alarm


@pytest.mark.parametrize(("period", "alarm"), [(6480, 240), (60, 15), (4, 1)])
def test_rules_and_countdowns_take_the_periods_alarm_unless_given(period, alarm):
    assert Rules(period_seconds=period).alarm_seconds == alarm
    assert started(rules=Rules(period_seconds=period)).alarm_seconds == alarm
    bare = Countdown(
        period_seconds=period,
        deadline=T0 + period,
        phase="counting",
        last_push=None,
        pushes=1,
        run_started_at=T0,
        failures=0,
        failed_at=None,
        updated_at=T0,
    )
    assert bare.alarm_seconds == alarm
    assert Rules(period_seconds=period, alarm_seconds=0).alarm_seconds == 0


def test_a_viewer_sees_the_countdowns_own_alarm():
    minute = started(rules=Rules.for_period(60))
    assert phase_at(minute, T0) == "counting"
    assert phase_at(minute, T0 + 44.9) == "counting"
    assert phase_at(minute, T0 + 45) == "alarm"
    carried = replace(minute, alarm_seconds=30)
    assert phase_at(carried, T0 + 30) == "alarm"
    assert phase_at(carried, T0 + 30, alarm_seconds=15) == "counting"


@pytest.mark.parametrize(
    ("left", "text"),
    [
        (6480, "108:00"),
        (59.2, "01:00"),
        (59.0, "00:59"),
        (0.5, "00:01"),
        (0.0005, "00:00"),
        (0, "00:00"),
        (-3, "00:00"),
    ],
)
def test_the_clock_reads_minutes_and_seconds_rounded_up(left, text):
    assert clock_text(left) == text
