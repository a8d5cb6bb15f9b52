"""Order changes after release, end to end on SQLite and PostgreSQL: revisions sent with
createOrders, the Update and Cancel requests the warehouse gets through the outbox, its
answers (processAcknowledgement, processFulfillmentResponse) played by the test, and
what GetOrderDetails then says. A small receiver on 127.0.0.1 stands for the warehouse,
so the test chooses the order in which a change and a shipment cross."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from zeep.exceptions import Fault

from connectors.connector_specs import ConnectorSpec
from gateway.persistence.models import FulfillLine, FulfillmentRequest, OutboxMessage, utcnow
from gateway.registry.store import Registry
from tests.common.header_tr import header_tr
from tests.common.orders import shipped
from tests.common.shop import Shop, line, returning, shop_at
from tests.common.soap import zeep_fault_code
from tests.conftest import Admin

pytestmark = pytest.mark.both_databases


@pytest.fixture
def shop(fresh_database_url: str, tmp_path: Path) -> Iterator[Shop]:
    with shop_at(fresh_database_url, tmp_path / "home") as running:
        yield running


def refused(call: Callable[[], Any], code: str) -> str:
    with pytest.raises(Fault) as exc:
        call()
    assert zeep_fault_code(exc.value) == code, exc.value.message
    return str(exc.value.message)


# -- cancellations ----------------------------------------------------------------------


def test_cancel_one_line_of_a_partly_shipped_order_and_it_closes(shop: Shop, unique: str) -> None:
    number, request = shop.released(unique, [line("A", 5), line("B", 3, item="AS1")])
    a, b = sorted(request.lines)
    shop.respond(f"{unique}-ship", [shipped(a, 5)])
    (invoice,) = shop.deliver()
    assert invoice.task == "Invoice"
    # the customer no longer wants line B, still at the warehouse
    changed = shop.send(
        unique,
        [line("A", 5), line("B", 0, item="AS1", CancelReasonCode="CUST_REQUEST")],
        revision="2",
    )
    assert changed.FlowType == "CHANGE"
    assert shop.flines(number)[b].status == "CANCEL_PENDING"
    (cancel,) = shop.deliver()
    assert (cancel.operation, cancel.task, cancel.original) == (
        "Cancel",
        "Shipment",
        request.request_id,
    )
    assert cancel.lines == {b: (Decimal(3), "CANCEL_PENDING", None)}
    assert b"<ns0:ChangeReasonCode>CUST_REQUEST</ns0:ChangeReasonCode>" in shop.rx.bodies[-1]
    shop.ack(cancel.request_id)
    assert shop.flines(number)[b].status == "CANCELED"
    shop.respond(
        f"{unique}-bill", [{"FulfillLineIdentifier": a, "StatusCode": "BILLED"}], "Invoice"
    )
    assert shop.header(number) == "CLOSED"
    got = shop.details(number)
    assert {ln.FulfillLineIdentifier: ln.StatusCode for ln in got.OrderLine} == {
        a: "CLOSED",
        b: "CANCELED",
    }


def test_a_request_that_never_went_out_is_withdrawn_and_sent_as_changed(
    shop: Shop, unique: str
) -> None:
    number = str(shop.send(unique, [line("A", 5), line("B", 2)]).OrderNumber)
    a, b = sorted(shop.flines(number))
    shop.send(unique, [line("A", 0, CancelReasonCode="CUST_REQUEST"), line("B", 3)], revision="2")
    # the warehouse never had the order: A is canceled here, B asked for as it now is
    flines = shop.flines(number)
    assert (flines[a].status, flines[b].status) == ("CANCELED", "AWAIT_SHIP")
    (create,) = shop.deliver()
    assert (create.operation, create.lines) == ("Create", {b: (Decimal(3), "AWAIT_SHIP", None)})
    with shop.gw.runtime.read_sessions() as s:
        withdrawn = s.scalars(
            select(OutboxMessage.status).where(OutboxMessage.request_id != create.request_id)
        ).all()
    assert withdrawn == ["DISCARDED"]


def test_a_cancel_never_overtakes_a_request_on_its_way(shop: Shop, unique: str) -> None:
    number = str(shop.send(unique, [line("A", 5)]).OrderNumber)
    (fid,) = shop.flines(number)
    with shop.gw.runtime.sessions() as s, s.begin():  # a worker is sending it right now
        s.execute(update(OutboxMessage).values(lease_owner="elsewhere", lease_until=utcnow()))
    shop.send(unique, [line("A", 0, CancelReasonCode="CUST_REQUEST")], revision="2")
    assert shop.flines(number)[fid].status == "CANCEL_PENDING"
    # the send failed and is retried: the warehouse gets it, then the cancel, in order
    with shop.gw.runtime.sessions() as s, s.begin():
        s.execute(update(OutboxMessage).values(lease_owner=None, lease_until=None))
    create, cancel = shop.deliver()
    assert (create.operation, cancel.operation) == ("Create", "Cancel")
    assert cancel.original == create.request_id


def test_a_refused_cancel_returns_the_line_and_says_why(shop: Shop, unique: str) -> None:
    number, request = shop.released(unique, [line("A", 5)])
    (fid,) = request.lines
    shop.send(unique, [line("A", 0, CancelReason="changed my mind")], revision="2")
    (cancel,) = shop.deliver()
    shop.ack(cancel.request_id, "ERROR", "CHANGE_REJECTED", "picked already")
    fline = shop.flines(number)[fid]
    assert (fline.status, fline.quantity) == ("AWAIT_SHIP", Decimal(5))
    (got,) = shop.details(number).OrderLine
    assert got.StatusCode == "AWAIT_SHIP"
    assert "WMS01 refused the cancel (CHANGE_REJECTED: picked already)" in got.Comments
    shown = shop.admin().ok("orders", "show", number)
    assert f"fulfillment line {fid}: WMS01 refused the cancel (CHANGE_REJECTED" in shown
    # the line can still ship
    shop.respond(f"{unique}-ship", [shipped(fid, 5)])
    assert shop.flines(number)[fid].status == "AWAIT_BILLING"


def test_a_whole_order_is_canceled_by_its_header(shop: Shop, unique: str) -> None:
    number, request = shop.released(unique, [line("A", 5), line("B", 2)])
    shop.send(unique, [line("A", 5), line("B", 2)], revision="2", CancelReasonCode="CUST_REQUEST")
    (cancel,) = shop.deliver()
    assert cancel.operation == "Cancel" and set(cancel.lines) == set(request.lines)
    shop.ack(cancel.request_id)
    assert shop.header(number) == "CANCELED"


def test_a_header_cancel_after_a_shipment_is_refused_whole(shop: Shop, unique: str) -> None:
    number, request = shop.released(unique, [line("A", 5), line("B", 2)])
    shop.respond(f"{unique}-ship", [shipped(min(request.lines), 5)])
    message = refused(
        lambda: shop.send(unique, [line("A", 5)], revision="2", CancelReasonCode="X"),
        "OMGW-ORDER_PARTLY_SHIPPED",
    )
    assert "line A has shipped 5" in message
    assert {f.status for f in shop.flines(number).values()} == {"AWAIT_BILLING", "AWAIT_SHIP"}


def test_orders_show_names_the_request_a_line_waits_on_and_the_refusal(
    shop: Shop, unique: str
) -> None:
    number, request = shop.released(unique, [line("A", 5)])
    (fid,) = request.lines
    environ: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OMGW_")}
    environ.update(shop.gw.runtime.settings.to_env())
    admin = Admin(environ, shop.gw.runtime.settings.home)

    def fline() -> dict[str, Any]:
        shown = admin.json("orders", "show", number)
        assert isinstance(shown, dict)
        (only,) = shown["lines"][0]["fulfill_lines"]
        return dict(only)

    shop.send(unique, [line("A", 0, CancelReasonCode="X")], revision="2")
    (cancel,) = shop.deliver()
    waiting = fline()
    assert (waiting["status"], waiting["change_request_id"]) == (
        "CANCEL_PENDING",
        cancel.request_id,
    )
    text = admin.ok("orders", "show", number)
    assert "WAITS ON" in text
    assert re.search(rf"^{cancel.request_id}\s+2\s+Shipment\s+Cancel\s", text, re.M), text
    shop.ack(cancel.request_id, "ERROR", "CHANGE_REJECTED", "picked already")
    refused_ = fline()
    assert (refused_["status"], refused_["change_request_id"]) == ("AWAIT_SHIP", None)
    assert refused_["change_error"] == (
        "WMS01 refused the cancel (CHANGE_REJECTED: picked already)"
    )
    assert refused_["id"] == fid


# -- quantity and date changes --------------------------------------------------------


def test_a_quantity_change_in_flight_sends_an_update(shop: Shop, unique: str) -> None:
    number, request = shop.released(unique, [line("A", 5)])
    (fid,) = request.lines
    shop.send(unique, [line("A", 3, RequestedShipDate="2031-02-03T00:00:00")], revision="2")
    # the line keeps what the warehouse holds until it agrees
    (got,) = shop.details(number).OrderLine
    assert (got.StatusCode, got.OrderedQuantity._value_1) == ("CHANGE_PENDING", Decimal(5))
    assert "WAITS ON" in shop.admin().ok("orders", "show", number)
    (update,) = shop.deliver()
    assert (update.operation, update.original) == ("Update", request.request_id)
    assert update.lines == {fid: (Decimal(3), "CHANGE_PENDING", None)}
    assert b"<ns0:ScheduledShipDate>2031-02-03T00:00:00" in shop.rx.bodies[-1]
    shop.ack(update.request_id)
    fline = shop.flines(number)[fid]
    assert (fline.status, fline.quantity) == ("AWAIT_SHIP", Decimal(3))
    # a shipment of more than the new quantity is now refused
    refused(lambda: shop.respond(f"{unique}-a", [shipped(fid, 5)]), "OMGW-QUANTITY_EXCEEDS_OPEN")
    shop.respond(f"{unique}-b", [shipped(fid, 3)])
    assert shop.flines(number)[fid].status == "AWAIT_BILLING"


def test_a_refused_ship_to_and_date_change_leaves_the_order_as_the_warehouse_holds_it(
    shop: Shop, unique: str
) -> None:
    before = {"ShipToPartySiteIdentifier": "300000001", "RequestedShipDate": "2031-01-05T00:00:00"}
    after = {"ShipToPartySiteIdentifier": "300000002", "RequestedShipDate": "2031-02-03T00:00:00"}
    number, request = shop.released(unique, [line("A", 5, **before)])
    (fid,) = request.lines
    shop.send(unique, [line("A", 5, **after)], revision="2")
    (update,) = shop.deliver()
    shop.ack(update.request_id, "ERROR", "CHANGE_REJECTED")
    (got,) = shop.details(number).OrderLine
    assert (got.StatusCode, str(got.ShipToPartySiteIdentifier)) == ("AWAIT_SHIP", "300000001")
    assert got.RequestedShipDate.isoformat().startswith("2031-01-05")
    # the same change sent again is a change again, and goes out
    shop.send(unique, [line("A", 5, **after)], revision="3")
    (again,) = shop.deliver()
    assert (again.operation, set(again.lines)) == ("Update", {fid})
    shop.ack(again.request_id)
    (got,) = shop.details(number).OrderLine
    assert (got.StatusCode, str(got.ShipToPartySiteIdentifier)) == ("AWAIT_SHIP", "300000002")
    assert got.RequestedShipDate.isoformat().startswith("2031-02-03")


def test_more_after_a_full_shipment_adds_a_line(shop: Shop, unique: str) -> None:
    number, request = shop.released(unique, [line("A", 2)])
    (fid,) = request.lines
    shop.respond(f"{unique}-ship", [shipped(fid, 2)])
    shop.deliver()  # the invoice request
    shop.send(unique, [line("A", 5)], revision="2")
    (create,) = shop.deliver()
    (added,) = set(create.lines)
    assert create.operation == "Create" and create.lines[added][0] == Decimal(3)
    assert shop.flines(number)[added].status == "AWAIT_SHIP"


def test_less_than_shipped_and_changes_while_waiting_are_refused(shop: Shop, unique: str) -> None:
    number, request = shop.released(unique, [line("A", 5)])
    (fid,) = request.lines
    shop.respond(f"{unique}-ship", [shipped(fid, 2)])  # 2 shipped, 3 split off and open
    refused(lambda: shop.send(unique, [line("A", 1)], revision="2"), "OMGW-QUANTITY_BELOW_SHIPPED")
    # Oracle's way to cancel a backorder: the shipped quantity cancels the rest
    shop.send(unique, [line("A", 2)], revision="3")
    rest = next(f for f in shop.flines(number).values() if f.id != fid)
    assert rest.status == "CANCEL_PENDING"
    message = refused(
        lambda: shop.send(unique, [line("A", 4)], revision="4"), "OMGW-CHANGE_IN_PROGRESS"
    )
    assert "send this revision again" in message
    refused(
        lambda: shop.send(unique, [line("A", 2, item="OTHER")], revision="4"),
        "OMGW-LINE_CHANGE_NOT_ALLOWED",
    )
    refused(lambda: shop.send(unique, [line("A", 0)], revision="4"), "OMGW-MISSING_KEY")


# -- a shipment and a change crossing ---------------------------------------------------


def _both(first: Callable[[], Any], second: Callable[[], Any], round_: int) -> list[str]:
    """Run both calls: the first one first, the second one first, or both at once (by
    ``round_``, so a test's rounds take every order); what each ended in (OK or its
    fault code)."""
    outcomes = ["", ""]
    together = round_ % 3 == 2
    start = threading.Barrier(2) if together else None

    def run(i: int, call: Callable[[], Any]) -> None:
        if start is not None:
            start.wait()
        try:
            call()
            outcomes[i] = "OK"
        except Fault as exc:
            outcomes[i] = zeep_fault_code(exc)

    calls = list(enumerate((first, second)))
    if not together:
        for i, call in calls if round_ % 3 == 0 else calls[::-1]:
            run(i, call)
        return outcomes
    threads = [threading.Thread(target=run, args=pair) for pair in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


ROUNDS = 12


def test_a_shipment_and_a_cancel_answer_crossing_end_in_one_outcome(
    shop: Shop, unique: str
) -> None:
    ends = set()
    for i in range(ROUNDS):
        key = f"{unique}-{i}"
        number, request = shop.released(key, [line("A", 4)])
        (fid,) = request.lines
        shop.send(key, [line("A", 0, CancelReasonCode="X")], revision="2")
        (cancel,) = shop.deliver()
        ship, ack = _both(
            lambda k=key, f=fid: shop.respond(f"{k}-ship", [shipped(f, 4)]),
            lambda r=cancel.request_id: shop.ack(r),
            i,
        )
        fline = shop.flines(number)[fid]
        assert ack == "OK"  # the answer is taken either way; it decides only what waits
        if ship == "OK":  # the goods left first: the cancel was not made
            assert fline.status == "AWAIT_BILLING" and fline.shipped_quantity == Decimal(4)
            assert "before it answered the cancel" in (fline.change_error or "")
        else:  # the cancel came first: the late shipment is refused, never applied
            assert ship == "OMGW-RESPONSE_AFTER_CLOSE"
            assert fline.status == "CANCELED" and fline.shipped_quantity is None
        ends.add(fline.status)
        shop.deliver()  # the invoice request of a shipped line
    assert ends == {"AWAIT_BILLING", "CANCELED"}  # both orders were run


def test_a_shipment_and_a_cancel_revision_crossing_end_in_one_outcome(
    shop: Shop, unique: str
) -> None:
    ends = set()
    for i in range(ROUNDS):
        key = f"{unique}-{i}"
        number, request = shop.released(key, [line("A", 4)])
        (fid,) = request.lines
        ship, revise = _both(
            lambda k=key, f=fid: shop.respond(f"{k}-ship", [shipped(f, 4)]),
            lambda k=key: shop.send(k, [line("A", 0, CancelReasonCode="X")], revision="2"),
            i,
        )
        assert ship == "OK"  # the shipment always stands: nothing canceled it yet
        fline = shop.flines(number)[fid]
        assert fline.status == "AWAIT_BILLING" and fline.shipped_quantity == Decimal(4)
        if revise == "OK":  # the cancel came first and waited: the shipment refused it
            assert "before it answered the cancel" in (fline.change_error or "")
        else:  # the shipment came first: a cancel of what shipped is refused
            assert revise == "OMGW-QUANTITY_BELOW_SHIPPED"
        shop.deliver()
        with shop.gw.runtime.read_sessions() as s:
            sent = s.scalars(
                select(FulfillmentRequest.operation).where(
                    FulfillmentRequest.original_request_id == request.request_id
                )
            ).all()
        assert sent == (["Cancel"] if revise == "OK" else [])
        ends.add(revise)
    assert ends == {"OK", "OMGW-QUANTITY_BELOW_SHIPPED"}  # both orders were run


# -- returns ----------------------------------------------------------------------------


def test_return_two_of_five_twice_and_the_third_is_refused(shop: Shop, unique: str) -> None:
    _, request = shop.released(unique, [line("A", 5)])
    (fid,) = request.lines
    shop.respond(f"{unique}-ship", [shipped(fid, 5)])
    shop.deliver()  # the invoice request
    first = shop.send(f"{unique}-R1", [returning("R", 2, unique, "A")])
    (receipt,) = shop.deliver()
    (rid,) = receipt.lines
    assert (receipt.task, receipt.operation) == ("Return", "Create")
    assert shop.flines(str(first.OrderNumber))[rid].status == "AWAIT_RECEIVING"
    # the same return sent again is the same return: nothing more to take back or refund
    again = shop.send(f"{unique}-R1", [returning("R", 2, unique, "A")])
    assert again.MessageName == "OMGW-ORDER_EXISTS" and shop.deliver() == []
    shop.send(f"{unique}-R2", [returning("R", 2, unique, "A")])
    shop.deliver()
    message = refused(
        lambda: shop.send(f"{unique}-R3", [returning("R", 2, unique, "A")]),
        "OMGW-RETURN_EXCEEDS_SHIPPED",
    )
    assert "only 1 can be: 5 shipped" in message and "4 returned or being returned" in message
    # received, then credited once
    ret = str(first.OrderNumber)
    shop.respond(f"{unique}-rcv", [shipped(rid, 2, "RECEIVED")], task="Return")
    assert shop.flines(ret)[rid].status == "AWAIT_BILLING"
    (credit,) = shop.deliver()
    assert credit.task == "Invoice" and set(credit.lines) == {rid}
    bill = [{"FulfillLineIdentifier": rid, "StatusCode": "BILLED"}]
    shop.respond(f"{unique}-cm", bill, task="Invoice")
    assert shop.header(ret) == "CLOSED"
    # a second credit for it, under another identifier, is refused: no refund twice
    refused(lambda: shop.respond(f"{unique}-cm2", bill, "Invoice"), "OMGW-RESPONSE_AFTER_CLOSE")
    (got,) = shop.details(ret).OrderLine
    assert got.TransactionCategoryCode == "RETURN"


def test_returns_need_a_reference_to_a_shipped_line(shop: Shop, unique: str) -> None:
    shop.released(unique, [line("A", 5)])
    bare = line("R", 1, TransactionCategoryCode="RETURN")
    refused(lambda: shop.send(f"{unique}-R0", [bare]), "OMGW-RETURN_REFERENCE_MISSING")
    refused(
        lambda: shop.send(f"{unique}-R1", [returning("R", 1, unique, "NOPE")]),
        "OMGW-RETURN_REFERENCE_NOT_FOUND",
    )
    message = refused(
        lambda: shop.send(f"{unique}-R2", [returning("R", 1, unique, "A")]),
        "OMGW-RETURN_EXCEEDS_SHIPPED",
    )
    assert "0 shipped" in message


def test_returns_of_one_line_arriving_together_are_counted_once(shop: Shop, unique: str) -> None:
    for i in range(ROUNDS // 2):
        key = f"{unique}-{i}"
        _, request = shop.released(key, [line("A", 5)])
        (fid,) = request.lines
        shop.respond(f"{key}-ship", [shipped(fid, 5)])
        outcomes = _both(
            lambda k=key: shop.send(f"{k}-R1", [returning("R", 3, k, "A")]),
            lambda k=key: shop.send(f"{k}-R2", [returning("R", 3, k, "A")]),
            i,
        )
        assert sorted(outcomes) == ["OK", "OMGW-RETURN_EXCEEDS_SHIPPED"]
        shop.deliver()  # the invoice and the return's receipt requests


# -- a synchronous connector ------------------------------------------------------------


def test_a_synchronous_answer_already_shipped_reports_the_shipment(shop: Shop, unique: str) -> None:
    with shop.gw.runtime.sessions() as s, s.begin():
        Registry(s, "tests").put_connector(
            ConnectorSpec("WMS01_Fulfillment", "WMS01", shop.rx.url, invocation_mode="SYNC_SERVICE")
        )
    number = str(shop.send(unique, [line("A", 4)]).OrderNumber)
    (fid,) = shop.flines(number)
    with shop.gw.runtime.read_sessions() as s:
        first = s.scalar(select(FulfillLine.request_id).where(FulfillLine.id == fid))
    assert first is not None
    shop.rx.script.append(("200 OK", header_tr(first, "ACCEPTED")))
    shop.deliver()
    shop.send(unique, [line("A", 0, CancelReasonCode="X")], revision="2")
    with shop.gw.runtime.read_sessions() as s:
        cancel = s.scalar(select(FulfillLine.change_request_id).where(FulfillLine.id == fid))
    assert cancel is not None
    # the goods left before the cancel: the answer refuses it and reports the shipment
    shop.rx.script.append(("200 OK", header_tr(cancel, "REJECTED", "ALREADY_SHIPPED", {fid: 4})))
    cancel_sent, invoice = shop.deliver()  # the shipment then asks for billing
    assert (cancel_sent.operation, invoice.task) == ("Cancel", "Invoice")
    fline = shop.flines(number)[fid]
    assert (fline.status, fline.shipped_quantity) == ("AWAIT_BILLING", Decimal(4))
    assert "before it answered the cancel" in (fline.change_error or "")
    with shop.gw.runtime.read_sessions() as s:
        request = s.get(FulfillmentRequest, cancel)
        assert request is not None
        assert (request.status, request.ack_error_name) == ("REJECTED", "ALREADY_SHIPPED")


def test_a_ship_to_change_crossed_by_the_shipment_leaves_the_old_site(
    shop: Shop, unique: str
) -> None:
    site = {"ShipToPartySiteIdentifier": "1001"}
    number, request = shop.released(unique, [line("A", 4, **site)])
    (fid,) = request.lines
    shop.send(unique, [line("A", 4, ShipToPartySiteIdentifier="2002")], revision="2")
    (update,) = shop.deliver()
    assert update.lines[fid][2] == "2002"
    shop.respond(f"{unique}-ship", [shipped(fid, 4)])  # the goods left for 1001
    (got,) = shop.details(number).OrderLine
    assert got.ShipToPartySiteIdentifier == 1001
    assert "before it answered the change" in got.Comments
    shop.ack(update.request_id, "ERROR", "ALREADY_SHIPPED")  # changes nothing more
    (got,) = shop.details(number).OrderLine
    assert (got.StatusCode, got.ShipToPartySiteIdentifier) == ("AWAIT_BILLING", 1001)


def test_a_shipment_at_the_changed_quantity_before_the_answer_makes_the_change(
    shop: Shop, unique: str
) -> None:
    # the warehouse made the Update, and its shipment report overtakes its answer
    number, request = shop.released(unique, [line("A", 5)])
    (fid,) = request.lines
    shop.send(unique, [line("A", 3)], revision="2")
    (update,) = shop.deliver()
    shop.respond(f"{unique}-ship", [shipped(fid, 3)])
    flines = shop.flines(number)
    assert list(flines) == [fid]  # no remainder left to wait for a shipment never coming
    assert (flines[fid].status, flines[fid].quantity) == ("AWAIT_BILLING", Decimal(3))
    assert flines[fid].change_error is None
    shop.ack(update.request_id)  # the answer arrives late and changes nothing
    assert shop.flines(number)[fid].quantity == Decimal(3)


def test_a_partial_shipment_before_the_answer_leaves_the_rest_waiting_for_it(
    shop: Shop, unique: str
) -> None:
    number, request = shop.released(unique, [line("A", 5)])
    (fid,) = request.lines
    shop.send(unique, [line("A", 4)], revision="2")
    (update,) = shop.deliver()
    shop.respond(f"{unique}-ship", [shipped(fid, 1)])
    rest = next(f for f in shop.flines(number).values() if f.id != fid)
    # the Update asked for 4 in all; 1 shipped, so the rest is to become 3
    assert (rest.status, rest.quantity) == ("CHANGE_PENDING", Decimal(4))
    shop.ack(update.request_id)
    rest = shop.flines(number)[rest.id]
    assert (rest.status, rest.quantity) == ("AWAIT_SHIP", Decimal(3))


def test_a_revision_puts_the_holds_it_gives_on_the_order_and_its_lines(
    shop: Shop, unique: str
) -> None:
    number, request = shop.released(unique, [line("A", 2)])
    (fid,) = request.lines
    # revision 2 holds line A and adds line B under a hold of its own
    held = line("A", 2, Hold=[{"HoldCode": "QA"}])
    shop.send(unique, [held, line("B", 1, Hold=[{"HoldCode": "CREDIT"}])], revision="2")
    assert shop.deliver() == []  # B waits for its hold
    message = refused(lambda: shop.respond(f"{unique}-a", [shipped(fid, 2)]), "OMGW-LINE_ON_HOLD")
    assert "hold QA" in message
    # the same revision's holds again are no new holds; a release lets B go out
    shop.send(unique, [held, line("B", 1, Hold=[{"HoldCode": "CREDIT"}])], revision="3")
    listed = shop.admin().ok("hold", "list", "--order", number)
    assert listed.count("QA") == 1 and listed.count("CREDIT") == 1
    shop.admin().ok("hold", "release", number, "CREDIT", "--line", "2")
    (create,) = shop.deliver()
    assert create.operation == "Create" and len(create.lines) == 1
