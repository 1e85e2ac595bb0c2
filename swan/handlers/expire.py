"""The expiry handler: at the deadline, if nobody pushed, the world ends (once)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from swan.adapters.iotdata import VersionConflictError
from swan.core.countdown import expire

if TYPE_CHECKING:
    from collections.abc import Mapping

    from swan.handlers.ports import Ports

log = logging.getLogger(__name__)

MAX_ROUNDS = 20
# EventBridge refuses a one-time schedule in the past; never ask for less than this ahead.
MIN_LEAD_SECONDS = 1.0


def handle_expiry(_event: Mapping[str, Any], ports: Ports) -> dict[str, Any]:
    """Mark the failure if the deadline has passed; otherwise set the alarm for the deadline.

    Idempotent and safe to run at any time: a late push, a second invocation or a racing
    writer (the shadow write is version-checked) leave one failure, counted once.
    """
    for _ in range(MAX_ROUNDS):
        snapshot = ports.shadow.read()
        countdown = snapshot.countdown
        if countdown is None:
            return {"outcome": "idle", "reason": "nobody has pushed yet"}
        now = ports.clock.now()
        failed = expire(countdown, now)
        if failed is None:
            if countdown.phase == "failed":
                return {"outcome": "idle", "reason": "already failed"}
            # Woken early (a push moved the deadline since): sleep again until it.
            ports.scheduler.schedule(max(countdown.deadline, now + MIN_LEAD_SECONDS))
            return {"outcome": "rescheduled", "deadline": countdown.deadline}
        try:
            ports.shadow.write(failed, snapshot.version)
        except VersionConflictError:
            continue
        log.warning("system failure: nobody pushed by %s", countdown.deadline)
        return {"outcome": "failed", "failures": failed.failures, "failedAt": failed.failed_at}
    return {"outcome": "contended", "reason": f"the shadow kept changing for {MAX_ROUNDS} reads"}
