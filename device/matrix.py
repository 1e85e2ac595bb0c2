"""The LED matrix port: where the Pi's frames go, and where its joystick presses come from.

One module per implementation, imported only when chosen, so that `sense_hat` (which only
exists on a Raspberry Pi) is imported by `device.sensehat` alone:
- `sensehat`: the real Sense HAT;
- `emu`: the Sense HAT emulator (`sense_emu`), whose window must be running;
- `terminal`: 24-bit colour blocks and the caption, Enter or space to push;
- `png`: writes each frame as a PNG picture (the README's pictures);
- `recording`: the test fake, a real implementation that keeps what it was shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal, Protocol, get_args

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from swan.core.render import Frame

MatrixName = Literal["sensehat", "emu", "terminal", "png", "recording"]
MATRICES: Final[tuple[MatrixName, ...]] = get_args(MatrixName)


class LedMatrix(Protocol):
    """An 8x8 RGB matrix with a joystick (or whatever stands in for one)."""

    @property
    def mode(self) -> str:
        """What the Pi reports as its display mode (the implementation's name)."""
        ...

    @property
    def shows_caption(self) -> bool:
        """True if `show`'s caption is visible, so a new caption is worth a redraw."""
        ...

    def show(self, frame: Frame, caption: str) -> None:
        """Light the 64 LEDs (row-major from the top-left), with a line of text if it can."""
        ...

    def set_low_light(self, on: bool) -> None:  # noqa: FBT001  (a setter's one value)
        """The Sense HAT's low-light mode: a dimmer gamma table for dark rooms."""
        ...

    def clear(self) -> None:
        """All LEDs off."""
        ...

    def listen(self, on_press: Callable[[], None]) -> None:
        """Call `on_press` (from any thread) whenever the joystick is pressed."""
        ...

    def close(self) -> None: ...


class MatrixUnavailableError(SwanError, RuntimeError):
    """The chosen matrix cannot be used here; the message says what to install or start."""

    def __init__(self, matrix: str, problem: str) -> None:
        self.matrix = matrix
        self.problem = problem
        super().__init__(f"the {matrix} matrix is not available: {problem}")


def open_matrix(name: MatrixName, *, frames: Path | None = None, keys: bool = True) -> LedMatrix:
    """The matrix called `name`. `frames`: where the png matrix writes; `keys`: whether the
    terminal matrix reads the keyboard (Enter or space to push)."""
    # The imports stay here: each implementation may need a package the others do not.
    if name == "sensehat":
        from device.sensehat import open_sense_hat  # noqa: PLC0415

        return open_sense_hat()
    if name == "emu":
        from device.emu import open_emulator  # noqa: PLC0415

        return open_emulator()
    if name == "terminal":
        from device.terminal import TerminalMatrix  # noqa: PLC0415

        return TerminalMatrix.on_stdio(keys=keys)
    if name == "png":
        from device.png import PngMatrix  # noqa: PLC0415

        if frames is None:
            raise MatrixUnavailableError(name, "say where to write the frames (--frames DIR)")
        return PngMatrix(frames)
    if name == "recording":
        from device.recording import RecordingMatrix  # noqa: PLC0415

        return RecordingMatrix()
    raise MatrixUnavailableError(name, f"choose one of {', '.join(MATRICES)}")
