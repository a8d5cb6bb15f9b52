"""The schemas of the WSDLs we publish, to validate answers as a strict client would."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from lxml import etree

WSDL_DIR = Path(__file__).resolve().parents[2] / "wsdl"
XS = "http://www.w3.org/2001/XMLSchema"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"
ERRORS = "http://xmlns.oracle.com/adf/svc/errors/"


@functools.cache
def schema(service: str) -> etree.XMLSchema:
    """Every ``xs:schema`` of ``wsdl/<service>.wsdl``, as one validator: each is written
    to a file of its own and imported by a wrapper, so their imports resolve."""
    root = etree.parse(str(WSDL_DIR / f"{service}.wsdl")).getroot()
    folder = Path(tempfile.mkdtemp(prefix="omgw-wsdl-"))
    wrapper = etree.Element(f"{{{XS}}}schema", nsmap={"xs": XS})
    for index, part in enumerate(root.iter(f"{{{XS}}}schema")):
        # the part's QNames use prefixes declared on the WSDL root: carry them over
        standalone = etree.Element(part.tag, attrib=dict(part.attrib), nsmap=root.nsmap)
        standalone.extend(etree.fromstring(etree.tostring(part)))
        path = folder / f"part{index}.xsd"
        path.write_bytes(etree.tostring(standalone))
        etree.SubElement(
            wrapper,
            f"{{{XS}}}import",
            namespace=part.get("targetNamespace"),
            schemaLocation=path.as_uri(),
        )
    return etree.XMLSchema(etree.fromstring(etree.tostring(wrapper)))


def check_answer(service: str, body: bytes) -> etree._Element:
    """The answer's Body child, after validating it against the published schema (or
    its fault detail against Oracle's error schema); raises AssertionError otherwise."""
    root = etree.fromstring(body)
    assert root.tag == f"{{{ENV}}}Envelope", root.tag
    assert root.prefix == "env", f"the envelope prefix is {root.prefix!r}, not Oracle's env:"
    (payload,) = [c for c in root.find(f"{{{ENV}}}Body") if isinstance(c.tag, str)]
    target = payload
    if payload.tag == f"{{{ENV}}}Fault":
        target = payload.find(f"detail/{{{ERRORS}}}ServiceErrorMessage")
        assert target is not None, "a fault without Oracle's ServiceErrorMessage"
    validator = schema(service)
    if not validator.validate(target):
        raise AssertionError(f"the {service} answer does not validate: {validator.error_log}")
    return payload
