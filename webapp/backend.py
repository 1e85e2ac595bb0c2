"""The backend process's one `Feed`, its `Broadcast` and its settings, built on first use
(never at import, so compiling or exporting the frontend needs no broker and no
certificates)."""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
from typing import TYPE_CHECKING

from swan.adapters.history import HistoryUnavailableError, SqliteHistory
from webapp.broadcast import Broadcast
from webapp.feed import Feed
from webapp.link import link_for
from webapp.settings import WebSettings
from webapp.view import waiting_board

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from swan.core.countdown import Push

log = logging.getLogger(__name__)


@functools.cache
def settings() -> WebSettings:
    return WebSettings.from_env(os.environ)


@functools.cache
def broadcast() -> Broadcast:
    """The board's way to every page of this backend process."""
    return Broadcast()


@functools.cache
def feed() -> Feed:
    current = settings()
    return Feed(
        link_for(current.mqtt),
        history_limit=current.history_limit,
        board=waiting_board(current.period_seconds),
        recent=_history_reader(current.history_db) if current.history_db else None,
    )


def _history_reader(path: Path) -> Callable[[int], list[Push] | None]:
    """Recent pushes from the local push history (SQLite, written by the push handler)."""
    history: SqliteHistory | None = None

    def recent(limit: int) -> list[Push] | None:
        nonlocal history
        try:
            if history is None:
                history = SqliteHistory(path)
            return [entry.push for entry in history.recent(limit)]
        except (HistoryUnavailableError, sqlite3.Error) as error:
            log.warning("push history not readable, listing pushes as seen: %s", error)
            return None

    return recent
