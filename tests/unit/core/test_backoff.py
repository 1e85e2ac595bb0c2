"""The one wait-and-try-again policy: doubling from the first wait to the longest, with
equal jitter (half the ceiling to all of it)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swan.core.backoff import RECONNECT, Backoff
from swan.core.errors import InvalidSettingError


def test_waits_double_from_the_first_up_to_the_longest():
    backoff = Backoff(first_delay=0.5, max_delay=8.0)
    assert [backoff.ceiling(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert backoff.ceiling(10_000) == 8.0
    assert backoff.ceiling(-1) == 0.5


def test_jitter_takes_the_wait_between_half_the_ceiling_and_all_of_it():
    backoff = Backoff(first_delay=1.0, max_delay=32.0)
    assert backoff.delay(3, 0.0) == 8.0
    assert backoff.delay(3, 0.5) == 6.0
    assert backoff.delay(3, 0.999) == pytest.approx(4.004)


def test_every_reconnecting_client_waits_from_half_a_second_up_to_32():
    assert (RECONNECT.first_delay, RECONNECT.max_delay) == (0.5, 32.0)


@pytest.mark.parametrize(("first", "longest"), [(0, 1), (-1, 1), (2, 1)])
def test_delays_must_make_sense(first, longest):
    with pytest.raises(InvalidSettingError, match="backoff"):
        Backoff(first_delay=first, max_delay=longest)


@given(
    first=st.floats(min_value=0.01, max_value=10),
    extra=st.floats(min_value=0, max_value=100),
    attempt=st.integers(min_value=0, max_value=200),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_a_wait_never_exceeds_the_longest_nor_falls_below_half_the_first(
    first, extra, attempt, draw
):
    backoff = Backoff(first_delay=first, max_delay=first + extra)
    wait = backoff.delay(attempt, draw)
    assert first / 2 <= wait <= first + extra
    assert backoff.ceiling(attempt) <= backoff.ceiling(attempt + 1)
