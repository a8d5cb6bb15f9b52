"""Orders as plain values: what a fulfillment response's deciding code reads.

Each row type holds the columns the decision needs, named as the ORM names them, so
the same code reads either (routing's attributes and the request document read these
names). Rows are frozen: the deciding code makes new ones with
:func:`dataclasses.replace` for what it changes, and the store writes what differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = [
    "FlineRow",
    "HeaderRow",
    "HoldRow",
    "LineRow",
    "NewRequest",
    "OrderSet",
    "ReturnReference",
    "column_names",
    "request_values",
]


@dataclass(frozen=True, slots=True)
class HeaderRow:
    id: int
    order_number: str
    source_system_id: int
    source_order_id: str
    source_order_number: str
    revision: str
    status: str
    buying_party_name: str | None
    buying_party_number: str | None
    transaction_type_code: str | None
    currency_code: str | None
    customer_po_number: str | None
    business_unit_name: str | None
    transaction_on: datetime | None


@dataclass(frozen=True, slots=True)
class LineRow:
    id: int
    header_id: int
    line_number: int
    source_line_id: str
    source_line_number: str
    product_number: str
    product_description: str | None
    ordered_quantity: Decimal
    uom_code: str
    ship_set_name: str | None
    requested_fulfillment_org: str | None
    requested_ship_date: datetime | None
    status: str
    #: ORDER, or RETURN for a line taking back what an earlier one shipped
    category: str = "ORDER"


@dataclass(frozen=True, slots=True)
class FlineRow:
    """A fulfillment line; ``sent_to`` and ``sent_via`` are the fulfillment system and
    connector of the request it was last sent in (``None`` before any request)."""

    id: int
    header_id: int
    order_line_id: int
    fulfill_line_number: int
    quantity: Decimal
    shipped_quantity: Decimal | None
    status: str
    task_type: str | None
    request_id: int | None
    split_from_id: int | None
    scheduled_ship_date: datetime | None
    actual_ship_date: datetime | None
    billing_number: str | None
    tracking_number: str | None
    rule_set_version: int | None
    routing_rule_id: str | None
    routing_error: str | None
    process_id: int | None
    warehouse: str | None
    attributes_json: str | None
    #: the change request the line waits on, what it was before it, why the last failed
    change_request_id: int | None = None
    change_json: str | None = None
    change_error: str | None = None
    sent_to: str | None = None
    sent_via: int | None = None


@dataclass(frozen=True, slots=True)
class HoldRow:
    id: int
    header_id: int
    order_line_id: int | None
    hold_code: str


@dataclass(frozen=True)
class OrderSet:
    """Whole orders: their headers, lines, fulfillment lines (by line, in number order)
    and active holds (by order, oldest first)."""

    headers: Mapping[int, HeaderRow]
    lines: Mapping[int, LineRow]
    flines: Mapping[int, FlineRow]
    holds: Mapping[int, tuple[HoldRow, ...]]


@dataclass(frozen=True)
class ReturnReference:
    """The order line a return line takes back, and its fulfillment line if named."""

    line_id: int
    fline_id: int | None


@dataclass
class NewRequest:
    """A fulfillment request to insert (``id`` negative until then) for ``fline_ids``."""

    id: int
    header_id: int
    task_type: str
    fulfillment_system: str | None
    connector_id: int | None
    operation: str | None = None
    interface_type: str | None = None
    fline_ids: list[int] = field(default_factory=list)


def request_values(request: NewRequest) -> dict[str, Any]:
    """The ``fulfillment_requests`` columns of a new request, as sent."""
    return {
        "header_id": request.header_id,
        "task_type": request.task_type,
        "fulfillment_system": request.fulfillment_system,
        "connector_id": request.connector_id,
        "operation": request.operation,
        "interface_type": request.interface_type,
        "status": "SENT",
    }


def column_names(row_type: type, *, without: tuple[str, ...] = ()) -> list[str]:
    """The table columns ``row_type`` holds, in field order."""
    return [f.name for f in fields(row_type) if f.name not in without]
