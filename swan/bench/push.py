"""push The push path: IoT Button clicks at a fixed rate -> the button shadow's documents.

A device connection (mTLS, as a real button) publishes clicks on `iotbutton/<serial>`; the
rules engine hands each to the push handler, which records it in history and writes the
button shadow; a subscriber on `$aws/things/button/shadow/update/documents` notes when
each documents message arrives.

Clicks in a burst are coalesced into one shadow write, so a documents message can cover
several clicks. Every accepted push gets the next number in history and the shadow's
`pushes` says how many it counts; so click k of the run is push number `first + k`, and
its latency is the time until the first documents message whose `pushes` reaches it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import TYPE_CHECKING

from swan.bench.loops import BenchTimeoutError
from swan.bench.measured import Latencies, PushFigures
from swan.core.codecs import ButtonClick, ShadowDocuments
from swan.core.errors import InvalidPayloadError
from swan.core.topics import BUTTON_SHADOW

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from swan.adapters.mqtt import Message, Transport

WARM_UP = 3
# Clicks are sent on schedule even when one is late (no catching up by waiting less):
# a slow system must not be able to lower its own load.
LATE_SLACK = 1.0


def click_latencies(
    sent: Sequence[float], first_number: int, documents: Sequence[tuple[int, float]]
) -> Latencies:
    """Click i (sent at `sent[i]`) is push number `first_number + i`; its latency runs to
    the first documents message, in arrival order, whose `pushes` includes it and that
    arrived after the click was sent. A click no message covers is lost."""
    samples: list[float] = []
    lost = 0
    for i, at in enumerate(sent):
        number = first_number + i
        covering = next(
            (arrived for pushes, arrived in documents if pushes >= number and arrived >= at),
            None,
        )
        if covering is None:
            lost += 1
        else:
            samples.append(covering - at)
    return Latencies(tuple(samples), lost)


def documents_pushes(message: Message) -> int | None:
    """The button shadow's `pushes` in a documents message (None: not one, or none there)."""
    try:
        pushes = ShadowDocuments.from_payload(message.payload).current.reported.get("pushes")
    except InvalidPayloadError:
        return None
    return pushes if isinstance(pushes, int) else None


class PushCounts:
    """`documents_pushes` for the many clients of one process, which all receive the same
    documents message of each push: each distinct payload is decoded once, the rest are
    compared with it byte for byte (the last one kept). The bench's viewers share two cores
    with what they measure; ten thousand of them decoding the same 8 KB document would be
    most of a push's CPU, and the bench's own cost, not the system's."""

    def __init__(self, decode: Callable[[Message], int | None] = documents_pushes) -> None:
        self._decode = decode
        self._last: tuple[bytes, int | None] | None = None

    def __call__(self, message: Message) -> int | None:
        last = self._last
        if last is not None and last[0] == message.payload:
            return last[1]
        pushes = self._decode(message)
        self._last = (message.payload, pushes)
        return pushes


class _Watch:
    """The documents messages of the button shadow as they arrive: (pushes, arrival time)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._seen: list[tuple[int, float]] = []

    def record(self, message: Message) -> None:
        at = self._clock()
        pushes = documents_pushes(message)
        if pushes is not None:
            with self._changed:
                self._seen.append((pushes, at))
                self._changed.notify_all()

    def wait_for_pushes(self, pushes: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: any(seen >= pushes for seen, _ in self._seen), timeout
            )

    def since(self, moment: float) -> list[tuple[int, float]]:
        with self._changed:
            return [(pushes, at) for pushes, at in self._seen if at >= moment]


def measure(
    buttons: Sequence[tuple[str, Transport]],
    watcher: Transport,
    *,
    rate: float,
    seconds: float,
    timeout: float,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.perf_counter,
) -> PushFigures:
    """Click `rate` times a second for `seconds`; how long until each click is seen.

    `buttons` (serial, device connection) take turns, so that no one button's clicks come
    close together: every button is its own principal, and the figures are about the push
    path, not about one principal's rate limit.
    """
    watch = _Watch(clock)
    watcher.subscribe(BUTTON_SHADOW.update_documents, watch.record)
    clicks = itertools.cycle(
        [(device, f"iotbutton/{serial}", _click_payload(serial)) for serial, device in buttons]
    )

    def click() -> None:
        device, topic, payload = next(clicks)
        device.publish(topic, payload)

    try:
        before = current_pushes(watcher, timeout)
        # The first push of a run also schedules its expiry; keep that out of the figures.
        _paced(click, WARM_UP, rate, clock)
        if not watch.wait_for_pushes(before + WARM_UP, timeout):
            raise BenchTimeoutError("documents message covering the warm-up clicks", timeout)
        count = max(1, round(rate * seconds))
        say(f"measuring click -> documents at {rate:g} clicks/s for {seconds:g} s ({count} clicks)")
        started = clock()
        sent = _paced(click, count, rate, clock, limit=seconds + LATE_SLACK)
        first = before + WARM_UP + 1
        watch.wait_for_pushes(first + len(sent) - 1, timeout)
        documents = watch.since(started)
    finally:
        watcher.unsubscribe(BUTTON_SHADOW.update_documents)
    latencies = click_latencies(sent, first, documents)
    return PushFigures(
        latencies,
        rate=rate,
        clicks=len(sent),
        documents=sum(1 for pushes, _ in documents if pushes >= first),
        seconds=(sent[-1] - started) if sent else 0.0,
    )


def longest(*, rate: float, seconds: float, timeout: float) -> float:
    """The longest `measure` takes, connecting aside: the get of the shadow, the warm-up
    clicks and their wait, the paced clicks (late ones stop at `LATE_SLACK`), the last wait."""
    return (WARM_UP + 1) / rate + seconds + LATE_SLACK + 3 * timeout


def _click_payload(serial: str) -> bytes:
    return json.dumps(ButtonClick(serial, "SINGLE", 1650).to_payload()).encode()


def _paced(
    click: Callable[[], None],
    count: int,
    rate: float,
    clock: Callable[[], float],
    *,
    limit: float | None = None,
) -> list[float]:
    """Click `count` times on a fixed schedule; returns when each click was sent."""
    sent: list[float] = []
    started = clock()
    for k in range(count):
        now = clock()
        if limit is not None and now - started > limit:
            break
        due = started + k / rate
        if due > now:
            time.sleep(due - now)
        sent.append(clock())
        click()
    return sent


def current_pushes(client: Transport, timeout: float) -> int:
    """The button shadow's `pushes` now (0 if there is no shadow yet), asked over MQTT."""
    answer: list[Message] = []
    arrived = threading.Event()

    def keep(message: Message) -> None:
        answer.append(message)
        arrived.set()

    client.subscribe(BUTTON_SHADOW.get_accepted, keep)
    client.subscribe(BUTTON_SHADOW.get_rejected, keep)
    try:
        client.publish(BUTTON_SHADOW.get, b'{"clientToken":"swan-bench"}')
        if not arrived.wait(timeout):
            raise BenchTimeoutError("an answer to a get of the button shadow", timeout)
    finally:
        client.unsubscribe(BUTTON_SHADOW.get_accepted)
        client.unsubscribe(BUTTON_SHADOW.get_rejected)
    message = answer[0]
    if message.topic != BUTTON_SHADOW.get_accepted:
        return 0  # 404: no shadow, no pushes
    reported = message.json().get("state", {}).get("reported", {})
    pushes = reported.get("pushes", 0)
    return pushes if isinstance(pushes, int) else 0
