"""One push reaching many viewers: each viewer's latency, and the pushes added up. Pure.

A viewer is what it saw: the push counts of the messages that reached it, with their
arrival times. web counts web pages' board changes, viewers MQTT subscribers' documents messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swan.bench.measured import Latencies

if TYPE_CHECKING:
    from collections.abc import Sequence


def delivery_latencies(
    sent_at: float, before: int, viewers: Sequence[Sequence[tuple[int, float]]], missing: int = 0
) -> Latencies:
    """One push, sent at `sent_at` when the count was `before`: for each viewer (the push
    counts it saw, as they arrived), the time until the first count above `before` that
    arrived after the click; a viewer that never saw one, and each of the `missing` viewers
    that never connected, lost it."""
    samples = []
    lost = missing
    for seen in viewers:
        arrived = next((at for pushes, at in seen if pushes > before and at >= sent_at), None)
        if arrived is None:
            lost += 1
        else:
            samples.append(arrived - sent_at)
    return Latencies(tuple(samples), lost)


def merged(parts: Sequence[Latencies]) -> Latencies:
    """The latencies of several pushes as one set of samples."""
    return Latencies(
        tuple(sample for part in parts for sample in part.seconds), sum(p.lost for p in parts)
    )
