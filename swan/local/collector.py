"""Python's garbage collector in the project's long-lived servers: `serving()`.

A server of thousands of connections holds hundreds of thousands of objects, and a full
collection walks every one of them with the interpreter lock held. In the stack's process
(the device gateway, the rules engine) with 3,000 devices connected, full collections of
100 to 180 ms came every few seconds while pushes fanned out: each one a push that reached
every device 0.2 s late. They came so often because young collections, every 700
allocations by default, ran in the middle of a fan-out and promoted the objects of copies
still in flight to the oldest generation, which triggers a full collection when it grows by
a quarter. `serving()` collects the young every `YOUNG_EVERY` allocations instead, so what a
fan-out makes dies young, and freezes what exists once the server has started (its modules,
the SDK's models: 153,517 objects in `swan up`'s process), which no collection need walk
again. Reference counting still frees every object at once; the collector only finds cycles.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger(__name__)

YOUNG_EVERY: Final = 20_000  # allocations between young collections (Python's default: 700)
OLDER_EVERY: Final = 20  # collections of one generation between those of the next (10)


@contextlib.contextmanager
def serving() -> Iterator[int]:
    """While a started server runs in this process: the young collected every
    `YOUNG_EVERY` allocations, and the objects that exist now never walked again (their
    count is yielded). Both undone after, so a process that goes on (a test's, the bench's)
    collects as it did."""
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_EVERY, OLDER_EVERY, OLDER_EVERY)
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "collector set for serving: %s objects of start-up frozen, the young collected "
        "every %s allocations",
        f"{frozen:,}",
        f"{YOUNG_EVERY:,}",
    )
    try:
        yield frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
