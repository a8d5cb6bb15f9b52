"""Writing business events as OM pushes them: the ``results`` document and the SOAP 1.1
``pushPayload`` request that carries it (contract §5.2–5.4; what each EventCode fills is
:mod:`connectors.push_payload`).

A field the code fills but that has no value is written nil; holding a value in a field
the code does not fill is a bug in the caller, and :func:`results_document` refuses it
rather than dropping data silently. Oracle pushes one OrderHeader per ``pushPayload`` (one
result per order; for JEOPARDY one per order line), once per connector:
:func:`results_document` and :func:`push_envelope` take exactly one :class:`EventHeader`.

lxml only: no zeep (the WSDL is for subscribers; zeep is used in the tests to prove it
loads), nothing of gateway.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from connectors.push_payload import (
    CHANGED_ONLY,
    EVENT_CODES,
    EVENTS_NS,
    FIELDS,
    FILLS,
    PUSH_ACTION,
    SOAP_ENV_NS,
    WSA_NS,
    XS_DATETIME,
    XS_DECIMAL,
    XS_INT,
    XS_LONG,
    XS_STRING,
    XSI_NIL,
    XSI_NS,
    EventHeader,
    attribute_name,
    qualified,
)

__all__ = ["push_envelope", "results_document"]

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


def _format(value: object, kind: str, where: str) -> str:
    if kind == XS_STRING:
        if isinstance(value, str):
            return value
    elif kind in (XS_LONG, XS_INT):
        if isinstance(value, int) and not isinstance(value, bool):
            low, high = _LONG_RANGE if kind == XS_LONG else _INT_RANGE
            if not low <= value <= high:
                raise ValueError(f"{where} is an xs:{kind}: {value} is out of its range")
            return str(value)
    elif kind == XS_DECIMAL:
        if isinstance(value, Decimal) and value.is_finite():
            return format(value, "f")  # never an exponent: xs:decimal has none
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    elif kind == XS_DATETIME and isinstance(value, datetime):
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
    el = etree.SubElement(parent, qualified(element))
    changed_only = CHANGED_ONLY.get(code, frozenset())
    for wire, kind in fields:
        attr = attribute_name(wire)
        value = overrides[wire] if wire in overrides else getattr(obj, attr)
        where = f"{element}/{wire}"
        if wire not in filled:
            if value is not None:
                raise ValueError(f"EventCode {code} does not fill {where}, yet {attr} = {value!r}")
            continue
        if (
            wire in changed_only
            and value is None
            and getattr(obj, attribute_name(_PARTNER[wire])) is None
        ):
            continue  # neither side: the attribute did not change
        leaf = etree.SubElement(el, qualified(wire))
        if value is None:
            leaf.set(XSI_NIL, "true")
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
    results = etree.Element(qualified("results"), nsmap=_RESULTS_NSMAP)
    head = _write_level(
        results,
        "OrderHeader",
        header,
        FIELDS["header"],
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
        ln = _write_level(head, "OrderLine", line, FIELDS["line"], fills["line"], code, overrides)
        if line.fulfillment_lines and not fills["fline"]:
            raise ValueError(
                f"EventCode {code} carries no OrderFulfillmentLine, yet a line has some"
            )
        for fline in line.fulfillment_lines:
            _write_level(
                ln, "OrderFulfillmentLine", fline, FIELDS["fline"], fills["fline"], code, {}
            )
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
