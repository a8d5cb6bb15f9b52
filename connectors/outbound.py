"""The outbound FulfillmentRequest contract (connectors/wsdl/outbound): the envelopes omgw sends.

An envelope is built once, when its outbox row is written, as zeep would render it from
the published WSDL (written directly with lxml; tests hold it equal to zeep's), and
stored as bytes: a retry or a replay then sends exactly what was built, with
the same WS-Addressing ``MessageID``. WS-Security is not in it: a UsernameToken's
timestamp must be fresh at each send, so :mod:`connectors.ws_security` adds it then.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from connectors.connector_errors import AnswerInvalidError
from connectors.schema_loading import load_schema

__all__ = [
    "OPERATIONS",
    "OUTBOUND_DIR",
    "SOAP_ACTIONS",
    "TL_NS",
    "TR_NS",
    "WSA_NS",
    "Answer",
    "AnswerLine",
    "RequestDocument",
    "RequestLine",
    "answer_schema",
    "build_envelope",
    "build_envelope_with_zeep",
    "parse_answer",
]

OUTBOUND_DIR = Path(__file__).resolve().parent / "wsdl" / "outbound"
TL_NS = "http://xmlns.oracle.com/apps/scm/doo/processOrder/service/"
TR_NS = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/model/"
WSA_NS = "http://www.w3.org/2005/08/addressing"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"

#: the operation each service invocation mode calls (a business event is a push)
OPERATIONS = {
    "ASYNC_SERVICE": "processFulfillmentRequest",
    "SYNC_SERVICE": "processFulfillmentRequestSync",
}
SOAP_ACTIONS = {
    "processFulfillmentRequest": "process",
    "processFulfillmentRequestSync": "processSync",
}


@dataclass(frozen=True)
class RequestLine:
    """One fulfillment line of a request (``headerTL/Line``)."""

    line_id: int
    line_number: int
    source_line_id: str
    source_line_number: str | None
    fulfill_line_id: int
    fulfill_line_number: int
    product_number: str
    product_description: str | None
    ordered_qty: Decimal
    uom_code: str
    organization: str | None
    ship_set_name: str | None
    requested_ship_date: datetime | None
    scheduled_ship_date: datetime | None
    status_code: str
    #: where the line goes (the order line's ShipToPartySiteIdentifier), when given
    ship_to_site: str | None = None


@dataclass(frozen=True)
class RequestDocument:
    """What a fulfillment request says (``headerTL``), in our terms."""

    request_id: int
    task_type: str
    operation: str
    interface_type: str | None
    header_id: int
    order_number: str
    source_order_system: str
    source_order_id: str
    source_order_number: str
    source_order_revision: str | None
    buying_party_number: str | None
    buying_party_name: str | None
    customer_po_number: str | None
    currency_code: str | None
    business_unit_name: str | None
    ordered_date: datetime | None
    lines: Sequence[RequestLine] = field(default_factory=tuple)
    #: an Update or Cancel request: the request that first asked for its lines, and why
    original_request_id: int | None = None
    change_reason_code: str | None = None
    change_reason: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The ``headerTL`` as zeep takes it: Oracle's element names, optional ones left
        out when empty (so the document validates against HeaderTL.xsd)."""
        body: dict[str, Any] = {
            "FulfillmentRequestIdentifier": self.request_id,
            "TaskType": self.task_type,
            "Operation": self.operation,
            "InterfaceType": self.interface_type,
            "OriginalRequestIdentifier": self.original_request_id,
            "ChangeReasonCode": self.change_reason_code,
            "ChangeReason": self.change_reason,
            "HeaderId": self.header_id,
            "OrderNumber": self.order_number,
            "SourceOrderSystem": self.source_order_system,
            "SourceOrderId": self.source_order_id,
            "SourceOrderNumber": self.source_order_number,
            "SourceOrderRevision": self.source_order_revision,
            "BuyingPartyNumber": self.buying_party_number,
            "BuyingPartyName": self.buying_party_name,
            "CustomerPONumber": self.customer_po_number,
            "TransactionalCurrencyCode": self.currency_code,
            "BusinessUnitName": self.business_unit_name,
            "OrderedDate": self.ordered_date,
            "Line": [
                {
                    "LineId": ln.line_id,
                    "LineNumber": ln.line_number,
                    "SourceLineId": ln.source_line_id,
                    "SourceLineNumber": ln.source_line_number,
                    "FulfillLineId": ln.fulfill_line_id,
                    "FulfillLineNumber": ln.fulfill_line_number,
                    "ProductNumber": ln.product_number,
                    "ProductDescription": ln.product_description,
                    "OrderedQty": ln.ordered_qty,
                    "OrderedUOMCode": ln.uom_code,
                    "RequestedFulfillmentOrganizationCode": ln.organization,
                    "ShipSetName": ln.ship_set_name,
                    "RequestedShipDate": ln.requested_ship_date,
                    "ScheduledShipDate": ln.scheduled_ship_date,
                    "StatusCode": ln.status_code,
                    "ShipToPartySiteIdentifier": ln.ship_to_site,
                }
                for ln in self.lines
            ],
        }
        return body


@functools.cache
def _client() -> Any:
    """The zeep client of the outbound WSDL (a local file: no network)."""
    import zeep

    return zeep.Client(str(OUTBOUND_DIR / "FulfillmentRequest.wsdl"))


@functools.cache
def _formats() -> tuple[Any, Any]:
    """zeep's own ``xs:dateTime`` and ``xs:decimal`` formatting, so values read as a
    zeep-built envelope would write them."""
    from zeep.xsd.types.builtins import DateTime
    from zeep.xsd.types.builtins import Decimal as XsdDecimal

    return DateTime().xmlvalue, XsdDecimal().xmlvalue


def _headertl(doc: RequestDocument) -> etree._Element:
    """The ``headerTL`` element, written straight from the document.

    It is what zeep's ``create_message`` renders from :meth:`RequestDocument.to_wire`
    (tests hold the two byte-for-byte equal), without zeep's walk of the schema for every
    value, which dominates the cost of a large request (README, benchmarks).
    """
    when, decimal = _formats()
    ns = f"{{{TL_NS}}}"
    root = etree.Element(f"{ns}headerTL", nsmap={"ns0": TL_NS})
    sub = etree.SubElement

    def fill(parent: etree._Element, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if value is None:
                continue  # every element that may be None is optional (to_wire)
            if isinstance(value, datetime):
                text = when(value)
            elif isinstance(value, Decimal):
                text = decimal(value)
            else:
                text = str(value)
            sub(parent, ns + name).text = text

    wire = doc.to_wire()
    lines = wire.pop("Line")
    fill(root, wire)
    for line in lines:
        fill(sub(root, f"{ns}Line"), line)
    return root


def _address(
    header: etree._Element, operation: str, message_id: str, to: str, reply_to: str | None
) -> None:
    """The WS-Addressing headers: ``Action``, ``MessageID``, ``To`` and ``ReplyTo``."""
    wsa = {"wsa": WSA_NS}
    for name, text in (("Action", SOAP_ACTIONS[operation]), ("MessageID", message_id), ("To", to)):
        etree.SubElement(header, f"{{{WSA_NS}}}{name}", nsmap=wsa).text = text
    if reply_to:
        reply = etree.SubElement(header, f"{{{WSA_NS}}}ReplyTo", nsmap=wsa)
        etree.SubElement(reply, f"{{{WSA_NS}}}Address").text = reply_to


def build_envelope(
    doc: RequestDocument,
    operation: str,
    *,
    message_id: str,
    to: str,
    reply_to: str | None,
) -> bytes:
    """The SOAP envelope of ``operation`` carrying ``doc``, with WS-Addressing headers
    (``MessageID``, ``To``, ``Action``, and ``ReplyTo`` where answers come back)."""
    if operation not in SOAP_ACTIONS:
        raise ValueError(f"{operation!r} is not an operation of FulfillmentRequest")
    envelope = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap-env": SOAP_ENV_NS})
    header = etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Header")
    _address(header, operation, message_id, to, reply_to)
    etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body").append(_headertl(doc))
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def build_envelope_with_zeep(
    doc: RequestDocument,
    operation: str,
    *,
    message_id: str,
    to: str,
    reply_to: str | None,
) -> bytes:
    """:func:`build_envelope` as zeep renders it from the WSDL: the reference the
    direct writer is held to, byte for byte (``tests/unit/connectors``)."""
    if operation not in SOAP_ACTIONS:
        raise ValueError(f"{operation!r} is not an operation of FulfillmentRequest")
    client = _client()
    envelope = client.create_message(client.service, operation, **doc.to_wire())
    header = envelope.find(f"{{{SOAP_ENV_NS}}}Header")
    if header is None:
        header = etree.Element(f"{{{SOAP_ENV_NS}}}Header")
        envelope.insert(0, header)
    _address(header, operation, message_id, to, reply_to)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


@dataclass(frozen=True)
class AnswerLine:
    fulfill_line_id: int
    status_code: str
    shipped_qty: Decimal | None
    shipped_uom: str | None
    actual_ship_date: datetime | None
    tracking_number: str | None
    billing_number: str | None


@dataclass(frozen=True)
class Answer:
    """A ``headerTR``: the synchronous answer to a fulfillment request."""

    request_id: int
    fulfillment_system: str
    response_identifier: str
    status_code: str
    error_name: str | None
    error_text: str | None
    lines: tuple[AnswerLine, ...]


def answer_schema() -> etree.XMLSchema:
    """``HeaderTR.xsd``, which every synchronous answer's ``headerTR`` is validated against."""
    return load_schema(OUTBOUND_DIR / "HeaderTR.xsd")


def parse_answer(body: etree._Element) -> Answer:
    """Read and validate the ``headerTR`` of a synchronous answer's SOAP body."""
    tr = body if body.tag == f"{{{TR_NS}}}headerTR" else body.find(f"{{{TR_NS}}}headerTR")
    if tr is None:
        raise AnswerInvalidError("the answer holds no headerTR")
    schema = answer_schema()
    if not schema.validate(tr):
        first = schema.error_log.last_error  # type: ignore[attr-defined]
        raise AnswerInvalidError(
            f"the headerTR does not match HeaderTR.xsd: {first.message if first else 'invalid'}"
        )

    def text(el: etree._Element, name: str) -> str | None:
        child = el.find(f"{{{TR_NS}}}{name}")
        return None if child is None or child.text is None else child.text.strip()

    def when(el: etree._Element, name: str) -> datetime | None:
        value = text(el, name)
        return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))

    lines = []
    for ln in tr.findall(f"{{{TR_NS}}}Line"):
        qty = text(ln, "ShippedQty")
        lines.append(
            AnswerLine(
                fulfill_line_id=int(text(ln, "FulfillLineId") or 0),
                status_code=text(ln, "StatusCode") or "",
                shipped_qty=None if qty is None else Decimal(qty),
                shipped_uom=text(ln, "ShippedUOMCode"),
                actual_ship_date=when(ln, "ActualShipDate"),
                tracking_number=text(ln, "TrackingNumber"),
                billing_number=text(ln, "BillingNumber"),
            )
        )
    return Answer(
        request_id=int(text(tr, "FulfillmentRequestIdentifier") or 0),
        fulfillment_system=text(tr, "FulfillmentSystem") or "",
        response_identifier=text(tr, "FulfillmentSystemResponseIdentifier") or "",
        status_code=text(tr, "StatusCode") or "",
        error_name=text(tr, "ErrorMessageName"),
        error_text=text(tr, "ErrorMessageText"),
        lines=tuple(lines),
    )
