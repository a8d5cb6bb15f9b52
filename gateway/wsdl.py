"""The published WSDLs, as files under ``wsdl/`` and as served at ``?WSDL``.

spyne generates the schemas from the types; :func:`shape_wsdl` writes the rest of the
document as Oracle's ADF services publish theirs (contract §1, §8.1; a real one read
for the shape): definitions, port type, binding and service in the service namespace
(``tns``), the operation wrappers in its ``types/`` namespace, messages named
``<Service>_<operation>`` and ``<Service>_<operation>Response`` with one part
``parameters``, binding ``<Service>SoapHttp`` with ``soapAction`` = service namespace +
operation and an optional WS-Addressing policy, port ``<Service>SoapHttpPort``, and a
``ServiceException`` fault whose part is ``{http://xmlns.oracle.com/adf/svc/errors/}
ServiceErrorMessage`` on every operation. The same function shapes the served document
and the stored file, and a test holds them equal, so a change of the wire contract is
always a visible change of a file. (Oracle also publishes ``<operation>Async`` twins
with a callback port type; omgw serves no asynchronous twin, so it publishes none.)
"""

from __future__ import annotations

from copy import deepcopy

from lxml import etree

from gateway import namespaces as ns

__all__ = ["CANONICAL_BASE", "HTTP_TRANSPORT", "SERVICE_NAMES", "shape_wsdl"]

#: The address written into the stored files; a served WSDL carries its own host.
CANONICAL_BASE = "https://servername/fscmService/"
SERVICE_NAMES = (
    "OrderImportService",
    "OrderInformationService",
    "OrderFulfillmentResponseService",
    "OrderHoldService",
)
HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"

_WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
_XSD_NS = "http://www.w3.org/2001/XMLSchema"
_WSP_NS = "http://schemas.xmlsoap.org/ws/2004/09/policy"
_WSAW_NS = "http://www.w3.org/2006/05/addressing/wsdl"
_W = "{%s}" % _WSDL_NS
_SOAP = "{%s}" % _SOAP_NS
_XS = "{%s}" % _XSD_NS
_WSP = "{%s}" % _WSP_NS
#: attributes of schema elements whose values are QNames (their prefixes are rewritten)
_QNAME_ATTRIBUTES = ("type", "base", "ref", "element", "itemType", "substitutionGroup")


def _errors_schema() -> etree._Element:
    schema = etree.Element(
        _XS + "schema", targetNamespace=ns.ADF_ERRORS, elementFormDefault="qualified"
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


def _prefixes(service_ns: str, types_ns: str, used: list[str]) -> dict[str, str]:
    """The document's prefixes: Oracle's names for the namespaces it has, ``nsN`` for
    any other one the schemas use."""
    nsmap = {
        "wsdl": _WSDL_NS,
        "soap": _SOAP_NS,
        "xs": _XSD_NS,
        "wsp": _WSP_NS,
        "wsaw": _WSAW_NS,
        "wsu": ns.WSU,
        "tns": service_ns,
        "types": types_ns,
        "errors": ns.ADF_ERRORS,
        "adf": ns.ADF_TYPES,
    }
    for uri in used:
        if uri not in nsmap.values():
            nsmap[f"ns{len(nsmap)}"] = uri
    return nsmap


def _rewrite_qnames(
    schema: etree._Element, old: dict[str | None, str], new: dict[str, str]
) -> None:
    prefix_of = {uri: p for p, uri in new.items()}
    for el in schema.iter():
        for attr in _QNAME_ATTRIBUTES:
            value = el.get(attr)
            if value is None or ":" not in value:
                continue
            prefix, local = value.split(":", 1)
            uri = old.get(prefix) or el.nsmap.get(prefix)
            if uri is not None:
                el.set(attr, f"{prefix_of[uri]}:{local}")


def _inline_simple_types(schema: etree._Element, prefix: str) -> None:
    """Write each length-restricted string where it is used, as Oracle's schemas do,
    instead of spyne's named ``<Object>_<Field>Type`` simple types."""
    named = {el.get("name"): el for el in schema.findall(_XS + "simpleType")}
    if not named:
        return
    for el in schema.iter(_XS + "element"):
        ref = el.get("type") or ""
        local = ref.split(":", 1)[1] if ref.startswith(prefix + ":") else None
        if local in named:
            del el.attrib["type"]
            inline = etree.SubElement(el, _XS + "simpleType")
            inline.extend(deepcopy(list(named[local])))
    for el in named.values():
        schema.remove(el)


def shape_wsdl(document: bytes, name: str, location: str) -> bytes:
    """Oracle's ADF WSDL around the schemas of a spyne-generated one; pretty-printed."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    spyne_root = etree.fromstring(document, parser)
    types_ns = str(spyne_root.get("targetNamespace"))
    service_ns = types_ns.removesuffix("types/")
    schemas = list(spyne_root.iter(_XS + "schema"))
    used = sorted({str(s.get("targetNamespace")) for s in schemas})
    nsmap = _prefixes(service_ns, types_ns, used)

    root = etree.Element(_W + "definitions", nsmap=nsmap, name=name, targetNamespace=service_ns)
    policy = etree.SubElement(root, _WSP + "Policy")
    policy.set("{%s}Id" % ns.WSU, "wsaddr_policy")
    etree.SubElement(policy, "{%s}UsingAddressing" % _WSAW_NS)

    types = etree.SubElement(root, _W + "types")
    prefix_of = {uri: p for p, uri in nsmap.items()}
    for schema in schemas:
        _rewrite_qnames(schema, dict(spyne_root.nsmap), nsmap)
        _inline_simple_types(schema, prefix_of[str(schema.get("targetNamespace"))])
        _canonical_order(schema)
        copy = etree.SubElement(types, _XS + "schema", attrib=dict(schema.attrib))
        copy.extend(list(schema))
    if ns.ADF_ERRORS not in used:
        types.append(_errors_schema())

    spyne_port_type = spyne_root.find(_W + "portType")
    assert spyne_port_type is not None, "spyne wrote no port type"
    operations = [str(op.get("name")) for op in spyne_port_type.findall(_W + "operation")]
    fault_msg = etree.SubElement(root, _W + "message", name="ServiceException")
    etree.SubElement(
        fault_msg, _W + "part", name="ServiceErrorMessage", element="errors:ServiceErrorMessage"
    )
    for op in operations:
        for suffix in ("", "Response"):
            message = etree.SubElement(root, _W + "message", name=f"{name}_{op}{suffix}")
            etree.SubElement(message, _W + "part", name="parameters", element=f"types:{op}{suffix}")

    port_type = etree.SubElement(root, _W + "portType", name=name)
    for op in operations:
        operation = etree.SubElement(port_type, _W + "operation", name=op)
        etree.SubElement(operation, _W + "input", message=f"tns:{name}_{op}")
        etree.SubElement(operation, _W + "output", message=f"tns:{name}_{op}Response")
        etree.SubElement(operation, _W + "fault", name="ServiceException",
                         message="tns:ServiceException")  # fmt: skip

    binding = etree.SubElement(root, _W + "binding", name=f"{name}SoapHttp", type=f"tns:{name}")
    etree.SubElement(binding, _SOAP + "binding", style="document", transport=HTTP_TRANSPORT)
    reference = etree.SubElement(binding, _WSP + "PolicyReference", URI="#wsaddr_policy")
    reference.set(_W + "required", "false")
    for op in operations:
        operation = etree.SubElement(binding, _W + "operation", name=op)
        etree.SubElement(operation, _SOAP + "operation", soapAction=f"{service_ns}{op}")
        for kind in ("input", "output"):
            etree.SubElement(etree.SubElement(operation, _W + kind), _SOAP + "body", use="literal")
        fault = etree.SubElement(operation, _W + "fault", name="ServiceException")
        etree.SubElement(fault, _SOAP + "fault", name="ServiceException", use="literal")

    service = etree.SubElement(root, _W + "service", name=name)
    port = etree.SubElement(
        service, _W + "port", name=f"{name}SoapHttpPort", binding=f"tns:{name}SoapHttp"
    )
    etree.SubElement(port, _SOAP + "address", location=location)
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")
