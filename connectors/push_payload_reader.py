"""Reading a ``pushPayload`` request as a subscriber receives it (the simulator's side of
contract §5.2–5.4): a safe parser (no DTD, no entities, no network), the published
schema, then the inverse of :func:`connectors.push_payload_writer.results_document`,
strict about fields the code does not fill (:mod:`connectors.push_payload`) so that a
wrong push is caught, not smoothed over.

lxml only, nothing of gateway.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from connectors.connector_errors import PayloadInvalidError
from connectors.push_payload import (
    EVENT_CODES,
    EVENTS_NS,
    FIELDS,
    FILLS,
    SCHEMA_PATH,
    SOAP12_ENV_NS,
    SOAP_ENV_NS,
    WSA_NS,
    XS_DATETIME,
    XS_DECIMAL,
    XS_STRING,
    XSI_NIL,
    EventFulfillLine,
    EventHeader,
    EventLine,
    attribute_name,
    qualified,
)
from connectors.schema_loading import load_schema

__all__ = ["PushedPayload", "parse_push", "parse_results", "results_schema", "validate_results"]


@dataclass(frozen=True)
class PushedPayload:
    """A ``pushPayload`` request as a subscriber received it."""

    message_id: str | None
    action: str | None
    #: the ``results`` element, serialized on its own (UTF-8)
    results: bytes
    headers: tuple[EventHeader, ...]


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
    return el.get(XSI_NIL) in ("true", "1")


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _convert(el: etree._Element, kind: str) -> object:
    if _is_nil(el):
        return None
    text = el.text or ""
    if kind == XS_STRING:
        return text
    if kind == XS_DECIMAL:
        return Decimal(text.strip())
    if kind == XS_DATETIME:
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
        values[attribute_name(name)] = _convert(leaf, kinds[name])
    return values


def _event_code(head: etree._Element) -> str:
    own = head.find(qualified("EventCode"))
    if own is not None and not _is_nil(own):
        return own.text or ""
    codes = set()
    for line in head.findall(qualified("OrderLine")):
        on_line = line.find(qualified("EventCode"))
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
    values = _read_level(head, FIELDS["header"], fills["header"], code, "OrderLine")
    values["event_code"] = code
    line_els = head.findall(qualified("OrderLine"))
    if line_els and not fills["line"]:
        raise PayloadInvalidError(f"EventCode {code} carries no OrderLine, yet one is there")
    lines = []
    for line_el in line_els:
        line_values = _read_level(
            line_el, FIELDS["line"], fills["line"], code, "OrderFulfillmentLine"
        )
        fline_els = line_el.findall(qualified("OrderFulfillmentLine"))
        if fline_els and not fills["fline"]:
            raise PayloadInvalidError(
                f"EventCode {code} carries no OrderFulfillmentLine, yet one is there"
            )
        flines = tuple(
            EventFulfillLine(**_read_level(f, FIELDS["fline"], fills["fline"], code, None))
            for f in fline_els
        )
        lines.append(EventLine(**line_values, fulfillment_lines=flines))
    return EventHeader(**values, lines=tuple(lines))


def parse_results(element: etree._Element) -> tuple[EventHeader, ...]:
    """Validate a ``results`` element and read it back into :class:`EventHeader` s (the
    inverse of :func:`~connectors.push_payload_writer.results_document`; ``xsi:nil``
    reads as None; a JEOPARDY header's ``event_code`` is its lines' EventCode)."""
    if element.tag != qualified("results"):
        raise PayloadInvalidError(f"expected {{{EVENTS_NS}}}results, got {element.tag}")
    validate_results(element)
    return tuple(_read_header(head) for head in element.findall(qualified("OrderHeader")))


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


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
    if children[0].tag != qualified("results"):
        raise PayloadInvalidError(
            f"the SOAP Body holds {children[0].tag}, not pushPayload's {qualified('results')}"
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
