"""One push reaching many viewers (web pages in web, MQTT subscribers in viewers): each viewer's
latency from the click, what counts as lost, and the pushes added up."""

import pytest

from swan.bench.fanout import delivery_latencies, merged
from swan.bench.measured import Latencies


def test_a_viewers_latency_runs_from_the_click_to_the_first_count_that_includes_it():
    seen = [
        [(7, 0.5), (8, 10.03)],  # had 7, then the push
        [(8, 10.08), (9, 10.5)],  # the push, then another
        [(7, 0.5)],  # never saw it: lost
        [(8, 9.99), (8, 10.2)],  # an 8 from before the click does not count
        [(9, 10.01)],  # two pushes in one message: it includes this one
    ]
    found = delivery_latencies(10.0, 7, seen, missing=2)
    assert found.seconds == pytest.approx((0.03, 0.08, 0.2, 0.01))
    assert found.lost == 3  # the viewer that missed it, and the two that never connected


def test_nobody_missing_by_default():
    assert delivery_latencies(1.0, 0, [[(1, 1.5)], []]) == Latencies((0.5,), 1)


def test_the_pushes_add_up():
    assert merged([Latencies((0.1,), 1), Latencies((0.2, 0.3), 0)]) == Latencies((0.1, 0.2, 0.3), 1)
