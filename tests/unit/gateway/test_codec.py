"""The compiled lxml codec answers what spyne's own mapping answers, call for call.

Two gateways on two identical fresh databases, one on the hot path (``soap.operations``)
and one on spyne's mapping (``build_app(spyne_mapping=True)``), are sent the same calls
of every operation: orders with every kind of line, inquiries, a full and a partial
shipment (a split), acknowledgements, staging, and refused calls. Their answers must be
the same XML (prefixes aside; timestamps masked), and their fault codes the same.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from zeep import Client

from gateway.persistence.models import MessageLog
from gateway.runtime import Runtime
from gateway.server import build_app
from gateway.startup import prepare
from tests.common.orders import order, response, shipped
from tests.common.soap import PASSWORD, call_front, fault_code
from tests.conftest import make_settings, seed

WSDL = Path(__file__).resolve().parents[3] / "wsdl"
AUTH = "Basic " + base64.b64encode(f"all:{PASSWORD}".encode()).decode()
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

Call = Callable[[str, bytes], tuple[str, bytes]]


def _caller(app: Any) -> Call:
    return lambda service, body: call_front(app, service, body, AUTH)


def _shape(el: etree._Element) -> tuple[Any, ...]:
    """An element without its prefixes, with timestamps masked (and without the
    ``xsi:type`` Oracle's answers put on a result, which spyne's do not)."""
    text = (el.text or "").strip()
    if _STAMP.match(text):
        text = "<timestamp>"
    return (
        el.tag,
        tuple(sorted((k, v) for k, v in el.attrib.items() if k != _XSI_TYPE)),
        text,
        tuple(_shape(c) for c in el if isinstance(c.tag, str)),
    )


def _message(service: str, operation: str, **kwargs: Any) -> bytes:
    client = Client(str(WSDL / f"{service}.wsdl"))
    envelope = client.create_message(client.service, operation, **kwargs)
    return etree.tostring(envelope)


@pytest.fixture
def gateways(tmp_path: Path) -> Any:
    made = []
    for name, spyne_mapping in (("fast", False), ("spyne", True)):
        home = tmp_path / name
        settings = make_settings(home, f"sqlite:///{home / 'codec.db'}")
        prepare(settings)
        runtime = Runtime(settings)
        seed(runtime)
        made.append((runtime, _caller(build_app(runtime, spyne_mapping=spyne_mapping))))
    yield made
    for runtime, _ in made:
        runtime.close()


def _flines(answer: bytes) -> list[int]:
    """The fulfillment lines of a createOrders answer (``FulfillLineId``)."""
    root = etree.fromstring(answer)
    return [int(e.text) for e in root.iter("{*}FulfillLineId") if e.text]


def _conversation(call: Call) -> list[tuple[str, bytes]]:
    """The same calls, in the same order, as either gateway answers them."""
    answers = []

    def ask(service: str, body: bytes) -> bytes:
        status, out = call(service, body)
        answers.append((status, out))
        return out

    big = order("CODEC1", [("AS54888", 10), ("AS54889", 3), ("AS54890", "2.5")], ship_set="S1")
    big["Line"][0]["Hold"] = None
    created = ask(
        "OrderImportService",
        _message(
            "OrderImportService",
            "createOrders",
            request={"Order": [big, order("CODEC2", [("AS1", 4)])]},
        ),
    )
    flines = _flines(created)
    assert len(flines) == 4, created
    ask(
        "OrderInformationService",
        _message(
            "OrderInformationService",
            "GetOrderDetails",
            Order=[{"SourceTransactionIdentifier": "CODEC1", "SourceTransactionSystem": "LEGACY"}],
        ),
    )
    ofrs = "OrderFulfillmentResponseService"
    ship = response("R1", [shipped(flines[0]), shipped(flines[1], 1)])  # a full one, a split
    ask(ofrs, _message(ofrs, "processFulfillmentResponse", **ship))
    ask(ofrs, _message(ofrs, "processFulfillmentResponse", **ship))  # the same again
    bad = response("R2", [shipped(999999)])
    ask(ofrs, _message(ofrs, "processFulfillmentResponse", **bad))
    staged = response("R3", [shipped(flines[3], status="SHIPPED")])
    ask(ofrs, _message(ofrs, "stageFulfillmentResponse", **staged))
    ask(
        ofrs,
        _message(
            ofrs,
            "processAcknowledgement",
            fulfillmentRequestAcknowledgement={
                "FulfillmentRequestIdentifier": 1,
                "FulfillmentSystem": "WMS01",
                "RequestStatusCode": "ACCEPTED",
            },
        ),
    )
    ask(
        "OrderImportService",
        _message("OrderImportService", "stageOrders", request={"Order": [order("CODEC3")]}),
    )
    return answers


def test_every_operation_answers_as_spyne_does(gateways: Any) -> None:
    (fast_rt, fast), (spyne_rt, spyne) = gateways
    ours, theirs = _conversation(fast), _conversation(spyne)
    assert [s for s, _ in ours] == [s for s, _ in theirs]
    assert [s for s, _ in ours].count("200 OK") == 7, [fault_code(b) for _, b in ours]
    for (_, a), (_, b) in zip(ours, theirs, strict=True):
        if fault_code(a) or fault_code(b):
            assert fault_code(a) == fault_code(b)
        else:
            assert _shape(etree.fromstring(a)) == _shape(etree.fromstring(b))
    # the split answered a line of its own, and the shipped lines moved on in both
    split = etree.fromstring(ours[2][1]).findall(".//{*}FulfillmentSplitReferenceIdentifier")
    assert any(e.text for e in split)
    # every call was logged once, the successful ones in their own transaction
    for runtime in (fast_rt, spyne_rt):
        with runtime.sessions() as s:
            rows = s.query(MessageLog).order_by(MessageLog.id).all()
        assert [r.outcome for r in rows] == ["OK"] * 4 + ["FAULT"] + ["OK"] * 3
        assert rows[4].fault_code == "LINE_NOT_FOUND"


#: a bad line, and the element its fault must name
BAD = {
    "non-numeric line": (
        b"<com:FulfillLineIdentifier>abc</com:FulfillLineIdentifier>",
        "FulfillLineIdentifier",
    ),
    "unknown element": (b"<com:NoSuchThing>1</com:NoSuchThing>", "NoSuchThing"),
    "quantity not a number": (
        b"<com:FulfillLineIdentifier>1</com:FulfillLineIdentifier>"
        b'<com:ShippedQuantity unitCode="Ea">ten</com:ShippedQuantity>',
        "ShippedQuantity",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_schema_faults_match(gateways: Any, case: str) -> None:
    body = (
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:typ="http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/types/" '
        b'xmlns:com="http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/">'
        b"<soapenv:Body><typ:processFulfillmentResponse><typ:responseMessageHeader>"
        b"<com:FulfillmentSystem>WMS01</com:FulfillmentSystem>"
        b"</typ:responseMessageHeader><typ:fulfillLineList>"
        + BAD[case][0]
        + b"</typ:fulfillLineList>"
        b"</typ:processFulfillmentResponse></soapenv:Body></soapenv:Envelope>"
    )
    (_, fast), (_, spyne) = gateways
    ours = fast("OrderFulfillmentResponseService", body)
    theirs = spyne("OrderFulfillmentResponseService", body)
    assert ours[0] == theirs[0] == "500 Internal Server Error"
    assert fault_code(ours[1]) == fault_code(theirs[1]) == "OMGW-SCHEMA_INVALID"
    # ours names the line of the request and the element, without lxml's file noise
    message = etree.fromstring(ours[1]).findtext(".//faultstring")
    assert message.startswith("line 1: "), message
    assert BAD[case][1] in message, message
    assert "<string>" not in message


def test_a_nil_line_is_a_missing_key_in_both(gateways: Any) -> None:
    body = _message(
        "OrderFulfillmentResponseService",
        "processFulfillmentResponse",
        **response("RN", [shipped(1)]),
    ).replace(
        b"</ns0:fulfillLineList>",
        b"</ns0:fulfillLineList>"
        b'<ns0:fulfillLineList xsi:nil="true" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>',
    )
    (_, fast), (_, spyne) = gateways
    for call in (fast, spyne):
        status, out = call("OrderFulfillmentResponseService", body)
        assert status == "500 Internal Server Error"
        assert fault_code(out) == "OMGW-MISSING_KEY", out


def test_decimal_and_dates_round_trip() -> None:
    from gateway.server import build_spyne_app
    from gateway.soap.codec import Reader

    app = build_spyne_app("OrderFulfillmentResponseService")
    descriptor = app.services[0].public_methods["processFulfillmentResponse"]
    body = etree.fromstring(
        _message(
            "OrderFulfillmentResponseService",
            "processFulfillmentResponse",
            **response(
                "RD",
                [
                    {
                        "FulfillLineIdentifier": 5,
                        "ShippedQuantity": {"_value_1": Decimal("2.50"), "unitCode": "Ea"},
                        "ActualShippedDate": "2026-11-23T10:15:00+02:00",
                    }
                ],
            ),
        )
    ).find(".//{*}processFulfillmentResponse")
    args = Reader(descriptor.in_message, app.in_protocol).read(body)
    line = args.fulfillLineList[0]
    assert line.FulfillLineIdentifier == 5
    assert line.ShippedQuantity.value == Decimal("2.50")
    assert line.ShippedQuantity.unitCode == "Ea"
    assert line.ActualShippedDate.utcoffset().total_seconds() == 7200
    assert args.responseMessageHeader.FulfillmentSystemResponseIdentifier == "RD"
