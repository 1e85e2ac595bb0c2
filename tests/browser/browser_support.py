"""Helpers for the browser tests: the real local stack serving the static page (as
`swan up` does), and small polling helpers for the page (every wait is bounded)."""

from __future__ import annotations

import base64
import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from support import free_ports, unique

from swan.adapters.mqtt import connect_retrying
from swan.core.codecs import ButtonClick
from swan.local.stack import LocalStack
from swan.local.webapp import PageBuild, WebPage

if TYPE_CHECKING:
    from collections.abc import Callable

    from selenium.webdriver import Chrome

    from swan.core.countdown import Rules

BROWSER_DIR = Path(__file__).parent
SCREENSHOTS = BROWSER_DIR.parents[1] / "artifacts" / "screenshots"
WAIT = 10.0
DESKTOP = (1280, 800)
PHONE = (390, 844)
HOUR = 3600
BINARY_OPCODE = 2  # a WebSocket frame's opcode in Chrome's log


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
    """A running local stack serving the web page."""

    stack: LocalStack

    @property
    def page(self) -> WebPage:
        assert self.stack.webapp is not None
        return self.stack.webapp

    @property
    def url(self) -> str:
        return self.page.url

    def origins(self) -> set[str]:
        """Every origin the page may reach: itself, Cognito, the WebSocket door."""
        endpoints = self.stack.endpoints()
        urls = (self.url, endpoints.cognito or "", endpoints.mqtt_ws or "")
        return {_origin(url) for url in urls}

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


def _origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


def start_site(
    tmp_path_factory: pytest.TempPathFactory,
    rules: Rules,
    page_dir: Path,
    *,
    credentials_seconds: int = HOUR,
) -> Site:
    """The local stack with the web page, as `swan up` runs it (the export built once a
    test session, in `page_dir`)."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("state")
    stack = LocalStack(
        state,
        rules,
        certs_dir=state / "certs",
        ports=free_ports(),
        web=True,
        cognito_credentials_seconds=credentials_seconds,
        page_build=PageBuild(page_dir, timeout=300),
    )
    stack.start()
    return Site(stack)


def stop_site(site: Site) -> None:
    site.stack.stop()


# How often one browser may push in the tests: short, yet long enough that a second push
# made "at once" lands within it even on a loaded machine (a click, a publish, a handler).
PUSH_INTERVAL = 1.5


def quick(rules: Rules) -> Rules:
    """Rules for tests: pushes may come every `PUSH_INTERVAL` seconds."""
    return replace(rules, min_push_interval=PUSH_INTERVAL)


def past_the_last_push() -> None:
    """Wait out the rate limit of the page's last push."""
    time.sleep(PUSH_INTERVAL + 0.1)


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
    """Load the page and wait until its link to AWS IoT is live."""
    driver.get(url)
    wait_until(lambda: text_of(driver, "link-state") == "live", what="the page to be live")


def network(driver: Chrome) -> list[dict[str, Any]]:
    """The browser's network events since the last call (Chrome's performance log)."""
    events = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"].startswith("Network."):
            events.append(message)
    return events


def requested_urls(events: list[dict[str, Any]]) -> list[str]:
    """Every URL the page asked for (requests and WebSockets) in `events`."""
    urls = []
    for event in events:
        if event["method"] == "Network.requestWillBeSent":
            urls.append(event["params"]["request"]["url"])
        elif event["method"] == "Network.webSocketCreated":
            urls.append(event["params"]["url"])
    return urls


def websockets_opened(events: list[dict[str, Any]]) -> list[str]:
    return [e["params"]["url"] for e in events if e["method"] == "Network.webSocketCreated"]


def mqtt_packets(events: list[dict[str, Any]], *, sent: bool) -> list[tuple[int, bytes]]:
    """(first byte, body) of each MQTT packet the page sent (or received) over its WebSockets
    in `events`: the binary frames, base64 in Chrome's log, joined and split at each packet's
    remaining length (MQTT 3.1.1, 2.2.3)."""
    method = "Network.webSocketFrameSent" if sent else "Network.webSocketFrameReceived"
    stream = bytearray()
    for event in events:
        if event["method"] != method:
            continue
        frame = event["params"]["response"]
        if frame["opcode"] == BINARY_OPCODE:
            stream += base64.b64decode(frame["payloadData"])
    packets, at = [], 0
    while at < len(stream):
        length, multiplier, index = 0, 1, at + 1
        while True:
            byte = stream[index]
            length += (byte & 0x7F) * multiplier
            multiplier, index = multiplier * 128, index + 1
            if not byte & 0x80:
                break
        packets.append((stream[at], bytes(stream[index : index + length])))
        at = index + length
    return packets


def origin_of(url: str) -> str:
    return _origin(url)


def watch_link(driver: Chrome) -> None:
    """Record every state the page's connection light shows from now on."""
    driver.execute_script(
        """
        const light = document.getElementById("link-state");
        window.swanLinkStates = [light.textContent];
        new MutationObserver(() => window.swanLinkStates.push(light.textContent))
          .observe(light, {childList: true, characterData: true, subtree: true});
        """
    )


def link_states(driver: Chrome) -> list[str]:
    return list(driver.execute_script("return window.swanLinkStates"))


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
