"""What the fulfillment simulator says back to the gateway about a request.

A synchronous request is answered in the HTTP response with a ``headerTR``
(:func:`header_tr`); an asynchronous one later, through the gateway's
``OrderFulfillmentResponseService``: ``processAcknowledgement`` (:func:`acknowledgement`),
then ``processFulfillmentResponse`` (:func:`fulfillment_response`), both as zeep keyword
arguments. All three are built from a :class:`~simulators.fulfillment_records.RequestRecord`
and do no I/O.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from connectors.outbound import SOAP_ENV_NS, TR_NS
from simulators.fulfillment_records import ReportedLine, RequestRecord, quantity_text

__all__ = ["acknowledgement", "fulfillment_response", "header_tr"]


def header_tr(record: RequestRecord, system: str) -> bytes:
    """The SOAP envelope answering ``processFulfillmentRequestSync``: a ``headerTR``."""
    env = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap": SOAP_ENV_NS})
    body = etree.SubElement(env, f"{{{SOAP_ENV_NS}}}Body")
    tr = etree.SubElement(body, f"{{{TR_NS}}}headerTR", nsmap={"tr": TR_NS})

    def add(parent: etree._Element, name: str, value: object) -> None:
        if value is not None:
            etree.SubElement(parent, f"{{{TR_NS}}}{name}").text = str(value)

    add(tr, "FulfillmentRequestIdentifier", record.request_id)
    add(tr, "HeaderId", record.header_id)
    add(tr, "FulfillmentSystem", system)
    add(tr, "FulfillmentSystemResponseIdentifier", record.response_identifier)
    change = record.change
    refused = change is not None and change.status != "SUCCESS"
    add(tr, "StatusCode", "REJECTED" if refused else "ACCEPTED")
    if change is not None:
        add(tr, "ErrorMessageName", change.error_name)
        add(tr, "ErrorMessageText", change.error_text)
    for ln in record.lines:
        line = etree.SubElement(tr, f"{{{TR_NS}}}Line")
        add(line, "FulfillLineId", ln.fulfill_line_id)
        add(line, "StatusCode", ln.status)
        add(line, "ShippedQty", None if ln.shipped_qty is None else quantity_text(ln.shipped_qty))
        add(line, "ShippedUOMCode", ln.uom)
        add(line, "ActualShipDate", None if ln.ship_date is None else ln.ship_date.isoformat())
        add(line, "TrackingNumber", ln.tracking_number)
        add(line, "BillingNumber", ln.billing_number)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def acknowledgement(record: RequestRecord, system: str) -> dict[str, Any]:
    """``processAcknowledgement``'s arguments: the request accepted, or its change refused."""
    ack: dict[str, Any] = {
        "FulfillmentSystem": system,
        "FulfillmentRequestIdentifier": record.request_id,
        "RequestStatusCode": "SUCCESS",
    }
    change = record.change
    if change is not None and change.status != "SUCCESS":
        ack["RequestStatusCode"] = change.status
        ack["ErrorMessageName"] = change.error_name
        ack["ErrorMessageText"] = change.error_text
    return {"fulfillmentRequestAcknowledgement": ack}


def fulfillment_response(
    record: RequestRecord, reported: tuple[ReportedLine, ...], system: str
) -> dict[str, Any]:
    """``processFulfillmentResponse``'s arguments: the ``reported`` lines of ``record``."""
    lines = []
    for ln in reported:
        line: dict[str, Any] = {"FulfillLineIdentifier": ln.fulfill_line_id}
        line["StatusCode"] = ln.status
        if ln.status in ("SHIPPED", "RECEIVED") and ln.shipped_qty is not None:
            line["ShippedQuantity"] = {"_value_1": ln.shipped_qty, "unitCode": ln.uom}
            line["ActualShippedDate"] = ln.ship_date
        detail = {
            "TaskTypeCode": record.task_type,
            "StatusCode": ln.status,
            "TrackingNumber": ln.tracking_number,
            "BillingTransactionNumber": ln.billing_number,
            "RMAReceiptNumber": ln.receipt_number,
            "RMAReceiptDate": ln.ship_date if ln.receipt_number else None,
        }
        if ln.tracking_number or ln.billing_number or ln.receipt_number:
            line["FulfillmentDetail"] = [{k: v for k, v in detail.items() if v is not None}]
        lines.append(line)
    return {
        "responseMessageHeader": {
            "FulfillmentSystem": system,
            "FulfillmentSystemResponseIdentifier": record.response_identifier,
            "IntegrationContextCode": record.task_type,
        },
        "fulfillLineList": lines,
    }
