"""Finding orders by the ids operators are given: ``omgw orders list|show`` by source
number, source system and customer PO, and by the status of their lines.

Orders are taken over SOAP by a real gateway.
"""

from __future__ import annotations

import pytest

from gateway.registry.rules import RuleStore
from routing.rules import Rule
from tests.common.orders import order
from tests.common.soap import client
from tests.conftest import Gateway
from tests.functional import test_orders_messages_cli as cli_tests
from tests.functional.test_orders_messages_cli import Hub, fails, publish

hub = cli_tests.hub  # a gateway of its own, its CLI and a receiver


def take(
    gw: Gateway,
    key: str,
    *,
    system: str = "LEGACY",
    number: str | None = None,
    po: str | None = None,
    user: str = "all",
    wsse: bool = False,
    items: tuple[str, ...] = ("AS54888",),
) -> str:
    """Import one order through the SOAP service; its order number."""
    sent = order(key, [(item, 2) for item in items], system=system)
    if number is not None:
        sent["SourceTransactionNumber"] = number
    if po is not None:
        sent["CustomerPONumber"] = po
    imports = client(gw.base, "OrderImportService", user=user, wsse=wsse)
    return str(imports.service.createOrders(request={"Order": [sent]})[0].OrderNumber)


def shown(hub: Hub, *args: str) -> str:
    record = hub.admin.json("orders", "show", *args)
    assert isinstance(record, dict)
    return str(record["order_number"])


def numbers(hub: Hub, *args: str) -> list[str]:
    rows = hub.admin.json("orders", "list", *args)
    assert isinstance(rows, list)
    return [r["order_number"] for r in rows]


# -- orders by business id ------------------------------------------------------------------


def test_an_order_is_found_by_its_number_source_number_and_po(hub, unique):
    publish(hub.gw)
    mine = take(hub.gw, f"{unique}A", po=f"PO-{unique}")
    other = take(hub.gw, f"{unique}B", po=f"PO-{unique}-B")
    assert mine != other

    assert shown(hub, mine) == mine
    assert shown(hub, "--source-number", f"SO-{unique}A") == mine
    assert shown(hub, "--source-number", f"SO-{unique}A", "--source-system", "LEGACY") == mine
    assert shown(hub, "--po", f"PO-{unique}") == mine  # not PO-…-B: no prefix match
    assert shown(hub, "--po", f"PO-{unique}-B") == other
    assert shown(hub, "--po", f"PO-{unique}", "--source-number", f"SO-{unique}A") == mine
    table = hub.admin.ok("orders", "show", "--po", f"PO-{unique}")
    assert f"PO PO-{unique}" in table and f"LEGACY SO-{unique}A" in table

    assert numbers(hub, "--source-number", f"SO-{unique}B") == [other]
    assert numbers(hub, "--po", f"PO-{unique}") == [mine]
    assert numbers(hub, "--po", f"PO-{unique}", "--source-number", f"SO-{unique}B") == []
    assert numbers(hub, "--source-system", "LEGACY") == [other, mine]

    admin = hub.admin
    nothing = {
        ("--po", "PO-NONE"): "no order with PO PO-NONE",
        ("--source-number", "SO-NONE"): "no order with source number SO-NONE",
        ("--source-number", f"SO-{unique}A", "--po", f"PO-{unique}-B"): (
            f"no order with source number SO-{unique}A, PO PO-{unique}-B"
        ),
        ("--source-number", f"SO-{unique}A", "--source-system", "NOPE"): "no source system NOPE",
    }
    for args, message in nothing.items():
        assert message in fails(admin, 1, "orders", "show", *args), args
    usage = {
        (): "say which order: ORDER_NUMBER, --source-number or --po",
        ("--source-system", "LEGACY"): "(--source-system only narrows those)",
        (mine, "--po", f"PO-{unique}"): "by ORDER_NUMBER or by --source-number/--po, not both",
    }
    for args, message in usage.items():
        assert message in fails(admin, 2, "orders", "show", *args), args
    assert "no source system NOPE" in fails(admin, 1, "orders", "list", "--source-system", "NOPE")


@pytest.mark.both_databases  # DISTINCT ordering on both
def test_a_source_number_two_systems_use_is_ambiguous_until_the_system_is_named(hub, unique):
    hub.admin.ok("source-system", "add", "WEB", "--order-capture")
    publish(hub.gw)
    shared = f"SO-{unique}"
    legacy = take(hub.gw, f"{unique}L", number=shared)
    web = take(hub.gw, f"{unique}W", system="WEB", number=shared)

    out = fails(hub.admin, 1, "orders", "show", "--source-number", shared)
    assert (
        f"source number {shared} names orders of 2 source systems "
        f"(LEGACY: {legacy}; WEB: {web}); say which with --source-system"
    ) in out
    assert shown(hub, "--source-number", shared, "--source-system", "WEB") == web
    assert shown(hub, "--source-number", shared, "--source-system", "LEGACY") == legacy
    assert numbers(hub, "--source-number", shared) == [web, legacy]
    assert numbers(hub, "--source-number", shared, "--source-system", "WEB") == [web]

    # two orders of one system under one PO: the error names both, by number
    first = take(hub.gw, f"{unique}P1", po=f"PO-{unique}")
    second = take(hub.gw, f"{unique}P2", po=f"PO-{unique}")
    out = fails(hub.admin, 1, "orders", "show", "--po", f"PO-{unique}", "--source-system", "LEGACY")
    assert (
        f"PO PO-{unique} names 2 orders: {first} (LEGACY SO-{unique}P1), "
        f"{second} (LEGACY SO-{unique}P2); show one by its order number"
    ) in out
    assert numbers(hub, "--po", f"PO-{unique}") == [second, first]


def test_line_status_finds_an_open_order_by_its_routing_error_line(hub, unique):
    with hub.gw.runtime.sessions() as s, s.begin():  # a rule for AS54888 only, no default
        store = RuleStore(s, "tests")
        store.put_rule(Rule("ITEM", 'Item = "AS54888"', "WMS01_Fulfillment"))
        assert store.publish() is not None
    stuck = take(hub.gw, f"{unique}E", items=("AS54888", "CM5008"))
    routed = take(hub.gw, f"{unique}R")
    story = hub.admin.json("orders", "show", stuck)
    assert isinstance(story, dict)
    assert story["status"] == "OPEN"
    assert [(ln["status"], ln["fulfill_lines"][0]["status"]) for ln in story["lines"]] == [
        ("AWAIT_SHIP", "AWAIT_SHIP"), ("ROUTING_ERROR", "ROUTING_ERROR")
    ]  # fmt: skip

    assert numbers(hub, "--status", "OPEN") == [routed, stuck]
    assert numbers(hub, "--line-status", "ROUTING_ERROR") == [stuck]
    assert numbers(hub, "--line-status", "routing_error", "--status", "open") == [stuck]
    assert numbers(hub, "--line-status", "AWAIT_SHIP") == [routed, stuck]
    assert numbers(hub, "--line-status", "AWAIT_SHIP", "--po", "PO-NONE") == []
    assert numbers(hub, "--line-status", "SHIPPED") == []
    out = fails(hub.admin, 2, "orders", "list", "--line-status", "LOST")
    assert "Invalid value for '--line-status'" in out
