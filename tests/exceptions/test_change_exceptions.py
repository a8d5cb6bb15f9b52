"""The cancellation, change and return exceptions of the support queue, each driven end
to end as real parties drive it and ending in a state docs/runbooks/order-exceptions.md
names, shown and repaired by the runbook's own commands.

Where the test must choose the order of events (a cancel at a given stage, a refusal in
the warehouse's own words, a change while another waits), a receiver on 127.0.0.1
stands for the warehouse WMS01 and the test plays its answers (tests/common/shop.py).
Where the warehouse's own answers matter (it refuses every change; the goods left
before the cancel came), the simulated warehouse answers (tests/common/flow.py, its
``change_answer``). Requests go out through the real outbox worker; the source system
and the warehouse call the gateway with zeep as their own users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from zeep.exceptions import Fault

from gateway.registry.rule_store import RuleStore
from simulators.harness import MAX_SECONDS
from tests.common.flow import Flow, flow, run_until
from tests.common.orders import order, shipped
from tests.common.runbook import runbook_line as rb
from tests.common.shop import CONNECTOR, Sent, Shop, line, returning, shop_at
from tests.common.soap import client, zeep_fault_code
from tests.common.state import snapshot, unchanged

CANCEL = {"CancelReasonCode": "CUST_REQUEST", "CancelReason": "the customer changed their mind"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def refused(shop: Shop, call: Callable[[], Any], code: str) -> str:
    """A call the gateway refuses, having changed nothing; the fault's message."""
    before = snapshot(shop.gw.runtime)
    with pytest.raises(Fault) as raised:
        call()
    assert zeep_fault_code(raised.value) == code, raised.value.message
    unchanged(shop.gw.runtime, before)
    return str(raised.value.message)


def shown(shop: Shop, number: str) -> dict[str, Any]:
    """``omgw orders show <order number> --json``."""
    got = shop.admin().json(*rb("omgw orders show <order number>", order_number=number))
    assert isinstance(got, dict)
    return got


def shown_flines(shop: Shop, number: str) -> dict[int, dict[str, Any]]:
    return {fl["id"]: fl for ln in shown(shop, number)["lines"] for fl in ln["fulfill_lines"]}


def shop_listed(shop: Shop, command: str, **values: str) -> list[str]:
    """The order numbers an ``omgw orders list …`` line of the runbook prints."""
    rows = shop.admin().json(*rb(command, **values))
    assert isinstance(rows, list)
    return [str(r["order_number"]) for r in rows]


def bill(shop: Shop, rid: str, fid: int) -> None:
    shop.respond(rid, [{"FulfillLineIdentifier": fid, "StatusCode": "BILLED"}], "Invoice")


# -- 1. a cancel at every stage of a line's life -------------------------------------------


@dataclass
class Ending:
    """What a stage's cancel ended in."""

    number: str
    #: fulfillment line id: its status at the end
    flines: dict[int, str]
    header: str
    #: the requests the warehouse got from the cancel on: (operation, {line: status})
    warehouse: list[tuple[str, dict[int, str]]] = field(default_factory=list)
    #: the fault the cancel was refused with, if it was
    fault: str | None = None


def _requests(sent: list[Sent]) -> list[tuple[str, dict[int, str]]]:
    return [(r.operation, {i: v[1] for i, v in r.lines.items()}) for r in sent]


def _cancel_pending(shop: Shop, key: str, number: str, fid: int) -> list[Sent]:
    """A cancel of line A while the warehouse holds it: it waits, goes out, and the
    warehouse accepts it."""
    shop.send(key, [line("A", 0, **CANCEL)], revision="2")
    assert shop.flines(number)[fid].status == "CANCEL_PENDING"
    sent = shop.deliver()
    (cancel,) = sent
    assert cancel.original is not None and cancel.task == "Shipment"
    assert shop.flines(number)[fid].change_request_id == cancel.request_id
    shop.ack(cancel.request_id)
    return sent


def held_before_release(shop: Shop, key: str) -> Ending:
    # held at intake: scheduled, never requested
    number = str(shop.send(key, [line("A", 5)], Hold=[{"HoldCode": "CREDIT"}]).OrderNumber)
    (fid,) = shop.flines(number)
    assert shop.flines(number)[fid].status == "SCHEDULED"
    held = shop.admin().json(*rb("omgw hold list --order <order number>", order_number=number))
    assert isinstance(held, list) and [h["hold"] for h in held] == ["CREDIT"]
    shop.send(key, [line("A", 0, **CANCEL)], revision="2")
    return Ending(number, {fid: "CANCELED"}, "CANCELED", _requests(shop.deliver()))


def routing_error(shop: Shop, key: str) -> Ending:
    shop.admin().ok("connector", "update", CONNECTOR, "--disabled")
    number = str(shop.send(key, [line("A", 5)]).OrderNumber)
    (fid,) = shop.flines(number)
    assert shop.flines(number)[fid].status == "ROUTING_ERROR"
    shop.send(key, [line("A", 0, **CANCEL)], revision="2")
    return Ending(number, {fid: "CANCELED"}, "CANCELED", _requests(shop.deliver()))


def await_ship(shop: Shop, key: str) -> Ending:
    number, request = shop.released(key, [line("A", 5)])
    (fid,) = request.lines
    sent = _cancel_pending(shop, key, number, fid)
    return Ending(number, {fid: "CANCELED"}, "CANCELED", _requests(sent))


def backordered(shop: Shop, key: str) -> Ending:
    number, request = shop.released(key, [line("A", 5)])
    (fid,) = request.lines
    shop.respond(f"{key}-bo", [shipped(fid, status="BACKORDERED")])
    assert shop.flines(number)[fid].status == "BACKORDERED"
    sent = _cancel_pending(shop, key, number, fid)
    return Ending(number, {fid: "CANCELED"}, "CANCELED", _requests(sent))


def partly_shipped(shop: Shop, key: str) -> Ending:
    number, request = shop.released(key, [line("A", 5)])
    (fid,) = request.lines
    shop.respond(f"{key}-ship", [shipped(fid, 2)])
    (rest,) = set(shop.flines(number)) - {fid}
    (invoice,) = shop.deliver()
    assert invoice.task == "Invoice"
    # the shipped quantity as the new quantity cancels the rest (no reason needed)
    shop.send(key, [line("A", 2)], revision="2")
    assert shop.flines(number)[rest].status == "CANCEL_PENDING"
    sent = shop.deliver()
    (cancel,) = sent
    shop.ack(cancel.request_id)
    return Ending(number, {fid: "AWAIT_BILLING", rest: "CANCELED"}, "OPEN", _requests(sent))


def fully_shipped(shop: Shop, key: str) -> Ending:
    number, request = shop.released(key, [line("A", 5)])
    (fid,) = request.lines
    shop.respond(f"{key}-ship", [shipped(fid, 5)])
    shop.deliver()  # the invoice request
    message = refused(
        shop,
        lambda: shop.send(key, [line("A", 0, **CANCEL)], revision="2"),
        "OMGW-QUANTITY_BELOW_SHIPPED",
    )
    assert "line A cannot be canceled: 5 has shipped" in message
    return Ending(
        number, {fid: "AWAIT_BILLING"}, "OPEN", _requests(shop.deliver()),
        "QUANTITY_BELOW_SHIPPED",
    )  # fmt: skip


def closed(shop: Shop, key: str) -> Ending:
    number, request = shop.released(key, [line("A", 5)])
    (fid,) = request.lines
    shop.respond(f"{key}-ship", [shipped(fid, 5)])
    shop.deliver()
    bill(shop, f"{key}-bill", fid)
    assert shop.header(number) == "CLOSED"
    refused(
        shop,
        lambda: shop.send(key, [line("A", 0, **CANCEL)], revision="2"),
        "OMGW-REVISION_NOT_ALLOWED",
    )
    return Ending(
        number, {fid: "CLOSED"}, "CLOSED", _requests(shop.deliver()), "REVISION_NOT_ALLOWED"
    )


def already_canceled(shop: Shop, key: str) -> Ending:
    number, request = shop.released(key, [line("A", 5), line("B", 2, item="AS1")])
    a, b = sorted(request.lines)
    shop.send(key, [line("A", 5), line("B", 0, item="AS1", **CANCEL)], revision="2")
    (cancel,) = shop.deliver()
    shop.ack(cancel.request_id)
    assert shop.flines(number)[b].status == "CANCELED"
    # the same cancel again, in a later revision: nothing to do, nothing sent
    again = shop.send(key, [line("A", 5), line("B", 0, item="AS1", **CANCEL)], revision="3")
    assert (again.ReturnStatus, again.FlowType) == ("SUCCESS", "CHANGE")
    return Ending(number, {a: "AWAIT_SHIP", b: "CANCELED"}, "OPEN", _requests(shop.deliver()))


STAGES: dict[str, tuple[Callable[[Shop, str], Ending], list[tuple[str, str]]]] = {
    # stage: (how the line gets there and is canceled, what the warehouse gets then)
    "held-before-release": (held_before_release, []),
    "routing-error": (routing_error, []),
    "await-ship": (await_ship, [("Cancel", "CANCEL_PENDING")]),
    "backordered": (backordered, [("Cancel", "CANCEL_PENDING")]),
    "partly-shipped": (partly_shipped, [("Cancel", "CANCEL_PENDING")]),
    "fully-shipped": (fully_shipped, []),
    "closed": (closed, []),
    "already-canceled": (already_canceled, []),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_cancel_at_each_stage_of_a_line_ends_as_the_runbook_says(
    fresh_database_url: str, home: Path, unique: str, stage: str
) -> None:
    play, to_warehouse = STAGES[stage]
    with shop_at(fresh_database_url, home) as shop:
        end = play(shop, f"{stage.upper()}-{unique}")
        # the warehouse got a Cancel only for a line it held, naming each line it cancels
        assert [(op, status) for op, lines in end.warehouse for status in lines.values()] == (
            to_warehouse
        )
        for _, lines in end.warehouse:
            assert set(lines) <= {i for i, s in end.flines.items() if s == "CANCELED"}
        # what the line and the order ended in, as the store, GetOrderDetails and
        # omgw orders show each say it
        assert {i: f.status for i, f in shop.flines(end.number).items()} == end.flines
        assert shop.header(end.number) == end.header
        got = shop.details(end.number)
        assert got.StatusCode == end.header
        assert {ln.FulfillLineIdentifier: ln.StatusCode for ln in got.OrderLine} == end.flines
        flines = shown_flines(shop, end.number)
        assert {i: fl["status"] for i, fl in flines.items()} == end.flines
        assert all(fl["change_request_id"] is None for fl in flines.values())
        if end.fault is not None:  # refused: the inbound log names the fault
            admin = shop.admin()
            (logged,) = admin.json(
                *rb("omgw messages list --inbound --fault-code <code>", code=end.fault)
            )
            assert (logged["operation"], logged["fault_code"]) == ("createOrders", end.fault)


# -- 2. a cancel the warehouse refuses, and one that crosses a shipment ----------------


def revise(f: Flow, key: str, lines: list[tuple[str, int]], revision: str, **line1: Any) -> Any:
    """Revision ``revision`` of order ``key`` (``line1``: more values of its first line)."""
    body = order(key, lines, revision=revision)
    body["Line"][0].update(line1)
    imports = client(f.gw.base, "OrderImportService")
    (result,) = imports.service.createOrders(request={"Order": [body]})
    return result


def sim_details(f: Flow, number: str) -> Any:
    info = client(f.gw.base, "OrderInformationService")
    return info.service.GetOrderDetails(Order=[{"OrderNumber": number}])[0]


def sim_shown(f: Flow, number: str) -> dict[str, Any]:
    got = f.admin().json(*rb("omgw orders show <order number>", order_number=number))
    assert isinstance(got, dict)
    return got


def listed(f: Flow, command: str, **values: str) -> list[str]:
    """The order numbers an ``omgw orders list …`` line of the runbook prints."""
    rows = f.admin().json(*rb(command, **values))
    assert isinstance(rows, list)
    return [str(r["order_number"]) for r in rows]


def test_a_cancel_the_warehouse_refuses_leaves_the_line_to_ship_until_a_later_revision(
    fresh_database_url: str, home: Path, unique: str
) -> None:
    # WMS01 refuses every change; it holds the line (its own answer waits an hour)
    with flow(fresh_database_url, home, delay=MAX_SECONDS, change_answer="reject") as f:
        key = f"REJ{unique}"
        number = f.submit(key, [("AS54888", 5)])
        (fid,) = (fl.id for fl in f.flines(number))
        run_until(f, f.settled)
        f.sim.control(delay=0.02)  # its answers to what comes next are quick

        revise(f, key, [("AS54888", 0)], "2", **CANCEL)
        assert f.flines(number)[0].status == "CANCEL_PENDING"
        run_until(f, lambda: f.flines(number)[0].status != "CANCEL_PENDING")

        # how it shows: the line back in AWAIT_SHIP, the refusal in the warehouse's words
        state = f.sim.state()
        assert state["counters"]["changes_rejected"] == 1
        assert [ln["state"] for ln in state["fulfillment_lines"]] == ["pending"]
        why = "WMS01 refused the cancel (CHANGE_REJECTED: WMS01 refuses every change at present)"
        (got,) = sim_details(f, number).OrderLine
        assert (got.StatusCode, got.OrderedQuantity._value_1, got.Comments) == (
            "AWAIT_SHIP",
            Decimal(5),
            why,
        )
        record = sim_shown(f, number)
        (fl,) = record["lines"][0]["fulfill_lines"]
        assert (fl["id"], fl["status"], fl["change_error"]) == (fid, "AWAIT_SHIP", why)
        assert [(r["task_type"], r["ack_error"]) for r in record["requests"]] == [
            ("Shipment", None),
            ("Shipment", "CHANGE_REJECTED: WMS01 refuses every change at present"),
        ]
        assert listed(f, "omgw orders list --line-status AWAIT_SHIP") == [number]

        # the repair: once the warehouse takes changes again, the cancel in a new revision
        f.sim.control(change_answer="auto")
        revise(f, key, [("AS54888", 0)], "3", **CANCEL)
        run_until(f, lambda: f.status(number) == "CANCELED")
        state = f.sim.state()
        assert state["counters"]["changes_accepted"] == 1
        assert [ln["state"] for ln in state["fulfillment_lines"]] == ["cancelled"]
        (got,) = sim_details(f, number).OrderLine
        assert (got.StatusCode, got.Comments) == ("CANCELED", None)


def test_a_cancel_crossing_the_shipment_leaves_the_line_shipped_and_a_return_repairs_it(
    fresh_database_url: str, home: Path, unique: str
) -> None:
    # WMS01 answers every change ALREADY_SHIPPED: the goods left before the cancel came
    with flow(fresh_database_url, home, delay=0.3, change_answer="shipped") as f:
        with f.gw.runtime.sessions() as s, s.begin():
            store = RuleStore(s, "tests")
            store.set_default("Return", f.connector)
            assert store.publish() is not None
        key = f"CROSS{unique}"
        number = f.submit(key, [("AS54888", 5)])
        (fid,) = (fl.id for fl in f.flines(number))
        run_until(f, f.settled)  # WMS01 has the release; it ships after its delay
        # the cancel comes while the goods are being shipped
        revise(f, key, [("AS54888", 0)], "2", **CANCEL)
        assert f.flines(number)[0].status == "CANCEL_PENDING"
        run_until(f, lambda: f.status(number) == "CLOSED")
        run_until(f, lambda: all(r["callback_status"] == "sent" for r in f.sim.state()["requests"]))

        # how it shows: the line shipped whole and billed, the cancel not made, and why
        state = f.sim.state()
        assert state["counters"]["changes_already_shipped"] == 1
        fline = f.flines(number)[0]  # the current revision's (its copies come after)
        assert (fline.id, fline.status, fline.shipped_quantity) == (fid, "CLOSED", Decimal(5))
        (got,) = sim_details(f, number).OrderLine
        assert got.StatusCode == "CLOSED"
        assert got.Comments in (
            "WMS01 reported the line shipped before it answered the cancel; the cancel "
            "was not made",
            "WMS01 refused the cancel (ALREADY_SHIPPED: fulfillment line(s) "
            f"{fid} shipped before the change arrived)",
        )
        (fl,) = sim_shown(f, number)["lines"][0]["fulfill_lines"]
        assert fl["change_error"] == got.Comments

        # the repair: the customer sends the goods back; a return, received and credited
        imports = client(f.gw.base, "OrderImportService")
        back = order(f"{key}-R", [("AS54888", 5)])
        back["Line"] = [returning("R1", 5, key, "L1")]
        (created,) = imports.service.createOrders(request={"Order": [back]})
        ret = str(created.OrderNumber)
        run_until(f, lambda: f.status(ret) == "CLOSED")
        (credit,) = f.flines(ret)
        assert credit.billing_number is not None and credit.billing_number.startswith("CM-")
        assert f.sim.state()["returned_lines"] == [credit.id]


# -- 3. a ship-to change after the warehouse picked the line ----------------------------


def test_a_ship_to_change_after_pick_is_refused_and_sent_again_once_unpicked(
    fresh_database_url: str, home: Path, unique: str
) -> None:
    with shop_at(fresh_database_url, home) as shop:
        key = f"SHIPTO{unique}"
        old, new = "300000001", "300000002"
        number, request = shop.released(key, [line("A", 5, ShipToPartySiteIdentifier=old)])
        (fid,) = request.lines
        shop.send(key, [line("A", 5, ShipToPartySiteIdentifier=new)], revision="2")
        assert shop.flines(number)[fid].status == "CHANGE_PENDING"
        (update,) = shop.deliver()
        assert (update.operation, update.original) == ("Update", request.request_id)
        assert update.lines == {fid: (Decimal(5), "CHANGE_PENDING", new)}
        shop.ack(update.request_id, "ERROR", "CHANGE_REJECTED", "picked for site 300000001")

        # how it shows: the line back where it was, at the old site, and why
        why = "WMS01 refused the change (CHANGE_REJECTED: picked for site 300000001)"
        (got,) = shop.details(number).OrderLine
        assert (got.StatusCode, got.Comments) == ("AWAIT_SHIP", why)
        assert str(got.ShipToPartySiteIdentifier) == old
        fl = shown_flines(shop, number)[fid]
        assert (fl["status"], fl["change_error"]) == ("AWAIT_SHIP", why)
        sent = shop.admin().json(
            *rb("omgw messages list --order <order number>", order_number=number)
        )
        # the release and the Update, each delivered (orders show names which is which)
        assert [(m["task_type"], m["status"]) for m in sent] == [("Shipment", "DELIVERED")] * 2
        record = shown(shop, number)
        assert [(r["id"], r["operation"], r["ack_error"]) for r in record["requests"]] == [
            (request.request_id, None, None),  # the release: a Create
            (update.request_id, "Update", "CHANGE_REJECTED: picked for site 300000001"),
        ]

        # the repair: the warehouse puts the goods back; the source sends the change again
        shop.send(key, [line("A", 5, ShipToPartySiteIdentifier=new)], revision="3")
        (again,) = shop.deliver()
        assert again.lines == {fid: (Decimal(5), "CHANGE_PENDING", new)}
        shop.ack(again.request_id)
        (got,) = shop.details(number).OrderLine
        assert (got.StatusCode, got.Comments) == ("AWAIT_SHIP", None)
        assert str(got.ShipToPartySiteIdentifier) == new


# -- 4. returns ------------------------------------------------------------------------


def test_a_return_without_a_reference_is_refused_and_shows_in_the_inbound_log(
    fresh_database_url: str, home: Path, unique: str
) -> None:
    with shop_at(fresh_database_url, home) as shop:
        key = f"NOREF{unique}"
        number, request = shop.released(key, [line("A", 5)])
        (fid,) = request.lines
        shop.respond(f"{key}-ship", [shipped(fid, 5)])
        bare = line("R1", 2, TransactionCategoryCode="RETURN", ReturnReasonCode="DAMAGED")
        message = refused(
            shop, lambda: shop.send(f"{key}-R", [bare]), "OMGW-RETURN_REFERENCE_MISSING"
        )
        assert "no DocumentReference naming the line it returns" in message
        assert shop.deliver()[0].task == "Invoice"  # the shipment's bill, nothing else
        admin = shop.admin()
        (logged,) = admin.json(*rb("omgw messages list --inbound --faults"))
        assert (logged["operation"], logged["fault_code"]) == (
            "createOrders",
            "RETURN_REFERENCE_MISSING",
        )
        assert (
            shop_listed(
                shop,
                "omgw orders list --source-number <source order number>",
                source_order_number=f"SO-{key}-R",
            )
            == []
        )

        # the repair: the source sends the return again, naming the line it returns (or
        # its fulfillment line, which omgw orders show gives)
        assert shown_flines(shop, number)[fid]["shipped_quantity"] == "5"
        created = shop.send(f"{key}-R", [returning("R1", 2, key, "A")])
        ret = str(created.OrderNumber)
        (receipt,) = shop.deliver()
        assert (receipt.task, receipt.operation) == ("Return", "Create")
        assert [f.status for f in shop.flines(ret).values()] == ["AWAIT_RECEIVING"]
        assert set(receipt.lines) == set(shop.flines(ret))


def test_a_return_of_more_than_shipped_is_refused_with_what_can_come_back(
    fresh_database_url: str, home: Path, unique: str
) -> None:
    with shop_at(fresh_database_url, home) as shop:
        key = f"MORE{unique}"
        number, request = shop.released(key, [line("A", 5)])
        (fid,) = request.lines
        shop.respond(f"{key}-ship", [shipped(fid, 3)])  # 3 of 5 shipped, 2 still open
        shop.deliver()
        message = refused(
            shop,
            lambda: shop.send(f"{key}-R", [returning("R1", 4, key, "A")]),
            "OMGW-RETURN_EXCEEDS_SHIPPED",
        )
        assert "asks to return 4 of AS54888, but only 3 can be: 3 shipped" in message
        shipped_now = [fl["shipped_quantity"] for fl in shown_flines(shop, number).values()]
        assert shipped_now == ["3", None]  # the original: 3 shipped, 2 split off and open
        # the repair: a return of what shipped
        created = shop.send(f"{key}-R", [returning("R1", 3, key, "A")])
        assert created.ReturnStatus == "SUCCESS"
        (receipt,) = shop.deliver()
        assert receipt.task == "Return" and [q for q, _, _ in receipt.lines.values()] == [3]


# one return however often it is sent rests on the database's unique keys and locks
@pytest.mark.both_databases
def test_a_return_sent_twice_is_one_return_and_one_credit(
    fresh_database_url: str, home: Path, unique: str
) -> None:
    with shop_at(fresh_database_url, home) as shop:
        key = f"RTWICE{unique}"
        _, request = shop.released(key, [line("A", 5)])
        (fid,) = request.lines
        shop.respond(f"{key}-ship", [shipped(fid, 5)])
        shop.deliver()
        first = shop.send(f"{key}-R", [returning("R1", 5, key, "A")])
        again = shop.send(f"{key}-R", [returning("R1", 5, key, "A")])
        assert (again.MessageName, again.OrderNumber) == ("OMGW-ORDER_EXISTS", first.OrderNumber)
        ret = str(first.OrderNumber)
        (receipt,) = shop.deliver()
        (rid,) = receipt.lines
        # a copy under another identifier would take back more than shipped
        refused(
            shop,
            lambda: shop.send(f"{key}-R2", [returning("R1", 5, key, "A")]),
            "OMGW-RETURN_EXCEEDS_SHIPPED",
        )
        shop.respond(f"{key}-rcv", [shipped(rid, 5, "RECEIVED")], task="Return")
        (credit,) = shop.deliver()
        assert (credit.task, set(credit.lines)) == ("Invoice", {rid})
        bill(shop, f"{key}-cm", rid)
        assert shop.header(ret) == "CLOSED"
        assert shop.deliver() == []  # nothing more to receive or credit
        assert shop_listed(
            shop,
            "omgw orders list --source-number <source order number>",
            source_order_number=f"SO-{key}-R",
        ) == [ret]


# -- 5. a change while an earlier one waits ---------------------------------------------


def test_a_change_while_an_earlier_one_waits_is_refused_until_it_is_answered(
    fresh_database_url: str, home: Path, unique: str
) -> None:
    with shop_at(fresh_database_url, home) as shop:
        key = f"INPROG{unique}"
        number, request = shop.released(key, [line("A", 5)])
        (fid,) = request.lines
        shop.send(key, [line("A", 3)], revision="2")
        (update,) = shop.deliver()
        message = refused(
            shop,
            lambda: shop.send(key, [line("A", 2)], revision="3"),
            "OMGW-CHANGE_IN_PROGRESS",
        )
        assert f"(fulfillment line {fid})" in message

        # what it waits on: the line's pending change and the request it went out in
        fl = shown_flines(shop, number)[fid]
        assert (fl["status"], fl["change_request_id"]) == ("CHANGE_PENDING", update.request_id)
        record = shown(shop, number)
        waiting = [r for r in record["requests"] if r["id"] == update.request_id]
        assert [(r["status"], r["acknowledged"]) for r in waiting] == [("SENT", None)]
        assert shop_listed(shop, "omgw orders list --line-status CHANGE_PENDING") == [number]

        # the repair: once the warehouse answers, the revision is sent again
        shop.ack(update.request_id)
        assert shop.flines(number)[fid].quantity == Decimal(3)
        shop.send(key, [line("A", 2)], revision="3")
        (second,) = shop.deliver()
        assert second.lines == {fid: (Decimal(2), "CHANGE_PENDING", None)}
        shop.ack(second.request_id)
        fline = shop.flines(number)[fid]
        assert (fline.status, fline.quantity) == ("AWAIT_SHIP", Decimal(2))
