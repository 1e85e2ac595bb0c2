"""Coalescing bursts of pushes into few shadow writes.

AWS allows 20 shadow requests a second per thing, and a popular button gets more pushes
than that. Every push is recorded in history first and gets its number there; then the
handler asks `plan_write` what to do with the shadow:

- `Covered`: a write that already happened counts this push (its `pushes` is at least
  this push's number), so there is nothing to write;
- `WaitUntil`: the shadow was written less than a window ago; wait, re-read, ask again;
- `WriteNow`: write the new state (with a version check; on conflict, re-read, ask again).

Many handlers waiting out the same window wake together; one write wins, and the others
find themselves covered on the re-read. So the shadow is written about once per window
however many pushes arrive, and the last push of a burst is never left unwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from swan.core.countdown import Countdown


@dataclass(frozen=True)
class WriteNow:
    """Write the shadow now."""


@dataclass(frozen=True)
class Covered:
    """The shadow already counts this push."""


@dataclass(frozen=True)
class WaitUntil:
    """Ask again at `at` (epoch seconds)."""

    at: float


WritePlan = WriteNow | Covered | WaitUntil


def plan_write(current: Countdown | None, number: int, now: float, window: float) -> WritePlan:
    """What to do with push number `number` given the shadow as it is now."""
    if current is None or current.last_push is None:
        return WriteNow()
    if current.pushes >= number:
        return Covered()
    # The last push written is the time of the last write (the handler writes right away).
    next_slot = current.last_push.at + window
    if now < next_slot:
        return WaitUntil(next_slot)
    return WriteNow()
