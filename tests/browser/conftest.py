"""The browser tests: the real local stack serving the static page, headless Debian
Chromium. Every test here is marked `browser`; without chromium and chromedriver (Debian
packages, which `scripts/setup` installs as root) they skip and say so.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import DESKTOP, browser_missing, open_page

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from selenium.webdriver import Chrome

BROWSER_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browsers() -> Iterator[Callable[..., Chrome]]:
    """Open headless Chromium windows (each a browser of its own: its own storage), with
    their network events logged; all are closed at the end of the module. `clock_ms`
    shifts the browser's clock (Date) by that much, as a wrongly set computer's."""
    from selenium.webdriver import Chrome, ChromeOptions  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    opened: list[Chrome] = []

    def open_browser(clock_ms: int = 0) -> Chrome:
        options = ChromeOptions()
        options.binary_location = str(shutil.which("chromium"))
        for argument in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--lang=en-US",
            f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        driver = Chrome(options=options, service=Service(str(shutil.which("chromedriver"))))
        driver.set_page_load_timeout(30)
        if clock_ms:
            driver.execute_cdp_cmd(
                "Page.addScriptToEvaluateOnNewDocument", {"source": SHIFTED_CLOCK % clock_ms}
            )
        opened.append(driver)
        return driver

    yield open_browser
    for driver in opened:
        driver.quit()


@pytest.fixture(scope="module")
def page(site: Any, browsers: Callable[..., Chrome]) -> Chrome:
    """The module's `site` open in a browser of its own."""
    driver = browsers()
    open_page(driver, site.url)
    return driver


@pytest.fixture(scope="session")
def page_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the page is built, once a session (its packages install once too)."""
    return tmp_path_factory.mktemp("page")


# A computer whose clock is off: Date (now, and a Date made without arguments) runs ahead.
SHIFTED_CLOCK = """
(() => {
  const shift = %d;
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...parts) {
      if (parts.length === 0) super(RealDate.now() + shift);
      else super(...parts);
    }
    static now() {
      return RealDate.now() + shift;
    }
  }
  window.Date = ShiftedDate;
})();
"""
