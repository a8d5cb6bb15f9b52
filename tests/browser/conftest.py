"""A real headless Chromium for the browser tests: Debian's ``chromium`` driven through
its ``chromedriver`` (packages chromium and chromium-driver).

Where either is absent the tests are skipped, unless ``OMGW_REQUIRE_BROWSER=1`` (as in
CI), where they fail. ``OMGW_CHROMIUM`` and ``OMGW_CHROMEDRIVER`` name other binaries.
Selenium is given both paths, so selenium-manager never runs: it would try to download
a driver, and the tests reach nothing beyond 127.0.0.1.

One Chromium per test process, shared by its browser tests; every test here is in the
xdist group "browser", so one process runs them all and one Chromium runs at a time.
After each test the browser's cookies and the last origin's storage are cleared and it
shows about:blank.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.common.browser import WINDOW, Screenshots

HERE = Path(__file__).parent
#: where ``make screenshots`` writes the README's pictures
SCREENSHOTS = HERE.parents[1] / "docs" / "screenshots"
ARGUMENTS = (
    "--headless=new",
    # the tests run as root, where Chromium's sandbox refuses to start
    "--no-sandbox",
    # shared memory in /tmp: a container's /dev/shm is often 64 MB, too small for a page
    "--disable-dev-shm-usage",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",  # the outer size: see browser()
    # screenshots the same on every machine: one device pixel per CSS pixel, English
    "--force-device-scale-factor=1",
    "--lang=en-US",
)


def _binaries() -> tuple[str, str]:
    """Chromium and chromedriver, each a path that exists; else skip or fail."""
    chromium = os.environ.get("OMGW_CHROMIUM", "/usr/bin/chromium")
    chromedriver = os.environ.get("OMGW_CHROMEDRIVER", "/usr/bin/chromedriver")
    missing = [p for p in (chromium, chromedriver) if not os.access(p, os.X_OK)]
    if missing:
        reason = (
            f"no {' and no '.join(missing)}: the browser tests need Debian's chromium and"
            " chromium-driver (apt-get install chromium chromium-driver)"
        )
        if os.environ.get("OMGW_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}; they are required (OMGW_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    return chromium, chromedriver


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups from the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Without xdist (make screenshots runs -p no:xdist) its marker is unknown, and
    # --strict-markers would refuse it.
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """A headless Chromium showing pages 1366×900 (``WINDOW``), that waits for nothing unless told to
    (tests.common.browser's ``wait_for`` and siblings). chromedriver's log is written
    to the session's temporary directory (``chromedriver.log``)."""
    chromium, chromedriver = _binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ARGUMENTS:
        options.add_argument(argument)
    log = tmp_path_factory.mktemp("chromium") / "chromedriver.log"
    service = Service(executable_path=chromedriver, log_output=str(log))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        # --window-size is the window's outer size, and headless Chromium still keeps
        # room for a toolbar (143 px of 900 in Chromium 156): grow the window by that
        # much so that the page itself is WINDOW.
        inner = driver.execute_script("return [innerWidth, innerHeight]")
        driver.set_window_size(2 * WINDOW[0] - inner[0], 2 * WINDOW[1] - inner[1])
        driver.implicitly_wait(0)
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(10)
        yield driver
    finally:
        driver.quit()


@pytest.fixture(autouse=True)
def _blank_browser(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the browser, none of its cookies or storage is left."""
    yield
    if "browser" not in request.fixturenames:
        return
    driver: webdriver.Chrome = request.getfixturevalue("browser")
    if driver.current_url.startswith("http"):
        driver.execute_script("localStorage.clear(); sessionStorage.clear();")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get("about:blank")


@pytest.fixture
def screenshot(browser: webdriver.Chrome) -> Screenshots:
    """``screenshot(name)`` saves the page now shown as docs/screenshots/<name>.png
    when ``OMGW_SCREENSHOTS=1`` (``make screenshots``), and does nothing otherwise."""
    return Screenshots(browser, SCREENSHOTS, os.environ.get("OMGW_SCREENSHOTS") == "1")
