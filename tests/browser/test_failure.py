"""An 8-second world under the Swan station's rules: the `>:` prompt takes the code, the
alarm turns the page red, at zero the counter shows hieroglyphs and SYSTEM FAILURE, and
the code typed then starts a new run. Before anybody has pushed, the shadow names no rule
set: the page shows the button, and the refusal of a push without the code brings the
prompt."""

from __future__ import annotations

import pytest
from browser_support import (
    DESKTOP,
    PHONE,
    attribute,
    quick,
    screenshot,
    start_site,
    stop_site,
    text_of,
    wait_until,
)

from swan.core.countdown import Rules

PERIOD = 8.0
CODE = "4 8 15 16 23 42"


@pytest.fixture(scope="module")
def site(tmp_path_factory, page_dir):
    running = start_site(tmp_path_factory, quick(Rules.for_period(PERIOD, "swan")), page_dir)
    yield running
    stop_site(running)


def phase(driver) -> str:
    return attribute(driver, "clock", "data-phase")


def execute(driver, code: str) -> None:
    prompt = driver.find_element("id", "prompt")
    prompt.clear()
    prompt.send_keys(code)
    wait_until(lambda: prompt.get_attribute("value") == code, what="the code typed")
    driver.find_element("id", "push").click()


def test_a_push_without_the_code_is_refused_and_brings_the_prompt(page):
    if not page.find_elements("id", "prompt"):  # the shadow does not name its rules yet
        page.find_element("id", "push").click()
        wait_until(lambda: "Wrong code" in text_of(page, "notice"), what="the refusal")
    wait_until(lambda: page.find_elements("id", "prompt"), what="the prompt")
    assert "EXECUTE" in text_of(page, "push")


def test_the_prompt_refuses_a_wrong_code(page):
    wait_until(lambda: page.find_elements("id", "prompt"), what="the prompt")
    execute(page, "4 8 15 16 23 41")
    wait_until(lambda: "Wrong code" in text_of(page, "notice"), what="the refusal")
    assert attribute(page, "notice", "data-kind") == "refused"


def test_the_world_ends_at_zero_and_the_code_starts_a_new_run(page):
    failures = int(text_of(page, "failures") or 0)
    execute(page, CODE)
    wait_until(lambda: phase(page) in {"counting", "alarm"}, what="a run")
    wait_until(lambda: phase(page) == "alarm", timeout=PERIOD, what="the alarm")
    assert "ALARM" in text_of(page, "clock-phase")
    screenshot(page, "alarm-desktop", DESKTOP)
    wait_until(lambda: phase(page) == "failed", timeout=PERIOD, what="the failure screen")
    wait_until(lambda: "SYSTEM FAILURE" in text_of(page, "clock-phase"), what="SYSTEM FAILURE")
    black = page.find_elements("css selector", "#clock .minutes .flap.glyph-black")
    red = page.find_elements("css selector", "#clock .seconds .flap.glyph-red")
    assert (len(black), len(red)) == (2, 2)  # an 8-second world has two minute tiles
    wait_until(
        lambda: int(text_of(page, "failures") or 0) == failures + 1,
        what="the failure recorded by the expiry handler",
    )
    # The answer to the push that started the run is old news by now: gone.
    wait_until(lambda: text_of(page, "notice") == "", what="the old notice to clear")
    for size, name in ((DESKTOP, "failure-desktop"), (PHONE, "failure-phone")):
        screenshot(page, name, size)
    execute(page, CODE)
    wait_until(lambda: phase(page) == "counting", what="a new run")
    assert int(attribute(page, "clock", "data-remaining")) <= PERIOD
    assert "Pushed" in text_of(page, "notice")
