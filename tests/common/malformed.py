"""Malformed and hostile request bodies, each with the fault code it must get, and the
envelope they are built in."""

from __future__ import annotations

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OFRS_TYPES = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/types/"
OFRS = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/"


def envelope(body: str, header: str = "") -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:typ="{OFRS_TYPES}" xmlns:com="{OFRS}">'
        f"{header}<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def fulfillment(line: str) -> str:
    return (
        "<typ:processFulfillmentResponse><typ:responseMessageHeader>"
        "<com:FulfillmentSystem>WMS01</com:FulfillmentSystem>"
        "<com:FulfillmentSystemResponseIdentifier>BAD-1</com:FulfillmentSystemResponseIdentifier>"
        "<com:IntegrationContextCode>Shipment</com:IntegrationContextCode>"
        f"</typ:responseMessageHeader><typ:fulfillLineList>{line}</typ:fulfillLineList>"
        "</typ:processFulfillmentResponse>"
    )


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>"
    + envelope("<typ:processAcknowledgement>&lol9;</typ:processAcknowledgement>")
)
XXE = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + envelope(
    "<typ:processAcknowledgement>&x;</typ:processAcknowledgement>"
)
DEEP = envelope("<a>" * 100 + "</a>" * 100)

RAW_CASES = {
    "empty body": (b"", "OMGW-REQUEST_EMPTY"),
    "blank body": (b"  \n ", "OMGW-REQUEST_EMPTY"),
    "malformed XML": (b"<soapenv:Envelope><unclosed>", "OMGW-XML_MALFORMED"),
    "not an envelope": (b"<order><id>1</id></order>", "OMGW-SOAP_ENVELOPE_INVALID"),
    "SOAP 1.2": (
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
        "OMGW-SOAP_ENVELOPE_INVALID",
    ),
    "empty Body": (envelope(""), "OMGW-SOAP_BODY_EMPTY"),
    "two operations": (
        envelope("<typ:processAcknowledgement/><typ:processAcknowledgement/>"),
        "OMGW-SOAP_BODY_INVALID",
    ),
    "wrong namespace": (
        envelope('<processAcknowledgement xmlns="urn:wrong"/>'),
        "OMGW-UNKNOWN_OPERATION",
    ),
    "unknown operation": (envelope("<typ:cancelEverything/>"), "OMGW-UNKNOWN_OPERATION"),
    "non-numeric quantity": (
        envelope(
            fulfillment(
                "<com:FulfillLineIdentifier>1</com:FulfillLineIdentifier>"
                '<com:ShippedQuantity unitCode="Ea">ten</com:ShippedQuantity>'
            )
        ),
        "OMGW-SCHEMA_INVALID",
    ),
    "non-numeric identifier": (
        envelope(fulfillment("<com:FulfillLineIdentifier>abc</com:FulfillLineIdentifier>")),
        "OMGW-SCHEMA_INVALID",
    ),
    "XXE": (XXE, "OMGW-XML_DTD_FORBIDDEN"),
    "entity expansion bomb": (LAUGHS, "OMGW-XML_DTD_FORBIDDEN"),
    "too deep": (DEEP, "OMGW-XML_TOO_DEEP"),
}
