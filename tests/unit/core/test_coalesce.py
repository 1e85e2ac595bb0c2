import itertools

from hypothesis import given
from hypothesis import strategies as st

from swan.core.coalesce import Covered, WaitUntil, WriteNow, plan_write
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
    assert plan_write(None, 1, T0, WINDOW) == WriteNow()


def test_a_push_the_shadow_already_counts_is_covered():
    assert plan_write(state_after(T0, T0 + 0.1), 2, T0 + 0.1, WINDOW) == Covered()


def test_a_push_inside_the_window_waits_for_its_end():
    assert plan_write(state_after(T0), 2, T0 + 0.1, WINDOW) == WaitUntil(T0 + WINDOW)


def test_a_push_after_the_window_writes_at_once():
    assert plan_write(state_after(T0), 2, T0 + WINDOW, WINDOW) == WriteNow()


def test_a_state_written_by_expiry_alone_is_written_over_at_once():
    countdown = state_after(T0)
    no_push = countdown.__class__(**{**countdown.__dict__, "last_push": None})
    assert plan_write(no_push, 2, T0, WINDOW) == WriteNow()


@given(
    arrivals=st.lists(
        st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=200
    )
)
def test_a_burst_is_written_at_most_once_per_window_and_the_last_push_lands(arrivals):
    """Simulate handlers that follow the plan: wait, re-read, write or stop."""
    pending = sorted((T0 + offset, number) for number, offset in enumerate(sorted(arrivals), 1))
    countdown = None
    writes = []
    while pending:
        now, number = pending.pop(0)
        plan = plan_write(countdown, number, now, WINDOW)
        if isinstance(plan, WaitUntil):
            assert plan.at > now
            pending.append((plan.at, number))
            pending.sort()
        elif isinstance(plan, WriteNow):
            outcome = press(countdown, Push(at=now, by="web", source="web"), Rules(), number=number)
            assert isinstance(outcome, Pressed)
            countdown = outcome.countdown
            writes.append(now)
    assert countdown is not None
    assert countdown.pushes == len(arrivals)
    for earlier, later in itertools.pairwise(writes):
        assert later - earlier >= WINDOW - 1e-9
