"""A fulfillment request as the outbound writer takes it (one realistic
:class:`RequestDocument`) and as a client of the published service sends it (a
``headerTL``), shared by the tests of building, securing, sending and receiving it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.outbound import RequestDocument, RequestLine


def request_document(**overrides: object) -> RequestDocument:
    """A one-line Shipment create for order 100001 (``overrides`` replace its fields)."""
    line = RequestLine(
        line_id=11,
        line_number=1,
        source_line_id="L1",
        source_line_number="1",
        fulfill_line_id=21,
        fulfill_line_number=1,
        product_number="AS54888",
        product_description=None,
        ordered_qty=Decimal("10"),
        uom_code="Ea",
        organization="M1",
        ship_set_name=None,
        requested_ship_date=None,
        scheduled_ship_date=datetime(2026, 12, 1, tzinfo=UTC),
        status_code="AWAIT_SHIP",
    )
    base: dict[str, object] = dict(
        request_id=300,
        task_type="Shipment",
        operation="Create",
        interface_type=None,
        header_id=1,
        order_number="100001",
        source_order_system="LEGACY",
        source_order_id="S-1",
        source_order_number="SO-1",
        source_order_revision="1",
        buying_party_number=None,
        buying_party_name=None,
        customer_po_number=None,
        currency_code="USD",
        business_unit_name=None,
        ordered_date=None,
        lines=(line,),
    )
    base.update(overrides)
    return RequestDocument(**base)  # type: ignore[arg-type]


def header_tl(request_id: int = 300100, task: str = "Shipment", **line: Any) -> dict[str, Any]:
    """A ``headerTL`` as a zeep client sends it, for order and ids no gateway knows: one
    line of 10 AS54888 (``line`` adds or replaces its fields)."""
    first = {
        "LineId": 11,
        "LineNumber": 1,
        "SourceLineId": "L1",
        "FulfillLineId": 21,
        "FulfillLineNumber": 1,
        "ProductNumber": "AS54888",
        "OrderedQty": Decimal("10"),
        "OrderedUOMCode": "Ea",
        "StatusCode": "AWAIT_SHIP",
        **line,
    }
    return {
        "FulfillmentRequestIdentifier": request_id,
        "TaskType": task,
        "Operation": "Create",
        "HeaderId": 1,
        "OrderNumber": "100001",
        "SourceOrderSystem": "LEGACY",
        "SourceOrderId": "S-1",
        "SourceOrderNumber": "SO-1",
        "Line": [first],
    }
