"""The README's pictures of the LED matrix, drawn by the png matrix from the core renderer:
a full countdown, half of it gone, the alarm, a failure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from device.png import PngMatrix
from swan.core.countdown import DEFAULT_PERIOD_SECONDS, alarm_window
from swan.core.render import PIXELS, render_frame

if TYPE_CHECKING:
    from pathlib import Path

    from swan.core.render import Frame

PERIOD: Final = float(DEFAULT_PERIOD_SECONDS)
ALARM: Final = alarm_window(PERIOD)
HALF_LED: Final = PERIOD / PIXELS / 2


def pictures() -> dict[str, Frame]:
    """The frames by name. `now=0.0` is the bright half of the alarm's pulse and the first
    failure glyph; half time is half an LED past the middle, so its frontier LED is yellow."""
    return {
        "full": render_frame(PERIOD, PERIOD, failed=False, now=0.0, alarm_seconds=ALARM),
        "half": render_frame(
            PERIOD / 2 + HALF_LED, PERIOD, failed=False, now=0.0, alarm_seconds=ALARM
        ),
        "alarm": render_frame(ALARM / 2, PERIOD, failed=False, now=0.0, alarm_seconds=ALARM),
        "failure": render_frame(0.0, PERIOD, failed=True, now=0.0, alarm_seconds=ALARM),
    }


def write_pictures(directory: Path) -> list[Path]:
    """Write `led-<name>.png` for every picture into `directory`; returns the paths."""
    matrix = PngMatrix(directory)
    return [matrix.save(frame, directory / f"led-{name}.png") for name, frame in pictures().items()]
