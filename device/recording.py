"""The recording matrix: the test fake, a real `LedMatrix` that keeps what it was shown.

Like gpiozero's MockPin: tests press its joystick (`press`) and wait for what they expect
to be shown (`wait_for`), without sleeping. It keeps the latest `keep` frames only, so a
Pi left running with it (the bench does) does not grow.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.core.render import Frame

KEEP: Final = 10_000


@dataclass(frozen=True)
class Shown:
    """One `show` call: the frame and its caption."""

    frame: Frame
    caption: str


class RecordingMatrix:
    def __init__(self, *, keep: int = KEEP, shows_caption: bool = False) -> None:
        self._shows_caption = shows_caption
        self._changed = threading.Condition()
        self._shown: deque[Shown] = deque(maxlen=keep)
        self.shows = 0
        self.clears = 0
        self.low_light_changes: list[bool] = []
        self.lit = False
        self.closed = False
        self._on_press: Callable[[], None] | None = None

    # ------------------------------------------------------------ the port

    @property
    def mode(self) -> str:
        return "recording"

    @property
    def shows_caption(self) -> bool:
        return self._shows_caption

    def show(self, frame: Frame, caption: str) -> None:
        with self._changed:
            self._shown.append(Shown(frame, caption))
            self.shows += 1
            self.lit = any(pixel != (0, 0, 0) for pixel in frame)
            self._changed.notify_all()

    def set_low_light(self, on: bool) -> None:  # noqa: FBT001
        with self._changed:
            self.low_light_changes.append(on)
            self._changed.notify_all()

    def clear(self) -> None:
        with self._changed:
            self.clears += 1
            self.lit = False
            self._changed.notify_all()

    def listen(self, on_press: Callable[[], None]) -> None:
        self._on_press = on_press

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    # ------------------------------------------------------------ for tests

    @property
    def shown(self) -> list[Shown]:
        with self._changed:
            return list(self._shown)

    @property
    def frames(self) -> list[Frame]:
        return [entry.frame for entry in self.shown]

    @property
    def latest(self) -> Shown | None:
        with self._changed:
            return self._shown[-1] if self._shown else None

    @property
    def low_light(self) -> bool:
        with self._changed:
            return bool(self.low_light_changes) and self.low_light_changes[-1]

    def press(self) -> None:
        """Push the joystick, as a person would."""
        if self._on_press is None:
            raise RuntimeError("nobody listens to this matrix's joystick yet")
        self._on_press()

    def wait_for(self, predicate: Callable[[RecordingMatrix], bool], timeout: float = 10.0) -> bool:
        """Wait until `predicate(self)` holds (checked after every change); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def wait_for_frame(self, predicate: Callable[[Frame], bool], timeout: float = 10.0) -> Frame:
        """The first frame from now on (the latest one included) that `predicate` accepts."""
        with self._changed:
            first = max(0, self.shows - 1)
            found: list[Frame] = []

            def seen() -> bool:
                new = list(self._shown)[-(self.shows - first) :] if self.shows > first else []
                found[:] = [entry.frame for entry in new if predicate(entry.frame)][:1]
                return bool(found)

            if not self._changed.wait_for(seen, timeout):
                raise TimeoutError(f"no such frame within {timeout:g} s")
            return found[0]
