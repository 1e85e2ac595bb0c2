"""How push -> every viewer grows with the viewers, as a picture: `swan bench --plot PATH`.

p50 and p99 against the number of viewers (a log scale), for the viewers on direct mutual TLS
and through the device gateway (`viewers`), and the crowd's mixed devices and pages if it
ran. `series` and `scale` are pure; `draw` writes a PNG with Pillow (the local extra; the
device extra brings it too, for sense-emu): the picture needs no more than lines, dots and
text, so no plotting library.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from swan.bench.measured import FanOut, Results, percentile
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from pathlib import Path

Color = tuple[int, int, int]
WIDTH: Final = 900
HEIGHT: Final = 560
MARGIN: Final = (80, 50, 40, 70)  # left, top, right, bottom
DIRECT: Final[Color] = (31, 119, 180)
GATEWAY: Final[Color] = (214, 39, 40)
CROWD: Final[Color] = (44, 160, 44)
CROWD_DIRECT: Final[Color] = (23, 190, 207)
GRID: Final[Color] = (225, 225, 225)
INK: Final[Color] = (30, 30, 30)
DASH: Final = 8  # pixels drawn, then as many left out, for a p50 line
ROUND: Final = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)  # an axis's top
MEDIAN: Final = 50  # the percentile drawn dashed
LABEL_GAP: Final = 14  # pixels: two lone points' labels closer than this would overlap


class NothingToPlotError(SwanError, ValueError):
    """The results hold no viewers or crowd phase: nothing grows with viewers."""

    def __init__(self) -> None:
        super().__init__("no viewers or crowd figures to plot (run --only viewers or crowd)")


class NoPillowError(SwanError, RuntimeError):
    """Pillow, which draws the picture, is not installed."""

    def __init__(self) -> None:
        super().__init__("the plot needs Pillow (the local extra brings it: uv sync --extra local)")


@dataclass(frozen=True)
class Series:
    """One line: (viewers, milliseconds) points; a p50 line is dashed."""

    label: str
    color: Color
    points: tuple[tuple[int, float], ...]
    dashed: bool


def series(results: Results) -> list[Series]:
    """p50 and p99 of each path at each size, in milliseconds."""
    found: list[Series] = []
    if results.viewers is not None:
        runs = results.viewers.runs
        for path, color in (("direct", DIRECT), ("gateway", GATEWAY)):
            name = "direct mTLS" if path == "direct" else "gateway"
            for q in (50, 99):
                points = tuple(
                    (run.viewers, ms)
                    for run in runs
                    if (ms := _ms(getattr(run, path), q)) is not None
                )
                found.append(Series(f"{name}, p{q}", color, points, dashed=q == MEDIAN))
    if results.crowd is not None:
        crowd = results.crowd
        size = crowd.devices + crowd.pages
        for name, fan_out, color in (
            ("crowd direct (devices + subscribers)", crowd.direct, CROWD_DIRECT),
            ("crowd through the gateway (devices + pages)", crowd.fan_out, CROWD),
        ):
            for q in (50, 99):
                ms = _ms(fan_out, q)
                points = () if ms is None else ((size, ms),)
                found.append(Series(f"{name}, p{q}", color, points, dashed=q == MEDIAN))
    found = [s for s in found if s.points]
    if not found:
        raise NothingToPlotError
    return found


def _ms(fan_out: FanOut, q: float) -> float | None:
    value = percentile(fan_out.push_to_client.seconds, q)
    return None if value is None else value * 1000


@dataclass(frozen=True)
class Scale:
    """Data to pixels: x on a log scale of viewers, y linear in milliseconds from 0."""

    x_low: float  # log10 of the leftmost viewers
    x_high: float
    y_high: float  # milliseconds at the top

    @classmethod
    def of(cls, lines: list[Series]) -> Scale:
        xs = [x for s in lines for x, _ in s.points]
        ys = [y for s in lines for _, y in s.points]
        low, high = math.log10(min(xs)), math.log10(max(xs))
        pad = max(0.15, (high - low) * 0.08)
        return cls(low - pad, high + pad, nice_ceiling(max(ys) * 1.08))

    def x(self, viewers: float) -> float:
        left, _, right, _ = MARGIN
        share = (math.log10(viewers) - self.x_low) / (self.x_high - self.x_low)
        return left + share * (WIDTH - left - right)

    def y(self, ms: float) -> float:
        _, top, _, bottom = MARGIN
        return HEIGHT - bottom - ms / self.y_high * (HEIGHT - top - bottom)

    def y_ticks(self) -> list[float]:
        step = self.y_high / 5
        return [step * n for n in range(6)]

    def x_ticks(self) -> list[int]:
        """1, 2 and 5 times the powers of ten within the axis."""
        ticks = []
        for power in range(math.floor(self.x_low), math.ceil(self.x_high) + 1):
            for first in (1, 2, 5):
                value = first * 10**power
                if self.x_low <= math.log10(value) <= self.x_high:
                    ticks.append(value)
        return ticks


def nice_ceiling(value: float) -> float:
    """The smallest round number (`ROUND` times a power of ten) at or above `value` (> 0)."""
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in ROUND if step * power >= value)


def draw(results: Results, path: Path, title: str) -> None:
    """The picture of `results` as a PNG at `path`."""
    try:
        from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415  (only to plot)
    except ImportError as error:
        raise NoPillowError from error
    lines = series(results)
    scale = Scale.of(lines)
    image = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=12)
    left, top, right, bottom = MARGIN
    for ms in scale.y_ticks():
        y = scale.y(ms)
        pen.line([(left, y), (WIDTH - right, y)], fill=GRID)
        pen.text((left - 8, y), f"{ms:g}", fill=INK, font=small, anchor="rm")
    for viewers in scale.x_ticks():
        x = scale.x(viewers)
        pen.line([(x, top), (x, HEIGHT - bottom)], fill=GRID)
        pen.text((x, HEIGHT - bottom + 8), f"{viewers:,}", fill=INK, font=small, anchor="mt")
    pen.rectangle([(left, top), (WIDTH - right, HEIGHT - bottom)], outline=INK)
    pen.text((WIDTH / 2, 18), title, fill=INK, font=font, anchor="mt")
    pen.text((WIDTH / 2, HEIGHT - 22), "viewers (log scale)", fill=INK, font=font, anchor="mt")
    pen.text((14, HEIGHT / 2), "ms", fill=INK, font=font, anchor="lm")
    lone: list[tuple[Series, tuple[float, float]]] = []
    for line in lines:
        dots = [(scale.x(v), scale.y(ms)) for v, ms in line.points]
        for start, end in itertools.pairwise(dots):
            _segment(pen, start, end, line.color, dashed=line.dashed)
        for x, y in dots:
            pen.ellipse([(x - 4, y - 4), (x + 4, y + 4)], fill=line.color)
        if len(dots) == 1:  # a lone point (the crowd's): say which percentile it is
            lone.append((line, dots[0]))
    sides = label_sides([spot for _, spot in lone])
    for (line, (x, y)), right in zip(lone, sides, strict=True):
        name = line.label.rsplit(", ", 1)[-1]
        at, anchor = ((x + 10, y), "lm") if right else ((x - 10, y), "rm")
        pen.text(at, name, fill=line.color, font=small, anchor=anchor)
    for n, line in enumerate(lines):  # the legend, top left inside the axes
        y = top + 14 + 18 * n
        _segment(pen, (left + 12, y), (left + 44, y), line.color, dashed=line.dashed)
        pen.text((left + 52, y), line.label, fill=INK, font=small, anchor="lm")
    image.save(path, format="PNG", optimize=True)


def label_sides(spots: list[tuple[float, float]], gap: float = LABEL_GAP) -> list[bool]:
    """Where each lone point's label goes: left of its point (False), or right (True) where
    a label already left of a point at the same x is within `gap` pixels (two figures of
    nearly the same value: the crowd's direct p99 and its p50 through the doors, say)."""
    placed: list[tuple[float, float]] = []
    sides = []
    for x, y in spots:
        clash = any(abs(x - px) < 1 and abs(y - py) < gap for px, py in placed)
        sides.append(clash)
        if not clash:
            placed.append((x, y))
    return sides


def _segment(
    pen: object, start: tuple[float, float], end: tuple[float, float], color: Color, *, dashed: bool
) -> None:
    from PIL import ImageDraw  # noqa: PLC0415  (only to plot)

    if not isinstance(pen, ImageDraw.ImageDraw):
        raise TypeError(pen)
    if not dashed:
        pen.line([start, end], fill=color, width=3)
        return
    length = math.dist(start, end)
    pieces = max(1, int(length // (2 * DASH)))
    for n in range(pieces):
        a, b = 2 * n * DASH / length, min(1.0, (2 * n + 1) * DASH / length)
        pen.line(
            [_along(start, end, a), _along(start, end, b)],
            fill=color,
            width=3,
        )


def _along(
    start: tuple[float, float], end: tuple[float, float], share: float
) -> tuple[float, float]:
    return start[0] + (end[0] - start[0]) * share, start[1] + (end[1] - start[1]) * share
