"""Planning a new order over plain values, with no database.

Each case plans an order under a header as the store would have inserted it, with a
registry snapshot built by hand, and checks each line's end state, the requests, and
the history rows in the order they happened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from gateway.orchestration_model import DEFAULT_PROCESS
from gateway.orders.message_values import HoldInput, LineInput, OrderInput
from gateway.orders.order_plan import PlannedOrder, header_values, plan_order
from gateway.orders.rows import HeaderRow
from gateway.registry.registry_snapshot import ConnectorInfo, ProcessVersion, Snapshot, System
from routing.engine import compile_rule_set
from routing.rule_set import Rule, RuleSet

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 9, 8, 0, tzinfo=UTC)
LEGACY = System(1, "LEGACY", True, False, False)
WMS = System(2, "WMS01", False, True, False)
BULK = System(3, "BULK01", False, True, False)
WMS_A = ConnectorInfo(10, "A_WMS", "http://a", WMS, "ASYNC_SERVICE", "REJECT_ERROR_GROUPS", True)
WMS_B = ConnectorInfo(11, "B_WMS", "http://b", WMS, "ASYNC_SERVICE", "REJECT_ERROR_GROUPS", True)
BULKY = ConnectorInfo(12, "BULKY", "http://c", BULK, "SYNC_SERVICE", "REJECT_ERROR_GROUPS", True)
GENERIC = ProcessVersion(7, DEFAULT_PROCESS.name, 1, DEFAULT_PROCESS.steps)


def registry(rules: RuleSet | None = None, *, process: bool = True) -> Snapshot:
    return Snapshot(
        stamp=1,
        systems={s.code: s for s in (LEGACY, WMS, BULK)},
        connectors={c.name: c for c in (WMS_B, WMS_A, BULKY)},
        processes={GENERIC.id: GENERIC} if process else {},
        newest={GENERIC.name: GENERIC} if process else {},
        routing=compile_rule_set(rules, 3) if rules is not None else None,
        triggers=(),
    )


def order(*quantities: int, holds: tuple[HoldInput, ...] = (), held_line: int | None = None,
          org: str | None = None) -> OrderInput:  # fmt: skip
    lines = tuple(
        LineInput(
            f"L{i}",
            None,
            "AS54888",
            Decimal(q),
            requested_fulfillment_org=org,
            requested_ship_date=LATER if i == 1 else None,
            holds=(HoldInput("QA"),) if held_line == i else (),
        )
        for i, q in enumerate(quantities, start=1)
    )
    return OrderInput("LEGACY", "S1", "SO-1", "1", lines, currency_code="USD", holds=holds)


def plan(given: OrderInput, snapshot: Snapshot, default_fs: str | None = "WMS01") -> PlannedOrder:
    values = header_values(given, LEGACY, "1", 1, "B1", None)
    header = HeaderRow(id=500, **{**{k: values[k] for k in HeaderRow.__dataclass_fields__
                                     if k not in ("id",)}, "order_number": "100500"})  # fmt: skip
    return plan_order(given, header, registry=snapshot, default_fs=default_fs, now=NOW)


def test_before_routing_every_line_goes_to_the_default_systems_first_connector() -> None:
    p = plan(order(5, 7), registry())
    [request] = p.requests
    assert (request.fulfillment_system, request.connector_id) == ("WMS01", WMS_A.id)
    assert request.fline_ids == [f.id for f in p.flines]
    assert [(f.status, f.process_id, f.warehouse, f.request_id) for f in p.flines] == [
        ("AWAIT_SHIP", GENERIC.id, "M1", request.id)
    ] * 2
    # Schedule takes the requested ship date, else now
    assert [f.scheduled_ship_date for f in p.flines] == [LATER, NOW]
    assert [ln.status for ln in p.lines] == ["AWAIT_SHIP"] * 2
    assert p.header.status == "OPEN"
    first = p.flines[0].id
    assert [(h.entity, h.old_status, h.new_status) for h in p.history if h.entity_id == first] == [
        ("FULFILL_LINE", None, "CREATED"),
        ("FULFILL_LINE", "CREATED", "SCHEDULED"),
        ("FULFILL_LINE", "SCHEDULED", "AWAIT_SHIP"),
    ]
    assert p.history[0].new_status == "DOO_DRAFT" and p.created_rows == 3


def test_rules_split_an_order_between_connectors_and_record_the_rule() -> None:
    rules = RuleSet(
        (Rule("BIG", "OrderedQuantity >= 10", "BULKY", operation="Bulk"),),
        {"Shipment": "B_WMS"},
    )
    p = plan(order(12, 2), registry(rules))
    by_connector = {r.connector_id: r for r in p.requests}
    assert set(by_connector) == {BULKY.id, WMS_B.id}
    assert by_connector[BULKY.id].operation == "Bulk"
    assert by_connector[BULKY.id].fulfillment_system == "BULK01"
    big, small = p.flines
    assert (big.rule_set_version, big.routing_rule_id, big.request_id) == (
        3, "BIG", by_connector[BULKY.id].id)  # fmt: skip
    assert (small.routing_rule_id, small.request_id) == (None, by_connector[WMS_B.id].id)


def test_routing_sees_the_order_number_of_the_inserted_header() -> None:
    rules = RuleSet((Rule("THIS", 'OrderNumber = "100500"', "BULKY"),), {"Shipment": "A_WMS"})
    p = plan(order(1), registry(rules))
    assert [r.connector_id for r in p.requests] == [BULKY.id]


def test_a_line_nothing_routes_waits_in_routing_error_with_the_reason() -> None:
    rules = RuleSet((Rule("BIG", "OrderedQuantity >= 10", "BULKY"),), {})
    p = plan(order(12, 2), registry(rules))
    assert [r.connector_id for r in p.requests] == [BULKY.id]
    unrouted = p.flines[1]
    assert unrouted.status == "ROUTING_ERROR" and unrouted.request_id is None
    assert unrouted.routing_error and "Shipment" in unrouted.routing_error
    assert p.lines[1].status == "ROUTING_ERROR"


def test_an_order_hold_keeps_every_line_back_and_a_line_hold_only_its_line() -> None:
    held = plan(order(1, 2, holds=(HoldInput("CREDIT", "check"),)), registry())
    assert held.requests == [] and {f.status for f in held.flines} == {"SCHEDULED"}
    assert held.holds == [(None, "CREDIT", "check")]
    one = plan(order(1, 2, held_line=2), registry())
    assert [f.status for f in one.flines] == ["AWAIT_SHIP", "SCHEDULED"]
    assert one.requests[0].fline_ids == [one.flines[0].id]
    assert one.holds == [(one.lines[1].id, "QA", None)]


def test_without_a_process_version_lines_are_requested_as_created() -> None:
    p = plan(order(3, org="M7"), registry(process=False), default_fs=None)
    [fline] = p.flines
    assert (fline.status, fline.process_id, fline.warehouse) == ("AWAIT_SHIP", None, None)
    [request] = p.requests
    assert (request.fulfillment_system, request.connector_id) == (None, None)


def test_placeholder_ids_are_distinct_and_negative() -> None:
    p = plan(order(1, 2, 3), registry())
    keys = [ln.id for ln in p.lines] + [f.id for f in p.flines] + [r.id for r in p.requests]
    assert all(k < 0 for k in keys) and len(set(keys)) == len(keys)
    assert {f.order_line_id for f in p.flines} == {ln.id for ln in p.lines}
