"""A real Chromium talks to the real gateway: it shows what the server answers, and a
script in the page reaches the server from the page's origin."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from selenium import webdriver
from sqlalchemy import delete

from gateway.observe.beats import record_beat
from gateway.persistence.models import WorkerBeat, utcnow
from tests.common.browser import WINDOW, Screenshots, page_fetch, wait_for_text
from tests.conftest import Gateway

BEAT = "browser-smoke"


def test_chromium_shows_healthz_as_the_gateway_answers_it(
    browser: webdriver.Chrome, gateway: Gateway
) -> None:
    browser.get(f"{gateway.base}/healthz")
    assert wait_for_text(browser, "body", "ok").text == "ok"
    assert browser.execute_script("return document.contentType") == "text/plain"
    assert "HeadlessChrome/" in browser.execute_script("return navigator.userAgent")
    assert browser.execute_script("return [innerWidth, innerHeight]") == list(WINDOW)


def test_a_script_in_the_page_reads_readyz_from_the_gateway(
    browser: webdriver.Chrome, gateway: Gateway
) -> None:
    # The test gateway runs no outbox worker: a beat of one makes it ready.
    with gateway.runtime.sessions() as s, s.begin():
        record_beat(s, BEAT, utcnow(), utcnow())
    try:
        browser.get(f"{gateway.base}/healthz")  # a page of the gateway's origin
        answer = page_fetch(browser, "/readyz")
    finally:
        with gateway.runtime.sessions() as s, s.begin():
            s.execute(delete(WorkerBeat).where(WorkerBeat.worker == BEAT))
    assert answer.status == 200, answer.text
    assert answer.content_type == "application/json"
    body = answer.json()
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "migrations": True,
        "wallet": True,
        "worker": True,
    }
    missing = page_fetch(browser, "/no-such-page")
    assert missing.status == 404, missing


def test_a_screenshot_is_the_page_at_its_size_and_taken_only_when_asked_for(
    browser: webdriver.Chrome, gateway: Gateway, tmp_path: Path
) -> None:
    browser.get(f"{gateway.base}/healthz")
    assert Screenshots(browser, tmp_path / "off", enabled=False)("healthz") is None
    assert not (tmp_path / "off").exists()

    on = Screenshots(browser, tmp_path / "on", enabled=True)
    assert on("healthz") == tmp_path / "on" / "healthz.png"
    png = (tmp_path / "on" / "healthz.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == WINDOW  # IHDR: width, height
    with pytest.raises(ValueError, match="screenshot name"):
        on("../README")
