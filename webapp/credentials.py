"""Temporary AWS credentials, kept until shortly before they expire.

On AWS the backend signs its websocket with Cognito credentials, which last an hour. awscrt
asks for credentials whenever it signs (every connect and reconnect); the cache answers
from what it holds and fetches new ones a safe margin before the old ones expire. When is
"due" is a pure decision on plain values: the caller passes `now`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

# Fetch new credentials this long before the old ones expire (or at half their lifetime,
# if that comes later: short-lived credentials are not fetched on every signing).
REFRESH_MARGIN: Final = 300.0


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials and when they expire (epoch seconds); `fetched_at` is when
    they were fetched, by the same clock."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: float
    fetched_at: float


class CredentialsUnavailableError(SwanError, ConnectionError):
    """No valid credentials: fetching failed, and what the cache held has expired."""

    def __init__(self, cause: object) -> None:
        self.cause = cause
        super().__init__(f"no AWS credentials for the web backend: {cause}")


def refresh_at(credentials: Credentials, margin: float = REFRESH_MARGIN) -> float:
    """When to fetch new credentials: `margin` before expiry, or at half the lifetime if
    the credentials live less than twice the margin."""
    lifetime = credentials.expiration - credentials.fetched_at
    return credentials.expiration - min(margin, max(lifetime, 0.0) / 2)


def refresh_due(
    credentials: Credentials | None, now: float, margin: float = REFRESH_MARGIN
) -> bool:
    """Whether to fetch before answering at `now`: nothing held yet, or time to refresh."""
    return credentials is None or now >= refresh_at(credentials, margin)


def usable(credentials: Credentials | None, now: float) -> bool:
    """Whether `credentials` may still sign at `now` (not yet expired)."""
    return credentials is not None and now < credentials.expiration


class CredentialsCache:
    """Credentials from `fetch`, fetched again when `refresh_due`; safe to call from any
    thread (awscrt signs on its own). A failed refresh keeps the old credentials while
    they are still valid, and says so in the log."""

    def __init__(
        self,
        fetch: Callable[[], Credentials],
        clock: Callable[[], float],
        margin: float = REFRESH_MARGIN,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._margin = margin
        self._lock = threading.Lock()
        self._held: Credentials | None = None

    def get(self) -> Credentials:
        with self._lock:
            now = self._clock()
            held = self._held
            if held is not None and not refresh_due(held, now, self._margin):
                return held
            try:
                fresh = self._fetch()
            except SwanError as error:
                if held is not None and usable(held, now):
                    log.warning("refreshing AWS credentials failed, keeping the old: %s", error)
                    return held
                raise CredentialsUnavailableError(error) from error
            self._held = fresh
            log.info("new AWS credentials, valid until %.0f", fresh.expiration)
            return fresh
