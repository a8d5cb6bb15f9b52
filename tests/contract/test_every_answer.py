"""Every answer of every operation validates against the WSDL we publish: results,
results that carry line errors, a void answer, and faults."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lxml import etree
from zeep import Client

from tests.common.orders import order
from tests.common.published import WSDL_DIR, check_answer
from tests.common.soap import basic, fault_code, post

OFRS = "OrderFulfillmentResponseService"


def message(service: str, operation: str, **kwargs: Any) -> bytes:
    """The request a client generated from the published WSDL sends."""
    c = Client(str(WSDL_DIR / f"{service}.wsdl"))
    return etree.tostring(c.create_message(c.service, operation, **kwargs))


def ask(gateway, service: str, body: bytes) -> tuple[int, etree._Element, bytes]:
    res = post(gateway.url(service), body, basic("all"))
    return res.status, check_answer(service, res.body), res.body


def line(fline: int | None, qty: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"FulfillLineIdentifier": fline}
    if qty is not None:
        out["ShippedQuantity"] = {"_value_1": Decimal(qty), "unitCode": "Ea"}
    return out


def respond(rid: str, lines: list[dict[str, Any]], system: str = "WMS01") -> dict[str, Any]:
    return {
        "responseMessageHeader": {
            "FulfillmentSystem": system,
            "FulfillmentSystemResponseIdentifier": rid,
            "IntegrationContextCode": "Shipment",
        },
        "fulfillLineList": lines,
    }


def test_every_operation_answers_in_the_published_shape(sqlite_gateway, unique):
    g = sqlite_gateway
    status, created, _ = ask(
        g,
        "OrderImportService",
        message(
            "OrderImportService",
            "createOrders",
            request={"Order": [order(unique, [("A", 10), ("B", 2)], ship_set="S1")]},
        ),
    )
    assert status == 200
    ids = [int(e.text) for e in created.iter("{*}FulfillLineId")]
    assert len(ids) == 2

    status, staged, _ = ask(
        g,
        "OrderImportService",
        message(
            "OrderImportService",
            "stageOrders",
            request={"Order": [order(unique + "S"), order(unique + "T", [("X", "0")])]},
        ),
    )
    assert status == 200
    assert staged.findtext("{*}result/{*}NumberOfFailedOrders") == "1"

    status, details, _ = ask(
        g,
        "OrderInformationService",
        message(
            "OrderInformationService",
            "GetOrderDetails",
            Order=[{"SourceTransactionNumber": f"SO-{unique}"}],
        ),
    )
    assert status == 200
    request_id = int(details.findtext("{*}Order/{*}OrderLine/{*}FulfillmentRequestIdentifier"))

    ack = {
        "FulfillmentSystem": "WMS01",
        "FulfillmentRequestIdentifier": 999_999_999,
        "RequestStatusCode": "SUCCESS",
    }
    status, void, body = ask(
        g, OFRS, message(OFRS, "processAcknowledgement", fulfillmentRequestAcknowledgement=ack)
    )
    # a request never sent: a fault, in Oracle's shape
    assert status == 500 and fault_code(body) == "OMGW-REQUEST_NOT_FOUND"
    ack["FulfillmentRequestIdentifier"] = request_id
    status, void, _ = ask(
        g, OFRS, message(OFRS, "processAcknowledgement", fulfillmentRequestAcknowledgement=ack)
    )
    assert status == 200 and len(void) == 0  # void: an empty processAcknowledgementResponse

    # one good line and one unknown: a fault listing every line error
    status, _fault, body = ask(
        g,
        OFRS,
        message(
            OFRS,
            "processFulfillmentResponse",
            **respond(f"R-{unique}", [line(ids[0], "4"), line(999999999)]),
        ),
    )
    assert status == 500 and fault_code(body) == "OMGW-LINE_NOT_FOUND"
    status, result, _ = ask(
        g,
        OFRS,
        message(OFRS, "processFulfillmentResponse", **respond(f"R-{unique}", [line(ids[0], "4")])),
    )
    assert status == 200
    assert result.findtext("{*}result/{*}OverallStatusCode") == "SUCCESS"
    status, result, _ = ask(
        g, OFRS, message(OFRS, "stageFulfillmentResponse", **respond(f"S-{unique}", [line(ids[1])]))
    )
    assert status == 200
    assert result.findtext("{*}result/{*}OverallStatusCode") == "STAGED"


def test_a_result_with_rejected_groups_validates(sqlite_gateway, unique):
    """REJECT_ERROR_GROUPS: a WARNING result whose lines carry their errors."""
    o = order(unique, [("A", 5), ("B", 5), ("C", 5)])
    o["Line"][0]["ShipSetName"] = o["Line"][1]["ShipSetName"] = "SS1"
    _, created, _ = ask(
        sqlite_gateway,
        "OrderImportService",
        message("OrderImportService", "createOrders", request={"Order": [o]}),
    )
    a, b, c = (int(e.text) for e in created.iter("{*}FulfillLineId"))
    lines = [line(a, "9"), line(b), line(c)]
    body = message(OFRS, "processFulfillmentResponse", **respond(unique, lines, "WMSGRP"))
    status, result, _ = ask(sqlite_gateway, OFRS, body)
    assert status == 200
    assert result.findtext("{*}result/{*}OverallStatusCode") == "WARNING"
    codes = [e.text for e in result.iter("{*}MessageName")]
    assert codes == ["OMGW-QUANTITY_EXCEEDS_OPEN", "OMGW-GROUP_REJECTED"], codes
