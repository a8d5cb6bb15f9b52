"""Reading requests as Oracle's services read them: by name, in any order.

Oracle's ADF services bind a request's elements to object attributes by name, so two
production clients that send the same documented fields in different orders both
work, and so do templates full of empty placeholders. The published schema lists
each object's elements in one order, as ``xs:sequence`` requires. So before a body is
validated against that schema it is normalised, in place:

- each object's elements are put in the schema's order (a stable sort: repeated
  elements keep their order among themselves);
- an empty optional element (no text, no child elements, not ``xsi:nil``) is a value
  not given, as ADF reads it, and is removed: ``<BatchName/>`` or an empty
  ``<GsaUnitPrice/>`` no longer fails the schema, and an empty placeholder beside the
  real value of the same element is not a second occurrence;
- a boolean is read without regard to case (``True``, ``FALSE``), as Java reads it;
- stray text between the elements of an object (a ``-`` copied from a browser's XML
  view) is dropped: no attribute could hold it;
- the ``xsi:type`` inside customer-defined content (extensible flexfields) is held
  aside, since it names the customer's own types; the content is kept as sent.

What is still checked, here or by the schema afterwards: every element is one the
object documents (an unknown one is refused with its name, path and line), every
attribute is one its element documents (likewise), a single element appears once, and
every value has its type and length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree
from spyne.model.complex import ComplexModelBase, XmlAttribute, XmlData
from spyne.model.primitive import AnyXml, Boolean

from gateway.errors import EnvelopeError
from gateway.soap.codec import HELD_XSI_TYPE, XSI, XSI_NIL, XSI_TYPE, is_many

__all__ = ["Normalizer"]


def _local(tag: str) -> tuple[str, str]:
    q = etree.QName(tag)
    return q.namespace or "", q.localname


class Normalizer:
    """Normalises one complex type's element (and, recursively, its children)."""

    def __init__(self, cls: Any, seen: dict[Any, Normalizer] | None = None) -> None:
        seen = {} if seen is None else seen
        seen[cls] = self
        self._type_name: str = cls.get_type_name()
        self._namespace: str = cls.get_namespace()
        # only a type with element content may lose its stray text
        fields = list(cls.get_flat_type_info(cls).items())
        self._element_only = not any(
            isinstance(t, type) and issubclass(t, XmlData) for _n, t in fields
        )
        #: tag -> (position, repeated, optional, normaliser of a complex child, fix for a
        #: scalar, element name)
        self._children: dict[
            str, tuple[int, bool, bool, Normalizer | None, Callable[[Any], None] | None, str]
        ] = {}
        self._by_local: dict[str, str] = {}
        #: the attributes this type's element may carry (besides ``xsi:``'s)
        self.attributes = frozenset(
            name for name, t in fields if isinstance(t, type) and issubclass(t, XmlAttribute)
        )
        position = 0
        for name, t in fields:
            if isinstance(t, type) and issubclass(t, (XmlAttribute, XmlData)):
                continue
            wire = getattr(t.Attributes, "sub_name", None) or name
            tag = "{%s}%s" % (self._namespace, wire)
            child: Normalizer | None = None
            if isinstance(t, type) and issubclass(t, ComplexModelBase):
                child = seen.get(t) or Normalizer(t, seen)
            fix = None
            if isinstance(t, type) and issubclass(t, Boolean):
                fix = _boolean_case
            elif isinstance(t, type) and issubclass(t, AnyXml):
                fix = _hold_xsi_types
            optional = (t.Attributes.min_occurs or 0) == 0
            self._children[tag] = (position, is_many(t), optional, child, fix, wire)
            self._by_local[wire] = tag
            position += 1

    def normalize(self, el: etree._Element, path: str | None = None) -> None:
        """Normalise ``el`` in place, or raise ``SCHEMA_INVALID`` naming what is wrong."""
        if path is None:
            path = etree.QName(el).localname
            _check_attributes(el, self.attributes, path)
        children = self._children
        element_only = self._element_only
        keyed: list[tuple[int, etree._Element]] = []
        single: set[str] = set()
        numbers: dict[str, int] = {}
        in_order = True
        last = -1
        # Walked by next sibling rather than over a list of every child: a body refused
        # at its first unknown element costs one step, however many follow it.
        following = el[0] if len(el) else None
        while following is not None:
            child, following = following, following.getnext()
            tag = child.tag
            if not isinstance(tag, str):
                continue
            spec = children.get(tag)
            if spec is None:
                raise self._unknown(child, path)
            position, many, optional, inner, fix, wire = spec
            if len(child.attrib) and fix is not _hold_xsi_types:
                allowed = inner.attributes if inner is not None else _NONE
                _check_attributes(child, allowed, f"{path}/{wire}")
            if inner is not None and len(child):
                numbers[tag] = number = numbers.get(tag, 0) + 1
                inner.normalize(child, f"{path}/{wire}[{number}]")
            text = child.text
            if (
                optional
                and (text is None or not text.strip())
                and not len(child)
                and child.get(XSI_NIL) is None
            ):
                el.remove(child)
                continue
            if fix is not None:
                fix(child)
            if not many:
                if tag in single:
                    raise EnvelopeError(
                        "SCHEMA_INVALID",
                        f"line {child.sourceline}: {path}/{wire} appears more than once; "
                        f"{self._type_name} holds one",
                    )
                single.add(tag)
            if position < last:
                in_order = False
            last = position
            keyed.append((position, child))
            if element_only:
                tail = child.tail
                if tail is not None and tail.strip():
                    child.tail = None
        if element_only and el.text is not None and el.text.strip():
            el.text = None
        if not in_order:
            keyed.sort(key=lambda pair: pair[0])
            el[:] = [child for _, child in keyed]

    def _unknown(self, child: etree._Element, path: str) -> EnvelopeError:
        namespace, local = _local(child.tag)
        where = f"line {child.sourceline}: {path}"
        if local in self._by_local:
            return EnvelopeError(
                "SCHEMA_INVALID",
                f"{where}: {local} is in namespace {namespace or '(none)'!r}; the elements of "
                f"{self._type_name} are in {self._namespace!r}",
            )
        return EnvelopeError(
            "SCHEMA_INVALID",
            f"{where}: {local} is not an attribute of {self._type_name} "
            f"({self._namespace}); see its documented attributes in the published WSDL",
        )


_NONE: frozenset[str] = frozenset()
_XSI = "{%s}" % XSI


def _check_attributes(el: etree._Element, allowed: frozenset[str], path: str) -> None:
    """Refuse the first attribute ``el`` may not carry, as the schema would, but before
    it: the schema reports every one, and a body can carry a great many."""
    for key in el.attrib:
        name = str(key)
        if name not in allowed and not name.startswith(_XSI):
            known = ", ".join(sorted(allowed)) or "none but xsi:type and xsi:nil"
            raise EnvelopeError(
                "SCHEMA_INVALID",
                f"line {el.sourceline}: {path} may not carry the attribute "
                f"{etree.QName(name).localname}; its attributes: {known}",
            )


def _hold_xsi_types(el: etree._Element) -> None:
    """Customer-defined content (flexfields) names the customer's own types in
    ``xsi:type``, which no published schema defines: hold them aside while the request
    is validated (the codec puts them back as it reads the content)."""
    for node in el.iter():
        held = node.get(XSI_TYPE)
        if held is not None:
            del node.attrib[XSI_TYPE]
            node.set(HELD_XSI_TYPE, held)


def _boolean_case(el: etree._Element) -> None:
    word = (el.text or "").strip().lower()
    if word in ("true", "false"):
        el.text = word
