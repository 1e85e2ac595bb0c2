"""The page's link to AWS IoT over time: credentials that live 16 s (AWS's last an hour)
are renewed before they expire without the page showing it, and when the link drops (the
broker behind the WebSocket door goes away) the page says so and comes back by itself, on
a freshly signed URL."""

from __future__ import annotations

import contextlib
import time

import pytest
from browser_support import (
    link_states,
    network,
    quick,
    start_site,
    stop_site,
    text_of,
    wait_until,
    watch_link,
    websockets_opened,
)

from swan.core.countdown import Rules

CREDENTIALS_SECONDS = 16
LIVES = 2.5  # how many credential lifetimes the page is watched for


@pytest.fixture(scope="module")
def site(tmp_path_factory, page_dir):
    running = start_site(
        tmp_path_factory, quick(Rules()), page_dir, credentials_seconds=CREDENTIALS_SECONDS
    )
    yield running
    stop_site(running)


def test_credentials_expire_and_the_page_does_not_notice(site, page):
    network(page)  # forget what came before
    watch_link(page)
    until = time.monotonic() + CREDENTIALS_SECONDS * LIVES
    seen = 0
    while time.monotonic() < until:
        serial = site.press()
        pressed = time.monotonic()
        wait_until(lambda serial=serial: text_of(page, "last-by") == serial, what=serial)
        assert time.monotonic() - pressed < 1.0, "a click took more than a second to show"
        seen += 1
        time.sleep(1.0)
    assert seen >= CREDENTIALS_SECONDS * LIVES / 2
    assert set(link_states(page)) == {"live"}
    # Signed afresh and connected again before each expiry: at least twice by now.
    assert len(websockets_opened(network(page))) >= 2


@pytest.mark.reliability
def test_the_link_drops_and_returns_by_itself(site, page):
    broker = site.stack.running.broker
    broker.stop()
    try:
        wait_until(lambda: text_of(page, "link-state") == "reconnecting", what="reconnecting")
        network(page)  # forget what came before
    finally:
        broker.start()
    wait_until(lambda: text_of(page, "link-state") == "live", timeout=30, what="live again")
    assert websockets_opened(network(page))  # a new connection, on a freshly signed URL
    # The stack's own links to the broker come back in their own time: click until one
    # goes through, then it must show.
    deadline = time.monotonic() + 30
    while True:
        serial = site.press()
        with contextlib.suppress(pytest.fail.Exception):
            wait_until(lambda serial=serial: text_of(page, "last-by") == serial, timeout=3)
            break
        assert time.monotonic() < deadline, "no click showed after the broker came back"
    assert text_of(page, "link-state") == "live"
