"""Finding orders and calls by the ids operators are given: ``omgw orders list|show`` by
source number, source system and customer PO, and by the status of their lines;
``omgw messages list|show --inbound``, the inbound message log with its refusals.

Orders are taken over SOAP by a real gateway; refused calls are real calls to it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from gateway.persistence.models import MessageLog
from gateway.registry.rule_store import RuleStore
from routing.rule_set import Rule
from tests.common.inquiry import inquiry, ois, oracle_text_header
from tests.common.orders import order
from tests.common.outbox import Hub, fails, publish
from tests.common.soap import PASSWORD, basic, client, fault_code, post
from tests.conftest import Gateway

WSA = "http://www.w3.org/2005/08/addressing"


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


# -- the inbound message log ----------------------------------------------------------------


def inbound(hub: Hub, *args: str) -> list[dict[str, Any]]:
    rows = hub.admin.json("messages", "list", "--inbound", *args)
    assert isinstance(rows, list)
    return rows


@pytest.mark.both_databases  # LIKE escapes and time zones on both
def test_the_inbound_log_lists_calls_and_refusals_and_each_filter_narrows_it(hub, unique):
    gw, admin = hub.gw, hub.admin
    publish(gw)
    mine = take(gw, f"{unique}A", user="importer")
    theirs = take(gw, f"{unique}B")
    # refused before anyone was signed in: no user, no order
    wrong = f"wrong-{unique}"
    resp = post(ois(gw), inquiry(oracle_text_header("all", wrong)))
    assert fault_code(resp.body) == "OMGW-AUTH_FAILED"
    resp = post(ois(gw), b"<soapenv:Envelope", basic("all"))
    assert fault_code(resp.body) == "OMGW-XML_MALFORMED"

    def ids(*args: str) -> list[tuple[str | None, str | None, list[str]]]:
        return [(r["operation"], r["fault_code"], r["order_numbers"]) for r in inbound(hub, *args)]

    everything = inbound(hub)
    assert [(r["service"], r["operation"], r["user"], r["outcome"], r["fault_code"],
             r["order_numbers"], r["http_status"]) for r in everything] == [
        ("OrderInformationService", None, None, "FAULT", "XML_MALFORMED", [], 500),
        ("OrderInformationService", "GetOrderDetails", None, "FAULT", "AUTH_FAILED", [], 500),
        ("OrderImportService", "createOrders", "all", "OK", None, [theirs], 200),
        ("OrderImportService", "createOrders", "importer", "OK", None, [mine], 200),
    ]  # fmt: skip
    assert set(everything[0]) == {
        "id", "received", "service", "operation", "user", "message_id", "order_numbers",
        "outcome", "fault_code", "http_status", "duration_ms", "client",
    }  # fmt: skip
    # the caller's address is kept, refused calls' too
    assert {r["client"] for r in everything} == {"127.0.0.1"}
    assert [r["id"] for r in everything] == sorted((r["id"] for r in everything), reverse=True)

    assert ids("--faults") == [(None, "XML_MALFORMED", []), ("GetOrderDetails", "AUTH_FAILED", [])]
    assert ids("--fault-code", "OMGW-AUTH_FAILED") == [("GetOrderDetails", "AUTH_FAILED", [])]
    assert ids("--fault-code", "auth_failed") == ids("--fault-code", "AUTH_FAILED")
    assert ids("--fault-code", "AUTH_LOCKED") == []
    assert ids("--order", mine) == [("createOrders", None, [mine])]
    assert ids("--order", mine[:-1]) == []  # whole numbers only
    assert ids("--faults", "--order", mine) == []
    assert ids("--user", "importer") == [("createOrders", None, [mine])]
    assert ids("--operation", "CREATEORDERS") == [
        ("createOrders", None, [theirs]), ("createOrders", None, [mine])
    ]  # fmt: skip
    assert ids("--limit", "1") == [(None, "XML_MALFORMED", [])]

    # times: one call logged long ago
    with gw.runtime.sessions() as s, s.begin():
        s.execute(
            update(MessageLog)
            .where(MessageLog.id == everything[3]["id"])
            .values(received_at=datetime(2020, 1, 10, 12, tzinfo=UTC))
        )
    assert ids("--until", "2020-01-11") == [("createOrders", None, [mine])]
    assert ids("--since", "2020-01-10T13:00:00+01:00", "--until", "2020-01-11") == ids(
        "--until", "2020-01-11"
    )
    assert ids("--since", "2020-01-10T13:00:01+01:00", "--until", "2020-01-11") == []
    assert len(ids("--since", "2020-01-11")) == 3

    table = admin.ok("messages", "list", "--inbound", "--faults").splitlines()
    heading = "ID RECEIVED SERVICE OPERATION CLIENT USER MESSAGE ID ORDER OUTCOME FAULT HTTP MS"
    assert table[0].split() == heading.split()
    assert table[2].split()[2:6] == ["OrderInformationService", "GetOrderDetails", "127.0.0.1", "-"]
    assert " AUTH_FAILED " in table[2] and len(table) == 3
    assert admin.ok("messages", "list", "--inbound", "--user", "nobody").strip() == "(none)"

    # the refused call's excerpt is shown as logged: the user name, never the password
    refused = everything[1]["id"]
    text = admin.ok("messages", "show", "--inbound", str(refused))
    assert "payload (as logged; secrets blanked):" in text
    assert "<wsse:Username>all</wsse:Username>" in text and wrong not in text
    detail = admin.json("messages", "show", "--inbound", str(refused))
    assert isinstance(detail, dict)
    assert (detail["fault_code"], detail["user"], detail["order_numbers"]) == (
        "AUTH_FAILED", None, []
    )  # fmt: skip
    assert "GetOrderDetails" in detail["payload"] and wrong not in detail["payload"]
    # a body that is not XML keeps nothing, and says so
    malformed = str(everything[0]["id"])
    assert admin.json("messages", "show", "--inbound", malformed)["payload"] is None
    text = admin.ok("messages", "show", "--inbound", malformed)
    assert text.rstrip().endswith("\n\npayload: none logged") and "XML_MALFORMED" in text


def test_an_inbound_entry_shows_its_payload_with_the_token_password_blanked(hub, unique):
    publish(hub.gw)
    number = take(hub.gw, unique, wsse=True)
    (row,) = inbound(hub, "--order", number)
    detail = hub.admin.json("messages", "show", "--inbound", str(row["id"]))
    assert isinstance(detail, dict)
    payload = detail["payload"]
    assert f"SO-{unique}" in payload and "createOrders" in payload
    assert "Username>all</" in payload and PASSWORD not in payload
    assert detail["order_numbers"] == [number] and detail["user"] == "all"
    text = hub.admin.ok("messages", "show", "--inbound", str(row["id"]))
    assert f"SO-{unique}" in text and PASSWORD not in text
    assert text.splitlines()[0].split() == ["id", str(row["id"])]


def test_a_call_is_found_by_each_order_it_named_and_by_its_message_id(hub, unique):
    publish(hub.gw)
    imports = client(hub.gw.base, "OrderImportService")
    both = [order(f"{unique}A"), order(f"{unique}B")]
    first, second = (
        str(r.OrderNumber) for r in imports.service.createOrders(request={"Order": both})
    )
    (row,) = inbound(hub, "--order", second)
    assert row["order_numbers"] == [first, second]
    assert inbound(hub, "--order", first) == [row]

    mid = f"urn:uuid:{uuid.uuid4()}"
    header = (
        f'<soapenv:Header><wsa:MessageID xmlns:wsa="{WSA}">{mid}</wsa:MessageID></soapenv:Header>'
    )
    resp = post(ois(hub.gw), inquiry(header, number=f"SO-{unique}-NONE"), basic("inquirer"))
    assert fault_code(resp.body) == "OMGW-ORDER_NOT_FOUND"
    (asked,) = inbound(hub, "--message-id", mid)
    assert (asked["operation"], asked["user"], asked["fault_code"], asked["message_id"]) == (
        "GetOrderDetails", "inquirer", "ORDER_NOT_FOUND", mid
    )  # fmt: skip
    assert inbound(hub, "--message-id", f"urn:uuid:{uuid.uuid4()}") == []


def test_inbound_and_outbound_options_are_not_mixed(hub):
    admin = hub.admin
    out = fails(admin, 2, "messages", "list", "--inbound", "--status", "PARKED", "--kind", "EMAIL")
    assert "--status, --kind: these are for outbound messages; drop --inbound" in out
    out = fails(admin, 2, "messages", "list", "--faults", "--user", "all")
    assert "--user, --faults: these are for the inbound message log; add --inbound" in out
    assert "no inbound message with id 424242" in fails(
        admin, 1, "messages", "show", "--inbound", "424242"
    )
    assert "an inbound entry is shown by its id, not 'urn:uuid:x'" in fails(
        admin, 2, "messages", "show", "--inbound", "urn:uuid:x"
    )
    assert "Invalid value for '--until'" in fails(
        admin, 2, "messages", "list", "--inbound", "--until", "2020-01-01T00:00"
    )
