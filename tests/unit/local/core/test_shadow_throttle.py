"""AWS's per-thing shadow limits as a rule: 20 requests a second (a bucket of 20), 10 in flight."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from swan.local.core.shadow_throttle import (
    BURST,
    MAX_IN_FLIGHT,
    REQUESTS_PER_SECOND,
    Admitted,
    Budget,
    Throttled,
    admit,
    is_full,
    tokens_at,
)

T = 1_764_000_000.0


def run(times: list[float]) -> list[bool]:
    """Which of the requests at `times` (in order) are admitted."""
    budget = None
    admitted = []
    for now in times:
        outcome = admit(budget, now, in_flight=0)
        if isinstance(outcome, Admitted):
            budget = outcome.budget
        admitted.append(isinstance(outcome, Admitted))
    return admitted


def test_the_limits_are_awss():
    assert (REQUESTS_PER_SECOND, BURST, MAX_IN_FLIGHT) == (20, 20, 10)


def test_an_idle_thing_may_send_twenty_at_once_and_the_twenty_first_is_throttled():
    assert run([T] * 21) == [True] * 20 + [False]
    assert admit(Budget(0.0, T), T, in_flight=0) == Throttled("rate")


def test_one_request_comes_back_every_twentieth_of_a_second():
    drained = [T] * 20
    assert run([*drained, T + 0.049]) == [True] * 20 + [False]
    assert run([*drained, T + 0.05, T + 0.05]) == [True] * 21 + [False]


def test_a_throttled_request_takes_nothing_from_the_budget():
    budget = Budget(0.5, T)
    assert isinstance(admit(budget, T, in_flight=0), Throttled)
    assert isinstance(admit(budget, T + 0.025, in_flight=0), Admitted)  # 0.5 + 0.5


def test_the_eleventh_request_in_flight_is_throttled_whatever_the_budget():
    assert isinstance(admit(None, T, in_flight=MAX_IN_FLIGHT - 1), Admitted)
    assert admit(None, T, in_flight=MAX_IN_FLIGHT) == Throttled("in_flight")


def test_the_budget_never_holds_more_than_a_burst():
    assert tokens_at(Budget(3.0, T), T + 3600) == BURST
    assert tokens_at(None, T) == BURST


def test_a_clock_that_steps_back_refills_nothing_until_it_catches_up():
    outcome = admit(Budget(0.0, T + 10), T, in_flight=0)
    assert outcome == Throttled("rate")
    assert tokens_at(Budget(1.0, T + 10), T) == 1.0
    later = admit(Budget(1.0, T + 10), T, in_flight=0)
    assert later == Admitted(Budget(0.0, T + 10))


def test_a_budget_is_full_again_one_second_after_it_was_drained():
    assert not is_full(Budget(0.0, T), T + 0.99)
    assert is_full(Budget(0.0, T), T + 1.0)


@given(gaps=st.lists(st.floats(min_value=0, max_value=0.2), min_size=1, max_size=300))
def test_no_span_of_t_seconds_admits_more_than_twenty_plus_twenty_t(gaps):
    times = []
    now = T
    for gap in gaps:
        now += gap
        times.append(now)
    admitted = [at for at, ok in zip(times, run(times), strict=True) if ok]
    for first, start in enumerate(admitted):
        for last in range(first, len(admitted)):
            span = admitted[last] - start
            assert last - first + 1 <= BURST + REQUESTS_PER_SECOND * span + 1e-3
