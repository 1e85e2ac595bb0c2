"""The Pi client's composition root: the matrix, the MQTT 5 connection with its last will,
the clock, the client itself; signals; a clean goodbye.

SIGTERM (systemd stopping the service) and SIGINT (Ctrl-C) end the display loop; then the
LEDs are cleared, `online: false` is reported, and the connection is closed asking the
broker to publish the last will, so the status topic says so too.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import swan
from device import own_shadow
from device.matrix import open_matrix
from device.pi import Pi
from swan.adapters.clock import SystemClock
from swan.adapters.mqtt5 import Mqtt5Transport, Will
from swan.core.backoff import RECONNECT, Backoff

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from device.matrix import LedMatrix, MatrixName
    from swan.adapters.mqtt import Endpoint


_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True)
class PiPlan:
    endpoint: Endpoint
    matrix: MatrixName
    frames: Path | None = None
    keys: bool = True
    backoff: Backoff = RECONNECT
    exit_after: float | None = None


class _Lifecycle:
    """The connection's events, told to the user and handed to the Pi (made after it)."""

    def __init__(self, thing: str, say: Callable[[str], None]) -> None:
        self.thing = thing
        self.say = say
        self.pi: Pi | None = None
        self.failures = 0
        self.connections = 0
        self.stopping = False

    def connected(self) -> None:
        self.connections += 1
        self.say(f"{self.thing}: {'re' if self.connections > 1 else ''}connected")
        self.failures = 0
        if self.pi is not None:
            self.pi.connected()

    def disconnected(self, error: Exception | None) -> None:
        if not self.stopping:
            self.say(f"{self.thing}: disconnected ({error}); reconnecting with backoff")
        if self.pi is not None:
            self.pi.disconnected()

    def connect_failed(self, error: Exception | None) -> None:
        self.failures += 1
        if self.failures == 1 and self.connections == 0:
            self.say(
                f"{self.thing}: the first connection was refused ({error}); a new device is "
                "registered just in time, retrying with backoff ..."
            )


class PiApp:
    """One Pi: built from a plan (the tests hand in their own matrix), run until stopped."""

    def __init__(
        self, plan: PiPlan, say: Callable[[str], None], *, matrix: LedMatrix | None = None
    ) -> None:
        self.plan = plan
        self.say = say
        self.thing = plan.endpoint.client_id
        self.matrix = matrix or open_matrix(plan.matrix, frames=plan.frames, keys=plan.keys)
        self._lifecycle = _Lifecycle(self.thing, say)
        self.transport = Mqtt5Transport(
            plan.endpoint,
            will=Will(own_shadow.status_topic(self.thing), own_shadow.status_payload(online=False)),
            backoff=plan.backoff,
            on_connected=self._lifecycle.connected,
            on_disconnected=self._lifecycle.disconnected,
            on_connect_failed=self._lifecycle.connect_failed,
        )
        self.pi = Pi(
            self.thing, self.transport, self.matrix, SystemClock(), firmware=swan.__version__
        )
        self._lifecycle.pi = self.pi

    def run(self) -> int:
        """Until SIGTERM, SIGINT, `stop` or `exit_after` seconds; returns the exit code."""
        endpoint = self.plan.endpoint
        self.say(
            f"{self.thing}: connecting to {endpoint.host}:{endpoint.port} (MQTT 5, mutual TLS) ..."
        )
        try:
            self.pi.start()
            self.transport.start()
            with (
                _stopped_by_signals(self.pi.stop),
                _stopped_after(self.plan.exit_after, self.pi.stop),
            ):
                self.pi.run()
        finally:
            self._lifecycle.stopping = True
            self._goodbye()
        self.say(f"{self.thing}: stopped")
        return 0

    def stop(self) -> None:
        self.pi.stop()

    def _goodbye(self) -> None:
        try:
            self.pi.shutdown()
        finally:
            try:
                self.transport.close(with_will=True)
            finally:
                self.matrix.close()


def run(plan: PiPlan, say: Callable[[str], None]) -> int:
    """Run a Pi until it is told to stop; returns the exit code."""
    return PiApp(plan, say).run()


@contextlib.contextmanager
def _stopped_by_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGTERM and SIGINT call `stop` (in the main thread only: tests run the Pi elsewhere).

    The handler runs in the main thread, between two of its bytecodes: if that thread is
    inside an Event's wait() at the moment, holding the Event's lock, a set() from the
    handler would wait for that lock forever. So the handler hands `stop` to a thread of
    its own, which takes the locks as any other thread would."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(_number: int, _frame: object) -> None:
        threading.Thread(target=stop, name="pi-stop", daemon=True).start()

    previous = {number: signal.signal(number, handle) for number in _SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def _stopped_after(seconds: float | None, stop: Callable[[], None]) -> Iterator[None]:
    if seconds is None:
        yield
        return
    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
