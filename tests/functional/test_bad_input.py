"""Every malformed, hostile or out-of-order message gets a fault with a stable code
and changes nothing (README "Faults")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from zeep.exceptions import Fault

from tests.common.malformed import RAW_CASES, envelope
from tests.common.orders import first_fline, fline_ids, order, response, shipped
from tests.common.soap import basic, client, fault_code, post, zeep_fault_code, zeep_fault_details
from tests.common.state import snapshot, unchanged


@pytest.mark.parametrize("case", list(RAW_CASES))
def test_malformed_and_hostile_bodies_get_faults(gateway, case):
    body, code = RAW_CASES[case]
    before = snapshot(gateway.runtime)
    resp = post(gateway.url("OrderFulfillmentResponseService"), body, basic("all"))
    assert resp.status == 500
    assert fault_code(resp.body) == code
    assert b"root:" not in resp.body  # nothing of /etc/passwd leaks
    unchanged(gateway.runtime, before)


def test_body_over_the_limit(gateway):
    # The test gateway's limit is 256 KiB.
    body = envelope(
        "<typ:processAcknowledgement>" + "x" * 300_000 + "</typ:processAcknowledgement>"
    )
    resp = post(gateway.url("OrderFulfillmentResponseService"), body, basic("all"))
    assert resp.status == 500
    assert fault_code(resp.body) == "OMGW-REQUEST_TOO_LARGE"


def test_unknown_path_and_method(gateway):
    resp = post(gateway.base + "/fscmService/NoSuchService", envelope(""), basic("all"))
    assert resp.status == 404
    assert b"OrderImportService" in resp.body


def refused(gateway, call, code: str) -> Fault:
    before = snapshot(gateway.runtime)
    with pytest.raises(Fault) as exc:
        call()
    assert zeep_fault_code(exc.value) == code, exc.value.message
    assert exc.value.message  # a sentence a person can act on
    unchanged(gateway.runtime, before)
    return exc.value


def test_order_without_keys(gateway, imports, unique):
    bad = order(unique)
    del bad["SourceTransactionIdentifier"]
    fault = refused(
        gateway, lambda: imports.service.createOrders(request={"Order": [bad]}), "OMGW-MISSING_KEY"
    )
    assert "SourceTransactionIdentifier" in fault.message


def test_order_from_unknown_source_system(gateway, imports, unique):
    refused(
        gateway,
        lambda: imports.service.createOrders(request={"Order": [order(unique, system="NOPE")]}),
        "OMGW-SOURCE_SYSTEM_UNKNOWN",
    )


@pytest.mark.parametrize("qty", ["0", "-2"])
def test_order_with_zero_or_negative_quantity(gateway, imports, unique, qty):
    refused(
        gateway,
        lambda: imports.service.createOrders(request={"Order": [order(unique, [("X", qty)])]}),
        "OMGW-QUANTITY_INVALID",
    )


def test_a_bad_order_in_a_batch_applies_none_of_it(gateway, imports, unique):
    good, bad = order(unique + "A"), order(unique + "B", [("X", "0")])
    refused(
        gateway,
        lambda: imports.service.createOrders(request={"Order": [good, bad]}),
        "OMGW-QUANTITY_INVALID",
    )


def test_unknown_order(gateway):
    info = client(gateway.base, "OrderInformationService")
    refused(
        gateway,
        lambda: info.service.GetOrderDetails(Order=[{"SourceTransactionNumber": "NOPE-404"}]),
        "OMGW-ORDER_NOT_FOUND",
    )


def test_inquiry_without_any_key(gateway):
    info = client(gateway.base, "OrderInformationService")
    refused(gateway, lambda: info.service.GetOrderDetails(Order=[{}]), "OMGW-MISSING_KEY")


def test_unknown_line_and_unknown_fulfillment_system(gateway, ofrs):
    refused(
        gateway,
        lambda: ofrs.service.processFulfillmentResponse(**response("U1", [shipped(999_999_999)])),
        "OMGW-LINE_NOT_FOUND",
    )
    refused(
        gateway,
        lambda: ofrs.service.processFulfillmentResponse(
            **response("U2", [shipped(1)], system="NOPE")
        ),
        "OMGW-SOURCE_SYSTEM_UNKNOWN",
    )


def test_response_line_without_identifier(gateway, ofrs):
    refused(
        gateway,
        lambda: ofrs.service.processFulfillmentResponse(
            **response("M1", [{"StatusCode": "SHIPPED"}])
        ),
        "OMGW-MISSING_KEY",
    )


@pytest.mark.parametrize("qty", ["0", "-1"])
def test_shipped_quantity_zero_or_negative(gateway, imports, ofrs, unique, qty):
    fline = first_fline(imports, unique)
    refused(
        gateway,
        lambda: ofrs.service.processFulfillmentResponse(**response(unique, [shipped(fline, qty)])),
        "OMGW-QUANTITY_INVALID",
    )


def test_shipped_quantity_above_open(gateway, imports, ofrs, unique):
    fline = first_fline(imports, unique, 5)
    fault = refused(
        gateway,
        lambda: ofrs.service.processFulfillmentResponse(**response(unique, [shipped(fline, 6)])),
        "OMGW-QUANTITY_EXCEEDS_OPEN",
    )
    assert "open quantity 5" in fault.message


def test_unknown_task_type(gateway, imports, ofrs, unique):
    fline = first_fline(imports, unique)
    refused(
        gateway,
        lambda: ofrs.service.processFulfillmentResponse(
            **response(unique, [shipped(fline)], task="Teleport")
        ),
        "OMGW-INVALID_VALUE",
    )


def test_invoice_before_shipment_is_out_of_order(gateway, imports, ofrs, unique):
    fline = first_fline(imports, unique)
    refused(
        gateway,
        lambda: ofrs.service.processFulfillmentResponse(
            **response(unique, [shipped(fline)], task="Invoice")
        ),
        "OMGW-RESPONSE_BEFORE_REQUEST",
    )


def test_shipment_for_a_line_awaiting_billing(gateway, imports, ofrs, unique):
    fline = first_fline(imports, unique)
    ofrs.service.processFulfillmentResponse(**response(unique + "-1", [shipped(fline)]))
    refused(
        gateway,
        lambda: ofrs.service.processFulfillmentResponse(
            **response(unique + "-2", [shipped(fline)])
        ),
        "OMGW-LINE_NOT_AWAITING_TASK",
    )


def test_response_after_close(gateway, imports, ofrs, unique):
    fline = first_fline(imports, unique)
    ofrs.service.processFulfillmentResponse(**response(unique + "-1", [shipped(fline)]))
    ofrs.service.processFulfillmentResponse(
        **response(unique + "-2", [shipped(fline)], task="Invoice")
    )
    refused(
        gateway,
        lambda: ofrs.service.processFulfillmentResponse(
            **response(unique + "-3", [shipped(fline)], task="Invoice")
        ),
        "OMGW-RESPONSE_AFTER_CLOSE",
    )


def test_response_for_a_superseded_revision(gateway, imports, ofrs, unique):
    first_fline(imports, unique)
    imports.service.createOrders(request={"Order": [order(unique, [("X", 4)], revision="2")]})
    # the fulfillment line of the reference copy revision 1 left behind
    info = client(gateway.base, "OrderInformationService")
    (old,) = info.service.GetOrderDetails(
        Order=[
            {
                "SourceTransactionIdentifier": unique,
                "SourceTransactionSystem": "LEGACY",
                "SourceTransactionRevision": "1",
            }
        ]
    )
    assert old.StatusCode == "DOO_REFERENCE"
    fline = old.OrderLine[0].FulfillLineIdentifier
    refused(
        gateway,
        lambda: ofrs.service.processFulfillmentResponse(**response(unique, [shipped(fline)])),
        "OMGW-ORDER_SUPERSEDED",
    )


def test_acknowledgements_out_of_order(gateway, imports, ofrs, unique):
    info = client(gateway.base, "OrderInformationService")
    first_fline(imports, unique)
    got = info.service.GetOrderDetails(Order=[{"SourceTransactionNumber": f"SO-{unique}"}])[0]
    request_id = got.OrderLine[0].FulfillmentRequestIdentifier

    def ack(status: str, request: int = request_id):
        return lambda: ofrs.service.processAcknowledgement(
            fulfillmentRequestAcknowledgement={
                "FulfillmentSystem": "WMS01",
                "FulfillmentRequestIdentifier": request,
                "RequestStatusCode": status,
            }
        )

    refused(gateway, ack("SUCCESS", 987_654_321), "OMGW-REQUEST_NOT_FOUND")
    refused(gateway, ack("MAYBE"), "OMGW-INVALID_VALUE")
    ack("SUCCESS")()
    ack("SUCCESS")()  # the same acknowledgement again is harmless
    refused(gateway, ack("ERROR"), "OMGW-ACK_CONFLICT")


def test_any_error_option_reports_every_bad_line(gateway, imports, ofrs, unique):
    fline = first_fline(imports, unique, 5)
    fault = refused(
        gateway,
        lambda: ofrs.service.processFulfillmentResponse(
            **response(
                unique,
                [shipped(fline, 9), shipped(999_999_998), shipped(fline + 0)],
                system="WMSANY",
            )
        ),
        "OMGW-QUANTITY_EXCEEDS_OPEN",
    )
    assert zeep_fault_details(fault) == [
        "OMGW-QUANTITY_EXCEEDS_OPEN",
        "OMGW-LINE_NOT_FOUND",
        "OMGW-DUPLICATE_LINE",
    ]


def test_first_error_option_stops_at_the_first(gateway, imports, ofrs, unique):
    fline = first_fline(imports, unique, 5)
    fault = refused(
        gateway,
        lambda: ofrs.service.processFulfillmentResponse(
            **response(unique, [shipped(999_999_998), shipped(fline, 9)])
        ),
        "OMGW-LINE_NOT_FOUND",
    )
    assert zeep_fault_details(fault) == ["OMGW-LINE_NOT_FOUND"]


def test_error_groups_apply_the_good_and_reject_the_ship_set(gateway, imports, ofrs, unique):
    # Two ship-set lines and one free line; one ship-set line ships too much.
    o = order(unique, [("A", 5), ("B", 5), ("C", 5)])
    o["Line"][0]["ShipSetName"] = "SS1"
    o["Line"][1]["ShipSetName"] = "SS1"
    created = imports.service.createOrders(request={"Order": [o]})[0]
    a, b, c = fline_ids(created)

    res = ofrs.service.processFulfillmentResponse(
        **response(unique, [shipped(a, 9), shipped(b), shipped(c)], system="WMSGRP")
    )
    assert res.OverallStatusCode == "WARNING"
    by_id = {ln.FulfillLineIdentifier: ln for ln in res.ResponseProcessingFulfillLine}
    assert by_id[a].StatusCode == "ERROR"
    assert (
        by_id[a].ResponseProcessingFulfillLineError[0].MessageName == "OMGW-QUANTITY_EXCEEDS_OPEN"
    )
    assert by_id[b].StatusCode == "ERROR"
    assert by_id[b].ResponseProcessingFulfillLineError[0].MessageName == "OMGW-GROUP_REJECTED"
    assert by_id[c].StatusCode == "SUCCESS"
    assert by_id[c].TaskInstanceStatusCode == "AWAIT_BILLING"

    info = client(gateway.base, "OrderInformationService")
    got = info.service.GetOrderDetails(Order=[{"OrderNumber": created.OrderNumber}])[0]
    assert {ln.FulfillLineIdentifier: ln.StatusCode for ln in got.OrderLine} == {
        a: "AWAIT_SHIP",
        b: "AWAIT_SHIP",
        c: "AWAIT_BILLING",
    }
    assert all(ln.OrderedQuantity._value_1 == Decimal(5) for ln in got.OrderLine)


def test_refused_requests_are_logged_with_their_redacted_payload(gateway, unique):
    from sqlalchemy import select

    from gateway.persistence.models import MessageLog

    body = envelope(f"<typ:noSuchOperation>{unique}</typ:noSuchOperation>")
    resp = post(gateway.url("OrderFulfillmentResponseService"), body, basic("all"))
    assert fault_code(resp.body) == "OMGW-UNKNOWN_OPERATION"
    with gateway.runtime.sessions() as s:
        (row,) = [
            r
            for r in s.scalars(select(MessageLog).where(MessageLog.operation == "noSuchOperation"))
            if r.payload and unique in r.payload
        ]
    assert (row.outcome, row.fault_code, row.http_status) == ("FAULT", "UNKNOWN_OPERATION", 500)
