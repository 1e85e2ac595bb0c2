"""The backend process's one `Feed` and its settings, built on first use (never at import,
so compiling or exporting the frontend needs no broker and no certificates)."""

from __future__ import annotations

import functools
import os

from webapp.feed import Feed
from webapp.link import mtls_link
from webapp.settings import WebSettings
from webapp.view import waiting_board


@functools.cache
def settings() -> WebSettings:
    return WebSettings.from_env(os.environ)


@functools.cache
def feed() -> Feed:
    current = settings()
    return Feed(
        mtls_link(current.mqtt),
        history_limit=current.history_limit,
        board=waiting_board(current.period_seconds),
    )
