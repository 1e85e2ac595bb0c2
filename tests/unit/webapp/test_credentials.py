"""The credentials cache: when to fetch new credentials (pure, `now` passed in), and the
cache that answers awscrt from what it holds."""

from __future__ import annotations

import pytest

from swan.core.errors import SwanError
from webapp.credentials import (
    Credentials,
    CredentialsCache,
    CredentialsUnavailableError,
    refresh_at,
    refresh_due,
    usable,
)

HOUR = 3600.0


def issued(at: float, lifetime: float = HOUR, key: str = "AKID1") -> Credentials:
    return Credentials(key, "secret", "token", expiration=at + lifetime, fetched_at=at)


def test_an_hour_long_set_is_refreshed_five_minutes_before_it_expires():
    credentials = issued(1000.0)
    assert refresh_at(credentials) == 1000.0 + HOUR - 300
    assert not refresh_due(credentials, 1000.0 + HOUR - 301)
    assert refresh_due(credentials, 1000.0 + HOUR - 300)


def test_short_lived_credentials_are_refreshed_at_half_their_lifetime():
    credentials = issued(1000.0, lifetime=90.0)  # what moto hands out
    assert refresh_at(credentials) == 1045.0
    assert not refresh_due(credentials, 1044.9)
    assert refresh_due(credentials, 1045.0)


def test_nothing_held_is_due_and_not_usable():
    assert refresh_due(None, 0.0)
    assert not usable(None, 0.0)


def test_credentials_are_usable_until_they_expire():
    credentials = issued(1000.0, lifetime=60.0)
    assert usable(credentials, 1059.9)
    assert not usable(credentials, 1060.0)


def test_credentials_expired_on_arrival_are_due_when_they_expire():
    skewed = issued(1000.0, lifetime=-5.0)  # this clock runs ahead of AWS's
    assert refresh_at(skewed) == 995.0
    assert refresh_due(skewed, 1000.0)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Issuer:
    """Hands out credentials that live `lifetime` seconds; can be made to fail."""

    def __init__(self, clock: Clock, lifetime: float = HOUR) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.issued: list[Credentials] = []
        self.failing = False

    def __call__(self) -> Credentials:
        if self.failing:
            raise SwanError("Cognito is unreachable")
        credentials = issued(self.clock.now, self.lifetime, key=f"AKID{len(self.issued) + 1}")
        self.issued.append(credentials)
        return credentials


def test_the_cache_answers_from_what_it_holds_until_a_refresh_is_due():
    clock = Clock(1000.0)
    issuer = Issuer(clock)
    cache = CredentialsCache(issuer, clock)
    first = cache.get()
    clock.now += HOUR - 301
    assert cache.get() is first
    clock.now += 1  # five minutes before expiry
    second = cache.get()
    assert [c.access_key_id for c in (first, second)] == ["AKID1", "AKID2"]
    assert len(issuer.issued) == 2


def test_a_failed_refresh_keeps_the_old_credentials_while_they_are_valid(caplog):
    clock = Clock(1000.0)
    issuer = Issuer(clock)
    cache = CredentialsCache(issuer, clock)
    first = cache.get()
    issuer.failing = True
    clock.now += HOUR - 60
    assert cache.get() is first
    assert "keeping the old" in caplog.text
    issuer.failing = False
    assert cache.get().access_key_id == "AKID2"  # the next ask tries again


def test_without_valid_credentials_a_failed_fetch_is_an_error():
    clock = Clock(1000.0)
    issuer = Issuer(clock)
    issuer.failing = True
    cache = CredentialsCache(issuer, clock)
    with pytest.raises(CredentialsUnavailableError, match="Cognito is unreachable"):
        cache.get()
    issuer.failing = False
    cache.get()
    issuer.failing = True
    clock.now += HOUR
    with pytest.raises(CredentialsUnavailableError) as raised:
        cache.get()
    assert isinstance(raised.value, ConnectionError)
