"""shadow The shadow service: updates to things' classic shadows over MQTT.

Latency is the publish of `/update` -> its `/update/accepted`, one update at a time;
throughput counts accepted updates per second with `window` updates in flight, as a
pipelined client would send them. AWS takes 20 requests a second per thing, and so does the
shadow service, so the updates go round `THINGS` things: each gets a few a second.

As in broker, one connection publishes and another subscribes. On one connection, each
request would follow the client's PUBACK of the previous answer, and awscrt, which does not
set TCP_NODELAY, would hold it back for the broker's delayed ACK (about 40 ms on Linux):
that is the client's cost, not the shadow service's.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Final

from swan.bench.loops import Replies, latency_then_throughput, request_payload, token_of
from swan.bench.measured import ShadowFigures
from swan.core.topics import ShadowTopics

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.adapters.mqtt import Message, Transport
    from swan.bench.loops import Load


THINGS: Final = 1000  # at 3,000 updates/s, 3 a second each: far under AWS's 20 per thing
ANSWERS: Final = ("accepted", "rejected")


class _Rejections:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def record(self, _: Message) -> None:
        with self._lock:
            self.count += 1


def measure(
    client: Transport,
    listener: Transport,
    *,
    thing: str,
    load: Load,
    say: Callable[[str], None],
) -> ShadowFigures:
    """Updates one at a time, then throughput with `load.window` updates in flight, going
    round `THINGS` things named after `thing`."""
    updates = itertools.cycle([ShadowTopics(f"{thing}-{n}").update for n in range(THINGS)])
    accepted, rejected = (f"$aws/things/+/shadow/update/{answer}" for answer in ANSWERS)
    replies = Replies()
    rejections = _Rejections()
    listener.subscribe(accepted, lambda message: replies.record(token_of(message.payload)))
    listener.subscribe(rejected, rejections.record)

    def send(token: str) -> None:
        client.publish(next(updates), request_payload(token))

    try:
        update, throughput = latency_then_throughput(
            send,
            replies,
            load,
            latency="shadow update latency",
            requests="updates",
            throughput="shadow",
            say=say,
        )
    finally:
        listener.unsubscribe(accepted)
        listener.unsubscribe(rejected)
    return ShadowFigures(update, throughput, rejections.count)
