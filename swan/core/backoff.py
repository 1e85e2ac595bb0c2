"""How long to wait before trying again: one policy for every reconnect and retry.

A wait grows from `first_delay`, doubling each time, up to `max_delay`, and is spread by
"equal jitter" (somewhere between half the ceiling and all of it) so that many clients that
lost the same broker never come back in lockstep:
https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/

Every reconnecting client waits by one policy, `RECONNECT`: a device's MQTT 5 connection
(swan.adapters.mqtt5, awscrt reconnecting by itself from the policy's first wait to its
longest, with its own decorrelated jitter; the Pi, device.app, and `swan pi`, whose
--max-backoff sets the longest wait) and the MQTT 3.1.1 connections (swan.adapters.mqtt and
mqtt_websocket, in awscrt's whole seconds, so from 1 s). The same rule, with waits of their
own, retries a first connection while just-in-time registration runs
(swan.adapters.mqtt.connect_retrying) and a throttled read of the button shadow
(swan.adapters.follower). The page's JavaScript waits by the same rule (`backoffMs` in
webapp/components/swan_view.js; tests/unit/webapp holds the two to each other).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from swan.core.errors import InvalidSettingError

# Past this many doublings every ceiling is `max_delay` anyway; capping keeps 2**n small.
_MAX_DOUBLINGS: Final = 64


@dataclass(frozen=True)
class Backoff:
    """Waits from `first_delay` doubling up to `max_delay` (seconds)."""

    first_delay: float = 0.5
    max_delay: float = 32.0

    def __post_init__(self) -> None:
        if not 0 < self.first_delay <= self.max_delay:
            raise InvalidSettingError(
                "backoff", (self.first_delay, self.max_delay), "delays must be 0 < first <= max"
            )

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry `attempt` (0 for the first)."""
        doublings = min(max(attempt, 0), _MAX_DOUBLINGS)
        return min(self.max_delay, math.ldexp(self.first_delay, doublings))

    def delay(self, attempt: int, draw: float) -> float:
        """The wait before retry `attempt` (0 for the first), `draw` a uniform random number
        in [0, 1): from the whole ceiling (draw 0) down towards half of it."""
        return self.ceiling(attempt) * (1 - draw / 2)


RECONNECT: Final = Backoff(first_delay=0.5, max_delay=32.0)
"""Every reconnecting client's policy: half a second, doubling, up to 32 s."""
