"""The terminal matrix: the 64 LEDs as 24-bit colour blocks, with the caption under them,
redrawn in place; Enter or space pushes (read without echo when the keyboard is a tty).

Each redraw moves the cursor back up over the previous one and leaves it on the line below
the caption, so another program writing `\\r`-lines there (`swan up`'s status line) keeps
its line and the matrix stays above it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import threading
from typing import TYPE_CHECKING, Any, Final, TextIO

from swan.core.render import SIZE

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.core.render import Frame

log = logging.getLogger(__name__)

LINES: Final = SIZE + 1  # the rows and the caption
RESET: Final = "\x1b[0m"
CLEAR_TO_END: Final = "\x1b[K"
HIDE_CURSOR: Final = "\x1b[?25l"
SHOW_CURSOR: Final = "\x1b[?25h"
LOW_LIGHT_SHARE: Final = 0.35
"""How bright low-light mode looks here (the Sense HAT's low-light gamma, roughly)."""
PUSH_KEYS: Final = (b"\n", b"\r", b" ")
BLACK_FRAME: Final[tuple[tuple[int, int, int], ...]] = ((0, 0, 0),) * (SIZE * SIZE)


class TerminalMatrix:
    def __init__(self, out: TextIO, keys: TextIO | None = None) -> None:
        self._out = out
        self._keys = keys
        self._tty = _isatty(out)
        self._drawn = False
        self._broken = False
        self._low_light = False
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._stop_pipe: tuple[int, int] | None = None
        self._saved_mode: Any = None

    @classmethod
    def on_stdio(cls, *, keys: bool = True) -> TerminalMatrix:
        """Draw on stdout; read the pushes from stdin if `keys`."""
        return cls(sys.stdout, sys.stdin if keys and sys.stdin is not None else None)

    # ------------------------------------------------------------ the port

    @property
    def mode(self) -> str:
        return "terminal"

    @property
    def shows_caption(self) -> bool:
        return True

    def show(self, frame: Frame, caption: str) -> None:
        self._write(self.render(frame, caption))

    def render(self, frame: Frame, caption: str) -> str:
        """The text of one redraw: up over the last one, the rows, the caption."""
        share = LOW_LIGHT_SHARE if self._low_light else 1.0
        rows = []
        for start in range(0, SIZE * SIZE, SIZE):
            cells = "".join(_cell(pixel, share) for pixel in frame[start : start + SIZE])
            rows.append(f"{cells}{RESET}{CLEAR_TO_END}\n")
        rows.append(f"{caption}{CLEAR_TO_END}\n")
        if not self._tty:
            return "".join(rows)
        up = f"\r\x1b[{LINES}A" if self._drawn else f"\r{HIDE_CURSOR}"
        return up + "".join(rows)

    def set_low_light(self, on: bool) -> None:  # noqa: FBT001
        self._low_light = on

    def clear(self) -> None:
        self.show(BLACK_FRAME, "")

    def listen(self, on_press: Callable[[], None]) -> None:
        if self._keys is None or self._reader is not None:
            return
        try:
            fd = self._keys.fileno()
        except (OSError, ValueError):
            return  # not a real file (a test's StringIO, a closed stdin): no keys
        self._stop_pipe = os.pipe()
        self._saved_mode = _cbreak(fd)
        self._reader = threading.Thread(
            target=self._read_keys, args=(fd, on_press), name="terminal-keys", daemon=True
        )
        self._reader.start()

    def close(self) -> None:
        if self._stop_pipe is not None:
            os.write(self._stop_pipe[1], b"x")
            if self._reader is not None:
                self._reader.join(1.0)
            for end in self._stop_pipe:
                os.close(end)
            self._stop_pipe = None
        if self._saved_mode is not None and self._keys is not None:
            _restore(self._keys.fileno(), self._saved_mode)
            self._saved_mode = None
        if self._tty and self._drawn:
            self._write(SHOW_CURSOR)

    # ------------------------------------------------------------ inside

    def _write(self, text: str) -> None:
        with self._lock:
            if self._broken:
                return
            try:
                self._out.write(text)
                self._out.flush()
            except (OSError, ValueError) as error:
                self._broken = True  # say it once; a closed terminal will not come back
                log.warning("the terminal matrix cannot write any more: %s", error)
                return
            self._drawn = True

    def _read_keys(self, fd: int, on_press: Callable[[], None]) -> None:
        assert self._stop_pipe is not None  # noqa: S101  (set before the thread starts)
        stop = self._stop_pipe[0]
        while True:
            ready, _, _ = select.select([fd, stop], [], [])
            if stop in ready:
                return
            data = os.read(fd, 64)
            if not data:
                return  # end of input: nobody left to press
            if any(key in data for key in PUSH_KEYS):
                try:
                    on_press()  # one push per burst of keys: the server rate-limits anyway
                except Exception:
                    log.exception("key press handler failed")


def _cell(pixel: tuple[int, int, int], share: float) -> str:
    r, g, b = (round(channel * share) for channel in pixel)
    return f"\x1b[48;2;{r};{g};{b}m  "


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _cbreak(fd: int) -> Any:
    """Keys one by one, without echo, if `fd` is a terminal; its old mode, to restore."""
    if not os.isatty(fd):
        return None
    import termios  # noqa: PLC0415  (POSIX only)
    import tty  # noqa: PLC0415

    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    return saved


def _restore(fd: int, saved: Any) -> None:
    import termios  # noqa: PLC0415

    with contextlib.suppress(termios.error, OSError):
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
