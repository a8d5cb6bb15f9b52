"""The wire types of the three inbound services, made from Oracle's documented objects.

Every object of ``gateway/contract/<Service>.toml`` becomes a spyne ``ComplexModel`` in
its namespace, its elements in the listed order; spyne puts the operation wrappers in
the ``…/types/`` namespace. A field that answers always carry (occurs ``1``) is written
as ``xsi:nil="true"`` when it has no value, as Oracle's ADF services do; everything a
request carries is optional, so a missing key reaches our validation and gets a
precise fault instead of a schema error.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from spyne import (
    AnyXml,
    Boolean,
    ByteArray,
    ComplexModel,
    Date,
    DateTime,
    Decimal,
    Integer32,
    Long,
    Unicode,
    XmlAttribute,
    XmlData,
)

from gateway import namespaces as ns
from gateway.contract.model import Field, ServiceModel, load

__all__ = ["AmountType", "MeasureType", "types_of"]


class MeasureType(ComplexModel):
    """A quantity with its unit: ``<OrderedQuantity unitCode="Ea">1</OrderedQuantity>``."""

    __namespace__ = ns.ADF_TYPES
    _type_info = [("unitCode", XmlAttribute(Unicode)), ("value", XmlData(Decimal))]


class AmountType(ComplexModel):
    """An amount with its currency: ``<UnitListPrice currencyCode="USD">105.5</…>``."""

    __namespace__ = ns.ADF_TYPES
    _type_info = [("currencyCode", XmlAttribute(Unicode)), ("value", XmlData(Decimal))]


_SCALARS: dict[str, Any] = {
    "long": Long,
    "int": Integer32,
    "decimal": Decimal,
    "boolean": Boolean,
    "dateTime": DateTime,
    "date": Date,
    "MeasureType": MeasureType,
    "AmountType": AmountType,
    "base64": ByteArray,
    "any": AnyXml,
}


def _scalar(f: Field, options: dict[str, Any]) -> Any:
    if f.type == "string":
        # one customisation with every option: spyne names a type per customisation
        return Unicode(max_len=f.length, **options) if f.length else Unicode(**options)
    return _SCALARS[f.type].customize(**options)


def _build(model: ServiceModel) -> dict[str, Any]:
    classes: dict[str, Any] = {}

    def make(name: str, trail: tuple[str, ...] = ()) -> Any:
        if name in classes:
            return classes[name]
        if name in trail:
            raise ValueError(f"{model.service}: objects refer to each other: {(*trail, name)}")
        obj = model[name]
        members = []
        for f in obj.fields:
            options: dict[str, Any] = {"min_occurs": f.min_occurs, "nillable": True}
            if f.many:
                options["max_occurs"] = "unbounded"
            if f.scalar:
                members.append((f.name, _scalar(f, options)))
            else:
                members.append((f.name, make(f.type, (*trail, name)).customize(**options)))
        cls = type(name, (ComplexModel,), {
            "__namespace__": obj.namespace,
            "__type_name__": name,
            "__doc__": obj.title,
            "_type_info": members,
        })  # fmt: skip
        classes[name] = cls
        return cls

    for name in model.objects:
        make(name)
    return classes


@cache
def types_of(service: str) -> Mapping[str, Any]:
    """The spyne class of every object of ``service``, by object name."""
    return _build(load(service))
