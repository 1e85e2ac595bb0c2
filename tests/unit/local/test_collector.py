"""`swan.local.collector.serving`: what exists once a server has started is never walked
again, the young are collected less often, cycles made later are still found, and all of
it is undone after (this test's own process goes on collecting as it did)."""

from __future__ import annotations

import gc
import weakref

import pytest

from swan.local.collector import OLDER_EVERY, YOUNG_EVERY, serving


class Node:
    """An object that can hold another, so two can make a cycle."""

    def __init__(self) -> None:
        self.other: object = None


def walked(thing: object) -> bool:
    """Whether a collection of the oldest generation would walk `thing`."""
    return any(found is thing for found in gc.get_objects())


def test_what_exists_when_serving_starts_is_never_walked_and_what_comes_later_is():
    before = Node()
    assert walked(before)
    with serving() as frozen:
        later = Node()
        assert not walked(before)
        assert walked(later)
        assert frozen > 0
        assert gc.get_freeze_count() > 0  # less as frozen objects die: counting frees them
        assert gc.get_threshold() == (YOUNG_EVERY, OLDER_EVERY, OLDER_EVERY)


def test_a_cycle_made_while_serving_is_still_collected():
    with serving():
        one, two = Node(), Node()
        one.other, two.other = two, one
        gone = weakref.ref(one)
        del one, two
        gc.collect()
        assert gone() is None


def test_everything_is_as_it_was_after_serving_even_after_an_error():
    thresholds = gc.get_threshold()
    before = Node()
    with pytest.raises(RuntimeError), serving():
        raise RuntimeError
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds
    assert walked(before)


def test_it_says_what_it_froze(caplog):
    with caplog.at_level("INFO", logger="swan.local.collector"), serving() as frozen:
        pass
    said = (
        f"collector set for serving: {frozen:,} objects of start-up frozen, "
        f"the young collected every {YOUNG_EVERY:,} allocations"
    )
    assert caplog.messages == [said]
