"""The page against the real local stack (108-minute rules): it ticks by itself, pushes
from one browser, a device or the command line show in every browser, and it comes back
after the backend's broker link drops."""

from __future__ import annotations

import time

import pytest
from browser_support import (
    DESKTOP,
    PHONE,
    WAIT,
    attribute,
    open_page,
    quick,
    screenshot,
    start_site,
    stop_site,
    text_of,
    wait_until,
)

from swan.core.countdown import Rules


@pytest.fixture(scope="module")
def site(tmp_path_factory, reflex_dir):
    running = start_site(tmp_path_factory, quick(Rules()), reflex_dir)
    yield running
    stop_site(running)


@pytest.fixture(scope="module")
def pages(site, browsers):
    """Two browsers on the page: two people watching the same countdown."""
    a, b = browsers(), browsers()
    open_page(a, site.url)
    open_page(b, site.url)
    return a, b


def remaining(driver) -> int:
    return int(attribute(driver, "clock", "data-remaining"))


def pushes(driver) -> int:
    return int(text_of(driver, "pushes") or 0)


def test_a_click_counts_down_from_108_minutes_in_the_browser(site, pages):
    a, _ = pages
    site.press()
    wait_until(lambda: attribute(a, "clock", "data-phase") == "counting", what="counting")
    first = wait_until(lambda: remaining(a) > 6470 and remaining(a), what="108:00")
    wait_until(lambda: remaining(a) < first, timeout=3, what="the counter to tick")
    assert a.find_element("id", "clock").get_attribute("aria-label").startswith("107 minutes")
    assert a.find_element("id", "clock").get_attribute("role") == "timer"
    assert attribute(a, "phase-announcement", "aria-live") == "assertive"
    assert attribute(a, "push", "aria-label").startswith("Push the button")
    assert attribute(a, "mute", "aria-label") == "Mute the alarm"


def test_a_push_in_one_browser_shows_in_the_other_within_a_second(pages):
    a, b = pages
    before = pushes(b)
    a.find_element("id", "push").click()
    clicked = time.monotonic()
    wait_until(lambda: pushes(b) > before, timeout=WAIT, what="browser B to see the push")
    assert time.monotonic() - clicked < 1.0
    assert text_of(b, "last-source") == "web"
    wait_until(lambda: "Pushed" in text_of(a, "notice"), what="the answer in browser A")


def test_a_button_click_from_a_device_shows_in_every_browser(site, pages):
    serial = site.press(click="DOUBLE")
    for page in pages:
        wait_until(lambda page=page: text_of(page, "last-by") == serial, what=serial)
        assert text_of(page, "last-source") == "IoT Button"
    history = pages[1].find_element("id", "history").text
    assert serial in history


def test_space_pushes_and_pushing_again_at_once_is_too_fast(pages):
    a, _ = pages
    time.sleep(0.6)  # past the previous test's push
    a.find_element("tag name", "body").send_keys(" ")
    wait_until(lambda: "Pushed" in text_of(a, "notice"), what="the Space push's answer")
    a.find_element("id", "push").click()
    wait_until(lambda: "Too fast" in text_of(a, "notice"), what="the rate limit")
    assert attribute(a, "notice", "data-kind") == "wait"
    assert "Wait 0." in text_of(a, "notice")


def test_mute_is_remembered_by_the_browser(site, pages):
    a, _ = pages
    a.find_element("id", "mute").click()
    wait_until(lambda: attribute(a, "mute", "aria-pressed") == "true", what="muted")
    open_page(a, site.url)
    wait_until(lambda: attribute(a, "mute", "aria-pressed") == "true", what="still muted")
    a.find_element("id", "mute").click()
    wait_until(lambda: attribute(a, "mute", "aria-pressed") == "false", what="sound on")


def test_screenshots_at_desktop_and_phone_width(site, pages):
    a, _ = pages
    time.sleep(0.6)
    site.press()
    wait_until(lambda: remaining(a) > 6470, what="a fresh countdown")
    for size, name in ((DESKTOP, "counting-desktop"), (PHONE, "counting-phone")):
        assert screenshot(a, name, size).stat().st_size > 0


@pytest.mark.reliability
def test_the_page_is_live_again_after_the_broker_link_returns(site, pages):
    a, b = pages
    broker = site.stack.running.broker
    broker.stop()
    try:
        for page in pages:
            wait_until(
                lambda page=page: text_of(page, "link-state") == "reconnecting",
                what="reconnecting",
            )
    finally:
        broker.start()
    for page in pages:
        wait_until(lambda page=page: text_of(page, "link-state") == "live", timeout=10)
    serial = site.press()
    wait_until(lambda: text_of(b, "last-by") == serial, timeout=WAIT, what="live updates")
    wait_until(lambda: text_of(a, "last-by") == serial, timeout=WAIT, what="live updates")


def test_the_page_reconnects_when_the_web_backend_restarts(site, pages):
    a, _ = pages
    site.web.stop()
    wait_until(lambda: text_of(a, "link-state") == "reconnecting", what="the websocket drop")
    site.web.start()
    wait_until(lambda: text_of(a, "link-state") == "live", timeout=30, what="live again")
    serial = site.press()
    wait_until(lambda: text_of(a, "last-by") == serial, what="updates after the restart")
