"""What the Pi shows at a moment: the frame, a caption, and how long both stay the same.

Pure: the display loop reads its clock once, passes `now` in, draws the scene only if a
pixel (or, on a matrix that shows it, the caption) changed, then sleeps `wait` seconds or
until something happens. The countdown frames come from the core renderer; the few frames
of the device's own (connecting, waiting for the first push, a refused push) are here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from swan.core.countdown import Countdown, clock_text, phase_at, remaining
from swan.core.render import Frame, Glyph, next_change, render_frame

if TYPE_CHECKING:
    from device.lights import Lights

MIN_WAIT: Final = 0.1
"""The display never redraws more than 10 times a second, whatever the renderer allows."""
MAX_WAIT: Final = 30.0
"""...and looks again at least this often, so a clock that jumps is caught up with."""
SEPARATOR: Final = "  ·  "

CONNECTING: Final[Frame] = Glyph(
    """
    ........
    ........
    ........
    ...##...
    ...##...
    ........
    ........
    ........
    """,
    ink=(0, 0, 160),
    paper=(0, 0, 0),
).frame()
"""Before the button shadow arrived: a small blue light in the middle, nothing else."""

WAITING: Final[Frame] = tuple((0, 64, 0) for _ in range(64))
"""The world has not started (nobody ever pushed): a dim, full matrix, ready to go."""

REFUSED: Final[Frame] = Glyph(
    """
    ########
    .######.
    ..####..
    ...##...
    ...##...
    ..#..#..
    .#....#.
    ########
    """,
    ink=(255, 255, 255),
    paper=(0, 0, 0),
).frame()
"""An hourglass: the push was refused (too fast, too early); wait, then try again."""


@dataclass(frozen=True)
class Notice:
    """A message the display shows instead of the countdown until `until` (epoch s)."""

    text: str
    frame: Frame
    until: float


@dataclass(frozen=True)
class Scene:
    frame: Frame
    caption: str
    wait: float
    """Seconds until the frame (or, with captions, the caption) can change; bounded."""


def compose(
    countdown: Countdown | None,
    *,
    loaded: bool,
    online: bool,
    lights: Lights,
    notice: Notice | None,
    now: float,
    captions: bool,
) -> Scene:
    """The scene at `now`. `loaded`: the button shadow arrived at least once (`countdown`
    None then means nobody has pushed yet); `captions`: the matrix shows the caption, so
    its changes count too."""
    if not loaded:
        frame, caption, wait = CONNECTING, "connecting ...", MAX_WAIT
    elif countdown is None:
        frame, caption, wait = WAITING, "waiting for the first push", MAX_WAIT
    else:
        frame, caption, wait = _countdown(countdown, now, captions=captions)
    if not online and loaded:
        caption += f"{SEPARATOR}offline"
    if notice is not None and now < notice.until:
        frame = notice.frame
        caption = f"{caption}{SEPARATOR}{notice.text}"
        wait = min(wait, notice.until - now)
    return Scene(lights.scale(frame), caption, min(max(wait, MIN_WAIT), MAX_WAIT))


def _countdown(countdown: Countdown, now: float, *, captions: bool) -> tuple[Frame, str, float]:
    period = countdown.period_seconds
    alarm = countdown.alarm_seconds  # the shadow's, or its period's (swan.core.countdown)
    left = remaining(countdown, now)
    failed = countdown.phase == "failed"
    frame = render_frame(left, period, failed=failed, now=now, alarm_seconds=alarm)
    wait = next_change(left, period, failed=failed, now=now, alarm_seconds=alarm)
    phase = phase_at(countdown, now)
    if phase == "failed":
        caption = f"SYSTEM FAILURE{SEPARATOR}{_count(countdown.failures, 'failure')}"
        return frame, caption, wait
    whole = math.ceil(left)
    caption = f"{clock_text(left)}  {'ALARM' if phase == 'alarm' else 'counting'}"
    caption += f"{SEPARATOR}{_count(countdown.pushes, 'push')}"
    if countdown.last_push is not None:
        caption += f"{SEPARATOR}last: {countdown.last_push.by} ({countdown.last_push.source})"
    if captions:
        # The clock shows whole seconds, rounded up: it changes when `left` crosses one.
        wait = min(wait, left - (whole - 1))
    return frame, caption, wait


def _count(n: int, noun: str) -> str:
    plural = noun + ("es" if noun.endswith("sh") else "s")
    return f"{n} {noun if n == 1 else plural}"
