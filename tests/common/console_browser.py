"""Signing in to the console in a real browser, as a person does: the form, typed."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.common.browser import wait_for, wait_for_text
from tests.common.soap import PASSWORD

__all__ = ["sign_in"]


def sign_in(
    driver: WebDriver, base: str, username: str, password: str = PASSWORD, *, wait: bool = True
) -> None:
    """Fill in and send the sign-in form; with ``wait``, until the dashboard shows the user."""
    if "/manage/login" not in driver.current_url:
        driver.get(f"{base}/manage/login")
    wait_for(driver, "#username").clear()
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()
    if wait:
        wait_for_text(driver, "#me", username)
