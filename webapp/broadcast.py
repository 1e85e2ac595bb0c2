"""The board, sent to the pages: to every page when it changes, to one page when it joins.

Every page shows the same board. Reflex's `rx.SharedState` would keep one copy and send a
change to each linked page by loading that page's state, patching the shared copy in under
its lock, and computing a delta: milliseconds per page, one page after the other, and every
page that links makes every other page's state be loaded again. At 200 pages a push took
over a second to reach them all, and opening them kept a core busy for a minute (`swan
bench web`). Here the backend sends the board's fields itself, as one Socket.IO message
encoded once for every page, and a page that joins gets the board as it is then, from the
same place. Sends happen one at a time, so no page ever gets an older board after a newer
one. A page's own copy of the board in Reflex's state is never changed by the backend (it
keeps its defaults), so Reflex never sends it except as those defaults when a page
connects, which the page's join then replaces.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

# Send `fields` to one page (its socket id), or to every page (None).
Send = Callable[[Mapping[str, Any], str | None], Awaitable[None]]


class Broadcast:
    """The latest board and the one way it reaches pages (`send`, given by the app)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._send: Send | None = None
        self._fields: dict[str, Any] | None = None
        self._lock = asyncio.Lock()

    def attach(self, send: Send) -> None:
        """Where the sends go: the app's websocket (set when the backend starts)."""
        self._send = send

    async def show(self, fields: Mapping[str, Any]) -> None:
        """The board changed: keep it, and send it to every page."""
        async with self._lock:
            self._fields = dict(fields)
            await self._deliver(None)

    async def welcome(self, page: str) -> None:
        """A page joined: send it the board as it is now (nothing yet: it comes with the
        first change)."""
        async with self._lock:
            await self._deliver(page)

    async def _deliver(self, page: str | None) -> None:
        if self._send is None or self._fields is None:
            return
        # The server's time goes with every send: the page corrects its clock by it.
        await self._send({**self._fields, "sent_at": self._clock()}, page)
