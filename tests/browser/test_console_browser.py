"""The web console in a real headless Chromium against a real gateway: sign in, the
dashboard drawn and refreshed by its script, a VIEWER refused an operator's action, and
an operator's button that runs a job. Orders, messages and routing have files of their
own beside this one; this one holds what every page shares."""

from __future__ import annotations

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.common.browser import page_fetch, wait_for, wait_for_text, wait_until
from tests.common.console_browser import sign_in
from tests.conftest import Gateway


def test_signing_in_opens_the_dashboard_and_signing_out_closes_it(
    browser: webdriver.Chrome, gateway: Gateway
) -> None:
    browser.get(f"{gateway.base}/manage/")
    wait_for(browser, "#username")  # sent to the sign-in form first
    assert "/manage/login?next=" in browser.current_url
    sign_in(browser, gateway.base, "admin", wait=False)
    wait_for_text(browser, "#me", "admin")
    assert browser.current_url == f"{gateway.base}/manage/"
    # the session cookie is out of the page's scripts' reach
    assert "omgw_session" not in browser.execute_script("return document.cookie")
    browser.find_element(By.CSS_SELECTOR, "form.who button").click()
    wait_for(browser, "#username")
    browser.get(f"{gateway.base}/manage/")
    wait_for(browser, "#username")


def test_a_wrong_password_is_said_on_the_form(browser: webdriver.Chrome, gateway: Gateway) -> None:
    sign_in(browser, gateway.base, "viewer", password="not it", wait=False)
    error = wait_for(browser, "#login-error")
    assert "unknown user or wrong password" in error.text
    assert browser.find_element(By.ID, "username").get_attribute("value") == "viewer"


def test_the_dashboard_draws_its_charts_and_refreshes_itself(
    browser: webdriver.Chrome, gateway: Gateway
) -> None:
    sign_in(browser, gateway.base, "viewer")
    wait_for(browser, 'tr[data-connector="WMS01_Fulfillment"]')
    # the page's script drew the charts from the data the server put in the page...
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-calls polyline"))
    # ...and refreshed from the status and activity APIs
    first = wait_until(
        browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-refreshed")
    )
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-queues polyline")
    assert browser.find_element(By.CSS_SELECTOR, '[data-check="database"]').text.startswith("ok")
    wait_until(
        browser,
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-refreshed") != first,
        timeout=12,
    )


def test_a_viewer_sees_no_operator_button_and_is_refused_the_action(
    browser: webdriver.Chrome, gateway: Gateway
) -> None:
    sign_in(browser, gateway.base, "viewer")
    browser.get(f"{gateway.base}/manage/jeopardy")
    wait_for(browser, "#jeopardy")
    assert not browser.find_elements(By.ID, "jeopardy-check")
    # the same POST the operator's button makes, from the page with its CSRF token
    csrf = browser.find_element(By.TAG_NAME, "body").get_attribute("data-csrf")
    answer = page_fetch(
        browser, "/manage/api/v1/jeopardy/check", "POST", headers={"X-CSRF-Token": csrf}
    )
    assert answer.status == 403 and answer.json()["error"]["code"] == "AUTH_FORBIDDEN"


@pytest.mark.parametrize("user", ["operator"])
def test_an_operator_runs_the_jeopardy_check_from_its_button(
    browser: webdriver.Chrome, gateway: Gateway, user: str
) -> None:
    sign_in(browser, gateway.base, user)
    browser.get(f"{gateway.base}/manage/jeopardy")
    wait_for(browser, "#jeopardy-check button").click()
    notice = wait_for(browser, ".notice")
    assert notice.text.startswith("checked ") and "in jeopardy" in notice.text
