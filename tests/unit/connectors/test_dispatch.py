"""Outbound envelopes, their WS-Security header and the verdict on each kind of answer
(connectors/outbound.py, connectors/ws_security.py, connectors/verdicts.py): what is
retried, what is parked, what counts as delivered."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from lxml import etree

from connectors.outbound import (
    OUTBOUND_DIR,
    TL_NS,
    TR_NS,
    WSA_NS,
    build_envelope,
)
from connectors.secret_box import Credential
from connectors.verdicts import DELIVERED, PARK, RETRY, classify
from connectors.ws_security import secure
from tests.common.fulfillment_request import request_document

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"


def envelope(operation: str = "processFulfillmentRequest", reply_to: str | None = "http://r/x"):
    raw = build_envelope(
        request_document(),
        operation,
        message_id="urn:uuid:m-1",
        to="http://wms/x",
        reply_to=reply_to,
    )
    return raw, etree.fromstring(raw)


def test_the_envelope_carries_a_valid_headerTL_and_the_addressing_headers():
    raw, root = envelope()
    body = root.find(f"{{{ENV}}}Body")[0]
    assert body.tag == f"{{{TL_NS}}}headerTL"
    schema = etree.XMLSchema(etree.parse(str(OUTBOUND_DIR / "HeaderTL.xsd")))
    assert schema.validate(body), schema.error_log
    head = root.find(f"{{{ENV}}}Header")
    assert head.findtext(f"{{{WSA_NS}}}MessageID") == "urn:uuid:m-1"
    assert head.findtext(f"{{{WSA_NS}}}Action") == "process"
    assert head.findtext(f"{{{WSA_NS}}}To") == "http://wms/x"
    assert head.findtext(f"{{{WSA_NS}}}ReplyTo/{{{WSA_NS}}}Address") == "http://r/x"
    assert body.findtext(f"{{{TL_NS}}}FulfillmentRequestIdentifier") == "300"
    assert body.findtext(f"{{{TL_NS}}}Line/{{{TL_NS}}}OrderedQty") == "10"
    # built once, the same bytes every time: replay sends what was built
    assert raw == envelope()[0]


def test_a_sync_request_names_its_action_and_an_unknown_operation_is_refused():
    _raw, root = envelope("processFulfillmentRequestSync", reply_to=None)
    head = root.find(f"{{{ENV}}}Header")
    assert head.findtext(f"{{{WSA_NS}}}Action") == "processSync"
    assert head.find(f"{{{WSA_NS}}}ReplyTo") is None
    with pytest.raises(ValueError, match="not an operation"):
        build_envelope(request_document(), "pushPayload", message_id="m", to="t", reply_to=None)


def test_ws_security_is_added_at_send_time_with_a_timestamp_and_text_password():
    raw, _root = envelope()
    assert b"Security" not in raw and b"s3cret" not in raw
    secured = etree.fromstring(
        secure(raw, Credential("omgw", "s3cret"), datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    )
    security = secured.find(f"{{{ENV}}}Header/{{{WSSE}}}Security")
    assert security.findtext(f"{{{WSSE}}}UsernameToken/{{{WSSE}}}Username") == "omgw"
    password = security.find(f"{{{WSSE}}}UsernameToken/{{{WSSE}}}Password")
    assert password.text == "s3cret" and password.get("Type", "").endswith("#PasswordText")
    assert security.findtext(f"{{{WSU}}}Timestamp/{{{WSU}}}Created") == "2026-11-23T12:00:00Z"
    assert security.findtext(f"{{{WSU}}}Timestamp/{{{WSU}}}Expires") == "2026-11-23T12:05:00Z"
    # the addressing headers and the body are untouched
    assert secured.find(f"{{{ENV}}}Header").findtext(f"{{{WSA_NS}}}MessageID") == "urn:uuid:m-1"


def fault(code: str, text: str = "no") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{ENV}"><s:Body><s:Fault><faultcode>s:{code}</faultcode>'
        f"<faultstring>{text}</faultstring></s:Fault></s:Body></s:Envelope>"
    ).encode()


def answer(status: str = "ACCEPTED", request_id: str = "300") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{ENV}"><s:Body><tr:headerTR xmlns:tr="{TR_NS}">'
        f"<tr:FulfillmentRequestIdentifier>{request_id}</tr:FulfillmentRequestIdentifier>"
        "<tr:FulfillmentSystem>WMS01</tr:FulfillmentSystem>"
        "<tr:FulfillmentSystemResponseIdentifier>R1</tr:FulfillmentSystemResponseIdentifier>"
        f"<tr:StatusCode>{status}</tr:StatusCode>"
        "<tr:Line><tr:FulfillLineId>21</tr:FulfillLineId><tr:StatusCode>SHIPPED</tr:StatusCode>"
        "<tr:ShippedQty>4</tr:ShippedQty><tr:TrackingNumber>T1</tr:TrackingNumber></tr:Line>"
        "</tr:headerTR></s:Body></s:Envelope>"
    ).encode()


@pytest.mark.parametrize(
    ("status", "body", "expect_answer", "outcome", "uncertain"),
    [
        (202, b"", False, DELIVERED, False),  # one-way: accepted
        (200, b"", False, DELIVERED, False),
        (500, fault("Client", "bad item"), False, PARK, False),  # our message is wrong
        # their trouble: later (it may have done part of the work)
        (500, fault("Server", "db down"), False, RETRY, True),
        (500, fault("Client.Authentication"), False, PARK, False),  # dotted client code
        (500, fault("FailedAuthentication"), False, PARK, False),  # WS-Security's codes
        (302, b"", False, PARK, False),  # never followed: it would resend elsewhere
        (307, b"", False, PARK, False),
        (503, b"", False, RETRY, False),
        (502, b"<html/>", False, RETRY, False),
        (500, b"oops", False, RETRY, True),  # a bare 500 may have half-done it
        (429, b"", False, RETRY, False),
        (408, b"", False, RETRY, False),
        (401, b"", False, PARK, False),  # credentials: a person must fix them
        (404, b"", False, PARK, False),
        (200, answer(), True, DELIVERED, False),
        (200, b"<not-soap/>", True, PARK, False),  # a sync answer we cannot read
        (200, answer(status="MAYBE"), True, PARK, False),  # breaks HeaderTR.xsd
    ],
)
def test_each_answer_gets_its_verdict(status, body, expect_answer, outcome, uncertain):
    result = classify(status, body, expect_answer)
    assert (result.outcome, result.uncertain) == (outcome, uncertain)
    assert result.http_status == status
    if outcome != DELIVERED:
        assert result.reason


def test_a_fault_reason_names_the_code_and_text_and_is_bounded():
    result = classify(500, fault("Client", "x" * 2000), False)
    assert result.reason.startswith("SOAP fault Client: xxx") and len(result.reason) <= 500


def test_a_sync_answer_is_read_into_its_lines():
    result = classify(200, answer(), True)
    assert result.answer is not None
    assert (result.answer.request_id, result.answer.status_code) == (300, "ACCEPTED")
    (line,) = result.answer.lines
    assert (line.fulfill_line_id, line.status_code, line.shipped_qty, line.tracking_number) == (
        21,
        "SHIPPED",
        Decimal(4),
        "T1",
    )
