"""The per-principal rate limit: a device or browser pushing too fast is refused."""

from __future__ import annotations

from swan.core.countdown import Refused


def check_rate(last_accepted_at: float | None, now: float, min_interval: float) -> Refused | None:
    """A refusal when the principal's last accepted push was less than `min_interval` ago."""
    if last_accepted_at is None or min_interval <= 0:
        return None
    wait = last_accepted_at + min_interval - now
    if wait <= 0:
        return None
    return Refused("rate_limited", f"too fast: one push per {min_interval:g} s", wait)
