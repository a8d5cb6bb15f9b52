"""Business-event payloads: the ``results`` document OM pushes to a connector's
``pushPayload`` (connectors/wsdl/events, contract §5.2–5.4), as data and as XML.

Why it is shaped this way:

* The wire format is Oracle's ``BusinessEventsConnectorPayload.xsd`` (contract §5.3),
  published by omgw under connectors/wsdl/events so subscribers can implement
  ``pushPayload``. Element order is the schema's sequence order; every leaf is optional and
  nillable.
* Each EventCode fills a fixed set of fields at each level (OrderHeader, OrderLine,
  OrderFulfillmentLine): contract §5.4, held in :data:`FILLS`. Oracle's mapping XSLs copy
  ``xsi:nil`` through, so a field the code fills but that has no value is written as an
  empty element with ``xsi:nil="true"``, never left out; a field the code does not fill is
  never written. Holding a value in such a field is a bug in the caller, and
  :func:`results_document` refuses it rather than dropping data silently.
* ``JEOPARDY`` is the exception: its EventCode sits on each OrderLine, and the OrderHeader
  has no fields of its own.
* ``OrderAttributeUpdate`` reports the attributes that changed: of the old/new pairs it
  fills (:data:`CHANGED_ONLY`), a fulfillment line carries those where either side holds a
  value; a pair with neither did not change and is left out, not written nil.
* Oracle pushes one OrderHeader per ``pushPayload`` (one result per order; for JEOPARDY one
  per order line), once per connector: :func:`results_document` and :func:`push_envelope`
  take exactly one :class:`EventHeader`.
* :func:`parse_push` is the subscriber's side (the simulator): a safe parser (no DTD, no
  entities, no network), the schema, then the inverse of :func:`results_document`, strict
  about fields the code does not fill so that a wrong push is caught, not smoothed over.

lxml only: no zeep (the WSDL is for subscribers; zeep is used in the tests to prove it
loads), nothing of gateway.
"""

from __future__ import annotations

import copy
import functools
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from connectors.connector_errors import PayloadInvalidError
from connectors.schemas import load_schema

__all__ = [
    "CHANGED_ONLY",
    "CONNECTOR_NS",
    "EVENTS_DIR",
    "EVENTS_NS",
    "EVENT_CODES",
    "FILLS",
    "PUSH_ACTION",
    "PUSH_OPERATION",
    "SCHEMA_PATH",
    "WSDL_PATH",
    "EventFulfillLine",
    "EventHeader",
    "EventLine",
    "PayloadInvalidError",
    "PushedPayload",
    "parse_push",
    "parse_results",
    "push_envelope",
    "results_document",
    "results_schema",
    "validate_results",
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
_XSI_NIL = f"{{{XSI_NS}}}nil"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


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


@dataclass(frozen=True)
class PushedPayload:
    """A ``pushPayload`` request as a subscriber received it."""

    message_id: str | None
    action: str | None
    #: the ``results`` element, serialized on its own (UTF-8)
    results: bytes
    headers: tuple[EventHeader, ...]


# The leaves our dataclasses hold, per level, in schema sequence order (contract §5.3),
# with their XSD type. The attribute is the wire name in snake_case.
_STRING, _LONG, _INT, _DECIMAL = "string", "long", "int", "decimal"
_DATETIME = "dateTime"
_HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("EventCode", _STRING),
    ("SourceOrderSystem", _STRING),
    ("SourceOrderId", _STRING),
    ("SourceOrderNumber", _STRING),
    ("OrchestrationOrderNumber", _STRING),
    ("OrchestrationOrderId", _LONG),
    ("CustomerId", _LONG),
    ("HoldCode", _STRING),
    ("HoldComments", _STRING),
    ("StatusCodeOldValue", _STRING),
    ("StatusCodeNewValue", _STRING),
    ("StatusPriorValue", _STRING),
    ("StatusNewValue", _STRING),
)
_LINE_FIELDS: tuple[tuple[str, str], ...] = (
    ("EventCode", _STRING),
    ("OrchestrationOrderLineId", _LONG),
    ("OrchestrationOrderLineNumber", _INT),
    ("HoldCode", _STRING),
    ("HoldComments", _STRING),
    ("SourceOrderLineId", _STRING),
    ("SourceOrderLineNumber", _STRING),
    ("SourceOrderSystem", _STRING),
    ("SourceOrderId", _STRING),
    ("SourceOrderScheduleId", _STRING),
    ("PreSplitOrderedQuantity", _DECIMAL),
    ("ItemId", _LONG),
    ("InventoryOrganizationId", _LONG),
    ("OpenFlagNewValue", _STRING),
    ("OpenFlagOldValue", _STRING),
    ("StatusCodeOldValue", _STRING),
    ("StatusCodeNewValue", _STRING),
)
_FLINE_FIELDS: tuple[tuple[str, str], ...] = (
    ("SourceOrderScheduleId", _STRING),
    ("OrchestrationOrderLineId", _LONG),
    ("FulfillmentOrderLineId", _LONG),
    ("FulfillmentOrderLineNumber", _INT),
    ("OrderedQtyNew", _DECIMAL),
    ("OrderedQtyOld", _DECIMAL),
    ("RequestShipDateNew", _DATETIME),
    ("RequestShipDateOld", _DATETIME),
    ("ScheduleShipDateNew", _DATETIME),
    ("ScheduleShipDateOld", _DATETIME),
    ("ShipToSiteUseIdNew", _DECIMAL),
    ("ShipToSiteUseIdOld", _DECIMAL),
    ("HoldCode", _STRING),
    ("HoldComments", _STRING),
    ("ItemId", _LONG),
    ("InventoryOrganizationId", _LONG),
    ("ShippedQuantity", _LONG),
    ("OrderedQuantity", _LONG),
    ("JeopardyPriority", _STRING),
    ("StatusCodeOldValue", _STRING),
    ("StatusCodeNewValue", _STRING),
    ("CancelFlagOldValue", _STRING),
    ("CancelFlagNewValue", _STRING),
)

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

#: each member of an old/new pair, with the other member
_PARTNER: dict[str, str] = {
    one: other
    for pair in (
        ("OrderedQtyNew", "OrderedQtyOld"),
        ("RequestShipDateNew", "RequestShipDateOld"),
        ("ScheduleShipDateNew", "ScheduleShipDateOld"),
        ("ShipToSiteUseIdNew", "ShipToSiteUseIdOld"),
        ("CancelFlagNewValue", "CancelFlagOldValue"),
    )
    for one, other in (pair, pair[::-1])
}

#: ``results`` declares its namespace as the default one (lxml-stubs reject a None key)
_RESULTS_NSMAP: dict[Any, str] = {None: EVENTS_NS, "xsi": XSI_NS}

_LONG_RANGE = (-(2**63), 2**63 - 1)
_INT_RANGE = (-(2**31), 2**31 - 1)


def _q(name: str) -> str:
    return f"{{{EVENTS_NS}}}{name}"


@functools.cache
def _attr(wire: str) -> str:
    """``OrchestrationOrderLineId`` → ``orchestration_order_line_id``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", wire).lower()


def _format(value: object, kind: str, where: str) -> str:
    if kind == _STRING:
        if isinstance(value, str):
            return value
    elif kind in (_LONG, _INT):
        if isinstance(value, int) and not isinstance(value, bool):
            low, high = _LONG_RANGE if kind == _LONG else _INT_RANGE
            if not low <= value <= high:
                raise ValueError(f"{where} is an xs:{kind}: {value} is out of its range")
            return str(value)
    elif kind == _DECIMAL:
        if isinstance(value, Decimal) and value.is_finite():
            return format(value, "f")  # never an exponent: xs:decimal has none
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    elif kind == _DATETIME and isinstance(value, datetime):
        # an instant: a time without its offset would read differently in each zone
        if value.utcoffset() is None:
            raise ValueError(f"{where} is an xs:dateTime: {value!r} has no time zone")
        return value.isoformat()
    raise ValueError(f"{where} is an xs:{kind}: {value!r} is not one")


def _write_level(
    parent: etree._Element,
    element: str,
    obj: object,
    fields: tuple[tuple[str, str], ...],
    filled: tuple[str, ...],
    code: str,
    overrides: dict[str, object],
) -> etree._Element:
    """Append ``element`` to ``parent`` with the leaves ``code`` fills, in schema order."""
    el = etree.SubElement(parent, _q(element))
    changed_only = CHANGED_ONLY.get(code, frozenset())
    for wire, kind in fields:
        attr = _attr(wire)
        value = overrides[wire] if wire in overrides else getattr(obj, attr)
        where = f"{element}/{wire}"
        if wire not in filled:
            if value is not None:
                raise ValueError(f"EventCode {code} does not fill {where}, yet {attr} = {value!r}")
            continue
        if wire in changed_only and value is None and getattr(obj, _attr(_PARTNER[wire])) is None:
            continue  # neither side: the attribute did not change
        leaf = etree.SubElement(el, _q(wire))
        if value is None:
            leaf.set(_XSI_NIL, "true")
            continue
        text = _format(value, kind, where)
        try:
            leaf.text = text
        except ValueError as exc:  # NUL or other characters XML cannot carry
            raise ValueError(f"{where}: {exc}") from None
    return el


def _results_element(header: EventHeader) -> etree._Element:
    code = header.event_code
    fills = FILLS.get(code)
    if fills is None:
        raise ValueError(f"unknown EventCode {code!r}: omgw pushes only {', '.join(EVENT_CODES)}")
    results = etree.Element(_q("results"), nsmap=_RESULTS_NSMAP)
    head = _write_level(
        results,
        "OrderHeader",
        header,
        _HEADER_FIELDS,
        fills["header"],
        code,
        # the header's EventCode is its discriminator: written where the code fills it
        {"EventCode": code if "EventCode" in fills["header"] else None},
    )
    if header.lines and not fills["line"]:
        raise ValueError(f"EventCode {code} carries no OrderLine, yet the header has lines")
    if not header.lines and "EventCode" not in fills["header"]:
        raise ValueError(f"a {code} push names its EventCode on its lines: it needs a line")
    for line in header.lines:
        overrides: dict[str, object] = {}
        if "EventCode" in fills["line"]:
            if line.event_code not in (None, code):
                raise ValueError(
                    f"a {code} push carries EventCode {code} on its lines, not {line.event_code!r}"
                )
            overrides["EventCode"] = code
        ln = _write_level(head, "OrderLine", line, _LINE_FIELDS, fills["line"], code, overrides)
        if line.fulfillment_lines and not fills["fline"]:
            raise ValueError(
                f"EventCode {code} carries no OrderFulfillmentLine, yet a line has some"
            )
        for fline in line.fulfillment_lines:
            _write_level(ln, "OrderFulfillmentLine", fline, _FLINE_FIELDS, fills["fline"], code, {})
    return results


def results_document(header: EventHeader) -> bytes:
    """The ``results`` element (UTF-8, no XML declaration) holding ``header`` as its one
    OrderHeader: every field its EventCode fills, nil where None (see module docstring).

    Raises ValueError for an unknown EventCode, a value in a field the code does not fill,
    or a value the field's XSD type cannot hold.
    """
    return bytes(etree.tostring(_results_element(header), encoding="utf-8"))


def push_envelope(header: EventHeader, *, message_id: str, to: str) -> bytes:
    """The SOAP 1.1 ``pushPayload`` request carrying ``header``, with WS-Addressing
    ``Action`` (:data:`PUSH_ACTION`), ``MessageID`` and ``To``, as
    :func:`connectors.outbound.build_envelope` writes them."""
    envelope = etree.Element(
        f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soapenv": SOAP_ENV_NS, "wsa": WSA_NS}
    )
    soap_header = etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Header")
    for name, text in (("Action", PUSH_ACTION), ("MessageID", message_id), ("To", to)):
        etree.SubElement(soap_header, f"{{{WSA_NS}}}{name}").text = text
    body = etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body")
    body.append(_results_element(header))
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def results_schema() -> etree.XMLSchema:
    """BusinessEventsConnectorPayload.xsd, loaded once."""
    return load_schema(SCHEMA_PATH)


# a schema's error log is per schema object: concurrent validations would mix their logs
_VALIDATE_LOCK = threading.Lock()


def validate_results(element: etree._Element) -> None:
    """Raise :class:`PayloadInvalidError` with the schema's first error unless ``element``
    is a ``results`` document the XSD accepts."""
    schema = results_schema()
    with _VALIDATE_LOCK:
        if schema.validate(element):
            return
        log: Any = schema.error_log
        first = next(iter(log), None)
    detail = f"line {first.line}: {first.message}" if first is not None else "invalid"
    raise PayloadInvalidError(
        f"the results document does not match BusinessEventsConnectorPayload.xsd: {detail}"
    )


def _is_nil(el: etree._Element) -> bool:
    return el.get(_XSI_NIL) in ("true", "1")


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _convert(el: etree._Element, kind: str) -> object:
    if _is_nil(el):
        return None
    text = el.text or ""
    if kind == _STRING:
        return text
    if kind == _DECIMAL:
        return Decimal(text.strip())
    if kind == _DATETIME:
        return datetime.fromisoformat(text.strip())
    return int(text.strip())


def _read_level(
    el: etree._Element,
    fields: tuple[tuple[str, str], ...],
    filled: tuple[str, ...],
    code: str,
    child: str | None,
) -> dict[str, Any]:
    """The dataclass keyword arguments of one level; strict about unfilled fields (only
    ``xsi:nil`` is tolerated there, since Oracle's XSLs copy nil through)."""
    kinds = dict(fields)
    where = _local(el)
    values: dict[str, Any] = {}
    for leaf in el:
        if not isinstance(leaf.tag, str) or _local(leaf) == child:
            continue
        name = _local(leaf)
        if name not in filled:
            if _is_nil(leaf):
                continue
            shown = (leaf.text or "").strip() or f"<{name}> with content"
            raise PayloadInvalidError(
                f"EventCode {code} does not fill {where}/{name}, yet it holds {shown!r}"
            )
        values[_attr(name)] = _convert(leaf, kinds[name])
    return values


def _event_code(head: etree._Element) -> str:
    own = head.find(_q("EventCode"))
    if own is not None and not _is_nil(own):
        return own.text or ""
    codes = set()
    for line in head.findall(_q("OrderLine")):
        on_line = line.find(_q("EventCode"))
        if on_line is not None and not _is_nil(on_line):
            codes.add(on_line.text or "")
    if not codes:
        raise PayloadInvalidError(
            "an OrderHeader carries no EventCode, neither on itself nor on its OrderLines"
        )
    if len(codes) > 1:
        raise PayloadInvalidError(
            f"the OrderLines of one OrderHeader disagree on EventCode: {sorted(codes)}"
        )
    return codes.pop()


def _read_header(head: etree._Element) -> EventHeader:
    code = _event_code(head)
    fills = FILLS.get(code)
    if fills is None:
        raise PayloadInvalidError(
            f"EventCode {code!r} is not one omgw reads (it reads {', '.join(EVENT_CODES)})"
        )
    values = _read_level(head, _HEADER_FIELDS, fills["header"], code, "OrderLine")
    values["event_code"] = code
    line_els = head.findall(_q("OrderLine"))
    if line_els and not fills["line"]:
        raise PayloadInvalidError(f"EventCode {code} carries no OrderLine, yet one is there")
    lines = []
    for line_el in line_els:
        line_values = _read_level(
            line_el, _LINE_FIELDS, fills["line"], code, "OrderFulfillmentLine"
        )
        fline_els = line_el.findall(_q("OrderFulfillmentLine"))
        if fline_els and not fills["fline"]:
            raise PayloadInvalidError(
                f"EventCode {code} carries no OrderFulfillmentLine, yet one is there"
            )
        flines = tuple(
            EventFulfillLine(**_read_level(f, _FLINE_FIELDS, fills["fline"], code, None))
            for f in fline_els
        )
        lines.append(EventLine(**line_values, fulfillment_lines=flines))
    return EventHeader(**values, lines=tuple(lines))


def parse_results(element: etree._Element) -> tuple[EventHeader, ...]:
    """Validate a ``results`` element and read it back into :class:`EventHeader` s (the
    inverse of :func:`results_document`; ``xsi:nil`` reads as None; a JEOPARDY header's
    ``event_code`` is its lines' EventCode)."""
    if element.tag != _q("results"):
        raise PayloadInvalidError(f"expected {{{EVENTS_NS}}}results, got {element.tag}")
    validate_results(element)
    return tuple(_read_header(head) for head in element.findall(_q("OrderHeader")))


def parse_push(body: bytes) -> PushedPayload:
    """Read a ``pushPayload`` request as a subscriber receives it (see module docstring).

    Raises :class:`PayloadInvalidError`, with a message for a human, for anything but a
    well-formed, DTD-free SOAP 1.1 envelope whose Body holds one schema-valid ``results``.
    """
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise PayloadInvalidError(f"the push is not well-formed XML: {exc}") from None
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack doctype/internalDTD
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise PayloadInvalidError(
            "the push contains a document type declaration (DTD), which a SOAP message "
            "must not (entities are not expanded: the push is refused)"
        )
    if root.tag == f"{{{SOAP12_ENV_NS}}}Envelope":
        raise PayloadInvalidError("the push is a SOAP 1.2 envelope; pushPayload is SOAP 1.1")
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        raise PayloadInvalidError(
            f"the push is not a SOAP 1.1 envelope: its root element is {root.tag}"
        )
    soap_body = root.find(f"{{{SOAP_ENV_NS}}}Body")
    if soap_body is None:
        raise PayloadInvalidError("the SOAP envelope has no Body")
    children = [c for c in soap_body if isinstance(c.tag, str)]
    if not children:
        raise PayloadInvalidError("the SOAP Body is empty; pushPayload carries a results")
    if children[0].tag != _q("results"):
        raise PayloadInvalidError(
            f"the SOAP Body holds {children[0].tag}, not pushPayload's {_q('results')}"
        )
    if len(children) > 1:
        raise PayloadInvalidError(
            f"the SOAP Body holds {len(children)} elements; pushPayload carries one results"
        )
    results = children[0]
    headers = parse_results(results)

    def wsa(name: str) -> str | None:
        found = root.find(f"{{{SOAP_ENV_NS}}}Header/{{{WSA_NS}}}{name}")
        return None if found is None or found.text is None else found.text.strip()

    standalone = copy.deepcopy(results)
    etree.cleanup_namespaces(standalone)  # drop the envelope's declarations it inherited
    return PushedPayload(
        message_id=wsa("MessageID"),
        action=wsa("Action"),
        results=bytes(etree.tostring(standalone, encoding="utf-8")),
        headers=headers,
    )
