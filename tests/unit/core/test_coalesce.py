import itertools
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from swan.core.coalesce import Covered, WaitUntil, WriteNow, fold, plan_write
from swan.core.countdown import Pressed, Push, Rules, press

T0 = 1_764_000_000.0
WINDOW = 0.25


def state_after(*times):
    countdown = None
    for at in times:
        outcome = press(countdown, Push(at=at, by="web", source="web"), Rules())
        assert isinstance(outcome, Pressed)
        countdown = outcome.countdown
    return countdown


def test_the_first_push_writes_at_once():
    assert plan_write(None, 1, T0, WINDOW) == WriteNow(T0)


def test_a_push_the_shadow_already_counts_is_covered():
    countdown = state_after(T0, T0 + 0.1)
    assert plan_write(countdown, 2, T0 + 0.1, WINDOW) == Covered(countdown)


def test_a_push_inside_the_window_waits_for_its_end():
    assert plan_write(state_after(T0), 2, T0 + 0.1, WINDOW) == WaitUntil(T0 + WINDOW)


def test_a_push_after_the_window_writes_at_once():
    assert plan_write(state_after(T0), 2, T0 + WINDOW, WINDOW) == WriteNow(T0 + WINDOW)


def test_a_write_late_for_its_slot_is_stamped_with_the_slot():
    # woken at the slot, it took 10 ms to read and fold: the grid does not drift
    assert plan_write(state_after(T0), 2, T0 + WINDOW + 0.01, WINDOW) == WriteNow(T0 + WINDOW)


def test_after_a_quiet_spell_the_grid_starts_again_from_now():
    assert plan_write(state_after(T0), 2, T0 + 60, WINDOW) == WriteNow(T0 + 60)


def test_the_window_runs_from_the_write_not_from_the_push_it_wrote():
    # A push that waited out a window is written later than it happened.
    written_late = replace(state_after(T0), updated_at=T0 + 0.2)
    assert plan_write(written_late, 2, T0 + 0.3, WINDOW) == WaitUntil(T0 + 0.2 + WINDOW)


def test_fold_applies_every_uncounted_push_in_order():
    countdown = state_after(T0)
    late = [(2, Push(T0 + 6479.9, "a", "web")), (3, Push(T0 + 6480.1, "b", "pi"))]
    folded = fold(countdown, late, Rules(), now=T0 + 6480.2)
    assert folded is not None
    # the first push came in time, so the second one is no failure
    assert folded.failures == 0
    assert folded.deadline == T0 + 6480.1 + 6480
    assert folded.pushes == 3
    assert folded.updated_at == T0 + 6480.2
    assert folded.last_push == Push(T0 + 6480.1, "b", "pi")


def test_fold_skips_pushes_already_counted():
    countdown = state_after(T0, T0 + 1)
    assert (
        fold(
            countdown,
            [(1, Push(T0, "web", "web")), (2, Push(T0 + 1, "web", "web"))],
            Rules(),
            T0 + 2,
        )
        == countdown
    )


def test_fold_of_nothing_is_the_current_state():
    assert fold(None, [], Rules(), T0) is None


def test_fold_never_judges_admitted_pushes_again():
    # Under the swan rules a second code entered 10 ms after the first would be "too early"
    # against the new state; both were admitted on arrival, so both count.
    rules = Rules(rule_set="swan")
    burst = [(1, Push(T0, "a", "web")), (2, Push(T0 + 0.01, "b", "web"))]
    folded = fold(None, burst, rules, T0 + 0.05)
    assert folded is not None
    assert folded.pushes == 2
    assert folded.last_push == burst[1][1]


@given(
    offsets=st.lists(
        st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=200
    ),
    window=st.sampled_from([0.05, 0.25]),
)
def test_a_burst_is_written_at_most_once_per_window_and_the_last_push_lands(offsets, window):
    """Simulate handlers that follow the plan: record, wait, re-read, fold and write, or stop.

    (Tolerances are float precision at epoch-seconds magnitude, about 2e-7.)"""
    arrivals = sorted(T0 + offset for offset in offsets)
    history = [(number, Push(at, "web", "web")) for number, at in enumerate(arrivals, 1)]
    pending = [(at, number, at) for number, at in enumerate(arrivals, 1)]
    countdown = None
    writes = []
    while pending:
        pending.sort()
        now, number, arrived = pending.pop(0)
        plan = plan_write(countdown, number, now, window)
        if isinstance(plan, WaitUntil):
            assert now < plan.at <= now + window
            pending.append((plan.at, number, arrived))
        elif isinstance(plan, WriteNow):
            recorded = [(n, push) for n, push in history if push.at <= now]
            countdown = fold(countdown, recorded, Rules(), plan.at)
            writes.append(plan.at)
            # no push waits more than one window for its write
            assert now - arrived <= window + 1e-6
    assert countdown is not None
    assert countdown.pushes == len(arrivals)
    assert countdown.deadline == arrivals[-1] + Rules().period_seconds
    for earlier, later in itertools.pairwise(writes):
        assert later - earlier >= window - 1e-6
