"""Regressions found in review: races, precision, limits, nil items, redaction, re-staging."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from zeep.exceptions import Fault

from gateway.background import process_staged_responses
from gateway.persistence.models import FulfillLine, MessageLog, OrderHeader
from tests.common.inquiry import OIS, OIS_TYPES
from tests.common.malformed import envelope
from tests.common.orders import first_fline, order, response, shipped
from tests.common.soap import PASSWORD, basic, client, fault_code, post, zeep_fault_code
from tests.common.state import snapshot, unchanged

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases


def test_concurrent_responses_for_one_line_ship_it_once(gateway, unique):
    imports = client(gateway.base, "OrderImportService")
    fline = first_fline(imports, unique, 10)
    clients = [client(gateway.base, "OrderFulfillmentResponseService") for _ in range(8)]

    def send(i: int) -> str:
        try:
            clients[i].service.processFulfillmentResponse(
                **response(f"{unique}-{i}", [shipped(fline, i + 1)])
            )
            return "OK"
        except Fault as fault:
            return zeep_fault_code(fault) or "?"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(send, range(8)))
    assert outcomes.count("OK") == 1
    assert set(outcomes) - {"OK"} == {"OMGW-LINE_NOT_AWAITING_TASK"}
    with gateway.runtime.sessions() as s:
        header_id = s.get(FulfillLine, fline).header_id
        total = s.scalar(
            select(func.sum(FulfillLine.quantity)).where(FulfillLine.header_id == header_id)
        )
        count = s.scalar(
            select(func.count()).select_from(FulfillLine).where(FulfillLine.header_id == header_id)
        )
    assert (total, count) == (Decimal(10), 2)


def test_concurrent_copies_of_one_response_apply_once(gateway, unique):
    imports = client(gateway.base, "OrderImportService")
    fline = first_fline(imports, unique, 10)
    clients = [client(gateway.base, "OrderFulfillmentResponseService") for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(
                lambda c: c.service.processFulfillmentResponse(
                    **response(unique, [shipped(fline, 3)])
                ),
                clients,
            )
        )
    assert {r.OverallStatusCode for r in results} == {"SUCCESS"}
    with gateway.runtime.sessions() as s:
        header_id = s.get(FulfillLine, fline).header_id
        quantities = sorted(
            s.scalars(select(FulfillLine.quantity).where(FulfillLine.header_id == header_id))
        )
    assert quantities == [Decimal(3), Decimal(7)]


def test_competing_revisions_leave_one_current(gateway, unique):
    imports = client(gateway.base, "OrderImportService")
    imports.service.createOrders(request={"Order": [order(unique)]})
    clients = [client(gateway.base, "OrderImportService") for _ in range(4)]

    def revise(i: int) -> str:
        try:
            clients[i].service.createOrders(request={"Order": [order(unique, revision=str(i + 2))]})
            return "OK"
        except Fault as fault:
            return zeep_fault_code(fault) or "?"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(revise, range(4)))
    assert "OK" in outcomes and set(outcomes) <= {"OK", "OMGW-REVISION_STALE"}
    with gateway.runtime.sessions() as s:
        current = s.scalars(
            select(OrderHeader.revision).where(
                OrderHeader.source_order_id == unique, OrderHeader.status != "DOO_REFERENCE"
            )
        ).all()
    assert current == ["5"]  # the highest revision is never stale, so it always wins


@pytest.mark.parametrize("qty", ["0.00001", "1E+20", "123456789012345"])
def test_quantities_the_database_cannot_hold(gateway, unique, qty):
    imports = client(gateway.base, "OrderImportService")
    before = snapshot(gateway.runtime)
    with pytest.raises(Fault) as exc:
        imports.service.createOrders(request={"Order": [order(unique, [("X", qty)])]})
    assert zeep_fault_code(exc.value) == "OMGW-QUANTITY_INVALID"
    unchanged(gateway.runtime, before)


def test_shipped_quantity_with_too_many_decimals_is_not_rounded(gateway, unique):
    imports = client(gateway.base, "OrderImportService")
    ofrs = client(gateway.base, "OrderFulfillmentResponseService")
    fline = first_fline(imports, unique, 10)
    with pytest.raises(Fault) as exc:
        ofrs.service.processFulfillmentResponse(**response(unique, [shipped(fline, "9.99999")]))
    assert zeep_fault_code(exc.value) == "OMGW-QUANTITY_INVALID"
    ok = ofrs.service.processFulfillmentResponse(**response(unique, [shipped(fline, "9.9999")]))
    assert ok.OverallStatusCode == "SUCCESS"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("SourceTransactionIdentifier", "X" * 51),
        ("BuyingPartyNumber", "9" * 31),
        ("SourceTransactionRevision", "99999999999"),
    ],
)
def test_header_values_longer_than_the_store(gateway, unique, field, value):
    imports = client(gateway.base, "OrderImportService")
    o = order(unique)
    o[field] = value
    before = snapshot(gateway.runtime)
    with pytest.raises(Fault) as exc:
        imports.service.createOrders(request={"Order": [o]})
    assert zeep_fault_code(exc.value) == "OMGW-INVALID_VALUE"
    assert field in exc.value.message
    unchanged(gateway.runtime, before)


def test_line_values_longer_than_the_store(gateway, unique):
    imports = client(gateway.base, "OrderImportService")
    o = order(unique)
    o["Line"][0]["OrderedUOMCode"] = "EACH"
    with pytest.raises(Fault) as exc:
        imports.service.createOrders(request={"Order": [o]})
    assert zeep_fault_code(exc.value) == "OMGW-INVALID_VALUE"
    assert "OrderedUOMCode" in exc.value.message


def test_response_identifier_longer_than_the_store(gateway):
    ofrs = client(gateway.base, "OrderFulfillmentResponseService")
    with pytest.raises(Fault) as exc:
        ofrs.service.processFulfillmentResponse(**response("R" * 101, [shipped(1)]))
    assert zeep_fault_code(exc.value) == "OMGW-INVALID_VALUE"


NIL = 'xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


@pytest.mark.parametrize(
    "body",
    [
        f"<typ:processAcknowledgement><typ:fulfillmentRequestAcknowledgement {NIL}/></typ:processAcknowledgement>",
        "<typ:processFulfillmentResponse><typ:responseMessageHeader>"
        "<com:FulfillmentSystem>WMS01</com:FulfillmentSystem>"
        "<com:FulfillmentSystemResponseIdentifier>N1</com:FulfillmentSystemResponseIdentifier>"
        "<com:IntegrationContextCode>Shipment</com:IntegrationContextCode></typ:responseMessageHeader>"
        f"<typ:fulfillLineList {NIL}/></typ:processFulfillmentResponse>",
    ],
    ids=["nil acknowledgement", "nil fulfillLineList"],
)
def test_nil_items_are_missing_keys(gateway, body):
    resp = post(gateway.url("OrderFulfillmentResponseService"), envelope(body), basic("all"))
    assert fault_code(resp.body) == "OMGW-MISSING_KEY"


def test_nil_order_in_an_import_batch(gateway):
    body = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:typ="http://xmlns.oracle.com/apps/scm/fom/importOrders/orderImportService/types/" '
        'xmlns:imp="http://xmlns.oracle.com/apps/scm/fom/importOrders/orderImportService/">'
        f"<soapenv:Body><typ:createOrders><typ:request><imp:Order {NIL}/></typ:request>"
        "</typ:createOrders></soapenv:Body></soapenv:Envelope>"
    ).encode()
    resp = post(gateway.url("OrderImportService"), body, basic("all"))
    assert fault_code(resp.body) == "OMGW-MISSING_KEY"


def inquiry(header: str) -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:typ="{OIS_TYPES}" xmlns:ord="{OIS}">{header}<soapenv:Body><typ:GetOrderDetails>'
        "<typ:Order><ord:SourceTransactionNumber>NONE-\u00e9</ord:SourceTransactionNumber>"
        "</typ:Order></typ:GetOrderDetails></soapenv:Body></soapenv:Envelope>"
    ).encode()


def wsse_text(ns: str) -> str:
    return (
        f'<soapenv:Header><w:Security xmlns:w="{ns}"><w:UsernameToken>'
        f"<w:Username>inquirer</w:Username><w:Password>{PASSWORD}</w:Password>"
        "</w:UsernameToken></w:Security></soapenv:Header>"
    )


def test_http_charset_cannot_trick_spyne_into_logging_the_body(gateway, caplog):
    caplog.set_level(logging.DEBUG)
    header = wsse_text(
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    )
    for charset in ("utf-16", "bogus"):
        resp = post(
            gateway.url("OrderInformationService"),
            inquiry(header),
            {"Content-Type": f"text/xml; charset={charset}"},
        )
        # The body is UTF-8 XML; the HTTP charset is not trusted over the XML itself.
        assert fault_code(resp.body) == "OMGW-ORDER_NOT_FOUND"
    assert PASSWORD not in caplog.text


def test_latin1_bytes_in_a_utf8_body_are_malformed(gateway):
    body = inquiry("").replace("\u00e9".encode(), b"\xe9")
    resp = post(gateway.url("OrderInformationService"), body, basic("inquirer"))
    assert fault_code(resp.body) == "OMGW-XML_MALFORMED"


def test_passwords_in_other_wss_namespaces_are_not_logged(gateway, unique):
    for ns in (
        "http://schemas.xmlsoap.org/ws/2002/07/secext",
        "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd",
    ):
        marker = f"NS-{unique}"
        body = inquiry(wsse_text(ns)).replace(b"NONE-", marker.encode() + b"-")
        post(gateway.url("OrderInformationService"), body, basic("inquirer"))
    with gateway.runtime.sessions() as s:
        payloads = [p for p in s.scalars(select(MessageLog.payload)) if p and f"NS-{unique}" in p]
    assert len(payloads) == 2
    assert all(PASSWORD not in p and "***" in p for p in payloads)


def test_a_failed_staged_response_can_be_corrected_under_its_identifier(gateway, unique):
    imports = client(gateway.base, "OrderImportService")
    ofrs = client(gateway.base, "OrderFulfillmentResponseService")
    fline = first_fline(imports, unique, 5)
    ofrs.service.stageFulfillmentResponse(**response(unique, [shipped(fline, 6)]))
    assert process_staged_responses(gateway.runtime).failed >= 1
    ofrs.service.stageFulfillmentResponse(**response(unique, [shipped(fline, 5)]))
    process_staged_responses(gateway.runtime)
    with gateway.runtime.sessions() as s:
        assert s.get(FulfillLine, fline).status == "AWAIT_BILLING"
