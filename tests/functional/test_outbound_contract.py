"""The outbound contract fulfillment systems implement (connectors/wsdl/outbound): Oracle's names,
namespaces, operations and parts (contract §4), and schemas that accept a well-formed
request and answer and refuse bad ones. zeep builds the messages, lxml validates them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import zeep
from lxml import etree

from tests.common.fulfillment_request import header_tl

OUTBOUND = Path(__file__).resolve().parents[2] / "connectors" / "wsdl" / "outbound"
CLIENT = (
    "http://xmlns.oracle.com/apps/scm/doo/taskLayer/externalInterfaceLayer/"
    "DooTaskExternalInterfaceVirtualPartnersComposite/FulfillmentRequest"
)
TL = "http://xmlns.oracle.com/apps/scm/doo/processOrder/service/"
TR = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/model/"


@pytest.fixture(scope="module")
def client() -> zeep.Client:
    return zeep.Client(str(OUTBOUND / "FulfillmentRequest.wsdl"))


def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(OUTBOUND / name)))


def request(**overrides: object) -> dict[str, object]:
    body = header_tl(ShipSetName="SS1")
    body.update(overrides)
    return body


def body_of(client: zeep.Client, operation: str, payload: dict[str, object]) -> etree._Element:
    port = "FulfillmentRequestCallback_pt" if operation.endswith("Response") else None
    service = client.bind("fulfillmentrequest_client_ep", port) if port else client.service
    envelope = client.create_message(service, operation, **payload)
    found = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    assert found is not None
    return found[0]


def test_names_namespaces_operations_and_parts_follow_oracle(client):
    assert client.wsdl.messages.keys() >= {
        f"{{{CLIENT}}}FulfillmentRequestRequestMessage",
        f"{{{CLIENT}}}FulfillmentRequestResponseMessage",
    }
    ports = {}
    for port in client.wsdl.services["fulfillmentrequest_client_ep"].ports.values():
        for name, op in port.binding._operations.items():
            ports[name] = (
                port.binding.port_type.name.localname,
                str(op.input.body.qname),
                str(op.output.body.qname) if op.output else None,
            )
    assert ports == {
        "processFulfillmentRequest": ("FulfillmentRequest", f"{{{TL}}}headerTL", None),
        "processFulfillmentRequestSync": (
            "FulfillmentRequest",
            f"{{{TL}}}headerTL",
            f"{{{TR}}}headerTR",
        ),
        "processFulfillmentRequestResponse": (
            "FulfillmentRequestCallback",
            f"{{{TR}}}headerTR",
            None,
        ),
    }
    parts = [list(m.parts) for m in client.wsdl.messages.values() if m.name.namespace == CLIENT]
    assert parts == [["payload"], ["payload"]]


def test_a_request_built_by_zeep_validates_with_every_child_in_oracles_namespace(client):
    body = body_of(client, "processFulfillmentRequest", request())
    assert body.tag == f"{{{TL}}}headerTL"
    schema("HeaderTL.xsd").assertValid(body)
    assert {etree.QName(e).namespace for e in body.iter()} == {TL}
    assert body.findtext(f"{{{TL}}}Line/{{{TL}}}FulfillLineId") == "21"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"OrderedQty": Decimal("0")}, "minExclusive"),  # nothing to ship
        ({"OrderedQty": Decimal("1.00001")}, "fractionDigits"),
        ({"FulfillLineId": None}, "FulfillLineId"),  # the line cannot be answered
        ({"OrderedUOMCode": ""}, "minLength"),
    ],
)
def test_the_request_schema_refuses_what_a_receiver_could_not_act_on(change, why):
    tl = schema("HeaderTL.xsd")
    doc = etree.fromstring(_request_xml())
    line = doc.find(f"{{{TL}}}Line")
    assert line is not None
    for name, value in change.items():
        element = line.find(f"{{{TL}}}{name}")
        assert element is not None
        if value is None:
            line.remove(element)
        else:
            element.text = str(value)
    assert not tl.validate(doc)
    assert why in str(tl.error_log)


def _request_xml() -> bytes:
    client = zeep.Client(str(OUTBOUND / "FulfillmentRequest.wsdl"))
    return etree.tostring(body_of(client, "processFulfillmentRequest", request()))


def test_an_answer_validates_and_its_status_is_a_closed_list(client):
    answer = {
        "FulfillmentRequestIdentifier": 300100,
        "FulfillmentSystem": "WMS01",
        "FulfillmentSystemResponseIdentifier": "R-1",
        "StatusCode": "ACCEPTED",
        "Line": [{"FulfillLineId": 21, "StatusCode": "SHIPPED", "ShippedQty": Decimal("10")}],
    }
    body = body_of(client, "processFulfillmentRequestResponse", answer)
    tr = schema("HeaderTR.xsd")
    tr.assertValid(body)
    status = body.find(f"{{{TR}}}StatusCode")
    assert status is not None
    status.text = "MAYBE"
    assert not tr.validate(body)
