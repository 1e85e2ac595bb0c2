"""Open files for every connection the machine allows: the soft descriptor limit raised to
the hard one (often 1,024 soft, far more hard), the one home of that setting."""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)


def raise_descriptor_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft >= hard:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as error:
        log.warning("could not raise the open-file limit from %d to %d: %s", soft, hard, error)
        return soft
    log.info("open-file limit raised from %d to %d", soft, hard)
    return hard
