"""Coalescing bursts of pushes into few shadow writes.

AWS allows 20 shadow requests a second per thing, and a popular button gets more pushes than
that. Every push is recorded in history first and gets its number there; then the handler
asks `plan_write` what to do with the shadow:

- `Covered`: a write that already happened counts this push (its `pushes` is at least this
  push's number), so there is nothing to write;
- `WaitUntil`: the write budget is spent; wait, re-read, ask again;
- `WriteNow`: fold every push recorded since the last write into the state (`fold`) and
  write it, with a version check; on a conflict, re-read and ask again. History is read
  from `history_after(current)`: every push folded in lands in the shadow's `recent` too,
  so the pushes a write counts all show there, coalesced ones included.

The budget is a token bucket kept in the shadow itself (`updatedAt`, `writeCredit`), so
stateless handlers share it: it refills at `Rules.shadow_writes_per_second` and holds up to
`BURST` writes, so any span of T seconds sees at most `BURST + T * rate` writes. The burst
matters: with a fixed spacing instead, pushes arriving exactly as often as writes are
allowed can lock into a phase where each waits almost a whole interval.

Handlers waiting for budget wake together; the first write counts every push recorded so
far, so the others find themselves covered on the re-read. No push waits much longer than
one refill, and the last push of a burst is always written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from swan.core.countdown import (
    RECENT_LIMIT,
    Countdown,
    NumberedPush,
    Push,
    Rules,
    apply_push,
    remember,
)
from swan.core.tokenbucket import refilled

if TYPE_CHECKING:
    from collections.abc import Iterable


BURST = 2.0
# Float noise at epoch-seconds magnitude must not make a handler wait a nanosecond for a
# write it already has the budget for.
EPSILON = 1e-6


@dataclass(frozen=True)
class WriteNow:
    """Write the shadow now (`at`), leaving `credit` writes in the budget."""

    at: float
    credit: float


@dataclass(frozen=True)
class Covered:
    """The shadow already counts this push: `countdown` is the state that does."""

    countdown: Countdown


@dataclass(frozen=True)
class WaitUntil:
    """Ask again at `at` (epoch seconds)."""

    at: float


WritePlan = WriteNow | Covered | WaitUntil


def bucket(rules: Rules) -> tuple[float, float]:
    """The write budget: its capacity (a burst of `BURST`, or 1 when the rate is very low)
    and its refill per second."""
    rate = rules.shadow_writes_per_second
    return min(BURST, max(1.0, rate / 2)), rate


def credit_at(current: Countdown, now: float, rules: Rules) -> float:
    """The write budget at `now`, refilled since the last write."""
    capacity, refill = bucket(rules)
    return refilled(current.write_credit, current.updated_at, now, rate=refill, capacity=capacity)


def plan_write(current: Countdown | None, number: int, now: float, rules: Rules) -> WritePlan:
    """What to do about push number `number` given the shadow as it is now."""
    capacity, refill = bucket(rules)
    if current is None:
        return WriteNow(now, capacity - 1)
    if current.pushes >= number:
        return Covered(current)
    credit = credit_at(current, now, rules)
    if credit >= 1 - EPSILON:
        return WriteNow(now, max(0.0, credit - 1))
    # Strictly later than now: a wait shorter than the clock's resolution at epoch-seconds
    # magnitude (~2e-7 s) would otherwise round to now, and a handler would ask again at once.
    return WaitUntil(max(now + (1 - credit) / refill, math.nextafter(now, math.inf)))


def history_after(current: Countdown | None) -> int:
    """The push number after which the next write reads history (`History.since`): the
    last one `current` counts, or up to RECENT_LIMIT earlier while its `recent` lacks
    pushes it counts (a shadow written before it kept them), so the write fills them in."""
    if current is None:
        return 0
    if len(current.recent) >= min(current.pushes, RECENT_LIMIT):
        return current.pushes
    return max(0, current.pushes - RECENT_LIMIT)


def fold(
    current: Countdown | None, pushes: Iterable[tuple[int, Push]], rules: Rules, write: WriteNow
) -> Countdown | None:
    """The state after the numbered pushes not yet counted by `current`, applied in order,
    stamped with the write that will store it.

    Applying them one by one (not just the latest) keeps a push made just before the
    deadline from being mistaken for a late one. The pushes were admitted when they arrived
    (the code, the alarm window, the rate limit); folding only counts them in, it never
    judges them again. A push `current` already counts is not applied again; only its
    place in `recent` is filled if empty (see `history_after`).
    """
    state = current
    for number, push in pushes:
        if state is None or number > state.pushes:
            state = apply_push(state, push, rules, number=number, now=write.at).countdown
        else:
            state = replace(state, recent=remember(state.recent, NumberedPush(number, push)))
    if state is None:
        return None
    return replace(state, updated_at=write.at, write_credit=write.credit)
