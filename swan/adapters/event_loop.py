"""The event loop that the gateway's connections and the bench's clients run on.

uvloop (libuv, with its TLS layer in Cython) where it is installed: the `local` extra brings
it on Linux and macOS. Through the device gateway, a push to 3,000 viewers went from p99
x1.56 to x1.11 of direct mutual TLS with it (docs/performance.md). Elsewhere, or with
`SWAN_EVENT_LOOP=asyncio`, asyncio's own loop; everything works on either, and the tests run
the gateway on both.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Final, TypeVar

from swan.core.errors import InvalidSettingError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Mapping
    from typing import Any

T = TypeVar("T")

VARIABLE: Final = "SWAN_EVENT_LOOP"
UVLOOP: Final = "uvloop"
ASYNCIO: Final = "asyncio"


def wanted(environ: Mapping[str, str] = os.environ) -> str:
    """The loop asked for: `SWAN_EVENT_LOOP` (uvloop or asyncio), uvloop by default."""
    given = environ.get(VARIABLE, UVLOOP)
    name = given.strip().casefold() or UVLOOP
    if name not in (UVLOOP, ASYNCIO):
        raise InvalidSettingError(VARIABLE, given, f"must be {UVLOOP} or {ASYNCIO}")
    return name


def factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes a new loop: uvloop's, if wanted and installed; else asyncio's."""
    if wanted() == UVLOOP:
        try:
            import uvloop  # noqa: PLC0415  (optional: the local extra, not every platform)
        except ImportError:
            return asyncio.new_event_loop
        return uvloop.new_event_loop
    return asyncio.new_event_loop


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop of the kind `factory` makes (for a thread of its own)."""
    return factory()()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on a loop of the kind `factory` makes."""
    with asyncio.Runner(loop_factory=factory()) as runner:
        return runner.run(main)


def has_own_tls(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether `loop` brings its own TLS layer (uvloop's), which `ssl=` arguments use; asyncio's
    own is `asyncio.sslproto`."""
    return type(loop).__module__.partition(".")[0] == UVLOOP
