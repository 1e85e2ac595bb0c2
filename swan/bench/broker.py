"""broker The baseline: Mosquitto alone, one publisher and one subscriber, QoS 1.

The same bytes as a shadow update, on the broker's internal listener (a unix socket), so that
shadow differs from broker only by the shadow service in the middle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swan.bench.loops import Replies, latency_then_throughput, request_payload, token_of
from swan.bench.measured import BrokerFigures

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.adapters.mqtt import Transport
    from swan.bench.loops import Load


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
        round_trip, throughput = latency_then_throughput(
            send,
            replies,
            load,
            latency="broker round trip",
            requests="messages",
            throughput="broker",
            say=say,
        )
    finally:
        subscriber.unsubscribe(topic)
    return BrokerFigures(round_trip, throughput)
