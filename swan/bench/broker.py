"""(a) The baseline: Mosquitto alone, one publisher and one subscriber, QoS 1.

The same bytes as a shadow update, on the broker's internal listener (a unix socket), so that
(b) differs from (a) only by the shadow service in the middle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swan.bench.loops import Replies, pipelined, request_payload, sequential, token_of
from swan.bench.report import BrokerFigures

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.adapters.mqtt import Transport
    from swan.bench.loops import Load

WARM_UP = 20


def measure(
    publisher: Transport,
    subscriber: Transport,
    *,
    topic: str,
    load: Load,
    say: Callable[[str], None],
) -> BrokerFigures:
    """Round trips one at a time, then throughput with `load.window` messages in flight."""
    replies = Replies()
    subscriber.subscribe(topic, lambda message: replies.record(token_of(message.payload)))

    def send(token: str) -> None:
        publisher.publish(topic, request_payload(token))

    try:
        sequential(
            send, replies, prefix="w", count=WARM_UP, seconds=load.seconds, timeout=load.timeout
        )
        say(f"measuring broker round trip ({load.samples} messages, at most {load.seconds:g} s)")
        round_trip = sequential(
            send,
            replies,
            prefix="s",
            count=load.samples,
            seconds=load.seconds,
            timeout=load.timeout,
        )
        say(f"measuring broker throughput for {load.seconds:g} s, {load.window} in flight")
        throughput = pipelined(
            send,
            replies,
            prefix="p",
            window=load.window,
            seconds=load.seconds,
            timeout=load.timeout,
        )
    finally:
        subscriber.unsubscribe(topic)
    return BrokerFigures(round_trip, throughput)
