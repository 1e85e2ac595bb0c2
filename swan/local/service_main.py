"""How a service of the local stack runs as a process of its own (`python -m ...`): its log
lines timed and named, on its output (the stack sends that to the service's log file), and a
refusal it explains (a SwanError) said in one line, exit 1, with no traceback."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable

LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


def run_service(serve: Callable[[], int], *, verbose: bool) -> int:
    """Run `serve` until it returns its exit status; 1 if it stops on a SwanError."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT)
    try:
        return serve()
    except SwanError as error:
        log.error("%s", error)  # noqa: TRY400  (the message says it all; no traceback)
        return 1
