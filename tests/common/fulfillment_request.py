"""A fulfillment request as the outbound writer takes it: one realistic
:class:`RequestDocument`, shared by the tests of building, securing and sending
envelopes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

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
