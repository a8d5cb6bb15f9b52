"""Reading operation bodies and writing results with lxml, from spyne's own type model.

spyne publishes the WSDLs and its validation schema; its object mapping costs many
times what lxml needs for the same message (README, "Benchmarks"). So each operation's
types are compiled once, at start-up, into plain readers and writers:

- a ``Reader`` turns a body element that has passed spyne's validation schema into
  ``Values`` objects with the attribute names spyne would have given (an absent or
  ``xsi:nil`` element is ``None``; a repeated one is a list; customer-defined content,
  ``any``, is a copy of the element as sent);
- a ``Writer`` turns the objects a service returns into the elements spyne would have
  written: the same names, namespaces and order, ``xsi:nil`` for an absent value the
  type requires, nothing for an absent optional one.

Scalars take a fast conversion where one exists (strings, integers, decimals) and
otherwise spyne's own (``from_unicode``/``to_unicode``), so values read and written here
match spyne's; decimals are always written without an exponent, which ``xs:decimal``
does not allow. ``tests/unit/gateway/test_codec.py`` holds the two paths equal.

The schema allows values Python's types do not hold: ``T24:00:00``, years past 9999 or
before 0001, a time whose offset carries it past those years in UTC (omgw compares and
stores times in UTC). Reading one is the caller's mistake, refused as ``INVALID_VALUE``
with the element's path, never an internal error.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from datetime import UTC
from datetime import datetime as py_datetime
from decimal import Decimal as PyDecimal
from types import SimpleNamespace
from typing import Any

from lxml import etree
from spyne.model import ModelBase
from spyne.model.binary import ByteArray
from spyne.model.complex import ComplexModelBase, XmlAttribute, XmlData
from spyne.model.fault import Fault
from spyne.model.primitive import AnyXml, Date, DateTime, Decimal, Integer, Unicode
from spyne.protocol import ProtocolBase

from gateway.errors import ValidationError

__all__ = [
    "HELD_XSI_TYPE",
    "XSI_NIL",
    "XSI_TYPE",
    "Reader",
    "Values",
    "Writer",
    "content_from_text",
    "decimal_text",
    "is_many",
    "scalar_text",
]

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSI_NIL = "{%s}nil" % XSI
XSI_TYPE = "{%s}type" % XSI
#: where an ``xsi:type`` inside customer-defined content (``any``) waits while the
#: request is validated: its types are the customer's, which no published schema has
_HELD_NS = "urn:omgw:held"
HELD_XSI_TYPE = "{%s}xsi-type" % _HELD_NS
_NIL_TRUE = ("true", "1")
_NIL = {XSI_NIL: "true"}


def _is_complex(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, ComplexModelBase)


def is_many(t: Any) -> bool:
    max_occurs = t.Attributes.max_occurs  # an int, or Decimal("Infinity") for "unbounded"
    return max_occurs == "unbounded" or float(max_occurs) > 1


def _wire_name(name: str, t: Any) -> str:
    return getattr(t.Attributes, "sub_name", None) or name


def _wrapped(t: Any) -> Any:
    """The scalar type inside an ``XmlAttribute`` or ``XmlData``."""
    return t.type


def _fields(cls: Any) -> list[tuple[str, Any]]:
    return list(cls.get_flat_type_info(cls).items())


def _from_text(t: Any, protocol: ProtocolBase) -> Callable[[str], Any]:
    if issubclass(t, (Unicode, ByteArray)):  # base64 is kept as the text it was sent as
        return str
    if issubclass(t, Integer):
        return int
    if issubclass(t, Decimal):
        return lambda s: PyDecimal(s.strip())
    if issubclass(t, DateTime):
        return _datetime_reader(t, protocol)
    return lambda s: protocol.from_unicode(t, s)


def _datetime_reader(t: Any, protocol: ProtocolBase) -> Callable[[str], Any]:
    def read(s: str) -> Any:
        value = protocol.from_unicode(t, s)
        if isinstance(value, py_datetime) and value.tzinfo is not None:
            value.astimezone(UTC)  # OverflowError: the instant is outside 0001-9999 in UTC
        return value

    return read


#: what a conversion raises for a value the schema let through and Python refuses
_UNREADABLE = (ValueError, ArithmeticError, Fault)


def _unreadable(t: Any, raw: str, where: str) -> ValidationError:
    """The fault for a value of ``t`` at ``where`` that Python's types cannot hold."""
    shown = raw.strip()
    shown = shown if len(shown) <= 40 else shown[:40] + "..."
    if issubclass(t, (DateTime, Date)):
        reason = (
            "omgw holds dates and times from 0001-01-01 to 9999-12-31 in UTC, with hours "
            "0 to 23 (send 24:00:00 as 00:00:00 of the next day)"
        )
    else:
        reason = f"it is not a {t.get_type_name()} omgw can hold"
    return ValidationError("INVALID_VALUE", f"{where} is {shown!r}: {reason}")


def _path(el: etree._Element, attribute: str | None = None) -> str:
    """Where ``el`` is in the operation's element (``createOrders/request/Order[2]/…``)."""
    names: list[str] = [f"@{attribute}"] if attribute else []
    node: etree._Element | None = el
    while node is not None:
        parent = node.getparent()
        name = etree.QName(node).localname
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        names.append(name)
        if parent is None or etree.QName(parent).localname == "Body":
            break
        node = parent
    return "/".join(reversed(names))


def scalar_text(t: Any, protocol: ProtocolBase) -> Callable[[Any], str]:
    if issubclass(t, (Unicode, ByteArray)):
        return str
    if issubclass(t, Integer):
        return lambda v: str(int(v))
    if issubclass(t, Decimal):
        return decimal_text
    return lambda v: protocol.to_unicode(t, v)


def decimal_text(value: Any) -> str:
    """An ``xs:decimal`` lexical form: never an exponent (``str(Decimal("1E+1"))`` is
    ``"1E+1"``, which no schema-checking client accepts)."""
    return format(value, "f") if isinstance(value, PyDecimal) else str(value)


class Values(SimpleNamespace):
    """An object read from a request: the attributes that were given. Every other
    attribute of its type reads as ``None``, as spyne's objects have them; a name its
    type does not have is an ``AttributeError``, as anywhere."""

    _known: frozenset[str] = frozenset()

    def __getattr__(self, name: str) -> None:
        if name in self._known:
            return None
        raise AttributeError(name)


class Reader:
    """Reads one complex type's element into ``Values``."""

    def __init__(self, cls: Any, protocol: ProtocolBase) -> None:
        ns = cls.get_namespace()
        self._values = type(
            f"{cls.get_type_name()}Values",
            (Values,),
            {"_known": frozenset(name for name, _t in _fields(cls))},
        )
        # tag -> (attribute name, read one child, repeated)
        self._children: dict[str, tuple[str, Callable[[etree._Element], Any], bool]] = {}
        self._attributes: list[tuple[str, str, Callable[[str], Any], Any]] = []
        self._data: tuple[str, Callable[[str], Any], Any] | None = None
        for name, t in _fields(cls):
            if isinstance(t, type) and issubclass(t, XmlAttribute):
                self._attributes.append(
                    (name, _wire_name(name, t), _from_text(_wrapped(t), protocol), _wrapped(t))
                )
            elif isinstance(t, type) and issubclass(t, XmlData):
                self._data = (name, _from_text(_wrapped(t), protocol), _wrapped(t))
            elif _is_complex(t):
                self._children["{%s}%s" % (ns, _wire_name(name, t))] = (
                    name,
                    Reader(t, protocol).read,
                    is_many(t),
                )
            elif issubclass(t, AnyXml):
                self._children["{%s}%s" % (ns, _wire_name(name, t))] = (name, _any, is_many(t))
            else:
                self._children["{%s}%s" % (ns, _wire_name(name, t))] = (
                    name,
                    _scalar_reader(_from_text(t, protocol), t),
                    is_many(t),
                )

    def read(self, el: etree._Element) -> Any:
        if el.get(XSI_NIL) in _NIL_TRUE:
            return None
        values: dict[str, Any] = {}
        for name, attr, conv, t in self._attributes:
            raw = el.get(attr)
            if raw is not None:
                try:
                    values[name] = conv(raw)
                except _UNREADABLE:
                    raise _unreadable(t, raw, _path(el, attr)) from None
        if self._data is not None:
            raw = el.text
            if raw is not None and raw.strip():
                name, conv, t = self._data
                try:
                    values[name] = conv(raw)
                except _UNREADABLE:
                    raise _unreadable(t, raw, _path(el)) from None
        children = self._children
        for child in el:
            spec = children.get(child.tag)
            if spec is None:
                continue  # comments; the schema has refused anything else
            name, read, many = spec
            value = read(child)
            if many:
                bucket = values.get(name)
                if bucket is None:
                    values[name] = [value]
                else:
                    bucket.append(value)
            else:
                values[name] = value
        return self._values(**values)


def _scalar_reader(conv: Callable[[str], Any], t: Any) -> Callable[[etree._Element], Any]:
    def read(el: etree._Element) -> Any:
        if el.get(XSI_NIL) in _NIL_TRUE:
            return None
        raw = el.text or ""
        try:
            return conv(raw)
        except _UNREADABLE:
            raise _unreadable(t, raw, _path(el)) from None

    return read


def _any(el: etree._Element) -> etree._Element | None:
    """Customer-defined content, as it was sent (its held ``xsi:type`` restored)."""
    if el.get(XSI_NIL) in _NIL_TRUE:
        return None
    copy = deepcopy(el)
    copy.tail = None
    for node in copy.iter():
        held = node.get(HELD_XSI_TYPE)
        if held is not None:
            del node.attrib[HELD_XSI_TYPE]
            node.set(XSI_TYPE, held)
    # the customer's prefixes stay (xsi:type values use them); the holding one goes
    keep = [p for p, uri in copy.nsmap.items() if p and uri != _HELD_NS]
    etree.cleanup_namespaces(copy, keep_ns_prefixes=keep)
    return copy


class Writer:
    """Writes an object's fields as the children of an element, as spyne would.

    An object of a wide type (GetOrderDetails' ``Line`` has hundreds of attributes,
    most of them absent) is written by visiting only what it must write: the fields
    always written (``xsi:nil`` when absent) and the ones it holds, in schema order.
    """

    #: below this many fields, every field is visited (cheaper than choosing)
    WIDE = 24

    def __init__(self, cls: Any, protocol: ProtocolBase) -> None:
        ns = cls.get_namespace()
        self._steps: list[Callable[[etree._Element, Any], None]] = []
        self._position: dict[str, int] = {}
        always: list[int] = []
        for position, (name, t) in enumerate(_fields(cls)):
            self._position[name] = position
            if isinstance(t, type) and issubclass(t, XmlAttribute):
                self._steps.append(_attribute_step(name, _wire_name(name, t), t, protocol))
            elif isinstance(t, type) and issubclass(t, XmlData):
                self._steps.append(_data_step(name, scalar_text(_wrapped(t), protocol)))
            else:
                self._steps.append(
                    _element_step(name, "{%s}%s" % (ns, _wire_name(name, t)), t, protocol)
                )
                if (t.Attributes.min_occurs or 0) >= 1 and t.Attributes.nillable:
                    always.append(position)
        self._always = frozenset(always)

    def write(self, parent: etree._Element, obj: Any) -> None:
        steps = self._steps
        held = getattr(obj, "__dict__", None)
        if held is None or len(steps) < self.WIDE:
            for step in steps:
                step(parent, obj)
            return
        position = self._position
        chosen = set(self._always)
        chosen.update(position[k] for k, v in held.items() if v is not None and k in position)
        for index in sorted(chosen):
            steps[index](parent, obj)


def content_from_text(text: str | bytes) -> etree._Element:
    """Customer-defined content kept as text, read back: no DTD, no entities, no network
    (it was read that way once; it is read that way again)."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    return etree.fromstring(text, parser)


def _any_element(tag: str, value: Any) -> etree._Element:
    """Customer-defined content under ``tag``, without the ``xsi:type`` of the
    customer's own types, so that the answer validates against the published schema."""
    source = content_from_text(value) if isinstance(value, (str, bytes)) else value
    out = etree.Element(tag)
    out.text = source.text
    for key, val in source.attrib.items():
        if key != XSI_TYPE:
            out.set(key, val)
    for child in source:
        copy = deepcopy(child)
        for node in copy.iter():
            if XSI_TYPE in node.attrib:
                del node.attrib[XSI_TYPE]
        out.append(copy)
    return out


def _attribute_step(
    name: str, wire: str, t: Any, protocol: ProtocolBase
) -> Callable[[etree._Element, Any], None]:
    conv = scalar_text(_wrapped(t), protocol)

    def step(parent: etree._Element, obj: Any) -> None:
        value = getattr(obj, name, None)
        if value is not None:
            parent.set(wire, conv(value))

    return step


def _data_step(name: str, conv: Callable[[Any], str]) -> Callable[[etree._Element, Any], None]:
    def step(parent: etree._Element, obj: Any) -> None:
        value = getattr(obj, name, None)
        if value is not None:
            parent.text = conv(value)

    return step


def _element_step(
    name: str, tag: str, t: ModelBase, protocol: ProtocolBase
) -> Callable[[etree._Element, Any], None]:
    required = (t.Attributes.min_occurs or 0) >= 1
    nillable = bool(t.Attributes.nillable)
    many = is_many(t)
    if _is_complex(t):
        inner = Writer(t, protocol)

        def one(parent: etree._Element, value: Any) -> None:
            inner.write(etree.SubElement(parent, tag), value)

    elif issubclass(t, AnyXml):

        def one(parent: etree._Element, value: Any) -> None:
            parent.append(_any_element(tag, value))

    else:
        conv = scalar_text(t, protocol)

        def one(parent: etree._Element, value: Any) -> None:
            etree.SubElement(parent, tag).text = conv(value)

    def absent(parent: etree._Element) -> None:
        if required and nillable:
            etree.SubElement(parent, tag, _NIL)

    def step(parent: etree._Element, obj: Any) -> None:
        value = getattr(obj, name, None)
        if value is None:
            absent(parent)
        elif many:
            items = list(value)
            if not items:
                absent(parent)
            for item in items:
                if item is None:
                    etree.SubElement(parent, tag, _NIL)
                else:
                    one(parent, item)
        else:
            one(parent, value)

    return step
