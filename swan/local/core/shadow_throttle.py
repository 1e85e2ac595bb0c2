"""How many requests the Device Shadow service takes from one thing: AWS's two limits, pure.

The limits (AWS IoT Core quotas, Device Shadow service:
https://docs.aws.amazon.com/general/latest/gr/iot-core.html#device-shadow-limits; the same
table in the developer guide's former limits page, limits-iot.md in awsdocs/aws-iot-docs):
- "The Thing Shadows service supports up to 20 requests per second per thing. Note that this
  limit is per thing and not per API." (Service Quotas L-EFF4BE08, "Requests per second per
  thing".)
- "up to 10 in-flight unacknowledged messages per thing. When this limit is reached, all new
  shadow requests are rejected with a 429 error code." The error page
  (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html)
  gives 429 for "more than 10 in-flight requests on a single connection".

Choices where AWS says nothing (each pinned by a test):
- A request over the rate gets the same answer as one over the in-flight limit: 429
  (`shadow_errors.THROTTLED`), the only throttling answer AWS documents for shadows; over
  HTTP that is iot-data's ThrottlingException.
- The rate is a token bucket holding `BURST` requests and refilled at `REQUESTS_PER_SECOND`:
  an idle thing may send 20 at once, and any T seconds admit at most 20 + 20 * T requests of
  one thing. A refused request takes nothing from the budget.
- Every get, update and delete counts, classic and named shadows alike, over MQTT and HTTP,
  whatever it is answered. ListNamedShadowsForThing reads no shadow and does not count.
- In-flight requests are counted per thing, the older page's scope. Per connection, the
  current page's, can never bite here: the service answers a connection's MQTT requests one
  at a time, and an HTTP connection carries one request at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from swan.core.tokenbucket import refilled

REQUESTS_PER_SECOND: Final = 20.0
BURST: Final = 20.0
MAX_IN_FLIGHT: Final = 10
# Float noise at epoch-seconds magnitude must not refuse a request whose token has refilled.
EPSILON: Final = 1e-6


@dataclass(frozen=True)
class Budget:
    """A thing's request budget: `tokens` requests left at `at` (epoch seconds)."""

    tokens: float
    at: float


@dataclass(frozen=True)
class Admitted:
    """Serve the request; `budget` is what the thing has left."""

    budget: Budget


@dataclass(frozen=True)
class Throttled:
    """Refuse the request with 429: the thing is over its `limit`."""

    limit: Literal["rate", "in_flight"]


def admit(budget: Budget | None, now: float, in_flight: int) -> Admitted | Throttled:
    """Whether a thing with `budget` (None: never used, so full) and `in_flight` requests
    started but not answered may start one more at `now`."""
    if in_flight >= MAX_IN_FLIGHT:
        return Throttled("in_flight")
    tokens = tokens_at(budget, now)
    if tokens < 1 - EPSILON:
        return Throttled("rate")
    # A clock that stepped back refills nothing until it passes the last request again.
    at = now if budget is None else max(now, budget.at)
    return Admitted(Budget(max(0.0, tokens - 1), at))


def tokens_at(budget: Budget | None, now: float) -> float:
    """The requests `budget` allows at `now`, refilled since it was last drawn on."""
    if budget is None:
        return BURST
    return refilled(budget.tokens, budget.at, now, rate=REQUESTS_PER_SECOND, capacity=BURST)


def is_full(budget: Budget, now: float) -> bool:
    """True once `budget` has refilled completely: it is then the same as no budget at all,
    and whoever keeps it may forget it."""
    return tokens_at(budget, now) >= BURST
