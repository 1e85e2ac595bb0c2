"""Giving large blocks back to the system, the one home of the allocator setting.

glibc serves a block over its mmap threshold (128 KiB by default) from a mapping of its own
and unmaps it when freed, but then raises the threshold to that block's size: the next large
blocks come from the heap and stay resident. Measured: the shadow service grew 32 MB ->
80 MB after four 16 MB updates, all refused. Setting the threshold fixes it where it is, and
so stops the raising. Not glibc: nothing to do.

Not for the gateway's process: asyncio's TLS reads allocate a 256 KiB buffer per read, and
served from mappings each costs an mmap and a munmap (swan bench (d): gateway throughput
x0.75 of direct mTLS with the threshold at 128 KiB, x0.95-1.04 without). The gateway's
defence against handshake floods is making no TLS object for a silent client at all
(swan.local.listener).
"""

from __future__ import annotations

import ctypes
import logging
from typing import Final

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD: Final = -3  # glibc's mallopt parameter (malloc.h)
DEFAULT_THRESHOLD: Final = 128 * 1024


def give_large_blocks_back(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Serve every block of `threshold` bytes or more from a mapping of its own, returned to
    the system when freed. False where there is no mallopt (not glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        log.debug("no mallopt here; large blocks are left to the allocator")
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
