"""Requests that carry one edge value in one field, built from the published contract.

Every scalar field a request may carry is reached by its path from the operation's
wrapper (``request/Order/Line/RequestedShipDate``); a request for a value is a valid
template with that value in one field or several (their parent elements created where
the template has none: the gateway reads elements in any order). The edge values are lexical forms the
XML schema types allow, or nearly so, that Python's own types may not hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from lxml import etree

from gateway import namespaces as ns
from gateway.contract.model import ServiceModel, load

__all__ = [
    "EDGES",
    "Path",
    "acknowledgement",
    "fulfillment_response",
    "import_request",
    "inquiry",
    "paths",
    "with_value",
]

#: per published simple type, lexical forms at or past the ends of what Python holds
_DECIMALS = (
    "0",
    "-0",
    "+1",
    "1.",
    ".5",
    "0.0001",
    "0.00001",
    "99999999999999.9999",
    "100000000000000",
    "1" + "0" * 60,
    "0." + "0" * 60 + "1",
    "9" * 1000,
    "1.00000000000000000000000000000001",
    "-99999999999999.9999",
)
EDGES: dict[str, tuple[str, ...]] = {
    "dateTime": (
        "2026-01-01T24:00:00",
        "2026-01-01T24:00:00Z",
        "2026-12-31T23:59:60Z",
        "2026-02-29T00:00:00",
        "2026-02-30T00:00:00Z",
        "2024-02-29T12:00:00Z",
        "9999-12-31T23:59:59",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59.9999999-00:01",
        "10000-01-01T00:00:00",
        "0001-01-01T00:00:00",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00+00:01",
        "0000-01-01T00:00:00",
        "-0001-01-01T00:00:00",
        "2026-06-30T12:00:00+14:00",
        "2026-06-30T12:00:00-14:00",
        "2026-06-30T12:00:00+14:01",
        "2026-06-30T12:00:00+23:59",
        "2026-06-30T12:00:00+24:00",
        "2026-06-30T12:00:00.123456789012345Z",
        "2026-06-30T12:00:00",
    ),
    "date": (
        "2026-02-29",
        "2026-02-30",
        "2024-02-29",
        "9999-12-31",
        "9999-12-31-14:00",
        "10000-01-01",
        "0001-01-01",
        "0001-01-01+14:00",
        "0000-01-01",
        "-0001-01-01",
        "2026-06-30Z",
        "2026-06-30+14:00",
        "2026-06-30-14:00",
        "2026-06-30+23:59",
    ),
    "decimal": _DECIMALS,
    "MeasureType": _DECIMALS,
    "AmountType": _DECIMALS,
    "long": (
        "0",
        "-1",
        "+7",
        "007",
        "2147483647",
        "2147483648",
        "-2147483649",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "9" * 5000,
    ),
    "int": ("0", "-1", "2147483647", "-2147483648", "2147483648", "9" * 5000),
    "boolean": ("true", "false", "1", "0", "TRUE", "False"),
    # longer than any column a request's text is stored in (hold comments: 2000)
    "string": ("\u00e9" * 2001,),
}
_UNITS = {"MeasureType": "unitCode", "AmountType": "currencyCode"}
_UNIT_VALUES = {"MeasureType": "Ea", "AmountType": "USD"}


@dataclass(frozen=True)
class Path:
    """One scalar field of a request: its element names from the wrapper, and type."""

    steps: tuple[tuple[str, str], ...]  # (namespace, element name) from the wrapper down
    type: str
    #: the attribute of the last element that holds the value (a quantity's unitCode)
    attribute: str | None = None

    def __str__(self) -> str:
        where = "/".join(name for _ns, name in self.steps)
        return f"{where}/@{self.attribute}" if self.attribute else where


def paths(service: str, roots: dict[str, str]) -> Iterator[Path]:
    """Every scalar field reachable from the wrapper's children ``roots`` (element name
    → object name), each once."""
    model = load(service)

    def walk(obj: str, trail: tuple[tuple[str, str], ...]) -> Iterator[Path]:
        o = model[obj]
        for f in o.fields:
            step = (o.namespace, f.name)
            if f.scalar:
                yield Path((*trail, step), f.type)
                if f.type in _UNITS:
                    yield Path((*trail, step), "string", _UNITS[f.type])
            else:
                yield from walk(f.type, (*trail, step))

    for element, obj in roots.items():
        yield from walk(obj, ((_types_ns(model), element),))


def _types_ns(model: ServiceModel) -> str:
    return model.namespace + "types/"


def with_value(template: bytes, where: Path | Sequence[Path], value: str) -> bytes:
    """``template`` (an envelope) with ``value`` at ``where`` under its operation: one
    field, or each of several."""
    root = etree.fromstring(template)
    operation = root.find(f"{{{ns.SOAP11_ENV}}}Body")[0]
    for path in [where] if isinstance(where, Path) else where:
        _set(operation, path, value)
    return etree.tostring(root)


def _set(operation: etree._Element, path: Path, value: str) -> None:
    el = operation
    for namespace, name in path.steps:
        tag = f"{{{namespace}}}{name}"
        child = el.find(tag)
        if child is None:
            child = etree.SubElement(el, tag)
        el = child
    if path.attribute is not None:
        el.set(path.attribute, value)
        el.text = el.text or "1"
        return
    del el[:]
    el.text = value
    if path.type in _UNITS:
        el.set(_UNITS[path.type], _UNIT_VALUES[path.type])


def _envelope(body: str) -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{ns.SOAP11_ENV}"><soapenv:Body>{body}'
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def import_request(key: str, operation: str = "createOrders", batch: str = "") -> bytes:
    """A valid one-line order from LEGACY keyed ``key``."""
    t, o = ns.ORDER_IMPORT_TYPES, ns.ORDER_IMPORT
    batch_el = f"<o:BatchName>{batch}</o:BatchName>" if batch else ""
    return _envelope(
        f'<t:{operation} xmlns:t="{t}" xmlns:o="{o}"><t:request>{batch_el}<o:Order>'
        f"<o:SourceTransactionIdentifier>{key}</o:SourceTransactionIdentifier>"
        "<o:SourceTransactionSystem>LEGACY</o:SourceTransactionSystem>"
        f"<o:SourceTransactionNumber>SO-{key}</o:SourceTransactionNumber>"
        "<o:Line><o:SourceTransactionLineIdentifier>L1</o:SourceTransactionLineIdentifier>"
        "<o:ProductNumber>AS54888</o:ProductNumber>"
        '<o:OrderedQuantity unitCode="Ea">10</o:OrderedQuantity>'
        "</o:Line></o:Order></t:request></t:createOrders>".replace(
            "</t:createOrders>", f"</t:{operation}>"
        )
    )


def fulfillment_response(rid: str, fline_id: int, system: str = "WMS01") -> bytes:
    """A valid response shipping the whole of fulfillment line ``fline_id`` (10 Ea)."""
    t, o = ns.OFRS_TYPES, ns.OFRS
    return _envelope(
        f'<t:processFulfillmentResponse xmlns:t="{t}" xmlns:o="{o}">'
        f"<t:responseMessageHeader><o:FulfillmentSystem>{system}</o:FulfillmentSystem>"
        f"<o:FulfillmentSystemResponseIdentifier>{rid}</o:FulfillmentSystemResponseIdentifier>"
        "<o:IntegrationContextCode>Shipment</o:IntegrationContextCode>"
        "</t:responseMessageHeader><t:fulfillLineList>"
        f"<o:FulfillLineIdentifier>{fline_id}</o:FulfillLineIdentifier>"
        '<o:ShippedQuantity unitCode="Ea">10</o:ShippedQuantity>'
        "<o:StatusCode>SHIPPED</o:StatusCode>"
        "</t:fulfillLineList></t:processFulfillmentResponse>"
    )


def acknowledgement(request_id: int, system: str = "WMS01") -> bytes:
    """A valid acceptance of fulfillment request ``request_id``."""
    t, o = ns.OFRS_TYPES, ns.OFRS
    return _envelope(
        f'<t:processAcknowledgement xmlns:t="{t}" xmlns:o="{o}">'
        f"<t:fulfillmentRequestAcknowledgement><o:FulfillmentSystem>{system}</o:FulfillmentSystem>"
        f"<o:FulfillmentRequestIdentifier>{request_id}</o:FulfillmentRequestIdentifier>"
        "<o:RequestStatusCode>ACCEPTED</o:RequestStatusCode>"
        "</t:fulfillmentRequestAcknowledgement></t:processAcknowledgement>"
    )


def inquiry(key: str) -> bytes:
    """GetOrderDetails of LEGACY's order ``key``."""
    t, o = ns.OIS_TYPES, ns.OIS
    return _envelope(
        f'<t:GetOrderDetails xmlns:t="{t}" xmlns:o="{o}"><t:Order>'
        f"<o:SourceTransactionIdentifier>{key}</o:SourceTransactionIdentifier>"
        "<o:SourceTransactionSystem>LEGACY</o:SourceTransactionSystem>"
        "</t:Order></t:GetOrderDetails>"
    )
