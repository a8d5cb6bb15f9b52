"""The published WSDLs, as files under ``wsdl/`` and as served at ``?WSDL``.

spyne generates each document; :func:`shape_wsdl` then gives it Oracle's ADF shape
(contract §1, §8.1): binding ``<Service>SoapHttp``, port ``<Service>SoapHttpPort``,
SOAP-over-HTTP transport, and a ``ServiceException`` fault whose part is the element
``{http://xmlns.oracle.com/adf/svc/errors/}ServiceErrorMessage`` on every operation.
The same function shapes the served document and the stored file, and a test holds
them equal, so a change of the wire contract is always a visible change of a file.
"""

from __future__ import annotations

from lxml import etree

from gateway import namespaces as ns

__all__ = ["CANONICAL_BASE", "SERVICE_NAMES", "render_wsdl", "shape_wsdl"]

#: The address written into the stored files; a served WSDL carries its own host.
CANONICAL_BASE = "https://servername/fscmService/"
SERVICE_NAMES = ("OrderImportService", "OrderInformationService", "OrderFulfillmentResponseService")
HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"

_W = "{http://schemas.xmlsoap.org/wsdl/}"
_SOAP = "{http://schemas.xmlsoap.org/wsdl/soap/}"
_XS = "{http://www.w3.org/2001/XMLSchema}"
_XSD_NS = "http://www.w3.org/2001/XMLSchema"


def _errors_schema() -> etree._Element:
    schema = etree.Element(
        _XS + "schema",
        targetNamespace=ns.ADF_ERRORS,
        elementFormDefault="qualified",
        nsmap={"xs": _XSD_NS, "errors": ns.ADF_ERRORS},
    )
    msg = etree.SubElement(schema, _XS + "complexType", name="ServiceMessage")
    seq = etree.SubElement(msg, _XS + "sequence")
    for name in ("code", "message", "severity"):
        etree.SubElement(seq, _XS + "element", name=name, type="xs:string", minOccurs="0")
    etree.SubElement(
        seq,
        _XS + "element",
        name="detail",
        type="errors:ServiceMessage",
        minOccurs="0",
        maxOccurs="unbounded",
    )
    err = etree.SubElement(schema, _XS + "complexType", name="ServiceErrorMessage")
    ext = etree.SubElement(
        etree.SubElement(err, _XS + "complexContent"),
        _XS + "extension",
        base="errors:ServiceMessage",
    )
    seq = etree.SubElement(ext, _XS + "sequence")
    etree.SubElement(seq, _XS + "element", name="sdoObject", type="xs:anyType", minOccurs="0")
    etree.SubElement(
        seq, _XS + "element", name="exceptionClassName", type="xs:string", minOccurs="0"
    )
    etree.SubElement(
        schema, _XS + "element", name="ServiceErrorMessage", type="errors:ServiceErrorMessage"
    )
    return schema


_KIND_ORDER = {"import": 0, "simpleType": 1, "complexType": 2, "element": 3}


def _canonical_order(schema: etree._Element) -> None:
    """Imports, then types and elements by name: spyne emits them in first-use order,
    which a harmless refactoring changes; the published contract should not move."""
    children = list(schema)
    children.sort(
        key=lambda el: (_KIND_ORDER.get(etree.QName(el).localname, 9), el.get("name") or "")
    )
    schema[:] = children


def shape_wsdl(document: bytes, name: str, location: str) -> bytes:
    """Give a spyne-generated WSDL Oracle's ADF names and fault; pretty-print it."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    spyne_root = etree.fromstring(document, parser)
    nsmap = {k: v for k, v in spyne_root.nsmap.items() if k is not None and v != ns.ADF_ERRORS}
    nsmap["errors"] = ns.ADF_ERRORS
    root = etree.Element(spyne_root.tag, nsmap=nsmap, attrib=dict(spyne_root.attrib))
    root.extend(list(spyne_root))

    binding_name, port_name = f"{name}SoapHttp", f"{name}SoapHttpPort"
    types = root.find(_W + "types")
    for schema in root.iter(_XS + "schema"):
        _canonical_order(schema)
    if types is not None and not any(
        s.get("targetNamespace") == ns.ADF_ERRORS for s in types.iter(_XS + "schema")
    ):
        types.append(_errors_schema())

    first_message = root.find(_W + "message")
    fault_msg = etree.Element(_W + "message", name="ServiceException")
    etree.SubElement(
        fault_msg, _W + "part", name="ServiceErrorMessage", element="errors:ServiceErrorMessage"
    )
    if first_message is not None:
        first_message.addprevious(fault_msg)

    for port_type in root.iter(_W + "portType"):
        for op in port_type.iter(_W + "operation"):
            if op.find(_W + "fault") is None:
                etree.SubElement(
                    op, _W + "fault", name="ServiceException", message="tns:ServiceException"
                )
    for binding in root.iter(_W + "binding"):
        binding.set("name", binding_name)
        soap_binding = binding.find(_SOAP + "binding")
        if soap_binding is not None:
            soap_binding.set("transport", HTTP_TRANSPORT)
        for op in binding.findall(_W + "operation"):
            if op.find(_W + "fault") is None:
                fault = etree.SubElement(op, _W + "fault", name="ServiceException")
                etree.SubElement(fault, _SOAP + "fault", name="ServiceException", use="literal")
    for port in root.iter(_W + "port"):
        port.set("name", port_name)
        port.set("binding", f"tns:{binding_name}")
        for address in port.iter(_SOAP + "address"):
            address.set("location", location)
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def render_wsdl(name: str) -> bytes:
    """The WSDL of service ``name`` as stored under ``wsdl/``."""
    from spyne.interface.wsdl import Wsdl11

    from gateway.server import build_spyne_app

    app = build_spyne_app(name)
    app.transport = HTTP_TRANSPORT
    doc = Wsdl11(app.interface)
    doc.build_interface_document(CANONICAL_BASE + name)
    return shape_wsdl(doc.get_interface_document(), name, CANONICAL_BASE + name)
