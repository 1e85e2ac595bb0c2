from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from swan.core.coalesce import (
    BURST,
    Covered,
    WaitUntil,
    WriteNow,
    bucket,
    credit_at,
    fold,
    history_after,
    plan_write,
)
from swan.core.countdown import RECENT_LIMIT, NumberedPush, Push, Rules

T0 = 1_764_000_000.0
RULES = Rules(shadow_writes_per_second=20)  # 20 writes a second, in bursts of up to 2


def written(*times, rules=RULES):
    """The state after one write per push, each as the plan allows it."""
    countdown = None
    for number, at in enumerate(times, 1):
        plan = plan_write(countdown, number, at, rules)
        assert isinstance(plan, WriteNow), plan
        countdown = fold(countdown, [(number, Push(at, "web", "web"))], rules, plan)
    return countdown


def test_the_budget_refills_at_the_rate_in_bursts_of_two():
    assert bucket(Rules(shadow_writes_per_second=20)) == (BURST, 20.0)
    assert bucket(Rules(shadow_writes_per_second=1)) == (1.0, 1.0)


def test_the_first_push_writes_at_once_and_spends_one_write():
    assert plan_write(None, 1, T0, RULES) == WriteNow(T0, BURST - 1)


def test_a_push_the_shadow_already_counts_is_covered():
    countdown = written(T0)
    assert plan_write(countdown, 1, T0 + 0.01, RULES) == Covered(countdown)


def test_two_pushes_in_quick_succession_both_write_at_once():
    countdown = written(T0)
    plan = plan_write(countdown, 2, T0 + 0.005, RULES)
    assert isinstance(plan, WriteNow)
    assert plan.credit < 0.2  # 1 left after the first write, 5 ms of refill, 1 spent


def test_a_third_push_in_a_burst_waits_for_the_budget_to_refill():
    countdown = written(T0, T0 + 0.001)
    plan = plan_write(countdown, 3, T0 + 0.002, RULES)
    assert isinstance(plan, WaitUntil)
    assert abs(credit_at(countdown, plan.at, RULES) - 1) < 1e-6


def test_the_budget_refills_up_to_the_burst_and_no_further():
    countdown = written(T0)
    assert credit_at(countdown, T0 + 60, RULES) == BURST
    assert credit_at(countdown, T0 - 1, RULES) == BURST - 1  # a clock behind never drains it


def test_fold_applies_every_uncounted_push_in_order():
    countdown = written(T0)
    late = [(2, Push(T0 + 6479.9, "a", "web")), (3, Push(T0 + 6480.1, "b", "pi"))]
    folded = fold(countdown, late, RULES, WriteNow(T0 + 6480.2, 0.5))
    assert folded is not None
    # the first push came in time, so the second one is no failure
    assert folded.failures == 0
    assert folded.deadline == T0 + 6480.1 + 6480
    assert folded.pushes == 3
    assert (folded.updated_at, folded.write_credit) == (T0 + 6480.2, 0.5)
    assert folded.last_push == Push(T0 + 6480.1, "b", "pi")


def test_fold_skips_pushes_already_counted():
    countdown = written(T0, T0 + 1)
    again = [(1, Push(T0, "web", "web")), (2, Push(T0 + 1, "web", "web"))]
    folded = fold(countdown, again, RULES, WriteNow(T0 + 2, 1.0))
    assert folded == replace(countdown, updated_at=T0 + 2, write_credit=1.0)


def test_every_push_a_write_counts_shows_in_recent_coalesced_ones_included():
    countdown = written(T0)
    burst = [(n, Push(T0 + n / 100, f"pi-{n}", "pi")) for n in range(2, 6)]
    folded = fold(countdown, burst, RULES, WriteNow(T0 + 0.2, 0.0))
    assert folded is not None
    assert [entry.number for entry in folded.recent] == [5, 4, 3, 2, 1]
    assert folded.recent[0] == NumberedPush(5, burst[-1][1])


def test_a_write_fills_recent_with_the_pushes_an_older_shadow_counted_but_never_kept():
    # Written before the shadow kept `recent`: it counts 40 pushes and shows none of them.
    older = replace(written(T0), pushes=40, recent=())
    assert history_after(older) == 40 - RECENT_LIMIT
    history = [(n, Push(T0 + n, "web", "web")) for n in range(40 - RECENT_LIMIT + 1, 42)]
    folded = fold(older, history, RULES, WriteNow(T0 + 50, 0.0))
    assert folded is not None
    assert folded.pushes == 41
    assert [entry.number for entry in folded.recent] == list(range(41, 41 - RECENT_LIMIT, -1))
    assert history_after(folded) == 41


def test_history_is_read_from_the_last_push_counted_once_recent_holds_what_it_can():
    assert history_after(None) == 0
    assert history_after(written(T0, T0 + 1)) == 2
    assert history_after(replace(written(T0), pushes=5, recent=())) == 0


def test_fold_of_nothing_is_nothing():
    assert fold(None, [], RULES, WriteNow(T0, 1.0)) is None


def test_fold_never_judges_admitted_pushes_again():
    # Under the swan rules a second code entered 10 ms after the first would be "too early"
    # against the new state; both were admitted on arrival, so both count.
    rules = Rules(rule_set="swan")
    burst = [(1, Push(T0, "a", "web")), (2, Push(T0 + 0.01, "b", "web"))]
    folded = fold(None, burst, rules, WriteNow(T0 + 0.05, 1.0))
    assert folded is not None
    assert folded.pushes == 2
    assert folded.last_push == burst[1][1]


def test_a_wait_for_budget_always_ends_after_now_however_small_the_shortfall():
    # 20 writes a second: a shortfall of 2e-6 tokens is a 1e-7 s wait, below the resolution
    # of an epoch timestamp; the wait must still end strictly later (found by Hypothesis:
    # pushes at T0 + 0.90625, 0.9375, 0.96875, 1.0).
    rules = Rules(shadow_writes_per_second=20.0)
    now = T0 + 1.0
    current = fold(None, [(1, Push(now, "web", "web"))], rules, WriteNow(now, 1 - 2e-6))
    assert current is not None
    plan = plan_write(current, 2, now, rules)
    assert isinstance(plan, WaitUntil)
    assert plan.at > now
    assert isinstance(plan_write(current, 2, plan.at, rules), WriteNow)


@given(
    offsets=st.lists(
        st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=200
    ),
    per_second=st.sampled_from([2.0, 5.0, 20.0]),
)
def test_writes_stay_within_the_limit_no_push_waits_long_and_the_last_lands(offsets, per_second):
    """Simulate handlers that follow the plan: record, wait, re-read, fold and write, or stop.

    (Tolerances are float precision at epoch-seconds magnitude, about 2e-7.)"""
    rules = Rules(shadow_writes_per_second=per_second)
    _, refill = bucket(rules)
    arrivals = sorted(T0 + offset for offset in offsets)
    history = [(number, Push(at, "web", "web")) for number, at in enumerate(arrivals, 1)]
    pending = [(at, number, at) for number, at in enumerate(arrivals, 1)]
    countdown = None
    writes = []
    while pending:
        pending.sort()
        now, number, arrived = pending.pop(0)
        plan = plan_write(countdown, number, now, rules)
        if isinstance(plan, WaitUntil):
            assert now < plan.at <= now + 1 / refill + 1e-6
            pending.append((plan.at, number, arrived))
        elif isinstance(plan, WriteNow):
            recorded = [(n, push) for n, push in history if push.at <= now]
            countdown = fold(countdown, recorded, rules, plan)
            writes.append(plan.at)
            # no push waits more than one refill for its write
            assert now - arrived <= 1 / refill + 1e-6
    assert countdown is not None
    assert countdown.pushes == len(arrivals)
    assert countdown.deadline == arrivals[-1] + rules.period_seconds
    capacity, _ = bucket(rules)
    for index, start in enumerate(writes):
        in_one_second = [w for w in writes[index:] if w < start + 1 - 1e-6]
        assert len(in_one_second) <= capacity + per_second
