"""(f) Push -> every viewer: many MQTT subscribers follow the button shadow, as Pis do.

`viewers` device connections (mTLS through the device gateway, each its own provisioned
thing, as a Raspberry Pi connects) subscribe to `$aws/things/button/shadow/update/documents`.
Then an IoT Button clicks, one push at a time and well apart: the rules engine hands the click
to the push handler, which writes the button shadow, and the shadow service publishes the
documents message that Mosquitto fans out to every viewer. A push's latency at a viewer is
the time from the click to the first documents message there whose `pushes` includes it;
p50/p99/max are over every (viewer, push), and a viewer that never saw a push lost it.

The same measurement as (e), with MQTT subscribers in place of web pages: side by side, the
two say what the web backend's fan-out costs on top of the broker's.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from swan.bench.fanout import delivery_latencies, merged
from swan.bench.loops import BenchTimeoutError
from swan.bench.push import current_pushes, documents_pushes
from swan.bench.report import Latencies, ViewerFigures
from swan.core.codecs import ButtonClick
from swan.core.topics import BUTTON_SHADOW

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from swan.adapters.mqtt import Message, Transport

WARM_UP: Final = 1  # pushes before the measured ones: the first of a run schedules its expiry
GAP: Final = 0.2  # seconds between one push's last delivery and the next push
CONNECT_SECONDS: Final = 0.25  # the most one viewer's mTLS connect and subscribe may take


@dataclass
class _Viewer:
    """One subscriber's documents messages: (pushes, arrival time), shared with a waiter."""

    clock: Callable[[], float]
    changed: threading.Condition
    seen: list[tuple[int, float]]

    def record(self, message: Message) -> None:
        at = self.clock()
        pushes = documents_pushes(message)
        if pushes is not None:
            with self.changed:
                self.seen.append((pushes, at))
                self.changed.notify_all()

    def has(self, pushes: int) -> bool:
        return any(count >= pushes for count, _ in self.seen)


def measure(
    button: tuple[str, Transport],
    viewers: Sequence[Transport],
    *,
    pushes: int,
    timeout: float,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.perf_counter,
) -> ViewerFigures:
    """Subscribe every viewer, push `pushes` times (after a warm-up), time every arrival."""
    if not viewers:
        raise ValueError("no viewers to measure")
    serial, device = button
    topic = f"iotbutton/{serial}"
    payload = json.dumps(ButtonClick(serial, "SINGLE", 1650).to_payload()).encode()
    changed = threading.Condition()
    watching = [_Viewer(clock, changed, []) for _ in viewers]
    subscribed: list[Transport] = []
    try:
        say(f"subscribing {len(viewers)} viewers to the button shadow's documents ...")
        for viewer, watch in zip(viewers, watching, strict=True):
            viewer.subscribe(BUTTON_SHADOW.update_documents, watch.record)
            subscribed.append(viewer)
        count = current_pushes(viewers[0], timeout)

        def push() -> Latencies:
            nonlocal count
            sent_at = clock()
            device.publish(topic, payload)
            with changed:
                changed.wait_for(lambda: all(w.has(count + 1) for w in watching), timeout)
                seen = [list(w.seen) for w in watching]
            latencies = delivery_latencies(sent_at, count, seen)
            count = max((pushes for view in seen for pushes, _ in view), default=count)
            time.sleep(GAP)
            return latencies

        for _ in range(WARM_UP):
            if push().lost == len(viewers):
                raise BenchTimeoutError("a documents message at any viewer", timeout)
        say(f"measuring push -> {len(viewers)} viewers, {pushes} pushes")
        rounds = [push() for _ in range(pushes)]
    finally:
        for viewer in subscribed:
            viewer.unsubscribe(BUTTON_SHADOW.update_documents)
    return ViewerFigures(
        merged(rounds),
        viewers=len(viewers),
        pushes=pushes,
    )


def longest(*, viewers: int, pushes: int, timeout: float) -> float:
    """The longest the phase takes: connecting and subscribing every viewer, the get of
    the shadow, every push (warm-up included) waiting at most `timeout` and a gap."""
    return viewers * 2 * CONNECT_SECONDS + timeout + (WARM_UP + pushes) * (timeout + GAP)
