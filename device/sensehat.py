"""The real Sense HAT: its 8x8 LED matrix and its joystick (`sense_hat`, Raspberry Pi only).

`HatMatrix` drives anything with the `sense_hat.SenseHat` API; the emulator
(device.emu) has the same API and reuses it. `sense_hat` is imported here and only
here, so the rest of the project runs anywhere.

On Raspberry Pi OS: `sudo apt install sense-hat`, and give the virtual environment the
system's packages (`python3 -m venv --system-site-packages`), since `sense_hat` and its
RTIMU driver come from apt, not from PyPI.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Final, Protocol

from device.matrix import MatrixUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.core.render import Frame

log = logging.getLogger(__name__)

PRESSED: Final = "pressed"
"""The joystick's action when pushed (then "held" while held, "released" at the end)."""


class SenseStickApi(Protocol):
    """The part of `sense_hat.SenseStick` used here."""

    direction_any: Callable[[Any], None] | None

    def close(self) -> None: ...


class SenseHatApi(Protocol):
    """The part of `sense_hat.SenseHat` (and `sense_emu.SenseHat`) used here."""

    low_light: bool

    @property
    def stick(self) -> SenseStickApi: ...

    def set_pixels(self, pixel_list: list[tuple[int, int, int]]) -> None: ...

    def clear(self) -> None: ...


class HatMatrix:
    """A `LedMatrix` on a Sense HAT, real or emulated."""

    def __init__(self, hat: SenseHatApi, mode: str = "sensehat") -> None:
        self._hat = hat
        self._mode = mode
        self._lock = threading.Lock()  # the stick's thread and the display loop share the HAT
        self._on_press: Callable[[], None] | None = None

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def shows_caption(self) -> bool:
        return False

    def show(self, frame: Frame, caption: str) -> None:  # noqa: ARG002  (no room for text)
        with self._lock:
            self._hat.set_pixels(list(frame))

    def set_low_light(self, on: bool) -> None:  # noqa: FBT001
        with self._lock:
            self._hat.low_light = on

    def clear(self) -> None:
        with self._lock:
            self._hat.clear()

    def listen(self, on_press: Callable[[], None]) -> None:
        self._on_press = on_press
        # Any direction pushes, as on the original Pi: the stick is the button.
        self._hat.stick.direction_any = self._stick_event

    def close(self) -> None:
        # Only forget the callback: unsetting it joins the stick's thread, which sits in a
        # blocking read until the next joystick event (a daemon thread; it ends with us).
        self._on_press = None

    def _stick_event(self, event: Any) -> None:
        # Runs on the stick's own thread: an error here must not end it.
        try:
            if getattr(event, "action", None) == PRESSED and self._on_press is not None:
                self._on_press()
        except Exception:
            log.exception("joystick press handler failed")


def open_sense_hat() -> HatMatrix:
    try:
        from sense_hat import SenseHat  # noqa: PLC0415
    except ImportError as error:
        raise MatrixUnavailableError(
            "sensehat",
            f"cannot import sense_hat ({error}); on Raspberry Pi OS run "
            "'sudo apt install sense-hat' and create the virtual environment with "
            "--system-site-packages",
        ) from None
    try:
        hat = SenseHat()
    except OSError as error:
        raise MatrixUnavailableError("sensehat", f"no Sense HAT found: {error}") from None
    return HatMatrix(hat, "sensehat")
