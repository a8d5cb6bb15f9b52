"""Attributes kept as sent: what a request carries beyond omgw's own columns.

A request's objects are read into plain values (``soap.codec``); the attributes omgw
acts on go to columns, every other one is kept with the order, line or fulfillment
line as JSON and comes back in GetOrderDetails under the name it was sent with. The
JSON is model-driven both ways (``gateway/contract``):

==============  ======================================  ==========================
type            JSON                                    read back as
==============  ======================================  ==========================
string, base64  the text                                ``str``
long, int       a number                                ``int``
decimal         the text, never an exponent             ``Decimal``
boolean         ``true``/``false``                      ``bool``
dateTime, date  ISO 8601                                ``datetime``/``date``
Measure/Amount  ``{"value": "2", "unitCode": "Ea"}``    ``MeasureType``/``AmountType``
any             the XML as sent                         an lxml element
an object       an object of its fields                 the object's spyne class
==============  ======================================  ==========================

Only values that were given are kept: an absent attribute is not stored as null.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from gateway.contract.model import Field, ObjectType, ServiceModel, load
from gateway.services.convert import make
from gateway.services.types import AmountType, MeasureType, types_of
from gateway.soap.codec import content_from_text, decimal_text

__all__ = ["kept", "restored"]

_UNITS = {"MeasureType": "unitCode", "AmountType": "currencyCode"}
_WRAPPERS: dict[str, Any] = {"MeasureType": MeasureType, "AmountType": AmountType}


def _encode_scalar(f: Field, value: Any) -> Any:
    t = f.type
    if t in ("string", "base64", "long", "int", "boolean"):
        return value
    if t == "decimal":
        return decimal_text(value)
    if t in ("dateTime", "date"):
        return value.isoformat()
    if t in _UNITS:
        out = {"value": decimal_text(value.value)} if value.value is not None else {}
        unit = getattr(value, _UNITS[t])
        if unit is not None:
            out[_UNITS[t]] = unit
        return out or None
    if t == "any":
        return etree.tostring(value, encoding="unicode")
    raise TypeError(f"no JSON form for {t}")


def kept(
    model: ServiceModel, obj: ObjectType, value: Any, skip: Collection[str] = ()
) -> dict[str, Any]:
    """The attributes of ``value`` (an object read from a request) that were given,
    as JSON-ready data, leaving out the fields named in ``skip``. An empty string is a
    value not given, as Oracle's services read an empty element."""
    out: dict[str, Any] = {}
    fields = obj.by_name
    for name, raw in vars(value).items():
        if raw is None or raw == "" or name in skip:
            continue
        f = fields[name]
        items = raw if f.many else [raw]
        if f.scalar:
            encoded = [_encode_scalar(f, v) for v in items if v is not None and v != ""]
        else:
            child = model[f.type]
            encoded = [kept(model, child, v) for v in items if v is not None]
        encoded = [e for e in encoded if e not in (None, {})]
        if encoded:
            out[name] = encoded if f.many else encoded[0]
    return out


_DECODE: dict[str, Callable[[Any], Any]] = {
    "string": str,
    "base64": str,
    "long": int,
    "int": int,
    "decimal": Decimal,
    "boolean": bool,
    "dateTime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "any": content_from_text,
}


def _decode_scalar(f: Field, data: Any) -> Any:
    if f.type in _WRAPPERS:
        unit = _UNITS[f.type]
        value = data.get("value")
        return _WRAPPERS[f.type](
            value=Decimal(value) if value is not None else None, **{unit: data.get(unit)}
        )
    return _DECODE[f.type](data)


def restored(service: str, obj_name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Kept attributes as the values the answers of ``service`` write for object
    ``obj_name``: names the object does not have are left out (an attribute sent to
    one service is returned by another only where both document it)."""
    model = load(service)
    obj = model[obj_name]
    classes = types_of(service)
    out: dict[str, Any] = {}
    for name, raw in data.items():
        f = obj.by_name.get(name)
        if f is None:
            continue
        items = raw if f.many else [raw]
        if f.scalar:
            values = [_decode_scalar(f, v) for v in items]
        else:
            cls = classes[f.type]
            values = [make(cls, **restored(service, f.type, v)) for v in items]
        out[name] = values if f.many else values[0]
    return out
