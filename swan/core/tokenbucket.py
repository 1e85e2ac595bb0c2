"""The token bucket, the one rule behind every rate here: AWS's per-connection publishes and
bytes (swan.local.core.broker_limits), a thing's shadow requests
(swan.local.core.shadow_throttle) and the button shadow's coalesced writes
(swan.core.coalesce). Each keeps its own state its own way (in the shadow, in a frozen
value, in a mutable counter on the gateway's hot path); what the budget is worth at a given
moment is computed here only."""

from __future__ import annotations


def refilled(tokens: float, since: float, now: float, *, rate: float, capacity: float) -> float:
    """The tokens a bucket holding `tokens` at `since` holds at `now`: refilled at `rate` a
    second, never above `capacity`. A clock that stepped back refills nothing."""
    return min(capacity, tokens + max(0.0, now - since) * rate)
