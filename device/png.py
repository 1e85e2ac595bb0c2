"""The png matrix: each frame drawn as a picture of the Sense HAT's LEDs, written as PNG.

For the README's pictures (`swan pi --pictures DIR`) more than for watching: the live
matrix numbers its files and keeps the latest `keep`. The encoder is the standard library's
zlib; a picture is a few kilobytes.
"""

from __future__ import annotations

import math
import struct
import zlib
from typing import TYPE_CHECKING, Final

from swan.core.render import SIZE

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from swan.core.render import Frame, Pixel

LED: Final = 28
"""Pixels per LED in a picture."""
GAP: Final = 8
"""Pixels between two LEDs, and around the matrix."""
RADIUS: Final = 6
"""The LEDs' rounded corners."""
BOARD: Final[Pixel] = (18, 20, 22)
"""The board between the LEDs (nearly black, as a Sense HAT looks through its diffuser)."""
OFF: Final[Pixel] = (40, 42, 44)
"""An unlit LED, a shade lighter than the board so the grid stays visible."""
LOW_LIGHT_SHARE: Final = 0.35
KEEP: Final = 100


class PngMatrix:
    def __init__(self, directory: Path, *, keep: int = KEEP) -> None:
        self.directory = directory
        self.keep = keep
        self.written = 0
        self._low_light = False
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def mode(self) -> str:
        return "png"

    @property
    def shows_caption(self) -> bool:
        return False

    def show(self, frame: Frame, caption: str) -> None:  # noqa: ARG002  (pictures have no text)
        self.written += 1
        self.save(frame, self.directory / f"frame-{self.written:06d}.png")
        old = self.directory / f"frame-{self.written - self.keep:06d}.png"
        old.unlink(missing_ok=True)

    def save(self, frame: Frame, path: Path) -> Path:
        """Write `frame` as a picture to `path` (replaced whole, never half-written)."""
        share = LOW_LIGHT_SHARE if self._low_light else 1.0
        data = encode_png(*draw_leds(frame, share))
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(data)
        temporary.replace(path)
        return path

    def set_low_light(self, on: bool) -> None:  # noqa: FBT001
        self._low_light = on

    def clear(self) -> None:
        self.show(((0, 0, 0),) * (SIZE * SIZE), "")

    def listen(self, on_press: Callable[[], None]) -> None:
        """A picture has no joystick."""

    def close(self) -> None:
        """Every picture is complete when written."""


def draw_leds(frame: Frame, share: float = 1.0) -> tuple[int, int, list[bytes]]:
    """The frame as RGB scanlines: (width, height, rows of 3 * width bytes)."""
    side = SIZE * LED + (SIZE + 1) * GAP
    board = bytes(BOARD)
    gap_row = board * side
    insets = [_inset(y) for y in range(LED)]
    rows = [gap_row] * GAP
    for led_row in range(SIZE):
        colours = [_lit(frame[led_row * SIZE + column], share) for column in range(SIZE)]
        for inset in insets:
            line = [board * GAP]
            for colour in colours:
                line.append(board * inset + colour * (LED - 2 * inset) + board * inset)
                line.append(board * GAP)
            rows.append(b"".join(line))
        rows.extend([gap_row] * GAP)
    return side, side, rows


def encode_png(width: int, height: int, rows: list[bytes]) -> bytes:
    """A truecolour PNG (8 bits per channel, no filtering) of `rows` of RGB bytes."""
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


def _inset(y: int) -> int:
    """How far in from each side the LED's row `y` starts, for its rounded corners."""
    distance = min(y, LED - 1 - y)
    if distance >= RADIUS:
        return 0
    dy = RADIUS - distance - 0.5
    return math.ceil(RADIUS - math.sqrt(max(RADIUS * RADIUS - dy * dy, 0.0)) - 0.5)


def _lit(pixel: Pixel, share: float) -> bytes:
    if pixel == (0, 0, 0):
        return bytes(OFF)
    r, g, b = (min(255, round(channel * share)) for channel in pixel)
    return bytes((r, g, b))
