"""What an operator and an admin do in the console, in a real headless Chromium against a
real gateway whose warehouse is a stand-in on 127.0.0.1 (tests/common/shop.py): find an
order by its source number and read its timeline, replay a parked message through the
confirmation page and meet the duplicate-shipment guard, edit, publish and explain a
routing rule, and be refused without the role. The pictures of the README are taken here
(``make screenshots``)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from gateway.observe.beats import record_beat
from gateway.persistence.models import utcnow
from tests.common.browser import Screenshots, wait_for, wait_for_text
from tests.common.console_browser import sign_in
from tests.common.orders import shipped
from tests.common.shop import CONNECTOR, Shop, line, outbox_rows, parked, shop_at


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    home = tmp_path_factory.mktemp("console-flows")
    with shop_at(f"sqlite:///{home / 'omgw.db'}", home / "home") as running:
        yield running


@pytest.fixture(scope="module")
def shipped_order(shop: Shop) -> str:
    """An order of two lines sent to WMS01, acknowledged, one line shipped."""
    number = str(shop.send("BRW-1", [line("1", 2), line("2", 1, "AS1")]).OrderNumber)
    (request,) = shop.deliver()
    shop.ack(request.request_id)
    first = min(shop.flines(number))
    shop.respond("BRW-1-ship", [shipped(first, 2)])
    shop.deliver()  # the invoice request the shipment asks for
    return number


def _fill(driver: WebDriver, form: str, **values: str) -> None:
    for name, value in values.items():
        field = driver.find_element(By.CSS_SELECTOR, f'#{form} [name="{name}"]')
        field.clear()
        field.send_keys(value)


def test_an_operator_finds_an_order_by_its_source_number_and_reads_its_timeline(
    browser: webdriver.Chrome, shop: Shop, shipped_order: str, screenshot: Screenshots
) -> None:
    sign_in(browser, shop.gw.base, "operator")
    browser.get(f"{shop.gw.base}/manage/orders")
    _fill(browser, "order-search", source_number="SO-BRW-1")
    browser.find_element(By.CSS_SELECTOR, "#order-search button[type=submit]").click()
    wait_for(browser, f'#orders [data-order="{shipped_order}"] a').click()
    wait_for_text(browser, "#order-number", shipped_order)
    lanes = browser.find_elements(By.CSS_SELECTOR, "#timeline [data-lane]")
    assert len(lanes) == 3  # the order's own, and one per fulfillment line
    markers = browser.find_elements(By.CSS_SELECTOR, "#timeline [data-message]")
    kinds = {m.get_attribute("data-message").split(":")[0] for m in markers}
    assert kinds == {"in", "out"}  # requests out to WMS01, the calls that answered them
    labels = " ".join(e.text for e in browser.find_elements(By.CSS_SELECTOR, "#timeline text"))
    assert "WMS01" in labels
    screenshot("order")


def test_an_operator_replays_a_parked_message_after_confirming(
    browser: webdriver.Chrome, shop: Shop, screenshot: Screenshots
) -> None:
    number, oid = parked(shop, "BRW-2")
    sign_in(browser, shop.gw.base, "operator")
    browser.get(f"{shop.gw.base}/manage/messages?status=PARKED&connector={CONNECTOR}")
    wait_for(browser, f'#messages [data-id="{oid}"]')
    assert browser.find_element(By.ID, "replay").text == "Replay these…"
    screenshot("messages")
    browser.get(f"{shop.gw.base}/manage/messages/{oid}")
    wait_for(browser, "#replay").click()
    confirm = wait_for(browser, "#confirm-replay")
    assert not browser.find_elements(By.ID, "force")  # a parked request: no duplicate risk
    screenshot("replay-confirm")
    assert outbox_rows(shop, number)[0].status == "PARKED"  # nothing done before confirming
    confirm.click()
    wait_for(browser, ".notice")
    assert outbox_rows(shop, number)[0].status == "READY"
    shop.deliver()
    assert outbox_rows(shop, number)[0].status == "DELIVERED"


def test_replaying_a_delivered_shipment_needs_force(
    browser: webdriver.Chrome, shop: Shop, shipped_order: str
) -> None:
    delivered = outbox_rows(shop, shipped_order)[0]
    assert delivered.status == "DELIVERED" and delivered.task_type == "Shipment"
    sign_in(browser, shop.gw.base, "operator")
    browser.get(f"{shop.gw.base}/manage/messages/replay?id={delivered.id}")
    force = wait_for(browser, "#force")
    assert "second shipment" in browser.find_element(By.TAG_NAME, "main").text
    browser.find_element(By.ID, "confirm-replay").click()
    wait_for(browser, ".notice, .error")
    assert outbox_rows(shop, shipped_order)[0].status == "DELIVERED"  # refused without force
    browser.get(f"{shop.gw.base}/manage/messages/replay?id={delivered.id}")
    force = wait_for(browser, "#force")
    force.click()
    browser.find_element(By.ID, "confirm-replay").click()
    wait_for(browser, ".notice")
    assert outbox_rows(shop, shipped_order)[0].status == "READY"
    shop.deliver()


def test_an_admin_edits_publishes_and_explains_a_rule(
    browser: webdriver.Chrome, shop: Shop, screenshot: Screenshots
) -> None:
    sign_in(browser, shop.gw.base, "admin")
    browser.get(f"{shop.gw.base}/manage/routing")
    _fill(
        browser,
        "rule-form",
        id="BIG",
        condition="OrderedQuantity >= 100",
        connector="WMS01_Fulfillment",
        priority="5",
    )
    browser.find_element(By.ID, "rule-save").click()
    wait_for(browser, '#rules [data-rule="BIG"]')
    wait_for(browser, '#diff [data-diff="rule:BIG"]')
    browser.find_element(By.ID, "publish").click()
    notice = wait_for(browser, ".notice")
    assert "published" in notice.text.lower()
    assert not browser.find_elements(By.CSS_SELECTOR, '#diff [data-diff="rule:BIG"]')
    _fill(browser, "explain", OrderedQuantity="150", Item="AS54888", TaskType="Shipment")
    browser.find_element(By.CSS_SELECTOR, "#explain button[type=submit]").click()
    decision = wait_for(browser, "#explain-decision")
    assert decision.get_attribute("data-connector") == "WMS01_Fulfillment"
    assert "BIG" in browser.find_element(By.ID, "explain-result").text
    screenshot("routing")


def test_a_rule_the_routing_cannot_read_is_refused_with_why(
    browser: webdriver.Chrome, shop: Shop
) -> None:
    sign_in(browser, shop.gw.base, "admin")
    browser.get(f"{shop.gw.base}/manage/routing")
    _fill(browser, "rule-form", id="ODD", condition="Quantity >= 1", connector="WMS01_Fulfillment")
    browser.find_element(By.ID, "rule-save").click()
    error = wait_for(browser, "#error-message")
    assert "unknown attribute 'Quantity'" in error.text and "OrderedQuantity" in error.text
    assert browser.find_element(By.ID, "me").text == "admin"  # still in the console
    browser.find_element(By.ID, "back").click()
    wait_for(browser, "#rule-form")
    assert not browser.find_elements(By.CSS_SELECTOR, '#rules [data-rule="ODD"]')


def test_a_viewer_is_shown_no_replay_and_refused_the_confirmation(
    browser: webdriver.Chrome, shop: Shop, shipped_order: str
) -> None:
    oid = outbox_rows(shop, shipped_order)[0].id
    sign_in(browser, shop.gw.base, "viewer")
    browser.get(f"{shop.gw.base}/manage/messages/{oid}")
    wait_for(browser, "main h1")
    assert not browser.find_elements(By.ID, "replay")
    browser.get(f"{shop.gw.base}/manage/messages/replay?id={oid}")
    error = wait_for(browser, "#error-message")
    assert "lacks the role OPERATOR" in error.text
    browser.get(f"{shop.gw.base}/manage/routing")
    wait_for(browser, "#rules")
    assert not browser.find_elements(By.ID, "rule-form")
    assert not browser.find_elements(By.ID, "publish")


def test_the_dashboard_draws_the_traffic_of_the_last_minutes(
    browser: webdriver.Chrome, shop: Shop, shipped_order: str, screenshot: Screenshots
) -> None:
    with shop.gw.runtime.sessions() as s, s.begin():  # as omgw serve's worker would
        record_beat(s, "browser-worker", utcnow(), utcnow())
    sign_in(browser, shop.gw.base, "viewer")
    wait_for(browser, f'tr[data-connector="{CONNECTOR}"]')
    assert browser.find_element(By.CSS_SELECTOR, '[data-check="worker"]').text.startswith("ok")
    activity = json.loads(
        browser.find_element(By.ID, "activity-data").get_attribute("textContent") or "{}"
    )
    assert sum(activity["calls"]) >= 3 and sum(activity["delivered"]) >= 2
    polyline = wait_for(browser, "#chart-calls polyline")
    heights = {p.split(",")[1] for p in polyline.get_attribute("points").split()}
    assert len(heights) > 1  # a line that rises somewhere: the calls of this module
    screenshot("dashboard")
