"""The token bucket's one rule: refill at the rate, never past the capacity, never back."""

from __future__ import annotations

import pytest

from swan.core.tokenbucket import refilled


@pytest.mark.parametrize(
    ("tokens", "since", "now", "expected"),
    [
        (0.0, 10.0, 10.5, 2.5),  # half a second at 5 a second
        (1.0, 10.0, 20.0, 4.0),  # full
        (3.0, 10.0, 9.0, 3.0),  # the clock stepped back: nothing refilled, nothing lost
        (-2.5, 10.0, 10.5, 0.0),  # a debt is paid off first
    ],
)
def test_a_bucket_refills_at_its_rate_up_to_its_capacity(tokens, since, now, expected):
    assert refilled(tokens, since, now, rate=5.0, capacity=4.0) == pytest.approx(expected)
