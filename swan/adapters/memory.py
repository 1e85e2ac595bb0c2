"""Giving large blocks back to the system, the one home of the allocator setting.

glibc serves a block over its mmap threshold (128 KiB by default) from a mapping of its own
and unmaps it when freed, but then raises the threshold to that block's size: the next large
blocks come from the heap and stay resident. Measured: the shadow service grew 32 MB ->
80 MB after four 16 MB updates, all refused; the gateway kept hundreds of MB after a flood
of TLS handshakes (each handshake's 256 KiB read buffer). Setting the threshold fixes it
where it is, and so stops the raising. Not glibc: nothing to do.
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
