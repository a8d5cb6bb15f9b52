"""The operator's jobs from the console: routing an order's ROUTING_ERROR lines again
once a rule is published, and the jeopardy check; each through the API and the page's
button, refused below OPERATOR, on a gateway of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.registry.rule_store import RuleStore
from routing.rule_set import Rule
from tests.common.console import signed_in
from tests.common.orders import order
from tests.common.soap import client
from tests.conftest import Gateway, make_settings, serving


@pytest.fixture
def own(fresh_database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    with serving(make_settings(tmp_path / "home", fresh_database_url)) as running:
        yield running


def _route_only(gw: Gateway, *rules: Rule) -> None:
    with gw.runtime.sessions() as s, s.begin():
        store = RuleStore(s, "tests")
        for old in store.draft().rules:
            store.remove_rule(old.rule_id)
        for rule in rules:
            store.put_rule(rule)
        assert store.publish() is not None


def test_an_operator_routes_an_order_again_after_a_rule_is_published(
    own: Gateway, unique: str
) -> None:
    _route_only(own, Rule("ITEM", 'Item = "CM5008"', "WMS01_Fulfillment"))
    imports = client(own.base, "OrderImportService")
    number = str(
        imports.service.createOrders(request={"Order": [order(unique, [("AS1", 1)])]})[
            0
        ].OrderNumber
    )
    operator = signed_in(own.base, "operator")
    still = operator.send("POST", f"/orders/{number}/reroute").json()
    assert (still["tried"], still["unrouted"]) == (1, 1)
    assert still["lines"][0]["status"] == "ROUTING_ERROR"

    viewer = signed_in(own.base, "viewer")
    refused = viewer.send("POST", f"/orders/{number}/reroute")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "AUTH_FORBIDDEN"
    assert operator.send("POST", "/orders/999999/reroute").status_code == 404

    assert 'id="reroute"' in operator.page(f"/orders/{number}").text
    assert 'id="reroute"' not in viewer.page(f"/orders/{number}").text
    _route_only(own, Rule("AS", 'Item starts with "AS"', "WMSANY_Fulfillment"))
    done = operator.submit(f"/orders/{number}/reroute", {})
    assert done.status_code == 303
    assert done.headers["Location"].startswith(f"/manage/orders/{number}?notice=1%20of%201")
    info = client(own.base, "OrderInformationService")
    got = info.service.GetOrderDetails(Order=[{"SourceTransactionNumber": f"SO-{unique}"}])[0]
    assert [li.StatusCode for li in got.OrderLine] != ["ROUTING_ERROR"]
    assert 'id="reroute"' not in operator.page(f"/orders/{number}").text


def test_the_jeopardy_check_runs_from_the_console(own: Gateway, unique: str) -> None:
    imports = client(own.base, "OrderImportService")
    imports.service.createOrders(request={"Order": [order(unique, [("AS1", 1)])]})
    viewer = signed_in(own.base, "viewer")
    preview = viewer.get("/jeopardy", at="2100-01-01T00:00").json()
    assert preview["dry_run"] is True and preview["checked"] >= 1
    assert viewer.get("/jeopardy", at="tomorrow").status_code == 400
    assert viewer.send("POST", "/jeopardy/check").status_code == 403

    operator = signed_in(own.base, "operator")
    ran = operator.send("POST", "/jeopardy/check").json()
    assert ran["dry_run"] is False and ran["checked"] == preview["checked"]
    button = operator.submit("/jeopardy/check", {})
    assert button.status_code == 303 and "checked" in button.headers["Location"]
    page = operator.page("/jeopardy")
    assert page.status_code == 200 and 'id="jeopardy-check"' in page.text
    assert 'id="jeopardy-check"' not in viewer.page("/jeopardy").text
