"""Helpers for the browser tests: the real local stack with the web app in front of it,
and small polling helpers for the page (every wait is bounded)."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support import free_port, start_local_stack, unique

from swan.adapters.mqtt import connect_retrying
from swan.core.codecs import ButtonClick
from swan.local.webapp import WebApp, WebAppPlan

if TYPE_CHECKING:
    from collections.abc import Callable

    from selenium.webdriver import Chrome

    from swan.core.countdown import Rules
    from swan.local.stack import LocalStack

BROWSER_DIR = Path(__file__).parent
SCREENSHOTS = BROWSER_DIR.parents[1] / "artifacts" / "screenshots"
WAIT = 10.0
DESKTOP = (1280, 800)
PHONE = (390, 844)


def browser_missing() -> str | None:
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if missing:
        return (
            f"{' and '.join(missing)} not installed; "
            "install with: sudo apt-get install -y chromium chromium-driver"
        )
    return None


@dataclass
class Site:
    """A running local stack with the web app in front of it."""

    stack: LocalStack
    web: WebApp

    @property
    def url(self) -> str:
        return self.web.url

    def press(self, serial: str | None = None, click: str = "SINGLE") -> str:
        """An AWS IoT Button click over mutual TLS, as `swan press` sends it."""
        serial = serial or unique("G030").upper()
        device = connect_retrying(self.stack.device_endpoint(serial))
        try:
            payload = json.dumps(ButtonClick(serial, click, 1650).to_payload()).encode()
            device.publish(f"iotbutton/{serial}", payload).result(WAIT)
        finally:
            device.close()
        return serial


def start_site(tmp_path_factory: pytest.TempPathFactory, rules: Rules, reflex_dir: Path) -> Site:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("state")
    stack = start_local_stack(state, rules)
    try:
        endpoint = stack.device_endpoint("web")
        plan = WebAppPlan(state, endpoint, rules, port=free_port(), reflex_dir=reflex_dir)
        web = WebApp(plan, start_timeout=120)
        web.start()
    except BaseException:
        stack.stop()
        raise
    return Site(stack, web)


def stop_site(site: Site) -> None:
    try:
        site.web.stop()
    finally:
        site.stack.stop()


def quick(rules: Rules) -> Rules:
    """Rules for tests: pushes may come every half second."""
    return replace(rules, min_push_interval=0.5)


def wait_until(check: Callable[[], Any], timeout: float = WAIT, what: str = "") -> Any:
    """Poll `check` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception as error:  # noqa: BLE001  (the page may be between renders)
            last_error = error
        else:
            if value:
                return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what or check}: {last_error}")


def text_of(driver: Chrome, element_id: str) -> str:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    # textContent, not .text: the page upper-cases some labels with CSS
    return str(driver.find_element(By.ID, element_id).get_attribute("textContent") or "").strip()


def attribute(driver: Chrome, element_id: str, name: str) -> str:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    return str(driver.find_element(By.ID, element_id).get_attribute(name) or "")


def open_page(driver: Chrome, url: str) -> None:
    """Load the page and wait until it is live (websocket up, backend linked)."""
    driver.get(url)
    wait_until(lambda: text_of(driver, "link-state") == "live", what="the page to be live")


def screenshot(driver: Chrome, name: str, size: tuple[int, int]) -> Path:
    """Save a screenshot at exactly `size` CSS pixels under artifacts/screenshots/."""
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    try:
        time.sleep(0.6)  # let the flaps settle after the resize
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{width}x{height}.png"
        driver.save_screenshot(str(path))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path
