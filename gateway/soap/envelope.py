"""Reading an inbound SOAP 1.1 envelope safely.

No DTDs at all (so no external entities and no entity-expansion bombs: a DOCTYPE is
refused before any entity is expanded), no network access, bounded size and depth.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from gateway import namespaces as ns
from gateway.errors import EnvelopeError

__all__ = ["MAX_DEPTH", "Envelope", "parse_envelope"]

MAX_DEPTH = 64
_ENV = "{%s}" % ns.SOAP11_ENV
_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


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


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


# An element MAX_DEPTH + 1 levels down exists iff this path matches (evaluated in C).
_TOO_DEEP = etree.XPath("boolean(/*" + "/*" * MAX_DEPTH + ")")


def _depth_ok(root: etree._Element) -> bool:
    return not _TOO_DEEP(root)


def parse_envelope(data: bytes) -> Envelope:
    if not data.strip():
        raise EnvelopeError("REQUEST_EMPTY", "the request has no body; send a SOAP 1.1 envelope")
    # Refuse DTDs outright: a SOAP message must not contain one (SOAP 1.1 §3).
    if b"<!DOCTYPE" in data[:65536].upper():
        raise EnvelopeError(
            "XML_DTD_FORBIDDEN", "the request contains a DOCTYPE; DTDs and entities are refused"
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise EnvelopeError("XML_MALFORMED", f"the request is not well-formed XML: {exc}") from None
    if getattr(root.getroottree().docinfo, "doctype", None):
        raise EnvelopeError(
            "XML_DTD_FORBIDDEN", "the request contains a DOCTYPE; DTDs and entities are refused"
        )
    if root.tag == "{%s}Envelope" % _SOAP12:
        raise EnvelopeError(
            "SOAP_ENVELOPE_INVALID", "SOAP 1.2 is not supported here; send a SOAP 1.1 envelope"
        )
    if root.tag != _ENV + "Envelope":
        raise EnvelopeError(
            "SOAP_ENVELOPE_INVALID",
            f"the root element is {root.tag}, not a SOAP 1.1 Envelope ({ns.SOAP11_ENV})",
        )
    if not _depth_ok(root):
        raise EnvelopeError("XML_TOO_DEEP", f"the request nests deeper than {MAX_DEPTH} levels")
    header = root.find(_ENV + "Header")
    body = root.find(_ENV + "Body")
    if body is None:
        raise EnvelopeError("SOAP_BODY_EMPTY", "the envelope has no Body")
    children = [c for c in body if isinstance(c.tag, str)]
    if not children:
        raise EnvelopeError("SOAP_BODY_EMPTY", "the SOAP Body is empty; it must hold one operation")
    if len(children) > 1:
        raise EnvelopeError("SOAP_BODY_INVALID", "the SOAP Body must hold exactly one operation")
    return Envelope(root, header, body, etree.QName(children[0]), children[0])
