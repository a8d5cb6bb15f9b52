"""ADF-style faults: a SOAP 1.1 Fault whose detail is ``ServiceErrorMessage`` (contract §8.1).

::

    <env:Fault>                       (env: as Oracle's answers write it)
      <faultcode>env:Client</faultcode>
      <faultstring>shipped quantity 7 on fulfillment line 12 is more than …</faultstring>
      <detail>
        <tns:ServiceErrorMessage xmlns:tns="http://xmlns.oracle.com/adf/svc/errors/">
          <tns:code>OMGW-QUANTITY_EXCEEDS_OPEN</tns:code>
          <tns:message>…</tns:message>
          <tns:severity>SEVERITY_ERROR</tns:severity>
          <tns:detail>…one per line error…</tns:detail>
          <tns:exceptionClassName>omgw.ValidationError</tns:exceptionClassName>
        </tns:ServiceErrorMessage>
      </detail>
    </env:Fault>
"""

from __future__ import annotations

from lxml import etree

from gateway import namespaces as ns
from gateway.errors import GatewayError, LineError, wire_code

__all__ = ["fault_envelope", "read_fault_code", "service_error_message"]

_E = "{%s}" % ns.ADF_ERRORS
_SEVERITY = {"ERROR": "SEVERITY_ERROR", "WARNING": "SEVERITY_WARNING"}


def _message(
    parent: etree._Element, tag: str, code: str, text: str, severity: str
) -> etree._Element:
    el = (
        etree.SubElement(parent, _E + tag)
        if parent is not None
        else etree.Element(_E + tag, nsmap={"tns": ns.ADF_ERRORS})
    )
    etree.SubElement(el, _E + "code").text = wire_code(code)
    etree.SubElement(el, _E + "message").text = text
    etree.SubElement(el, _E + "severity").text = _SEVERITY.get(severity, severity)
    return el


def service_error_message(err: GatewayError) -> etree._Element:
    """The ``ServiceErrorMessage`` element for ``err`` (nested ``detail`` per line error)."""
    root = _message(None, "ServiceErrorMessage", err.code, err.message, "ERROR")  # type: ignore[arg-type]
    for line in err.details:
        _line_detail(root, line)
    etree.SubElement(root, _E + "exceptionClassName").text = f"omgw.{type(err).__name__}"
    return root


def _line_detail(parent: etree._Element, line: LineError) -> None:
    text = line.message
    if line.fulfill_line_id is not None and str(line.fulfill_line_id) not in text:
        text = f"fulfillment line {line.fulfill_line_id}: {text}"
    _message(parent, "detail", line.code, text, line.severity)


def fault_envelope(err: GatewayError) -> bytes:
    """A complete SOAP 1.1 fault response for an error raised before spyne runs."""
    env = etree.Element("{%s}Envelope" % ns.SOAP11_ENV, nsmap={"env": ns.SOAP11_ENV})
    body = etree.SubElement(env, "{%s}Body" % ns.SOAP11_ENV)
    fault = etree.SubElement(body, "{%s}Fault" % ns.SOAP11_ENV)
    etree.SubElement(fault, "faultcode").text = f"env:{err.fault_kind}"
    etree.SubElement(fault, "faultstring").text = err.message
    detail = etree.SubElement(fault, "detail")
    detail.append(service_error_message(err))
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def read_fault_code(body: bytes) -> tuple[str | None, str | None, str | None]:
    """(our code or None, SOAP faultcode, faultstring) of a fault response body."""
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None, None, None
    fault = root.find(".//{%s}Fault" % ns.SOAP11_ENV)
    if fault is None:
        return None, None, None
    code_el = fault.find(f".//{_E}ServiceErrorMessage/{_E}code")
    return (
        code_el.text if code_el is not None else None,
        fault.findtext("faultcode"),
        fault.findtext("faultstring"),
    )
