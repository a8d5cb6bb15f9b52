"""Intake and response processing against a real (SQLite) database, without SOAP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.errors import ResponseRejected, StateError, ValidationError
from gateway.orders.intake import OrderIntake
from gateway.orders.message_values import (
    Acknowledgement,
    FulfillLineResponse,
    FulfillmentResponse,
    LineInput,
    OrderInput,
    ResponseResult,
)
from gateway.orders.responses import ResponseProcessor
from gateway.persistence.models import FulfillLine, StatusHistory


def new_order(key: str, qtys=(10,), revision="1", ship_set=None) -> OrderInput:
    return OrderInput(
        source_system="LEGACY",
        source_order_id=key,
        source_order_number=f"SO-{key}",
        revision=revision,
        lines=tuple(
            LineInput(f"L{i}", str(i), f"ITEM{i}", Decimal(q), "Ea", ship_set_name=ship_set)
            for i, q in enumerate(qtys, start=1)
        ),
    )


def create(runtime, order: OrderInput):
    with runtime.sessions() as s, s.begin():
        outcome = OrderIntake(s).create(order)
        return outcome.status, [f.id for ln in outcome.header.lines for f in ln.fulfill_lines]


def respond(runtime, rid, lines, system="WMS01", task="Shipment") -> ResponseResult:
    with runtime.sessions() as s, s.begin():
        return ResponseProcessor(s).process(FulfillmentResponse(system, rid, task, tuple(lines)))


def ship(fid, qty=None, status=None):
    return FulfillLineResponse(fid, status, None if qty is None else Decimal(qty))


def statuses(runtime):
    with runtime.sessions() as s:
        return {
            f.id: (f.status, f.quantity, f.fulfill_line_number)
            for f in s.scalars(select(FulfillLine))
        }


def test_intake_records_history_and_is_idempotent(domain):
    status, (fid,) = create(domain, new_order("A"))
    assert status == "CREATED"
    assert create(domain, new_order("A")) == ("EXISTING", [fid])
    with domain.sessions() as s:
        history = s.execute(
            select(
                StatusHistory.entity, StatusHistory.old_status, StatusHistory.new_status
            ).order_by(StatusHistory.id)
        ).all()
    assert ("HEADER", "DOO_DRAFT", "OPEN") in history
    # the process's internal Schedule step, then the shipment request
    assert ("FULFILL_LINE", "CREATED", "SCHEDULED") in history
    assert ("FULFILL_LINE", "SCHEDULED", "AWAIT_SHIP") in history
    assert ("LINE", "CREATED", "AWAIT_SHIP") in history


def test_revision_rules(domain):
    _, (fid,) = create(domain, new_order("R"))
    respond(domain, "r1", [ship(fid, 2)])
    # a revision may change a line that shipped in part, never below what shipped
    with pytest.raises(StateError) as exc:
        create(domain, new_order("R", qtys=(1,), revision="2"))
    assert exc.value.code == "QUANTITY_BELOW_SHIPPED"
    assert "2 has shipped" in exc.value.message
    with pytest.raises(ValidationError):
        create(domain, new_order("R", revision="two"))


def test_repeated_splits_number_the_lines(domain):
    _, (fid,) = create(domain, new_order("S", (10,)))
    first = respond(domain, "s1", [ship(fid, 2)])
    rest = next(o.fulfill_line_id for o in first.lines if o.split_reference_id == fid)
    second = respond(domain, "s2", [ship(rest, 3)])
    last = next(o.fulfill_line_id for o in second.lines if o.split_reference_id == rest)
    st = statuses(domain)
    assert st[fid] == ("AWAIT_BILLING", Decimal(2), 1)
    assert st[rest] == ("AWAIT_BILLING", Decimal(3), 2)
    assert st[last] == ("AWAIT_SHIP", Decimal(5), 3)


def test_backorder_then_ship(domain):
    _, (fid,) = create(domain, new_order("B"))
    respond(domain, "b1", [ship(fid, status="BACKORDERED")])
    assert statuses(domain)[fid][0] == "BACKORDERED"
    respond(domain, "b2", [ship(fid)])
    assert statuses(domain)[fid][0] == "AWAIT_BILLING"


def test_first_error_and_any_error_apply_nothing(domain):
    _, (f1, f2) = create(domain, new_order("E", (5, 5)))
    before = statuses(domain)
    for system, expected in (("WMS01", 1), ("WMSANY", 2)):
        with pytest.raises(ResponseRejected) as exc:
            respond(domain, "e-" + system, [ship(f1, 6), ship(f2, 0)], system=system)
        assert [d.code for d in exc.value.details][:expected] == [
            "QUANTITY_EXCEEDS_OPEN",
            "QUANTITY_INVALID",
        ][:expected]
        assert len(exc.value.details) == expected
        assert statuses(domain) == before


def test_error_groups_without_ship_sets_reject_only_the_bad_line(domain):
    _, (f1, f2) = create(domain, new_order("G", (5, 5)))
    result = respond(domain, "g1", [ship(f1, 6), ship(f2)], system="WMSGRP")
    assert result.overall_status == "WARNING"
    assert {o.fulfill_line_id: o.status for o in result.lines} == {f1: "ERROR", f2: "SUCCESS"}
    # the rejected line can be answered again, correctly
    assert respond(domain, "g2", [ship(f1, 5)], system="WMSGRP").overall_status == "SUCCESS"


def test_error_groups_with_every_group_bad_is_a_rejection(domain):
    _, (f1, f2) = create(domain, new_order("H", (5, 5), ship_set="SS"))
    before = statuses(domain)
    with pytest.raises(ResponseRejected):
        respond(domain, "h1", [ship(f1, 6), ship(f2)], system="WMSGRP")
    assert statuses(domain) == before


def test_rejected_response_id_can_be_reused_after_a_fix(domain):
    _, (fid,) = create(domain, new_order("F", (5,)))
    with pytest.raises(ResponseRejected):
        respond(domain, "f1", [ship(fid, 6)])
    assert respond(domain, "f1", [ship(fid, 5)]).overall_status == "SUCCESS"
    replay = respond(domain, "f1", [ship(fid, 1)])  # a different body under the same id
    assert replay.replayed and replay.overall_status == "SUCCESS"
    assert statuses(domain)[fid][0] == "AWAIT_BILLING"


def test_response_from_a_system_the_lines_were_not_sent_to(domain):
    with domain.sessions() as s, s.begin():
        outcome = OrderIntake(s, default_fulfillment_system="WMSANY").create(new_order("X"))
        fid = outcome.header.lines[0].fulfill_lines[0].id
    with pytest.raises(ResponseRejected) as exc:
        respond(domain, "x1", [ship(fid)], system="WMS01")
    assert exc.value.code == "LINE_NOT_ASSIGNED"


def test_acknowledgement_of_a_rejected_request_keeps_the_reason(domain):
    _, (fid,) = create(domain, new_order("K"))
    with domain.sessions() as s:
        request_id = s.get(FulfillLine, fid).request_id
    with domain.sessions() as s, s.begin():
        ResponseProcessor(s).acknowledge(
            Acknowledgement("WMS01", request_id, "ERROR", "WMS-42", "unknown item")
        )
    with domain.sessions() as s:
        req = s.get(FulfillLine, fid).request
        assert (req.status, req.ack_error_name, req.ack_error_text) == (
            "REJECTED",
            "WMS-42",
            "unknown item",
        )


def test_commands_round_trip_through_json():
    order = new_order("J", (1, 2))
    assert OrderInput.from_json(order.to_json()) == order
    resp = FulfillmentResponse("W", "r", "Shipment", (ship(1, "2.5"),))
    assert FulfillmentResponse.from_json(resp.to_json()) == resp
