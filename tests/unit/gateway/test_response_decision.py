"""Deciding a fulfillment response over plain rows, with no database.

Each case builds whole orders as rows and a registry snapshot by hand, and checks what
the decision says each line becomes, what it writes to history, and what it requests.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.connector_specs import ValueMaps
from gateway.errors import ResponseRejected
from gateway.orchestration_model import DEFAULT_PROCESS, StepSpec
from gateway.orders.decision_draft import Decision
from gateway.orders.message_values import FulfillLineResponse as Said
from gateway.orders.response_decision import decide
from gateway.orders.rows import FlineRow, HeaderRow, HoldRow, LineRow, OrderSet
from gateway.registry.registry_snapshot import ConnectorInfo, ProcessVersion, Snapshot, System
from routing.engine import compile_rule_set
from routing.rule_set import Rule, RuleSet

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LEGACY = System(1, "LEGACY", True, False, False)
WMS = System(2, "WMS01", False, True, False)
BILL = System(3, "BILL01", False, True, False)
WMS_SOAP = ConnectorInfo(10, "WMS_SOAP", "http://wms", WMS, "ASYNC_SERVICE",
                         "REJECT_ERROR_GROUPS", True)  # fmt: skip
BILLING = ConnectorInfo(11, "BILLING", "http://bill", BILL, "ASYNC_SERVICE",
                        "REJECT_ERROR_GROUPS", True)  # fmt: skip


def registry(
    *,
    processes: tuple[ProcessVersion, ...] = (),
    rules: RuleSet | None = None,
    connectors: tuple[ConnectorInfo, ...] = (WMS_SOAP, BILLING),
) -> Snapshot:
    return Snapshot(
        stamp=1,
        systems={s.code: s for s in (LEGACY, WMS, BILL)},
        connectors={c.name: c for c in connectors},
        processes={p.id: p for p in processes},
        newest={p.name: p for p in processes},
        routing=compile_rule_set(rules, 7) if rules is not None else None,
        triggers=(),
    )


def header(hid: int = 1, status: str = "OPEN") -> HeaderRow:
    return HeaderRow(hid, f"OM{hid}", LEGACY.id, f"S{hid}", f"SO{hid}", "1", status,
                     None, None, None, "USD", None, None, None)  # fmt: skip


def line(lid: int, hid: int = 1, number: int = 1, ship_set: str | None = None,
         status: str = "AWAIT_SHIP") -> LineRow:  # fmt: skip
    return LineRow(lid, hid, number, f"L{lid}", str(number), "AS54888", None,
                   Decimal(10), "Ea", ship_set, None, None, status)  # fmt: skip


def fline(fid: int, lid: int, hid: int = 1, status: str = "AWAIT_SHIP", qty: int = 10,
          number: int = 1, task: str = "Shipment", process: int | None = None) -> FlineRow:  # fmt: skip
    return FlineRow(
        id=fid, header_id=hid, order_line_id=lid, fulfill_line_number=number,
        quantity=Decimal(qty), shipped_quantity=None, status=status, task_type=task,
        request_id=500, split_from_id=None, scheduled_ship_date=NOW, actual_ship_date=None,
        billing_number=None, tracking_number=None, rule_set_version=None,
        routing_rule_id=None, routing_error=None, process_id=process, warehouse="M1",
        attributes_json=None, sent_to="WMS01", sent_via=WMS_SOAP.id,
    )  # fmt: skip


def orders(*rows: HeaderRow | LineRow | FlineRow | HoldRow) -> OrderSet:
    holds: dict[int, tuple[HoldRow, ...]] = {}
    for r in rows:
        if isinstance(r, HoldRow):
            holds[r.header_id] = (*holds.get(r.header_id, ()), r)
    return OrderSet(
        {r.id: r for r in rows if isinstance(r, HeaderRow)},
        {r.id: r for r in rows if isinstance(r, LineRow)},
        {r.id: r for r in rows if isinstance(r, FlineRow)},
        holds,
    )


def run(said: list[Said], given: OrderSet, *, task: str = "Shipment",
        option: str = "REJECT_ERROR_GROUPS", snapshot: Snapshot | None = None,
        system: System = WMS) -> Decision:  # fmt: skip
    return decide(
        said, system=system, task=task, option=option, orders=given,
        registry=snapshot or registry(), may_answer_unassigned=False, now=NOW,
    )  # fmt: skip


def history(d: Decision) -> list[tuple[str, int, str | None, str]]:
    return [(h.entity, h.entity_id, h.old_status, h.new_status) for h in d.history]


def test_a_full_shipment_asks_for_billing_where_the_shipment_went() -> None:
    given = orders(header(), line(100), fline(1000, 100))
    d = run([Said(1000, "SHIPPED", tracking_number="1Z9")], given)
    shipped = d.flines[1000]
    assert (shipped.status, shipped.shipped_quantity, shipped.tracking_number) == (
        "AWAIT_BILLING", Decimal(10), "1Z9")  # fmt: skip
    assert shipped.actual_ship_date == NOW  # none sent: when it was applied
    assert shipped.task_type == "Invoice"
    [request] = d.requests
    assert (request.task_type, request.fulfillment_system, request.connector_id) == (
        "Invoice", "WMS01", WMS_SOAP.id)  # fmt: skip
    assert request.fline_ids == [1000] and shipped.request_id == request.id < 0
    assert history(d) == [
        ("FULFILL_LINE", 1000, "AWAIT_SHIP", "SHIPPED"),
        ("FULFILL_LINE", 1000, "SHIPPED", "AWAIT_BILLING"),
        ("LINE", 100, "AWAIT_SHIP", "AWAIT_BILLING"),
    ]
    assert d.lines == {100: "AWAIT_BILLING"} and d.headers == {}
    assert [(o.fulfill_line_id, o.status, o.task_instance_status) for o in d.outcomes] == [
        (1000, "SUCCESS", "AWAIT_BILLING")
    ]


def test_a_short_shipment_splits_the_rest_off_on_the_same_request() -> None:
    given = orders(header(), line(100), fline(1000, 100, qty=10))
    d = run(
        [
            Said(1000, "SHIPPED", Decimal(4)),
        ],
        given,
    )
    [split] = d.splits
    rest = d.flines[split.rest_id]
    assert (split.original_id, split.pre_split) == (1000, Decimal(10))
    assert rest.id < 0 and rest.split_from_id == 1000
    assert (rest.quantity, rest.status, rest.request_id, rest.fulfill_line_number) == (
        Decimal(6), "AWAIT_SHIP", 500, 2)  # fmt: skip
    assert d.flines[1000].quantity == Decimal(4)
    assert ("FULFILL_LINE", rest.id, None, "AWAIT_SHIP") in history(d)
    assert d.lines == {100: "PARTIALLY_SHIPPED"}
    assert {(o.fulfill_line_id, o.split_reference_id) for o in d.outcomes} == {
        (1000, None), (rest.id, 1000)}  # fmt: skip


def test_two_short_shipments_of_one_line_number_their_rests_in_turn() -> None:
    given = orders(header(), line(100), fline(1000, 100, number=1),
                   fline(1001, 100, number=2))  # fmt: skip
    d = run([Said(1000, "SHIPPED", Decimal(1)), Said(1001, "SHIPPED", Decimal(2))], given)
    numbers = sorted(f.fulfill_line_number for f in d.flines.values() if f.id < 0)
    assert numbers == [3, 4]
    assert len({f.id for f in d.flines.values()}) == 4


def test_a_process_without_billing_closes_the_line_and_the_order() -> None:
    ship_only = ProcessVersion(
        9, "SHIP_ONLY", 1, (StepSpec("Ship", "Shipment", "Ship", "Create Shipment Request"),)
    )
    given = orders(header(), line(100), fline(1000, 100, process=9))
    d = run([Said(1000)], given, snapshot=registry(processes=(ship_only,)))
    assert d.flines[1000].status == "CLOSED" and d.flines[1000].task_type is None
    assert d.requests == []
    assert d.lines == {100: "CLOSED"} and d.headers == {1: "CLOSED"}


def test_an_invoice_bills_and_closes() -> None:
    given = orders(header(), line(100, status="AWAIT_BILLING"),
                   fline(1000, 100, status="AWAIT_BILLING", task="Invoice"))  # fmt: skip
    d = run([Said(1000, billing_number="INV-1")], given, task="Invoice")
    assert (d.flines[1000].status, d.flines[1000].billing_number) == ("CLOSED", "INV-1")
    assert history(d)[:2] == [
        ("FULFILL_LINE", 1000, "AWAIT_BILLING", "BILLED"),
        ("FULFILL_LINE", 1000, "BILLED", "CLOSED"),
    ]
    assert d.headers == {1: "CLOSED"}


def test_a_bad_line_rejects_its_ship_set_and_the_rest_applies() -> None:
    given = orders(
        header(),
        line(100, number=1, ship_set="SS1"), fline(1000, 100),
        line(101, number=2, ship_set="SS1"), fline(1001, 101),
        line(102, number=3), fline(1002, 102),
    )  # fmt: skip
    d = run([Said(1000, "SHIPPED", Decimal(11)), Said(1001), Said(1002)], given)
    assert {(e.fulfill_line_id, e.code) for e in d.errors} == {
        (1000, "QUANTITY_EXCEEDS_OPEN"), (1001, "GROUP_REJECTED")}  # fmt: skip
    assert set(d.flines) == {1002}
    assert {o.fulfill_line_id: o.status for o in d.outcomes} == {
        1000: "ERROR", 1001: "ERROR", 1002: "SUCCESS"}  # fmt: skip


@pytest.mark.parametrize(
    ("option", "codes"),
    [
        ("REJECT_ALL_ON_ANY_ERROR", ["LINE_NOT_FOUND", "INVALID_VALUE"]),
        ("REJECT_ALL_ON_FIRST_ERROR", ["LINE_NOT_FOUND"]),
    ],
)
def test_the_all_or_nothing_options_apply_nothing(option: str, codes: list[str]) -> None:
    given = orders(header(), line(100), fline(1000, 100), line(101), fline(1001, 101))
    with pytest.raises(ResponseRejected) as raised:
        run([Said(999), Said(1000, "LOST"), Said(1001)], given, option=option)
    assert [e.code for e in raised.value.details] == codes


def test_a_held_line_and_a_line_of_a_held_order_wait() -> None:
    given = orders(
        header(1), line(100, 1), fline(1000, 100, 1),
        header(2), line(200, 2), fline(2000, 200, 2), line(201, 2, 2), fline(2001, 201, 2),
        HoldRow(1, 1, None, "CREDIT"), HoldRow(2, 2, 201, "QUALITY"),
    )  # fmt: skip
    d = run([Said(1000), Said(2000), Said(2001)], given)
    assert {e.fulfill_line_id: e.code for e in d.errors} == {
        1000: "LINE_ON_HOLD", 2001: "LINE_ON_HOLD"}  # fmt: skip
    assert "its order is on hold CREDIT" in d.errors[0].message
    assert set(d.flines) == {2000}


def test_a_line_sent_elsewhere_or_superseded_is_refused() -> None:
    given = orders(header(1, status="DOO_REFERENCE"), line(100, 1), fline(1000, 100, 1),
                   header(2), line(200, 2), fline(2000, 200, 2))  # fmt: skip
    with pytest.raises(ResponseRejected) as raised:
        run([Said(1000), Said(2000)], given, system=BILL, option="REJECT_ALL_ON_ANY_ERROR")
    assert [(e.fulfill_line_id, e.code) for e in raised.value.details] == [
        (1000, "ORDER_SUPERSEDED"), (2000, "LINE_NOT_ASSIGNED")]  # fmt: skip


def test_status_values_are_translated_by_the_systems_maps() -> None:
    maps = ValueMaps([("STATUS", "shipped_complete", "SHIPPED")])
    wms = System(WMS.id, WMS.code, False, True, True, maps)
    given = orders(header(), line(100), fline(1000, 100))
    assert run([Said(1000, "shipped_complete")], given, system=wms).flines[1000].status == (
        "AWAIT_BILLING"
    )
    with pytest.raises(ResponseRejected) as raised:
        run([Said(1000, "SHIPPED")], given, system=wms)
    assert raised.value.details[0].code == "XREF_MISSING"


def test_another_item_is_refused_unless_the_systems_item_map_allows_it() -> None:
    given = orders(header(), line(100), fline(1000, 100))
    said = Said(1000, attributes={"ProductNumber": "AS54999"})
    with pytest.raises(ResponseRejected) as raised:
        run([said], given, option="REJECT_ALL_ON_FIRST_ERROR")
    (error,) = raised.value.details
    assert (error.code, error.fulfill_line_id) == ("ITEM_MISMATCH", 1000)
    assert "'omgw xref add WMS01 ITEM AS54999 AS54888'" in error.message
    # the ordered item itself, named or not, ships as ever
    for same in (Said(1000, attributes={"ProductNumber": " AS54888 "}), Said(1000)):
        assert run([same], given).flines[1000].status == "AWAIT_BILLING"
    # a map from the substitute to the ordered item allows it; it stays on the line
    maps = ValueMaps([("ITEM", "AS54999", "AS54888")])
    wms = System(WMS.id, WMS.code, False, True, True, maps)
    shipped = run([said], given, system=wms).flines[1000]
    assert shipped.status == "AWAIT_BILLING"
    assert "AS54999" in (shipped.attributes_json or "")
    # a map for another ordered item does not
    other = System(WMS.id, WMS.code, False, True, True,
                   ValueMaps([("ITEM", "AS54999", "CM5008")]))  # fmt: skip
    with pytest.raises(ResponseRejected) as raised:
        run([said], given, system=other)
    assert raised.value.details[0].code == "ITEM_MISMATCH"


def test_billing_is_routed_by_rules_once_published() -> None:
    rules = RuleSet(
        (Rule("BIG", "OrderedQuantity >= 5", "BILLING", operation="Bill"),),
        {"Shipment": "WMS_SOAP"},
    )
    given = orders(header(), line(100), fline(1000, 100, qty=10), line(101, number=2),
                   fline(1001, 101, qty=2))  # fmt: skip
    d = run([Said(1000), Said(1001)], given, snapshot=registry(rules=rules))
    by_connector = {r.connector_id: r for r in d.requests}
    assert by_connector[BILLING.id].fline_ids == [1000]
    assert by_connector[BILLING.id].operation == "Bill"
    assert by_connector[BILLING.id].fulfillment_system == "BILL01"
    assert (d.flines[1000].rule_set_version, d.flines[1000].routing_rule_id) == (7, "BIG")
    # nothing routes the small one's bill: it goes where its shipment went
    assert by_connector[WMS_SOAP.id].fline_ids == [1001]


def test_a_bill_routed_to_a_disabled_connector_goes_where_the_shipment_went() -> None:
    off = ConnectorInfo(11, "BILLING", "http://bill", BILL, "ASYNC_SERVICE",
                        "REJECT_ERROR_GROUPS", False)  # fmt: skip
    rules = RuleSet((Rule("ALL", "OrderedQuantity > 0", "BILLING"),), {})
    given = orders(header(), line(100), fline(1000, 100))
    d = run([Said(1000)], given, snapshot=registry(rules=rules, connectors=(WMS_SOAP, off)))
    [request] = d.requests
    assert request.connector_id == WMS_SOAP.id
    assert "disabled" in (d.flines[1000].routing_error or "")


def test_deciding_leaves_its_inputs_as_they_were() -> None:
    given = orders(header(), line(100), fline(1000, 100))
    before = copy.deepcopy(given)
    run([Said(1000, "SHIPPED", Decimal(3), attributes={"LotSerial": [{"Lot": "A"}]})], given)
    assert given == before
    assert DEFAULT_PROCESS.steps[-1].task_type == "Invoice"  # the default bills
