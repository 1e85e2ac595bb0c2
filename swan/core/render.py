"""Remaining time -> one 8x8 RGB frame for the Sense HAT, in three looks.

Counting: the time left is green, filling the matrix from the top-left; the time gone is red,
growing back from the bottom-right. Each LED stands for 256 sub-steps, so the one LED on the
frontier cross-fades green -> yellow -> red as its share of the period runs out.

Alarm (the last four minutes, or the last quarter of a shorter period: the alarm window is
swan.core.countdown's `alarm_window`, the default here): the matrix switches to amber and
starts over, the alarm's time spread across all 64 LEDs (amber left, red gone), and the
whole matrix pulses at 1 Hz, half a second bright and half a second dim. Counting never
shows amber and never blinks, so from across the room a pulsing orange matrix can only mean "hurry".

Failure (a failed run, or no time left): the Swan station's counter turned into red and
black hieroglyphs, three black tiles then two red ones. The matrix reads those five tiles
one per second: three black glyphs on red, then two red glyphs on black.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Final

from swan.core.countdown import alarm_window
from swan.core.errors import InvalidSettingError

Pixel = tuple[int, int, int]
Frame = tuple[Pixel, ...]
"""64 pixels, row-major from the top-left: the order Sense HAT `set_pixels` takes."""

SIZE: Final = 8
PIXELS: Final = SIZE * SIZE
SUBSTEPS: Final = 256
"""Sub-steps per LED: the frontier LED fades through this many shades."""
STEPS: Final = PIXELS * SUBSTEPS

BLINK_SECONDS: Final = 1.0
"""The alarm's pulse: the first half of each second bright, the second half dim."""
GLYPH_SECONDS: Final = 1.0
"""How long the failure look shows each hieroglyph."""
MIN_WAIT_SECONDS: Final = 1e-6
"""`next_change` never answers less, so a display loop cannot spin on a rounding error."""
DIM_DIVISOR: Final = 4
"""The dim half of the pulse, kept bright enough that the Sense HAT's RGB565 still shows it."""

BLACK: Final[Pixel] = (0, 0, 0)
RED: Final[Pixel] = (255, 0, 0)
YELLOW: Final[Pixel] = (255, 255, 0)
GREEN: Final[Pixel] = (0, 255, 0)
AMBER: Final[Pixel] = (255, 140, 0)
EMBER: Final[Pixel] = (255, 70, 0)
"""Halfway between amber and red: the frontier LED's middle shade in the alarm."""


# ---------------------------------------------------------------- validation


def _checked_alarm(
    remaining: float, period: float, now: float, alarm_seconds: float | None
) -> float:
    """The alarm to draw with (the period's window unless given), once the inputs are sound."""
    if not math.isfinite(remaining):
        raise InvalidSettingError("remaining", remaining, "must be a finite number of seconds")
    if not (math.isfinite(period) and period > 0):
        raise InvalidSettingError("period", period, "must be a positive number of seconds")
    if not math.isfinite(now):
        raise InvalidSettingError("now", now, "must be a finite epoch time")
    if alarm_seconds is None:
        return alarm_window(period)
    if not (math.isfinite(alarm_seconds) and alarm_seconds >= 0):
        raise InvalidSettingError("alarm_seconds", alarm_seconds, "must be 0 or more seconds")
    return alarm_seconds


class _Look(Enum):
    COUNTING = "counting"
    ALARM = "alarm"
    FAILURE = "failure"


def _look(remaining: float, *, failed: bool, alarm_seconds: float) -> _Look:
    if failed or remaining <= 0:
        return _Look.FAILURE
    if remaining <= alarm_seconds:
        return _Look.ALARM
    return _Look.COUNTING


# ---------------------------------------------------------------- filling the matrix


@dataclass(frozen=True)
class _Gradient:
    """The shades a filled matrix uses: full LEDs, spent LEDs, and the frontier's midpoint."""

    full: Pixel
    middle: Pixel
    spent: Pixel

    def at(self, fill: float) -> Pixel:
        """The frontier LED's colour when `fill` (0..1) of its share of time is left."""
        # Two fades of half the LED's time each: spent -> middle, then middle -> full.
        halves = 2 * fill
        if halves >= 1:
            return _blend(self.middle, self.full, halves - 1)
        return _blend(self.spent, self.middle, halves)


_COUNTING_GRADIENT: Final = _Gradient(full=GREEN, middle=YELLOW, spent=RED)
_ALARM_GRADIENT: Final = _Gradient(full=AMBER, middle=EMBER, spent=RED)


def _blend(start: Pixel, end: Pixel, weight: float) -> Pixel:
    r, g, b = (round(a + (z - a) * weight) for a, z in zip(start, end, strict=True))
    return (r, g, b)


def _steps_left(remaining: float, span: float) -> int:
    """Sub-steps still to go, rounded up so that any time left still lights something."""
    fraction = min(max(remaining / span, 0.0), 1.0)
    return math.ceil(fraction * STEPS)


def _fill(steps_left: int, gradient: _Gradient) -> Frame:
    pixels = []
    for index in range(PIXELS):
        own_steps = min(max(steps_left - index * SUBSTEPS, 0), SUBSTEPS)
        pixels.append(gradient.at(own_steps / SUBSTEPS))
    return tuple(pixels)


def _seconds_to_next_step(remaining: float, span: float) -> float:
    """Seconds until `_steps_left` drops by one; after its last step, until time runs out."""
    steps = _steps_left(remaining, span)
    return remaining - max(steps - 1, 0) * span / STEPS


def _alarm_span(period: float, alarm_seconds: float) -> float:
    # A period shorter than an alarm given is all alarm, starting full.
    return min(alarm_seconds, period)


# ---------------------------------------------------------------- alarm pulse


def _is_bright(now: float) -> bool:
    return now % BLINK_SECONDS < BLINK_SECONDS / 2


def _dim(pixel: Pixel) -> Pixel:
    r, g, b = (channel // DIM_DIVISOR for channel in pixel)
    return (r, g, b)


def _seconds_to_next_pulse(now: float) -> float:
    half = BLINK_SECONDS / 2
    return half - now % half


# ---------------------------------------------------------------- failure glyphs


@dataclass(frozen=True)
class Glyph:
    """One 8x8 hieroglyph: `#` is ink, `.` is paper."""

    art: str
    ink: Pixel
    paper: Pixel

    def frame(self) -> Frame:
        marks = "".join(self.art.split())
        return tuple(self.ink if mark == "#" else self.paper for mark in marks)


# Drawn for The Swan: a vulture, an eye, water; then an ankh and a scarab.
GLYPHS: Final = (
    Glyph(
        """
        .##.....
        ###.....
        .##.....
        ..###...
        ..#####.
        ..######
        ...#.#..
        ..##.##.
        """,
        ink=BLACK,
        paper=RED,
    ),
    Glyph(
        """
        .######.
        ........
        ..####..
        .#.##.#.
        #..##..#
        .######.
        ...#...#
        ..#....#
        """,
        ink=BLACK,
        paper=RED,
    ),
    Glyph(
        """
        ........
        .#...#..
        #.#.#.#.
        ...#...#
        ........
        .#...#..
        #.#.#.#.
        ...#...#
        """,
        ink=BLACK,
        paper=RED,
    ),
    Glyph(
        """
        ..####..
        .#....#.
        .#....#.
        ..#..#..
        ########
        ...##...
        ...##...
        ...##...
        """,
        ink=RED,
        paper=BLACK,
    ),
    Glyph(
        """
        #..##..#
        .#.##.#.
        ..####..
        #.####.#
        .######.
        ..####..
        .#.##.#.
        #......#
        """,
        ink=RED,
        paper=BLACK,
    ),
)


def _seconds_to_next_glyph(now: float) -> float:
    return GLYPH_SECONDS - now % GLYPH_SECONDS


def _glyph_at(now: float) -> Glyph:
    return GLYPHS[math.floor(now / GLYPH_SECONDS) % len(GLYPHS)]


# ---------------------------------------------------------------- the public functions


def render_frame(
    remaining: float,
    period: float,
    *,
    failed: bool,
    now: float,
    alarm_seconds: float | None = None,
) -> Frame:
    """The frame to show with `remaining` seconds of a `period`-second countdown left.

    `now` (epoch seconds) drives the alarm's pulse and the failure glyphs. Time left beyond
    the period is drawn as a full period, and time below zero as none. The alarm is the
    period's `alarm_window` unless `alarm_seconds` says otherwise (the countdown's own).
    """
    alarm_seconds = _checked_alarm(remaining, period, now, alarm_seconds)
    look = _look(remaining, failed=failed, alarm_seconds=alarm_seconds)
    if look is _Look.FAILURE:
        return _glyph_at(now).frame()
    if look is _Look.ALARM:
        frame = _fill(_steps_left(remaining, _alarm_span(period, alarm_seconds)), _ALARM_GRADIENT)
        return frame if _is_bright(now) else tuple(_dim(pixel) for pixel in frame)
    return _fill(_steps_left(remaining, period), _COUNTING_GRADIENT)


def next_change(
    remaining: float,
    period: float,
    *,
    failed: bool,
    now: float,
    alarm_seconds: float | None = None,
) -> float:
    """Seconds the frame stays the same, so a display loop can sleep that long.

    Assumes the countdown keeps running: `remaining` falls as `now` rises. The answer is
    exact (a 1-second period changes every 61 microseconds), so a loop that draws on real
    hardware should also set its own floor, and wake early when the shadow changes.
    """
    alarm_seconds = _checked_alarm(remaining, period, now, alarm_seconds)
    look = _look(remaining, failed=failed, alarm_seconds=alarm_seconds)
    if look is _Look.FAILURE:
        wait = _seconds_to_next_glyph(now)
    elif look is _Look.ALARM:
        span = _alarm_span(period, alarm_seconds)
        wait = min(_seconds_to_next_step(remaining, span), _seconds_to_next_pulse(now))
    else:
        wait = min(_seconds_to_next_step(remaining, period), remaining - alarm_seconds)
    # Right on a step boundary, rounding can put the next step at or behind `remaining`.
    return max(wait, MIN_WAIT_SECONDS)


# ---------------------------------------------------------------- text


NAMED_COLOURS: Final[dict[Pixel, str]] = {
    BLACK: ".",
    GREEN: "G",
    YELLOW: "Y",
    RED: "R",
    AMBER: "A",
    EMBER: "E",
    _dim(AMBER): "a",
    _dim(RED): "r",
    _dim(EMBER): "e",
}
_SPARE_SYMBOLS: Final = "".join(
    symbol
    for symbol in "0123456789bcdfghijklmnopqstuvwxyzBCDFHIJKLMNOPQSTUVWXZ!#$%&*+=?@~^"
    if symbol not in NAMED_COLOURS.values()
)


def frame_to_text(frame: Frame) -> str:
    """The frame as 8 lines of 8 symbols, then a legend giving each symbol's exact RGB."""
    symbols: dict[Pixel, str] = {}
    spare = iter(_SPARE_SYMBOLS)
    for pixel in frame:
        if pixel not in symbols:
            symbols[pixel] = NAMED_COLOURS.get(pixel) or next(spare)
    rows = (
        "".join(symbols[pixel] for pixel in frame[start : start + SIZE])
        for start in range(0, PIXELS, SIZE)
    )
    legend = (f"{symbol} {r:02x}{g:02x}{b:02x}" for (r, g, b), symbol in symbols.items())
    return "\n".join([*rows, "", *legend]) + "\n"
