"""The two load loops the broker and shadow measurements share, and the replies they count.

A request carries a token; whoever answers it (a subscriber, the shadow service) echoes
the token, and `Replies.record` notes when each answer arrived. Both loops are bounded by
a count and by a time limit, and every wait has a timeout: a lost answer costs at most one
timeout and is counted, never waited for forever.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from swan.bench.measured import Latencies, Throughput
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable

WARM_UP: Final = 20  # requests before a latency run: connections and caches settle


class BenchTimeoutError(SwanError, TimeoutError):
    """Something the bench cannot do without never came: the system under test is stuck."""

    def __init__(self, what: str, timeout: float) -> None:
        self.what = what
        self.timeout = timeout
        super().__init__(f"the bench stopped: no {what} within {timeout:g} s")


@dataclass(frozen=True)
class Load:
    """How hard and how long a measurement pushes: its bounds."""

    samples: int  # sequential requests, at most
    seconds: float  # time limit of each loop; the length of a throughput run
    window: int  # requests in flight in a throughput run
    timeout: float  # the longest any one wait lasts

    @property
    def longest(self) -> float:
        """The longest a warm-up, a latency run and a throughput run take together: each
        loop stops starting requests at its time limit, then waits out at most its timeouts
        (one for a sequential loop, three for a pipelined one)."""
        return 3 * self.seconds + 5 * self.timeout


def request_payload(token: str) -> bytes:
    """A small shadow update carrying `token`; the raw-broker baseline sends the same bytes."""
    document = {"state": {"reported": {"bench": token}}, "clientToken": token}
    return json.dumps(document, separators=(",", ":")).encode()


def token_of(payload: bytes) -> str:
    """The `clientToken` of an answer, or "" if it has none."""
    try:
        token = json.loads(payload).get("clientToken")
    except (ValueError, AttributeError):
        return ""
    return token if isinstance(token, str) else ""


class Replies:
    """Arrival times of the answers to one run of requests, keyed by token.

    `expect(prefix)` starts a run: earlier answers are forgotten, and answers whose token
    does not start with `prefix` (late ones from a previous run) are ignored.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._prefix = "\0"
        self._arrived: dict[str, float] = {}

    def expect(self, prefix: str) -> None:
        with self._changed:
            self._prefix = prefix
            self._arrived = {}

    def record(self, token: str) -> None:
        """Called by the subscriber (on the MQTT I/O thread) for every answer."""
        at = self._clock()
        with self._changed:
            if token.startswith(self._prefix) and token not in self._arrived:
                self._arrived[token] = at
                self._changed.notify_all()

    @property
    def count(self) -> int:
        with self._changed:
            return len(self._arrived)

    def arrival(self, token: str, timeout: float) -> float | None:
        """When the answer to `token` arrived, waiting up to `timeout`; None if it did not."""
        with self._changed:
            self._changed.wait_for(lambda: token in self._arrived, timeout)
            return self._arrived.get(token)

    def wait_for_count(self, count: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self._arrived) >= count, timeout)

    def arrived_by(self, moment: float) -> int:
        """How many answers arrived at or before `moment`."""
        with self._changed:
            return sum(1 for at in self._arrived.values() if at <= moment)


def sequential(
    send: Callable[[str], None],
    replies: Replies,
    *,
    prefix: str,
    count: int,
    seconds: float,
    timeout: float,
    clock: Callable[[], float] = time.perf_counter,
) -> Latencies:
    """Send one request at a time; each latency is send -> its answer.

    Stops after `count` requests or `seconds`, whichever comes first.
    """
    replies.expect(prefix)
    samples: list[float] = []
    lost = 0
    stop_at = clock() + seconds
    for n in range(count):
        if clock() >= stop_at:
            break
        token = f"{prefix}{n}"
        sent = clock()
        send(token)
        arrived = replies.arrival(token, timeout)
        if arrived is None:
            lost += 1
        else:
            samples.append(arrived - sent)
    return Latencies(tuple(samples), lost)


def pipelined(  # noqa: PLR0913  (all keyword-only, each a bound of the loop)
    send: Callable[[str], None],
    replies: Replies,
    *,
    prefix: str,
    window: int,
    seconds: float,
    timeout: float,
    limit: int = 10_000_000,
    clock: Callable[[], float] = time.perf_counter,
) -> Throughput:
    """Keep `window` requests in flight for `seconds`; count the answers in that time.

    Stops sending after `seconds` or `limit` requests, then waits (up to `timeout`) for the
    stragglers so that the next measurement starts on a quiet system. A stall (no answer
    for `timeout`) ends the run early.
    """
    replies.expect(prefix)
    sent = 0
    started = clock()
    stop_at = started + seconds
    while sent < limit:
        now = clock()
        if now >= stop_at:
            break
        if sent - replies.count >= window and not replies.wait_for_count(
            sent - window + 1, min(timeout, stop_at - now)
        ):
            if clock() < stop_at:  # not the end of the run: nothing came back in time
                break
            continue
        send(f"{prefix}{sent}")
        sent += 1
    if sent >= limit:  # every request is out: the run ends when the last answer is in
        replies.wait_for_count(sent, timeout)
    ended = min(clock(), stop_at)
    completed = replies.arrived_by(ended)
    replies.wait_for_count(sent, timeout)
    return Throughput(completed, ended - started, window)


def latency_then_throughput(
    send: Callable[[str], None],
    replies: Replies,
    load: Load,
    *,
    latency: str,
    requests: str,
    throughput: str,
    say: Callable[[str], None],
) -> tuple[Latencies, Throughput]:
    """A warm-up, `load.samples` requests one at a time, then `load.window` in flight for
    `load.seconds`: broker and shadow alike. For the progress lines: `latency` names what one
    request is timed as, `requests` what they are, `throughput` whose throughput it is."""
    seconds, timeout = load.seconds, load.timeout
    sequential(send, replies, prefix="w", count=WARM_UP, seconds=seconds, timeout=timeout)
    say(f"measuring {latency} ({load.samples} {requests}, at most {seconds:g} s)")
    one_at_a_time = sequential(
        send, replies, prefix="s", count=load.samples, seconds=seconds, timeout=timeout
    )
    say(f"measuring {throughput} throughput for {seconds:g} s, {load.window} in flight")
    in_flight = pipelined(
        send, replies, prefix="p", window=load.window, seconds=seconds, timeout=timeout
    )
    return one_at_a_time, in_flight
