"""Reading an inbound SOAP 1.1 envelope safely.

No DTDs at all (so no external entities and no entity-expansion bombs: a DOCTYPE is
refused before any entity is expanded), no network access, bounded size and depth.

Every count that a later step could turn into quadratic work, into long Python loops or
into a large tree is bounded here, before anything else reads the tree: elements (each
is visited by Python code: normalising, reading, redacting), namespace declarations
(schema validation of an element costs in proportion to the declarations in scope,
times those declarations), attributes (in all: each costs ~250 bytes of tree; and per
element: each undeclared one is a schema error), and the elements of the Header.
Declarations, elements and attributes are counted while the bytes are parsed, so a body
holding too many is refused soon after the parser reaches the one too many; the other
counts are single passes in C over the parsed tree.

The envelope's shape is SOAP 1.1's (§4): an optional Header, then one Body, and nothing
else (WS-I Basic Profile R1011); a header entry marked ``mustUnderstand`` that omgw does
not process is refused with a ``MustUnderstand`` fault (§4.2.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from lxml import etree

from gateway import namespaces as ns
from gateway.errors import EnvelopeError, MustUnderstandError

__all__ = ["MAX_DEPTH", "UNDERSTOOD_HEADERS", "Envelope", "XmlLimits", "parse_envelope"]

MAX_DEPTH = 64
_ENV = "{%s}" % ns.SOAP11_ENV
_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
#: the actor a header entry addresses when it names none, or names the next node (§4.2.2)
_NEXT_ACTOR = "http://schemas.xmlsoap.org/soap/actor/next"

#: The header entries omgw processes, so may carry ``mustUnderstand="1"``: the
#: WS-Security header (``gateway.security``), and the WS-Addressing properties of a
#: request answered on the same HTTP exchange (``MessageID`` is answered with
#: ``RelatesTo``; the others name this endpoint, this operation or the anonymous reply).
UNDERSTOOD_HEADERS = frozenset(
    {(ns.WSSE, "Security")}
    | {
        (ns.WSA, name)
        for name in ("MessageID", "Action", "To", "ReplyTo", "FaultTo", "From", "RelatesTo")
    }
)


@dataclass(frozen=True)
class XmlLimits:
    """How much of each countable thing a request may hold (``Settings`` sets them)."""

    #: elements in the whole document
    elements: int = 300_000
    #: namespace declarations in the whole document
    namespaces: int = 100_000
    #: namespace declarations in scope at any element (its own and its ancestors')
    namespaces_in_scope: int = 256
    #: attributes on any one element (namespace declarations are not attributes)
    attributes: int = 64
    #: attributes in the whole document
    attributes_total: int = 300_000
    #: elements inside the SOAP Header, at any depth
    header_elements: int = 1_000


@dataclass(frozen=True)
class Envelope:
    root: etree._Element
    header: etree._Element | None
    body: etree._Element
    operation: etree.QName
    operation_element: etree._Element

    @property
    def message_id(self) -> str | None:
        if self.header is None:
            return None
        return self.header.findtext("{%s}MessageID" % ns.WSA)


#: bytes fed to the parser between two looks at the namespace count
_CHUNK = 64 * 1024
#: tags parsed between two counts of the elements, past the limit's number of tags
_RECOUNT = 256 * 1024
#: ``=`` signs parsed between two counts of the attributes, past the limit's number
_ATTRIBUTE_RECOUNT = 64 * 1024

# An element MAX_DEPTH + 1 levels down exists iff this path matches (evaluated in C).
_TOO_DEEP = etree.XPath("boolean(/*" + "/*" * MAX_DEPTH + ")")
_DESCENDANTS = etree.XPath("count(descendant::*)")
_ELEMENTS = etree.XPath("count(//*)")
_ATTRIBUTES = etree.XPath("count(//@*)")


@lru_cache(maxsize=8)
def _crowded(limit: int) -> etree.XPath:
    """Whether some element has more than ``limit`` attributes (evaluated in C)."""
    return etree.XPath(f"boolean(//*[@*[{limit + 1}]])")


def _depth_ok(root: etree._Element) -> bool:
    return not _TOO_DEEP(root)


def _too_many_in_scope(limits: XmlLimits) -> EnvelopeError:
    return EnvelopeError(
        "XML_TOO_MANY_NAMESPACES",
        f"an element has more than {limits.namespaces_in_scope} namespace declarations "
        "in scope (its own and its ancestors'); declare each namespace once, on the "
        "Envelope",
    )


def _too_many_declarations(limits: XmlLimits) -> EnvelopeError:
    return EnvelopeError(
        "XML_TOO_MANY_NAMESPACES",
        f"the request declares more than {limits.namespaces} namespaces; declare each "
        "namespace once, on the Envelope",
    )


_Event = Literal["start", "start-ns", "end-ns"]


def _parser(events: tuple[_Event, ...], tag: str | None = None) -> etree.XMLPullParser:
    return etree.XMLPullParser(
        events=events,
        tag=tag,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _too_many_elements(limits: XmlLimits) -> EnvelopeError:
    return EnvelopeError(
        "XML_TOO_MANY_ELEMENTS",
        f"the request holds more than {limits.elements} elements; send its orders or "
        "lines in several requests",
    )


def _root_tag(data: bytes) -> str:
    """The root element's tag, parsing no further than its start tag."""
    sniffer = _parser(("start",))
    for start in range(0, len(data), 4096):
        sniffer.feed(data[start : start + 4096])
        for _event, element in sniffer.read_events():
            return str(getattr(element, "tag", ""))
    return ""


def _too_many_attributes(limits: XmlLimits) -> EnvelopeError:
    return EnvelopeError(
        "XML_TOO_MANY_ATTRIBUTES",
        f"the request holds more than {limits.attributes_total} attributes; send its "
        "orders or lines in several requests",
    )


def _parse(data: bytes, limits: XmlLimits) -> etree._Element:
    """The parsed document, counted as the parser goes: its namespace declarations (a
    ``start-ns`` event per declaration, an ``end-ns`` as it goes out of scope), and, once
    the body holds more tags than the limit has elements, the elements parsed so far
    (counted in C on the tree being built, every ``_RECOUNT`` tags); likewise the
    attributes, once it holds more ``=`` signs than the limit has attributes.

    Attributes are what a tree is made of most cheaply per byte and most dearly per
    node (an attribute and its text node, ~250 bytes of memory for 6 bytes of body):
    a body of nothing else would take 1.25 million of them, some 300 MB to build."""
    parser = _parser(("start", "start-ns", "end-ns"), tag=_ENV + "Envelope")
    envelope: etree._Element | None = None
    total = in_scope = tags = signs = 0
    recount = limits.elements
    attribute_recount = limits.attributes_total
    try:
        for start in range(0, len(data), _CHUNK):
            chunk = data[start : start + _CHUNK]
            parser.feed(chunk)
            for event, item in parser.read_events():
                if event == "start":
                    if envelope is None and isinstance(item, etree._Element):
                        envelope = item
                elif event == "end-ns":
                    in_scope -= 1
                else:
                    total += 1
                    in_scope += 1
                    if in_scope > limits.namespaces_in_scope:
                        raise _too_many_in_scope(limits)
                    if total > limits.namespaces:
                        raise _too_many_declarations(limits)
            tags += chunk.count(b"<")
            if envelope is not None and tags > recount:
                if float(_ELEMENTS(envelope)) > limits.elements:  # type: ignore[arg-type]
                    raise _too_many_elements(limits)
                recount = tags + _RECOUNT
            signs += chunk.count(b"=")
            if envelope is not None and signs > attribute_recount:
                if float(_ATTRIBUTES(envelope)) > limits.attributes_total:  # type: ignore[arg-type]
                    raise _too_many_attributes(limits)
                attribute_recount = signs + _ATTRIBUTE_RECOUNT
        root: etree._Element = parser.close()
    except etree.XMLSyntaxError as exc:
        raise EnvelopeError("XML_MALFORMED", f"the request is not well-formed XML: {exc}") from None
    if float(_ELEMENTS(root)) > limits.elements:  # type: ignore[arg-type]
        raise _too_many_elements(limits)
    if signs > limits.attributes_total and float(_ATTRIBUTES(root)) > limits.attributes_total:  # type: ignore[arg-type]
        raise _too_many_attributes(limits)
    return root


def _parts(root: etree._Element) -> tuple[etree._Element | None, etree._Element]:
    """(Header or None, Body): an optional Header first, then one Body, nothing else."""
    children = [c for c in root if isinstance(c.tag, str)]
    tags = [c.tag for c in children]
    if _ENV + "Body" not in tags:
        raise EnvelopeError("SOAP_BODY_EMPTY", "the envelope has no Body")
    if tags not in ([_ENV + "Body"], [_ENV + "Header", _ENV + "Body"]):
        names = ", ".join(etree.QName(t).localname for t in tags)
        raise EnvelopeError(
            "SOAP_ENVELOPE_INVALID",
            f"the Envelope holds {names}; it must hold an optional Header, then one Body, "
            "and nothing else",
        )
    if len(children) == 1:
        return None, children[0]
    return children[0], children[1]


def _must_understand(entry: etree._Element) -> bool:
    """Whether ``entry`` is addressed to omgw and marked ``mustUnderstand``."""
    flag = entry.get(_ENV + "mustUnderstand")
    if flag is None:
        return False
    actor = entry.get(_ENV + "actor")
    if actor is not None and actor.strip() != _NEXT_ACTOR:
        return False  # addressed to another node
    value = flag.strip()
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise EnvelopeError(
        "SOAP_ENVELOPE_INVALID",
        f"mustUnderstand is {flag[:20]!r} on {etree.QName(entry).localname}; it must be 1 or 0",
    )


def _check_header(header: etree._Element, limits: XmlLimits) -> None:
    if float(_DESCENDANTS(header)) > limits.header_elements:  # type: ignore[arg-type]
        raise EnvelopeError(
            "SOAP_HEADER_TOO_LARGE",
            f"the SOAP Header holds more than {limits.header_elements} elements",
        )
    for entry in header:
        if not isinstance(entry.tag, str) or not _must_understand(entry):
            continue
        q = etree.QName(entry)
        if (q.namespace, q.localname) not in UNDERSTOOD_HEADERS:
            raise MustUnderstandError(
                "SOAP_MUST_UNDERSTAND",
                f"the header {q.localname} ({q.namespace or 'no namespace'}) is marked "
                "mustUnderstand and omgw does not process it; send it without "
                'mustUnderstand="1", or leave it out',
            )


def _check_root(tag: str) -> None:
    if tag == "{%s}Envelope" % _SOAP12:
        raise EnvelopeError(
            "SOAP_ENVELOPE_INVALID", "SOAP 1.2 is not supported here; send a SOAP 1.1 envelope"
        )
    if tag != _ENV + "Envelope":
        raise EnvelopeError(
            "SOAP_ENVELOPE_INVALID",
            f"the root element is {tag}, not a SOAP 1.1 Envelope ({ns.SOAP11_ENV})",
        )


def parse_envelope(data: bytes, limits: XmlLimits | None = None) -> Envelope:
    limits = limits or XmlLimits()
    if not data.strip():
        raise EnvelopeError("REQUEST_EMPTY", "the request has no body; send a SOAP 1.1 envelope")
    # Refuse DTDs outright: a SOAP message must not contain one (SOAP 1.1 §3).
    if b"<!DOCTYPE" in data[:65536].upper():
        raise EnvelopeError(
            "XML_DTD_FORBIDDEN", "the request contains a DOCTYPE; DTDs and entities are refused"
        )
    # Every declaration holds one of these words, so their count bounds the declarations;
    # refused here, a flood of them costs no parse (all of an element's declarations are
    # parsed before the parser reports the first). Text that merely quotes one is rare.
    if data.count(b"xmlns:") + data.count(b"xmlns=") > limits.namespaces:
        raise _too_many_declarations(limits)
    if data.count(b"<") > limits.elements:
        # Possibly too many elements to parse them all: only a SOAP 1.1 Envelope is
        # counted as it is parsed, so anything else is refused by its root alone.
        try:
            tag = _root_tag(data)
        except etree.XMLSyntaxError as exc:
            raise EnvelopeError(
                "XML_MALFORMED", f"the request is not well-formed XML: {exc}"
            ) from None
        _check_root(tag)
    root = _parse(data, limits)
    if getattr(root.getroottree().docinfo, "doctype", None):
        raise EnvelopeError(
            "XML_DTD_FORBIDDEN", "the request contains a DOCTYPE; DTDs and entities are refused"
        )
    _check_root(str(root.tag))
    header, body = _parts(root)
    if header is not None:
        _check_header(header, limits)
    if not _depth_ok(root):
        raise EnvelopeError("XML_TOO_DEEP", f"the request nests deeper than {MAX_DEPTH} levels")
    if _crowded(limits.attributes)(root):
        raise EnvelopeError(
            "XML_TOO_MANY_ATTRIBUTES",
            f"an element of the request has more than {limits.attributes} attributes",
        )
    children = [c for c in body if isinstance(c.tag, str)]
    if not children:
        raise EnvelopeError("SOAP_BODY_EMPTY", "the SOAP Body is empty; it must hold one operation")
    if len(children) > 1:
        raise EnvelopeError("SOAP_BODY_INVALID", "the SOAP Body must hold exactly one operation")
    return Envelope(root, header, body, etree.QName(children[0]), children[0])
