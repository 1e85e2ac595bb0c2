from swan.core.countdown import Refused
from swan.core.ratelimit import check_rate


def test_a_first_push_is_never_rate_limited():
    assert check_rate(None, 100.0, 1.0) is None


def test_a_push_after_the_interval_passes():
    assert check_rate(100.0, 101.0, 1.0) is None


def test_a_push_within_the_interval_is_refused_with_the_wait():
    refused = check_rate(100.0, 100.25, 1.0)
    assert refused == Refused("rate_limited", "too fast: one push per 1 s", 0.75)


def test_no_interval_never_refuses_even_out_of_order():
    # Concurrent handlers may record a push stamped a little before the last one.
    assert check_rate(100.0, 99.99, 0) is None
