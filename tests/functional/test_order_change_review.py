"""Review findings of the order-changes change: each test names the behaviour it expects
and fails on HEAD 1ed994a."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from zeep.exceptions import Fault

from gateway.persistence.models import OutboxMessage
from tests.common.header_tr import header_tr
from tests.common.orders import shipped
from tests.common.shop import Shop, line, returning, shop_at
from tests.common.soap import zeep_fault_code

pytestmark = pytest.mark.both_databases

CLIENT_FAULT = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>"
    b"<faultstring>no such item</faultstring>"
    b"</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
)


@pytest.fixture
def shop(fresh_database_url: str, tmp_path: Path) -> Iterator[Shop]:
    with shop_at(fresh_database_url, tmp_path / "home") as running:
        yield running


def fault(call: Callable[[], Any]) -> str:
    with pytest.raises(Fault) as exc:
        call()
    return str(zeep_fault_code(exc.value)) + " " + str(exc.value.message)


def by_fline(fid: int, qty: int) -> dict[str, Any]:
    ref = returning("R", qty, "x", "x")
    ref["DocumentReference"] = [
        {
            "DocumentReferenceType": "ORIGINAL_ORCHESTRATION_ORDER",
            "DocumentSubLineIdentifier": str(fid),
        }
    ]
    return ref


def test_a_revision_leaving_out_a_return_line_cannot_return_more_than_shipped(
    shop: Shop, unique: str
) -> None:
    _, request = shop.released(unique, [line("A", 2)])
    (fid,) = request.lines
    shop.respond(f"{unique}-ship", [shipped(fid, 2)])
    shop.deliver()
    ret = shop.send(f"{unique}-R", [returning("R1", 2, unique, "A")])
    # revision 2 of the return order leaves R1 out (kept as it is) and adds R2 for 2 more
    try:
        shop.send(f"{unique}-R", [returning("R2", 2, unique, "A")], revision="2")
        outcome = "accepted"
    except Fault as exc:
        outcome = str(zeep_fault_code(exc))
    live = [
        f.quantity for f in shop.flines(str(ret.OrderNumber)).values() if f.status != "CANCELED"
    ]
    assert sum(live) <= 2, (outcome, live)  # never more coming back than shipped


def test_a_return_of_a_return_line_is_refused(shop: Shop, unique: str) -> None:
    _, request = shop.released(unique, [line("A", 2)])
    (fid,) = request.lines
    shop.respond(f"{unique}-ship", [shipped(fid, 2)])
    shop.deliver()
    ret = shop.send(f"{unique}-R", [returning("R1", 2, unique, "A")])
    (receipt,) = [s for s in shop.deliver() if s.task == "Return"]
    (rid,) = receipt.lines
    shop.respond(f"{unique}-rcv", [shipped(rid, 2, "RECEIVED")], task="Return")
    # a "return" of the return line: nothing shipped to the customer on it
    outcome = fault(lambda: shop.send(f"{unique}-RR", [returning("X", 2, f"{unique}-R", "R1")]))
    assert "OMGW-RETURN" in outcome, (ret.OrderNumber, outcome)


def test_a_huge_document_sub_line_identifier_is_a_client_fault(shop: Shop, unique: str) -> None:
    outcome = fault(lambda: shop.send(f"{unique}-R", [by_fline(10**25, 1)]))  # type: ignore[arg-type]
    assert outcome.startswith("OMGW-RETURN_REFERENCE"), outcome


def test_a_superscript_document_sub_line_identifier_is_a_client_fault(
    shop: Shop, unique: str
) -> None:
    ref = by_fline(1, 1)
    ref["DocumentReference"][0]["DocumentSubLineIdentifier"] = "\u00b2"
    outcome = fault(lambda: shop.send(f"{unique}-R", [ref]))
    assert outcome.startswith("OMGW-RETURN_REFERENCE"), outcome


def test_returns_of_each_half_of_a_split_line_by_fulfillment_line_are_accepted(
    shop: Shop, unique: str
) -> None:
    number, request = shop.released(unique, [line("A", 5)])
    (fid,) = request.lines
    shop.respond(f"{unique}-s1", [shipped(fid, 3)])  # 3 of 5: the line splits
    (rest,) = [f for f in shop.flines(number) if f != fid]
    shop.respond(f"{unique}-s2", [shipped(rest, 2)])
    shop.deliver()
    shop.send(f"{unique}-R1", [by_fline(fid, 3)])
    ok = shop.send(f"{unique}-R2", [by_fline(rest, 2)])  # 2 of what `rest` shipped
    assert ok.OrderNumber


def test_a_cancel_is_not_sent_ahead_of_its_parked_create(shop: Shop, unique: str) -> None:
    shop.rx.script.append(("500 Internal Server Error", CLIENT_FAULT))
    number = str(shop.send(unique, [line("A", 5)]).OrderNumber)
    (create,) = shop.deliver()  # refused as a Client fault: parked
    with shop.gw.runtime.read_sessions() as s:
        statuses = list(s.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))
    assert statuses[-1] == "PARKED", statuses
    (fid,) = create.lines
    shop.send(unique, [line("A", 0, CancelReasonCode="CUST")], revision="2")
    line_status = shop.flines(number)[fid].status
    got = shop.deliver()
    # the warehouse never got the Create; a Cancel for it alone either waits behind the
    # parked Create or is not needed (the line can be canceled here, the Create discarded)
    assert [g.operation for g in got] == [], (line_status, [(g.operation, g.original) for g in got])


def test_a_create_parked_before_its_line_was_canceled_is_not_replayed(
    shop: Shop, unique: str
) -> None:
    shop.rx.script.append(("500 Internal Server Error", CLIENT_FAULT))
    number = str(shop.send(unique, [line("A", 5)]).OrderNumber)
    (create,) = shop.deliver()
    (fid,) = create.lines
    shop.send(unique, [line("A", 0, CancelReasonCode="CUST")], revision="2")
    # the warehouse never took the Create: the line is canceled here, nothing is sent
    assert shop.flines(number)[fid].status == "CANCELED"
    assert shop.deliver() == []
    with shop.gw.runtime.read_sessions() as s:
        (withdrawn,) = s.scalars(select(OutboxMessage.id)).all()
    # the operator works the parked alert as message-parked.md says: nothing to replay
    out = shop.admin()("messages", "replay", "--id", str(withdrawn)).output
    assert shop.deliver() == [], out


def test_a_return_line_added_while_held_is_requested_as_a_return_on_release(
    shop: Shop, unique: str
) -> None:
    _, request = shop.released(unique, [line("A", 5)])
    (fid,) = request.lines
    shop.respond(f"{unique}-ship", [shipped(fid, 5)])
    shop.deliver()
    ret = str(shop.send(f"{unique}-R", [returning("R1", 1, unique, "A")]).OrderNumber)
    shop.deliver()
    admin = shop.admin()
    admin.ok("hold", "apply", ret, "CREDIT")
    # revision 2 adds a second return line while the order is held: it waits
    shop.send(
        f"{unique}-R",
        [returning("R1", 1, unique, "A"), returning("R2", 1, unique, "A")],
        revision="2",
    )
    assert shop.deliver() == []
    admin.ok("hold", "release", ret, "CREDIT")
    (sent,) = shop.deliver()
    statuses = {f.id: (f.task_type, f.status) for f in shop.flines(ret).values()}
    assert sent.task == "Return", (sent.task, sent.lines, statuses)


def test_a_return_waiting_for_receipt_can_be_reduced(shop: Shop, unique: str) -> None:
    _, request = shop.released(unique, [line("A", 2)])
    (fid,) = request.lines
    shop.respond(f"{unique}-ship", [shipped(fid, 2)])
    shop.deliver()
    ret = str(shop.send(f"{unique}-R", [returning("R1", 2, unique, "A")]).OrderNumber)
    shop.deliver()
    # the customer sends back 1, not 2: revision 2 of the return says so
    try:
        shop.send(f"{unique}-R", [returning("R1", 1, unique, "A")], revision="2")
        outcome = "accepted"
    except Fault as exc:
        outcome = f"{zeep_fault_code(exc)}: {exc.message}"
    assert outcome == "accepted", outcome
    (update,) = shop.deliver()
    assert update.operation == "Update"
    shop.ack(update.request_id)
    assert [f.quantity for f in shop.flines(ret).values()] == [1]


def test_a_return_line_revised_as_a_plain_line_is_still_capped_at_what_shipped(
    shop: Shop, unique: str
) -> None:
    _, request = shop.released(unique, [line("A", 2)])
    (fid,) = request.lines
    shop.respond(f"{unique}-ship", [shipped(fid, 2)])
    shop.deliver()
    admin = shop.admin()
    # the return is held before it is requested (a line of it that no warehouse holds yet)
    ret = str(shop.send(f"{unique}-R", [returning("R1", 1, unique, "A")]).OrderNumber)
    admin.ok("hold", "apply", ret, "CREDIT")
    shop.send(
        f"{unique}-R",
        [returning("R1", 1, unique, "A"), returning("R2", 1, unique, "A")],
        revision="2",
    )
    # revision 3 sends R2 at 5 with no TransactionCategoryCode: resolve_returns skips it
    try:
        shop.send(f"{unique}-R", [line("R2", 5)], revision="3")
        outcome = "accepted"
    except Fault as exc:
        outcome = str(zeep_fault_code(exc))
    live = {f.id: (f.quantity, f.status) for f in shop.flines(ret).values()}
    assert sum(q for q, st in live.values() if st != "CANCELED") <= 2, (outcome, live)


def test_a_synchronous_answer_to_a_cancel_does_not_drop_a_shipment_it_reports(
    shop: Shop, unique: str
) -> None:
    from connectors.connector_specs import ConnectorSpec
    from gateway.persistence.models import FulfillLine
    from gateway.registry.store import Registry

    with shop.gw.runtime.sessions() as s, s.begin():
        Registry(s, "tests").put_connector(
            ConnectorSpec("WMS01_Fulfillment", "WMS01", shop.rx.url, invocation_mode="SYNC_SERVICE")
        )
    number = str(shop.send(unique, [line("A", 4), line("B", 2, item="AS1")]).OrderNumber)
    a, b = shop.flines(number)
    with shop.gw.runtime.read_sessions() as s:
        first = s.scalar(select(FulfillLine.request_id).where(FulfillLine.id == a))
    shop.rx.script.append(("200 OK", header_tr(first, "ACCEPTED")))
    shop.deliver()
    shop.send(unique, [line("A", 4), line("B", 0, item="AS1", CancelReasonCode="X")], revision="2")
    with shop.gw.runtime.read_sessions() as s:
        cancel = s.scalar(select(FulfillLine.change_request_id).where(FulfillLine.id == b))
    # both lines left the warehouse before the cancel of B: its answer reports both
    shop.rx.script.append(
        ("200 OK", header_tr(cancel, "REJECTED", "ALREADY_SHIPPED", {a: 4, b: 2}))
    )
    shop.deliver()
    with shop.gw.runtime.read_sessions() as s:
        rows = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        outbox = [(m.status, m.last_error) for m in rows]
    got = {f: (x.status, x.shipped_quantity) for f, x in shop.flines(number).items()}
    assert got[a][0] != "AWAIT_SHIP", (got, outbox)  # A's shipment is not silently lost


def test_an_increase_after_a_shipment_at_the_changed_quantity_is_requested(
    shop: Shop, unique: str
) -> None:
    from gateway.persistence.models import OrderLine

    number, request = shop.released(unique, [line("A", 5)])
    (fid,) = request.lines
    shop.send(unique, [line("A", 3)], revision="2")
    shop.deliver()
    # the warehouse ships 3 (it took the Update); its acknowledgement is still to come
    shop.respond(f"{unique}-ship", [shipped(fid, 3)])
    (invoice,) = shop.deliver()
    assert invoice.task == "Invoice"
    fline = shop.flines(number)[fid]
    assert (fline.quantity, fline.shipped_quantity) == (3, 3)
    with shop.gw.runtime.read_sessions() as s:
        ordered = s.scalar(
            select(OrderLine.ordered_quantity).where(OrderLine.id == fline.order_line_id)
        )
    (got,) = shop.details(number).OrderLine
    shown = got.OrderedQuantity._value_1  # 3: GetOrderDetails says so
    # the customer wants 5 after all: revision 3 asks for the 2 more
    shop.send(unique, [line("A", 5)], revision="3")
    added = shop.deliver()
    fl = {f: (x.quantity, x.status) for f, x in shop.flines(number).items()}
    assert [sum(q for q, _s, _t in a.lines.values()) for a in added] == [2], (ordered, shown, fl)


def test_a_line_whose_request_the_warehouse_rejected_can_be_canceled(
    shop: Shop, unique: str
) -> None:
    number = str(shop.send(unique, [line("A", 5)]).OrderNumber)
    (create,) = shop.deliver()
    (fid,) = create.lines
    shop.ack(create.request_id, "ERROR", "UNKNOWN_ITEM", "no such item")  # never taken
    shop.send(unique, [line("A", 0, CancelReasonCode="CUST")], revision="2")
    sent = shop.deliver()
    for s in sent:  # the warehouse knows no such request: it can only say no
        shop.ack(s.request_id, "ERROR", "REQUEST_NOT_FOUND", "unknown request")
    fline = shop.flines(number)[fid]
    assert fline.status == "CANCELED", (
        fline.status,
        fline.change_error,
        [(s.operation, s.original) for s in sent],
    )


def test_a_return_naming_another_systems_fulfillment_line_learns_nothing_of_it(
    shop: Shop, unique: str
) -> None:
    from connectors.connector_specs import SourceSystemSpec
    from gateway.registry.store import Registry

    with shop.gw.runtime.sessions() as s, s.begin():
        Registry(s, "tests").put_source_system(SourceSystemSpec("OTHER", order_capture=True))
    number, request = shop.released(unique, [line("A", 5)])  # an order of LEGACY
    (fid,) = request.lines
    ref = by_fline(fid, 1)
    body = {"SourceTransactionSystem": "OTHER"}
    outcome = fault(lambda: shop.send(f"{unique}-X", [ref], **body))
    assert number not in outcome, outcome  # LEGACY's order number, told to OTHER


def test_a_revised_order_whose_lines_all_shipped_is_not_reported_unanswered(
    shop: Shop, unique: str
) -> None:
    from datetime import timedelta

    from gateway.observe.ops_snapshot import Thresholds, read_snapshot
    from gateway.persistence.models import utcnow

    _, request = shop.released(unique, [line("A", 4)])
    (fid,) = request.lines
    # revision 2 only adds a line: A's copy (DOO_REFERENCE) keeps A as it was, AWAIT_SHIP
    shop.send(unique, [line("A", 4), line("B", 1, item="AS1")], revision="2")
    shop.deliver()
    shop.respond(f"{unique}-ship", [shipped(fid, 4)])  # A ships whole
    shop.deliver()
    later = utcnow() + timedelta(seconds=10)
    with shop.gw.runtime.read_sessions() as s:
        snap = read_snapshot(s, later, Thresholds(no_response=1))
        from gateway.persistence.models import FulfillLine, OrderHeader

        on_request = s.execute(
            select(FulfillLine.id, FulfillLine.status, OrderHeader.status)
            .join(OrderHeader, OrderHeader.id == FulfillLine.header_id)
            .where(FulfillLine.request_id == request.request_id)
        ).all()
    # B's request was never acknowledged (not counted); A's was answered by the shipment
    waiting = {n: v.no_response for n, v in snap.connectors.items() if v.no_response}
    assert waiting == {}, (waiting, on_request)


def test_a_revision_restating_a_waiting_cancel_can_change_another_line(
    shop: Shop, unique: str
) -> None:
    number, request = shop.released(unique, [line("A", 5), line("B", 2, item="AS1")])
    a, _ = sorted(request.lines)
    cancel_a = line("A", 0, CancelReasonCode="CUST")
    shop.send(unique, [cancel_a, line("B", 2, item="AS1")], revision="2")
    shop.deliver()  # the Cancel of A; the warehouse has not answered yet
    # the source system sends its whole order again, A still canceled, B now 3
    try:
        shop.send(unique, [cancel_a, line("B", 3, item="AS1")], revision="3")
        outcome = "accepted"
    except Fault as exc:
        outcome = f"{zeep_fault_code(exc)}: {exc.message}"
    assert outcome == "accepted", outcome
    assert shop.flines(number)[a].status == "CANCEL_PENDING"
