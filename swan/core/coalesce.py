"""Coalescing bursts of pushes into few shadow writes.

AWS allows 20 shadow updates a second per thing, and a popular button gets more pushes than
that. Every push is recorded in history first and gets its number there; then the handler
asks `plan_write` what to do with the shadow:

- `Covered`: a write that already happened counts this push (its `pushes` is at least this
  push's number), so there is nothing to write;
- `WaitUntil`: the shadow was written less than a window ago; wait, re-read, ask again;
- `WriteNow`: fold every push recorded since the last write into the state (`fold`) and
  write it, with a version check; on a conflict, re-read and ask again.

Handlers waiting out the same window wake together; the first write counts every push
recorded so far, so the others find themselves covered on the re-read. The shadow is
written about once per window however many pushes arrive, no push waits more than a
window, and the last push of a burst is always written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from swan.core.countdown import Countdown, Push, Rules, apply_push

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True)
class WriteNow:
    """Write the shadow now, stamped `at` (the slot it fills; see `plan_write`)."""

    at: float


@dataclass(frozen=True)
class Covered:
    """The shadow already counts this push: `countdown` is the state that does."""

    countdown: Countdown


@dataclass(frozen=True)
class WaitUntil:
    """Ask again at `at` (epoch seconds)."""

    at: float


WritePlan = WriteNow | Covered | WaitUntil


def plan_write(current: Countdown | None, number: int, now: float, window: float) -> WritePlan:
    """What to do about push number `number` given the shadow as it is now.

    While pushes keep coming, writes keep to a grid one window apart: a write made a
    little after its slot (the time to wake up, read, fold) is stamped with the slot, so
    the delays do not add up and the writes do not drift later and later behind a steady
    stream of pushes. After a quiet spell the grid starts again from now.
    """
    if current is None:
        return WriteNow(now)
    if current.pushes >= number:
        return Covered(current)
    next_slot = current.updated_at + window
    if now < next_slot:
        return WaitUntil(next_slot)
    return WriteNow(next_slot if now < next_slot + window else now)


def fold(
    current: Countdown | None, pushes: Iterable[tuple[int, Push]], rules: Rules, now: float
) -> Countdown | None:
    """The state after the numbered pushes not yet counted by `current`, applied in order.

    Applying them one by one (not just the latest) keeps a push made just before the
    deadline from being mistaken for a late one. The pushes were admitted when they arrived
    (the code, the alarm window, the rate limit); folding only counts them in, it never
    judges them again.
    """
    state = current
    for number, push in pushes:
        if state is None or number > state.pushes:
            state = apply_push(state, push, rules, number=number, now=now).countdown
    return state
