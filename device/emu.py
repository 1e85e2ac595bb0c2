"""The Sense HAT emulator (`sense_emu`, the `device` extra): the real HAT's API, drawn in
the emulator's window, with its joystick (click it, or use the arrow keys and Enter).

The window must be running before `swan pi --matrix emu` starts: `sense_emu_gui &`. It is
a GTK application: on Debian or Raspberry Pi OS, `sudo apt install python3-gi
gir1.2-gtk-3.0` (or the packaged `sense-emu-tools`) in a desktop session. Without the
window, `sense_emu` would try to start one itself and draw into nothing if that fails;
this module refuses instead, saying how to start it.
"""

from __future__ import annotations

from typing import Final

from device.matrix import MatrixUnavailableError
from device.sensehat import HatMatrix

START_HINT: Final = (
    "start the emulator's window first: 'sense_emu_gui &' (it needs a desktop session and "
    "GTK for Python: sudo apt install python3-gi gir1.2-gtk-3.0)"
)


def open_emulator(wait: float = 0.5) -> HatMatrix:
    try:
        from sense_emu import SenseHat  # noqa: PLC0415
        from sense_emu.lock import EmulatorLock  # noqa: PLC0415
    except ImportError as error:
        raise MatrixUnavailableError(
            "emu", f"cannot import sense_emu ({error}); install the device extra"
        ) from None
    # The window holds this lock while it runs; sense_emu's own check would spawn one.
    if not EmulatorLock("sense_emu").wait(wait):
        raise MatrixUnavailableError("emu", f"the Sense HAT emulator is not running; {START_HINT}")
    return HatMatrix(SenseHat(), "emu")
