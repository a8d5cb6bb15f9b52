"""Helpers for tests that drive a real Chromium (tests/browser): explicit waits, a fetch
run inside the page, and screenshots for the README.

The driver waits for nothing by itself (implicit wait 0): a test says what it waits for,
with :func:`wait_for` and its siblings, so that a missing element fails in
``timeout`` seconds with the selector in the message rather than hanging.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

__all__ = [
    "TIMEOUT",
    "WINDOW",
    "PageResponse",
    "Screenshots",
    "page_fetch",
    "wait_for",
    "wait_for_text",
    "wait_gone",
    "wait_until",
]

#: the browser window's size in CSS pixels, width and height: also the page's viewport
#: (headless Chromium draws no window frame) and the size of a screenshot
WINDOW = (1366, 900)
#: seconds an explicit wait gives the page before the test fails
TIMEOUT = 5.0
#: a screenshot's name: the file docs/screenshots/<name>.png
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")

# Run in the page by execute_async_script: selenium passes the arguments, then the
# callback that ends the script. The answer's text is read whatever its status.
_FETCH = """
const [path, method, body, headers, done] = arguments;
fetch(path, {method, body, headers, credentials: "same-origin"}).then(
  async (r) => done({status: r.status, type: r.headers.get("Content-Type"), text: await r.text()}),
  (e) => done({error: String(e)}),
);
"""


def wait_until(
    driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = TIMEOUT
) -> Any:
    """What ``condition(driver)`` returns once it is truthy; a timeout fails the test."""
    return WebDriverWait(driver, timeout).until(condition)


def wait_for(driver: WebDriver, css: str, timeout: float = TIMEOUT) -> WebElement:
    """The element ``css`` selects, once it is displayed."""
    element: WebElement = wait_until(
        driver, ec.visibility_of_element_located((By.CSS_SELECTOR, css)), timeout
    )
    return element


def wait_for_text(driver: WebDriver, css: str, text: str, timeout: float = TIMEOUT) -> WebElement:
    """The element ``css`` selects, once its text contains ``text``."""
    wait_until(driver, ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text), timeout)
    return driver.find_element(By.CSS_SELECTOR, css)


def wait_gone(driver: WebDriver, css: str, timeout: float = TIMEOUT) -> None:
    """Once no element ``css`` selects is displayed (or none is there)."""
    wait_until(driver, ec.invisibility_of_element_located((By.CSS_SELECTOR, css)), timeout)


@dataclass(frozen=True)
class PageResponse:
    status: int
    content_type: str | None
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def page_fetch(
    driver: WebDriver,
    path: str,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> PageResponse:
    """``fetch(path)`` run by the page now open, as its own scripts would run it: from
    its origin, with its cookies. A request that gets no answer at all fails the test."""
    answer = driver.execute_async_script(_FETCH, path, method, body, headers or {})
    assert "error" not in answer, f"fetch {method} {path} from {driver.current_url}: {answer}"
    return PageResponse(answer["status"], answer["type"], answer["text"])


@dataclass(frozen=True)
class Screenshots:
    """``screenshot(name)``: the page now shown, saved as ``directory/<name>.png`` when
    ``enabled`` (``OMGW_SCREENSHOTS=1``, as ``make screenshots`` sets); otherwise
    nothing is written. Returns the file written, or None."""

    driver: WebDriver
    directory: Path
    enabled: bool

    def __call__(self, name: str) -> Path | None:
        if not _NAME.fullmatch(name):
            raise ValueError(f"screenshot name {name!r}: lower case letters, digits, - and _")
        if not self.enabled:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), f"Chromium saved no screenshot {path}"
        return path
