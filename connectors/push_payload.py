"""The ``pushPayload`` document as data: the business events OM pushes to a connector
(connectors/wsdl/events, contract §5.2–5.4), and which fields each EventCode fills.

Why it is shaped this way:

* The wire format is Oracle's ``BusinessEventsConnectorPayload.xsd`` (contract §5.3),
  published by omgw under connectors/wsdl/events so subscribers can implement
  ``pushPayload``. Element order is the schema's sequence order (:data:`FIELDS`); every
  leaf is optional and nillable.
* Each EventCode fills a fixed set of fields at each level (OrderHeader, OrderLine,
  OrderFulfillmentLine): contract §5.4, held in :data:`FILLS`. Oracle's mapping XSLs copy
  ``xsi:nil`` through, so a field the code fills but that has no value is written as an
  empty element with ``xsi:nil="true"``, never left out; a field the code does not fill is
  never written.
* ``JEOPARDY`` is the exception: its EventCode sits on each OrderLine, and the OrderHeader
  has no fields of its own.
* ``OrderAttributeUpdate`` reports the attributes that changed: of the old/new pairs it
  fills (:data:`CHANGED_ONLY`), a fulfillment line carries those where either side holds a
  value; a pair with neither did not change and is left out, not written nil.

Writing a push is :mod:`connectors.push_payload_writer` (omgw's side), reading one
:mod:`connectors.push_payload_reader` (the subscriber's side). Plain data: no lxml, no
zeep, nothing of gateway.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

__all__ = [
    "CHANGED_ONLY",
    "CONNECTOR_NS",
    "EVENTS_DIR",
    "EVENTS_NS",
    "EVENT_CODES",
    "FIELDS",
    "FILLS",
    "PUSH_ACTION",
    "PUSH_OPERATION",
    "SCHEMA_PATH",
    "SOAP12_ENV_NS",
    "SOAP_ENV_NS",
    "WSA_NS",
    "WSDL_PATH",
    "XSI_NIL",
    "XSI_NS",
    "XS_DATETIME",
    "XS_DECIMAL",
    "XS_INT",
    "XS_LONG",
    "XS_STRING",
    "EventFulfillLine",
    "EventHeader",
    "EventLine",
    "attribute_name",
    "qualified",
]

EVENTS_NS = (
    "http://xmlns.oracle.com/apps/scm/doo/decomposition/DooDecompositionOrderStatusUpdateComposite"
)
CONNECTOR_NS = (
    "http://xmlns.oracle.com/apps/scm/doo/taskLayer/externalInterfaceLayer/"
    "DooTaskExternalInterfaceVirtualPartnersComposite/BusinessEventsConnector"
)
PUSH_OPERATION = "pushPayload"
#: Oracle declares no SOAPAction; SOA-generated bindings use the operation name (§5.2)
PUSH_ACTION = "pushPayload"
EVENT_CODES = (
    "OrderHeaderStatusUpdate",
    "FlineStatusUpdate",
    "FlineClosed",
    "HOLD",
    "JEOPARDY",
    "SPLIT",
    "OrderAttributeUpdate",
)
EVENTS_DIR = Path(__file__).resolve().parent / "wsdl" / "events"
SCHEMA_PATH = EVENTS_DIR / "BusinessEventsConnectorPayload.xsd"
WSDL_PATH = EVENTS_DIR / "BusinessEventsConnector.wsdl"

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV_NS = "http://www.w3.org/2003/05/soap-envelope"
WSA_NS = "http://www.w3.org/2005/08/addressing"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSI_NIL = f"{{{XSI_NS}}}nil"


@dataclass(frozen=True)
class EventFulfillLine:
    """One ``OrderFulfillmentLine`` (the fields of it any of :data:`EVENT_CODES` fills)."""

    source_order_schedule_id: str | None = None
    orchestration_order_line_id: int | None = None
    fulfillment_order_line_id: int | None = None
    fulfillment_order_line_number: int | None = None
    ordered_qty_new: Decimal | None = None
    ordered_qty_old: Decimal | None = None
    request_ship_date_new: datetime | None = None
    request_ship_date_old: datetime | None = None
    schedule_ship_date_new: datetime | None = None
    schedule_ship_date_old: datetime | None = None
    ship_to_site_use_id_new: Decimal | None = None
    ship_to_site_use_id_old: Decimal | None = None
    hold_code: str | None = None
    hold_comments: str | None = None
    item_id: int | None = None
    inventory_organization_id: int | None = None
    shipped_quantity: int | None = None
    ordered_quantity: int | None = None
    jeopardy_priority: str | None = None
    status_code_old_value: str | None = None
    status_code_new_value: str | None = None
    cancel_flag_old_value: str | None = None
    cancel_flag_new_value: str | None = None


@dataclass(frozen=True)
class EventLine:
    """One ``OrderLine``."""

    #: only JEOPARDY sets it (on the line); left None there, the header's code is written
    event_code: str | None = None
    orchestration_order_line_id: int | None = None
    orchestration_order_line_number: int | None = None
    hold_code: str | None = None
    hold_comments: str | None = None
    source_order_line_id: str | None = None
    source_order_line_number: str | None = None
    source_order_system: str | None = None
    source_order_id: str | None = None
    source_order_schedule_id: str | None = None
    pre_split_ordered_quantity: Decimal | None = None
    item_id: int | None = None
    inventory_organization_id: int | None = None
    open_flag_new_value: str | None = None
    open_flag_old_value: str | None = None
    status_code_old_value: str | None = None
    status_code_new_value: str | None = None
    fulfillment_lines: tuple[EventFulfillLine, ...] = ()


@dataclass(frozen=True)
class EventHeader:
    """One ``OrderHeader``: what one ``pushPayload`` carries."""

    #: one of EVENT_CODES; for JEOPARDY it is written on each line, not here
    event_code: str
    source_order_system: str | None = None
    source_order_id: str | None = None
    source_order_number: str | None = None
    orchestration_order_number: str | None = None
    orchestration_order_id: int | None = None
    customer_id: int | None = None
    hold_code: str | None = None
    hold_comments: str | None = None
    status_code_old_value: str | None = None
    status_code_new_value: str | None = None
    status_prior_value: str | None = None
    status_new_value: str | None = None
    lines: tuple[EventLine, ...] = ()


# The leaves our dataclasses hold, per level, in schema sequence order (contract §5.3),
# with their XSD type. The attribute is the wire name in snake_case.
XS_STRING, XS_LONG, XS_INT, XS_DECIMAL = "string", "long", "int", "decimal"
XS_DATETIME = "dateTime"
_HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("EventCode", XS_STRING),
    ("SourceOrderSystem", XS_STRING),
    ("SourceOrderId", XS_STRING),
    ("SourceOrderNumber", XS_STRING),
    ("OrchestrationOrderNumber", XS_STRING),
    ("OrchestrationOrderId", XS_LONG),
    ("CustomerId", XS_LONG),
    ("HoldCode", XS_STRING),
    ("HoldComments", XS_STRING),
    ("StatusCodeOldValue", XS_STRING),
    ("StatusCodeNewValue", XS_STRING),
    ("StatusPriorValue", XS_STRING),
    ("StatusNewValue", XS_STRING),
)
_LINE_FIELDS: tuple[tuple[str, str], ...] = (
    ("EventCode", XS_STRING),
    ("OrchestrationOrderLineId", XS_LONG),
    ("OrchestrationOrderLineNumber", XS_INT),
    ("HoldCode", XS_STRING),
    ("HoldComments", XS_STRING),
    ("SourceOrderLineId", XS_STRING),
    ("SourceOrderLineNumber", XS_STRING),
    ("SourceOrderSystem", XS_STRING),
    ("SourceOrderId", XS_STRING),
    ("SourceOrderScheduleId", XS_STRING),
    ("PreSplitOrderedQuantity", XS_DECIMAL),
    ("ItemId", XS_LONG),
    ("InventoryOrganizationId", XS_LONG),
    ("OpenFlagNewValue", XS_STRING),
    ("OpenFlagOldValue", XS_STRING),
    ("StatusCodeOldValue", XS_STRING),
    ("StatusCodeNewValue", XS_STRING),
)
_FLINE_FIELDS: tuple[tuple[str, str], ...] = (
    ("SourceOrderScheduleId", XS_STRING),
    ("OrchestrationOrderLineId", XS_LONG),
    ("FulfillmentOrderLineId", XS_LONG),
    ("FulfillmentOrderLineNumber", XS_INT),
    ("OrderedQtyNew", XS_DECIMAL),
    ("OrderedQtyOld", XS_DECIMAL),
    ("RequestShipDateNew", XS_DATETIME),
    ("RequestShipDateOld", XS_DATETIME),
    ("ScheduleShipDateNew", XS_DATETIME),
    ("ScheduleShipDateOld", XS_DATETIME),
    ("ShipToSiteUseIdNew", XS_DECIMAL),
    ("ShipToSiteUseIdOld", XS_DECIMAL),
    ("HoldCode", XS_STRING),
    ("HoldComments", XS_STRING),
    ("ItemId", XS_LONG),
    ("InventoryOrganizationId", XS_LONG),
    ("ShippedQuantity", XS_LONG),
    ("OrderedQuantity", XS_LONG),
    ("JeopardyPriority", XS_STRING),
    ("StatusCodeOldValue", XS_STRING),
    ("StatusCodeNewValue", XS_STRING),
    ("CancelFlagOldValue", XS_STRING),
    ("CancelFlagNewValue", XS_STRING),
)
#: Per level ("header", "line", "fline", as in :data:`FILLS`), the leaves with their XSD type
FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "header": _HEADER_FIELDS,
    "line": _LINE_FIELDS,
    "fline": _FLINE_FIELDS,
}

_HEADER_KEYS = (
    "SourceOrderSystem",
    "SourceOrderId",
    "SourceOrderNumber",
    "OrchestrationOrderNumber",
    "OrchestrationOrderId",
)

#: Per EventCode, the wire elements it fills at each level ("header", "line", "fline"), in
#: schema order: contract §5.4. An empty "line" means the push carries no OrderLine.
FILLS: dict[str, dict[str, tuple[str, ...]]] = {
    "OrderHeaderStatusUpdate": {
        "header": ("EventCode", *_HEADER_KEYS, "CustomerId", "StatusPriorValue", "StatusNewValue"),
        "line": (),
        "fline": (),
    },
    "FlineStatusUpdate": {
        "header": (
            "EventCode",
            "SourceOrderSystem",
            "SourceOrderId",
            "SourceOrderNumber",
            "StatusCodeOldValue",
            "StatusCodeNewValue",
        ),
        "line": ("OrchestrationOrderLineNumber", "StatusCodeOldValue", "StatusCodeNewValue"),
        # OrchestrationOrderLineId is mapped from the source line id by Oracle's XSL (§5.4)
        "fline": (
            "SourceOrderScheduleId",
            "OrchestrationOrderLineId",
            "FulfillmentOrderLineId",
            "StatusCodeOldValue",
            "StatusCodeNewValue",
        ),
    },
    "FlineClosed": {
        # SourceOrderNumber holds the OM order number here (§5.4)
        "header": ("EventCode", "SourceOrderNumber", "OrchestrationOrderId"),
        "line": ("OrchestrationOrderLineId", "OpenFlagNewValue", "OpenFlagOldValue"),
        "fline": ("FulfillmentOrderLineId", "CancelFlagOldValue", "CancelFlagNewValue"),
    },
    "HOLD": {
        "header": ("EventCode", *_HEADER_KEYS, "HoldCode", "HoldComments"),
        "line": (
            "OrchestrationOrderLineId",
            "OrchestrationOrderLineNumber",
            "HoldCode",
            "HoldComments",
            "SourceOrderLineId",
            "SourceOrderLineNumber",
        ),
        "fline": (
            "SourceOrderScheduleId",
            "FulfillmentOrderLineId",
            "FulfillmentOrderLineNumber",
            "HoldCode",
            "HoldComments",
            "ItemId",
            "InventoryOrganizationId",
        ),
    },
    "JEOPARDY": {
        "header": (),
        "line": (
            "EventCode",
            "OrchestrationOrderLineId",
            "OrchestrationOrderLineNumber",
            "SourceOrderLineId",
            "SourceOrderLineNumber",
            "SourceOrderSystem",
            "SourceOrderId",
            "SourceOrderScheduleId",
        ),
        "fline": (
            "FulfillmentOrderLineId",
            "FulfillmentOrderLineNumber",
            "ItemId",
            "InventoryOrganizationId",
            "JeopardyPriority",
        ),
    },
    "SPLIT": {
        "header": ("EventCode", *_HEADER_KEYS, "CustomerId"),
        "line": (
            "OrchestrationOrderLineId",
            "OrchestrationOrderLineNumber",
            "SourceOrderLineId",
            "SourceOrderLineNumber",
            "PreSplitOrderedQuantity",
            "ItemId",
            "InventoryOrganizationId",
        ),
        "fline": (
            "FulfillmentOrderLineId",
            "FulfillmentOrderLineNumber",
            "ShippedQuantity",
            "OrderedQuantity",
        ),
    },
    "OrderAttributeUpdate": {
        # header keys without CustomerId; each fulfillment line's changed pairs (§5.4)
        "header": ("EventCode", *_HEADER_KEYS),
        "line": (
            "OrchestrationOrderLineId",
            "OrchestrationOrderLineNumber",
            "SourceOrderLineId",
            "SourceOrderLineNumber",
        ),
        "fline": (
            "SourceOrderScheduleId",
            "FulfillmentOrderLineId",
            "FulfillmentOrderLineNumber",
            "OrderedQtyNew",
            "OrderedQtyOld",
            "RequestShipDateNew",
            "RequestShipDateOld",
            "ScheduleShipDateNew",
            "ScheduleShipDateOld",
            "ShipToSiteUseIdNew",
            "ShipToSiteUseIdOld",
            "CancelFlagOldValue",
            "CancelFlagNewValue",
        ),
    },
}

#: Per EventCode, the old/new pairs of FILLS written only where they changed: a pair is
#: written (nil on the side with no value) when either side holds a value, else left out.
CHANGED_ONLY: dict[str, frozenset[str]] = {
    "OrderAttributeUpdate": frozenset(FILLS["OrderAttributeUpdate"]["fline"][3:]),
}


def qualified(name: str) -> str:
    """``name`` in the results namespace, as lxml spells a tag."""
    return f"{{{EVENTS_NS}}}{name}"


@functools.cache
def attribute_name(wire: str) -> str:
    """``OrchestrationOrderLineId`` → ``orchestration_order_line_id``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", wire).lower()
