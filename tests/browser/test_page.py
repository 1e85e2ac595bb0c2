"""The static page against the real local stack (108-minute rules), in two browsers: it
ticks by itself, a push in one shows in the other, a device's click shows in both, and it
talks to nothing but the page's host, Cognito and the WebSocket door: no Reflex backend."""

from __future__ import annotations

import re
import time

import pytest
from browser_support import (
    DESKTOP,
    HOUR,
    PHONE,
    attribute,
    mqtt_packets,
    network,
    open_page,
    origin_of,
    past_the_last_push,
    quick,
    requested_urls,
    screenshot,
    start_site,
    stop_site,
    text_of,
    wait_until,
    websockets_opened,
)

from swan.core.countdown import Rules
from swan.core.topics import BUTTON_SHADOW, DOCUMENTS_QOS
from swan.local.core.mqtt_packets import parse_publish, parse_subscribe

PUBLISH, SUBSCRIBE = 3, 8  # MQTT packet types (the first byte's high four bits)


@pytest.fixture(scope="module")
def site(tmp_path_factory, page_dir):
    running = start_site(tmp_path_factory, quick(Rules()), page_dir)
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


def test_before_the_first_push_the_page_waits_at_108_minutes(pages):
    a, _ = pages
    wait_until(lambda: attribute(a, "clock", "data-phase") == "waiting", what="waiting")
    assert remaining(a) == 6480
    assert "WAITING" in text_of(a, "clock-phase")
    assert text_of(a, "last-by") == "nobody yet"


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
    assert a.title.endswith("· The Swan")


def test_a_push_in_one_browser_shows_in_the_other_within_a_second(pages):
    a, b = pages
    before = pushes(b)
    a.find_element("id", "push").click()
    clicked = time.monotonic()
    wait_until(lambda: pushes(b) > before, what="browser B to see the push")
    assert time.monotonic() - clicked < 1.0
    assert text_of(b, "last-source") == "web"
    assert text_of(b, "last-by") == "a web visitor"
    wait_until(lambda: "Pushed" in text_of(a, "notice"), what="the answer in browser A")
    assert attribute(a, "notice", "data-kind") == "ok"
    assert text_of(b, "notice") == ""  # the answer is only for the page that pushed


def test_a_button_click_from_a_device_shows_in_every_browser(site, pages):
    serial = site.press(click="DOUBLE")
    for page in pages:
        wait_until(lambda page=page: text_of(page, "last-by") == serial, what=serial)
        assert text_of(page, "last-source") == "IoT Button"
        wait_until(lambda page=page: serial in text_of(page, "history"), what="the history")


def test_space_pushes_and_pushing_again_at_once_is_too_fast(pages):
    a, _ = pages
    past_the_last_push()
    a.find_element("tag name", "body").send_keys(" ")
    wait_until(lambda: "Pushed" in text_of(a, "notice"), what="the Space push's answer")
    a.find_element("id", "push").click()
    wait_until(lambda: "Too fast" in text_of(a, "notice"), what="the rate limit")
    assert attribute(a, "notice", "data-kind") == "wait"
    assert re.search(r"Wait [01]\.\d s\.", text_of(a, "notice"))  # within PUSH_INTERVAL


def test_each_browser_is_its_own_principal_for_the_rate_limit(pages):
    a, b = pages
    past_the_last_push()
    a.find_element("id", "push").click()
    b.find_element("id", "push").click()
    for page in pages:
        wait_until(lambda page=page: "Pushed" in text_of(page, "notice"), what="both pushed")


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
    past_the_last_push()
    site.press()
    wait_until(lambda: remaining(a) > 6470, what="a fresh countdown")
    for size, name in ((DESKTOP, "counting-desktop"), (PHONE, "counting-phone")):
        assert screenshot(a, name, size).stat().st_size > 0


def test_the_page_talks_to_its_host_cognito_and_aws_iot_only(site, browsers):
    driver = browsers()
    open_page(driver, site.url)
    site.press()
    wait_until(lambda: attribute(driver, "clock", "data-phase") == "counting", what="counting")
    events = network(driver)
    urls = requested_urls(events)
    assert {origin_of(url) for url in urls if not url.startswith(("data:", "blob:"))} == (
        site.origins()
    )
    assert not [url for url in urls if "/_event" in url or "socket.io" in url]
    sockets = websockets_opened(events)
    assert sockets
    assert all(url.startswith(f"{site.stack.endpoints().mqtt_ws}?X-Amz-") for url in sockets)
    # The page's host served files and the config, nothing else (no Reflex backend route).
    asked = set(site.page.requests)
    assert "/swan-config.json" in asked
    assert not {path for path in asked if path.startswith(("/_event", "/ping", "/_upload"))}


def test_the_page_follows_the_documents_at_qos_0(site, browsers):
    """What the page asks for (its SUBSCRIBE as sent) and what it gets (the documents
    messages as received), read from the browser's own record of its WebSocket frames."""
    driver = browsers()
    open_page(driver, site.url)
    before = pushes(driver)
    site.press()
    wait_until(lambda: pushes(driver) > before, what="the push on the page")
    events = network(driver)
    sent = mqtt_packets(events, sent=True)
    (subscribe,) = [body for first, body in sent if first >> 4 == SUBSCRIBE]
    requested = dict(parse_subscribe(subscribe, mqtt5=False).filters)
    assert requested[BUTTON_SHADOW.update_documents] == DOCUMENTS_QOS == 0
    assert requested[BUTTON_SHADOW.get_accepted] == 1  # the answers to its own requests: as before
    documents = [
        parse_publish(first, body, mqtt5=False)
        for first, body in mqtt_packets(events, sent=False)
        if first >> 4 == PUBLISH
        and parse_publish(first, body, mqtt5=False).topic == BUTTON_SHADOW.update_documents.encode()
    ]
    assert documents
    assert {header.qos for header in documents} == {0}


def test_a_browser_clock_an_hour_ahead_still_shows_aws_time(site, browsers):
    driver = browsers(clock_ms=HOUR * 1000)
    open_page(driver, site.url)  # live: the URL was signed with AWS's time, not this clock
    past_the_last_push()
    site.press()
    wait_until(lambda: remaining(driver) > 6470, what="108 minutes, not 48")
    assert attribute(driver, "clock", "data-phase") == "counting"
