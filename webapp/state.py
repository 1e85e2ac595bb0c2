"""The page's state: the board every browser shows, and each browser's own bits.

`Board` holds what every page shows. The backend never changes a page's copy: it sends the
board to every page itself (`webapp.broadcast`), when it changes and when a page joins, so
a change costs one message per page, not a state update per page. `Viewer` is per
browser: its id (for rate limiting), the prompt, the push in flight and its answer, and
the mute switch (kept in localStorage).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import reflex as rx

from webapp import backend
from webapp.view import NOTICE_SECONDS, notice_for


class Board(rx.State):
    """What every browser sees; filled by the backend's broadcast, never per page."""

    known: bool = False
    version: int = 0
    deadline: float = 0.0
    period: float = 0.0
    alarm: float = 0.0
    failed: bool = False
    pushes: int = 0
    failures: int = 0
    run_started_at: float = 0.0
    failed_at: float = 0.0
    last_by: str = ""
    last_source: str = ""
    last_at: float = 0.0
    history: list[dict[str, Any]] = []  # noqa: RUF012 (Reflex copies defaults per state)
    link: str = "connecting"
    rule_set: str = "anytime"
    sent_at: float = 0.0
    digits: int = 2

    @rx.event
    async def join(self) -> None:
        """On page load: this page gets the board as it is now, then every change."""
        await backend.broadcast().welcome(self.router.session.session_id)


class Viewer(rx.State):
    """One browser's own state."""

    browser_id: str = rx.LocalStorage("", name="swan-browser")
    muted: str = rx.LocalStorage("", name="swan-muted")
    in_flight: bool = False
    notice: str = ""
    notice_kind: str = ""
    notices: int = 0  # how many notices this page has shown: the one to clear is the last
    clock_sample: float = 0.0

    @rx.event
    def arrive(self) -> None:
        """On page load: name this browser once, and tell it the server's time."""
        if not self.browser_id:
            self.browser_id = uuid.uuid4().hex
        self.clock_sample = time.time()

    @rx.event
    def toggle_mute(self) -> None:
        self.muted = "" if self.muted else "1"

    @rx.event(background=True)
    async def push(self) -> None:
        """The button: push for this browser and show the answer."""
        await self._push(None)

    @rx.event(background=True)
    async def execute(self, form_data: dict[str, Any]) -> None:
        """The prompt's Execute: push with the code typed at `>:`."""
        code = str(form_data.get("code") or "").strip()[:64]
        await self._push(code or None)

    async def _push(self, code: str | None) -> None:
        async with self:
            if self.in_flight:
                return
            self.in_flight = True
            self.notice, self.notice_kind = "", ""
            session = self.browser_id or self.router.session.client_token
        answer = await backend.feed().push(session, code)
        notice = notice_for(answer)
        async with self:
            self.in_flight = False
            self.notice, self.notice_kind = notice.text, notice.kind
            self.notices += 1
            shown = self.notices
            self.clock_sample = time.time()
        # The answer is news for a while, then old: it must not linger into a later scene
        # (a "Pushed" under the failure screen).
        await asyncio.sleep(NOTICE_SECONDS)
        async with self:
            if self.notices == shown and not self.in_flight:
                self.notice, self.notice_kind = "", ""
