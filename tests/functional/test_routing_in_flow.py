"""Routing at work: orders taken over SOAP are routed line by line with the newest
published version, each line records what routed it, a line nothing routes goes to
ROUTING_ERROR with the reason (and is re-routed after a fix), and a rollback routes
new orders with the old rules. A real server and zeep client, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from zeep.exceptions import Fault

from connectors.connector_specs import ConnectorSpec
from gateway.orders.intake import OrderIntake
from gateway.persistence.models import (
    FulfillLine,
    FulfillmentRequest,
    OrderHeader,
    StatusHistory,
)
from gateway.registry.rule_store import RuleStore
from gateway.registry.store import Registry
from routing.rule_set import Rule
from tests.common.orders import order, response, shipped
from tests.common.soap import client, zeep_fault_code
from tests.conftest import Gateway, make_settings, serving

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases


@pytest.fixture
def routed(fresh_database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway of its own: publishing routing must not reroute other tests' orders."""
    with serving(make_settings(tmp_path / "home", fresh_database_url)) as running:
        yield running


def publish(gw: Gateway, *rules: Rule, defaults: dict[str, str] | None = None) -> int:
    with gw.runtime.sessions() as s, s.begin():
        store = RuleStore(s, "tests")
        for existing in store.draft().rules:
            store.remove_rule(existing.rule_id)
        for rule in rules:
            store.put_rule(rule)
        for task_type, connector in (defaults or {}).items():
            store.set_default(task_type, connector)
        info = store.publish()
        assert info is not None
        return info.version


def submit(gw: Gateway, key: str, lines: list[tuple[str, int]]) -> str:
    imports = client(gw.base, "OrderImportService")
    result = imports.service.createOrders(request={"Order": [order(key, lines)]})
    return str(result[0].OrderNumber)


def routed_lines(gw: Gateway, order_number: str) -> list[dict[str, Any]]:
    with gw.runtime.sessions() as s:
        header = s.scalar(select(OrderHeader).where(OrderHeader.order_number == order_number))
        assert header is not None
        out = []
        for line in header.lines:
            for fline in line.fulfill_lines:
                request = s.get(FulfillmentRequest, fline.request_id) if fline.request_id else None
                out.append(
                    {
                        "item": line.product_number,
                        "status": fline.status,
                        "version": fline.rule_set_version,
                        "rule": fline.routing_rule_id,
                        "system": request.fulfillment_system if request else None,
                        "request": fline.request_id,
                        "error": fline.routing_error,
                        "id": fline.id,
                    }
                )
        return out


def test_each_line_goes_where_the_highest_priority_rule_says_and_records_it(routed, unique):
    version = publish(
        routed,
        Rule("ITEM", 'Item = "CM5008" and TaskType = "Shipment"', "WMS01_Fulfillment", 5),
        Rule("BULK", "OrderedQuantity >= 100", "WMSGRP_Fulfillment", 9),
        Rule("LEGACY_OFF", 'SourceTransactionSystem = "LEGACY"', "WMSGRP_Fulfillment", 99,
             active=False),
        defaults={"Shipment": "WMSANY_Fulfillment"},
    )  # fmt: skip
    assert version == 1
    number = submit(routed, unique, [("CM5008", 1), ("CM5008", 100), ("AS1", 2), ("CM5008", 3)])
    lines = routed_lines(routed, number)
    got = [(li["item"], li["status"], li["version"], li["rule"], li["system"]) for li in lines]
    assert got == [
        ("CM5008", "AWAIT_SHIP", 1, "ITEM", "WMS01"),
        ("CM5008", "AWAIT_SHIP", 1, "BULK", "WMSGRP"),
        ("AS1", "AWAIT_SHIP", 1, None, "WMSANY"),  # the task type's default
        ("CM5008", "AWAIT_SHIP", 1, "ITEM", "WMS01"),
    ]
    # the lines of one order bound for one connector share one request
    assert lines[0]["request"] == lines[3]["request"]
    assert len({li["request"] for li in lines}) == 3

    # routing is in force: the line sent to WMSGRP cannot be answered by WMS01
    ofrs = client(routed.base, "OrderFulfillmentResponseService")
    with pytest.raises(Fault) as exc:
        ofrs.service.processFulfillmentResponse(
            **response(f"R-{unique}", [shipped(lines[1]["id"], 100)], system="WMS01")
        )
    assert zeep_fault_code(exc.value) == "OMGW-LINE_NOT_ASSIGNED"
    ofrs.service.processFulfillmentResponse(
        **response(f"R2-{unique}", [shipped(lines[1]["id"], 40)], system="WMSGRP")
    )
    after = routed_lines(routed, number)
    assert after[1]["status"] == "AWAIT_BILLING"  # shipped, then billing
    # the unshipped remainder is split off and keeps what routed it
    assert [(li["status"], li["rule"], li["version"], li["system"]) for li in after[2:3]] == [
        ("AWAIT_SHIP", "BULK", 1, "WMSGRP")
    ]


def test_a_line_nothing_routes_is_an_error_with_the_reason_until_rerouted(routed, unique):
    publish(routed, Rule("ITEM", 'Item = "CM5008"', "WMS01_Fulfillment"))
    number = submit(routed, unique, [("CM5008", 1), ("AS1", 1)])
    first, second = routed_lines(routed, number)
    assert (first["status"], second["status"]) == ("AWAIT_SHIP", "ROUTING_ERROR")
    assert second["request"] is None and second["version"] == 1 and second["rule"] is None
    assert second["error"] == (
        "no rule of routing version 1 matches (1 active rule) and task type Shipment has no"
        " default connector"
    )
    info = client(routed.base, "OrderInformationService")
    got = info.service.GetOrderDetails(Order=[{"SourceTransactionNumber": f"SO-{unique}"}])[0]
    assert got.StatusCode == "OPEN"
    assert [li.StatusCode for li in got.OrderLine] == ["AWAIT_SHIP", "ROUTING_ERROR"]

    # nothing published changes: re-routing keeps the error and says so again
    with routed.runtime.sessions() as s, s.begin():
        _h, tried, unrouted = OrderIntake(s).reroute(number)
        assert [f.id for f in tried] == [f.id for f in unrouted] == [second["id"]]

    publish(
        routed,
        Rule("ITEM", 'Item = "CM5008"', "WMS01_Fulfillment"),
        Rule("AS", 'Item starts with "AS"', "WMSANY_Fulfillment"),
    )
    with routed.runtime.sessions() as s, s.begin():
        _h, tried, unrouted = OrderIntake(s).reroute(number)
        assert [f.id for f in tried] == [second["id"]] and unrouted == []
    after = routed_lines(routed, number)[1]
    assert (after["status"], after["version"], after["rule"], after["system"], after["error"]) == (
        "AWAIT_SHIP",
        2,
        "AS",
        "WMSANY",
        None,
    )
    with routed.runtime.sessions() as s:
        reasons = s.scalars(
            select(StatusHistory.reason)
            .where(StatusHistory.entity == "FULFILL_LINE", StatusHistory.entity_id == after["id"])
            .order_by(StatusHistory.id)
        ).all()
    assert reasons[1] == "scheduled by step Schedule"
    assert reasons[2].startswith("not routed: no rule of routing version 1")
    assert reasons[3] == "Shipment requested via WMSANY_Fulfillment (rule AS)"


def test_a_connector_disabled_after_publishing_stops_its_lines_with_the_reason(routed, unique):
    publish(routed, Rule("ITEM", 'Item = "CM5008"', "WMS01_Fulfillment"))
    with routed.runtime.sessions() as s, s.begin():
        registry = Registry(s, "tests")
        spec = registry.require_connector("WMS01_Fulfillment").to_mapping()
        registry.put_connector(ConnectorSpec.from_mapping({**spec, "enabled": False}))
    number = submit(routed, unique, [("CM5008", 1)])
    (line,) = routed_lines(routed, number)
    assert (line["status"], line["rule"]) == ("ROUTING_ERROR", "ITEM")
    assert line["error"] == "rule ITEM routes to connector WMS01_Fulfillment, which is disabled"


def test_rollback_routes_new_orders_with_the_old_rules_as_a_new_version(routed, unique):
    publish(routed, Rule("ITEM", 'Item = "CM5008"', "WMS01_Fulfillment"))
    publish(routed, Rule("ITEM", 'Item = "CM5008"', "WMSANY_Fulfillment"))
    first_order = submit(routed, f"{unique}A", [("CM5008", 1)])
    before = routed_lines(routed, first_order)[0]
    assert (before["version"], before["system"]) == (2, "WMSANY")
    with routed.runtime.sessions() as s, s.begin():
        info, dropped = RuleStore(s, "tests").rollback(1)
        assert (info.version, info.source_version) == (3, 1)
        assert [c.describe() for c in dropped] == [
            "~ routing_rule ITEM: connector 'WMSANY_Fulfillment' → 'WMS01_Fulfillment'"
        ]
    after = routed_lines(routed, submit(routed, f"{unique}B", [("CM5008", 1)]))[0]
    assert (after["version"], after["rule"], after["system"]) == (3, "ITEM", "WMS01")
    with routed.runtime.sessions() as s:
        # the draft is the rolled-back rules too, so publishing again changes nothing
        assert RuleStore(s).publish() is None
        # older versions stay readable exactly as published
        _, second = RuleStore(s).version(2)
        assert [r.connector for r in second.rules] == ["WMSANY_Fulfillment"]
    # the line routed by version 2 still says so
    assert routed_lines(routed, first_order)[0]["version"] == 2


def test_without_a_published_version_orders_flow_as_before(routed, unique):
    with routed.runtime.sessions() as s, s.begin():
        RuleStore(s, "tests").put_rule(Rule("DRAFT", 'Item = "CM5008"', "WMS01_Fulfillment"))
    (line,) = routed_lines(routed, submit(routed, unique, [("CM5008", 1)]))
    # a draft routes nothing: only publishing makes rules live
    assert (line["status"], line["version"], line["rule"], line["system"]) == (
        "AWAIT_SHIP",
        None,
        None,
        None,
    )
    with routed.runtime.sessions() as s:
        assert s.scalar(select(FulfillLine.routing_error)) is None


def test_lines_sent_with_different_rule_actions_get_their_own_requests(routed, unique):
    publish(
        routed,
        Rule("CREATE", 'Item = "CM5008"', "WMS01_Fulfillment", operation="Create"),
        Rule("PROCESS", 'Item = "AS1"', "WMS01_Fulfillment", operation="Process",
             interface_type="WMS_V2"),
        Rule("PLAIN", 'Item = "AS2"', "WMS01_Fulfillment"),
    )  # fmt: skip
    number = submit(routed, unique, [("CM5008", 1), ("AS1", 1), ("CM5008", 2), ("AS2", 1)])
    lines = routed_lines(routed, number)
    with routed.runtime.sessions() as s:
        requests = {li["rule"]: s.get(FulfillmentRequest, li["request"]) for li in lines}
        got = {
            rule: (r.operation, r.interface_type, r.fulfillment_system)
            for rule, r in requests.items()
            if r is not None
        }
    assert got == {
        "CREATE": ("Create", None, "WMS01"),
        "PROCESS": ("Process", "WMS_V2", "WMS01"),
        "PLAIN": (None, None, "WMS01"),
    }
    assert lines[0]["request"] == lines[2]["request"]  # same connector and actions
    assert len({li["request"] for li in lines}) == 3
