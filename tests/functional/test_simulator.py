"""The simulated fulfillment system (``omgw simulate fulfillment``) against real servers.

Requests are built with zeep from the published outbound WSDL, sent over HTTP to a
simulator on 127.0.0.1, and its callbacks go to a real gateway (the ``gateway`` fixture).
Every wait is bounded.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import sys
import threading
import urllib.request
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import zeep
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import func, select
from zeep.wsse.username import UsernameToken

from gateway.cli import cli
from gateway.persistence.models import FulfillmentRequest, FulfillmentResponseRecord
from simulators import SimulatorOptions, running
from tests.common.cli import help_options
from tests.common.fulfillment_request import header_tl
from tests.common.orders import order
from tests.common.processes import refused_port, started, until
from tests.common.soap import PASSWORD, fault_parts

ROOT = Path(__file__).resolve().parents[2]
OUTBOUND = ROOT / "connectors" / "wsdl" / "outbound"
TL = "http://xmlns.oracle.com/apps/scm/doo/processOrder/service/"
TR = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/model/"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
OFRS = "OrderFulfillmentResponseService"
SIM_SECRET = "sim-Pa55word-4711"
WRONG_SECRET = "not-the-Pa55word-0815"


# -- helpers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outbound() -> zeep.Client:
    """zeep over the published outbound WSDL: builds requests as omgw sends them."""
    return zeep.Client(str(OUTBOUND / "FulfillmentRequest.wsdl"))


@pytest.fixture(scope="module")
def tr_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(OUTBOUND / "HeaderTR.xsd")))


def envelope(
    outbound: zeep.Client,
    payload: dict[str, Any],
    operation: str = "processFulfillmentRequest",
    *,
    message_id: str | None = None,
    reply_to: str | None = None,
    wsse: UsernameToken | None = None,
) -> bytes:
    env = outbound.create_message(outbound.service, operation, **payload)
    header = env.find(f"{{{SOAP}}}Header")
    if header is None:
        header = etree.Element(f"{{{SOAP}}}Header")
        env.insert(0, header)
    if message_id:
        etree.SubElement(header, f"{{{WSA}}}MessageID").text = message_id
    if reply_to:
        reply = etree.SubElement(header, f"{{{WSA}}}ReplyTo")
        etree.SubElement(reply, f"{{{WSA}}}Address").text = reply_to
    if wsse is not None:
        env, _ = wsse.apply(env, {})
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def send(
    url: str,
    body: bytes,
    action: str | None = "process",
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> requests.Response:
    sent = {"Content-Type": "text/xml; charset=utf-8", **(headers or {})}
    if action is not None:
        sent["SOAPAction"] = f'"{action}"'
    return requests.post(url, data=body, headers=sent, timeout=timeout)


def header_tr(resp: requests.Response, schema: etree.XMLSchema) -> etree._Element:
    """The headerTR of a synchronous answer, validated against HeaderTR.xsd."""
    assert resp.status_code == 200, resp.text
    root = etree.fromstring(resp.content)
    body = root.find(f"{{{SOAP}}}Body")
    assert body is not None
    tr = body[0]
    assert tr.tag == f"{{{TR}}}headerTR"
    schema.assertValid(tr)
    return tr


def tr_lines(tr: etree._Element) -> list[dict[str, str | None]]:
    names = ("FulfillLineId", "StatusCode", "ShippedQty", "ShippedUOMCode", "TrackingNumber")
    return [
        {n: ln.findtext(f"{{{TR}}}{n}") for n in (*names, "BillingNumber", "ActualShipDate")}
        for ln in tr.findall(f"{{{TR}}}Line")
    ]


def details(info: Any, order_number: str) -> Any:
    (got,) = info.service.GetOrderDetails(Order=[{"OrderNumber": order_number}])
    return got


def new_order(imports: Any, info: Any, key: str, lines: list[tuple[str, str | int]]) -> Any:
    (created,) = imports.service.createOrders(request={"Order": [order(key, lines)]})
    return details(info, created.OrderNumber)


def request_for(got: Any, task: str = "Shipment") -> dict[str, Any]:
    """The headerTL omgw would send for ``got``'s open fulfillment lines of ``task``."""
    lines = [ln for ln in got.OrderLine if ln.TaskType == task]
    assert lines, [(ln.FulfillLineIdentifier, ln.TaskType) for ln in got.OrderLine]
    return {
        "FulfillmentRequestIdentifier": lines[0].FulfillmentRequestIdentifier,
        "TaskType": task,
        "Operation": "Create",
        "HeaderId": got.HeaderId,
        "OrderNumber": got.OrderNumber,
        "SourceOrderSystem": got.SourceTransactionSystem,
        "SourceOrderId": got.SourceTransactionIdentifier,
        "SourceOrderNumber": got.SourceTransactionNumber,
        "Line": [
            {
                "LineId": ln.LineIdentifier,
                "LineNumber": ln.LineNumber,
                "SourceLineId": ln.SourceTransactionLineIdentifier,
                "FulfillLineId": ln.FulfillLineIdentifier,
                "FulfillLineNumber": ln.FulfillLineNumber,
                "ProductNumber": ln.ProductNumber,
                "OrderedQty": ln.OrderedQuantity._value_1,
                "OrderedUOMCode": ln.OrderedUOMCode,
                "StatusCode": ln.StatusCode,
            }
            for ln in lines
        ],
    }


def record(sim: Any, request_id: int) -> dict[str, Any]:
    (found,) = [r for r in sim.state()["requests"] if r["request_id"] == request_id]
    return found


def callbacks_done(sim: Any, request_id: int) -> dict[str, Any] | None:
    rec = record(sim, request_id)
    return rec if rec["callback_status"] in ("sent", "error") else None


def gateway_options(gateway: Any, **overrides: Any) -> SimulatorOptions:
    return SimulatorOptions(
        **{
            "gateway_url": gateway.base,
            "gateway_user": "all",
            "gateway_password": PASSWORD,
            "delay": 0.05,
            "callback_backoff": 0.05,
            **overrides,
        }
    )


# -- synchronous -----------------------------------------------------------------------------


def test_sync_answers_a_valid_headerTR_that_ships_every_line(
    imports, info, unique, outbound, tr_schema
):
    # Given an order of two lines, and the request omgw would send for it
    got = new_order(imports, info, f"K{unique}", [("AS54888", 10), ("CM5008", 3)])
    payload = request_for(got)
    rid = payload["FulfillmentRequestIdentifier"]
    with running(SimulatorOptions(system="WMS01")) as sim:
        # When it is sent to processFulfillmentRequestSync
        body = envelope(outbound, payload, "processFulfillmentRequestSync", message_id="m-1")
        tr = header_tr(send(sim.url, body, "processSync"), tr_schema)

        # Then the answer is a headerTR that ships every line in full, with tracking numbers
        assert tr.findtext(f"{{{TR}}}FulfillmentRequestIdentifier") == str(rid)
        assert tr.findtext(f"{{{TR}}}HeaderId") == str(got.HeaderId)
        assert tr.findtext(f"{{{TR}}}FulfillmentSystem") == "WMS01"
        assert tr.findtext(f"{{{TR}}}FulfillmentSystemResponseIdentifier") == (
            f"WMS01-{rid}-Shipment"
        )
        assert tr.findtext(f"{{{TR}}}StatusCode") == "ACCEPTED"
        f1, f2 = (ln.FulfillLineIdentifier for ln in got.OrderLine)
        lines = tr_lines(tr)
        assert [(ln["FulfillLineId"], ln["StatusCode"], ln["ShippedQty"]) for ln in lines] == [
            (str(f1), "SHIPPED", "10"),
            (str(f2), "SHIPPED", "3"),
        ]
        assert [ln["TrackingNumber"] for ln in lines] == [f"TRK-{rid}-{f1}", f"TRK-{rid}-{f2}"]
        assert {ln["ShippedUOMCode"] for ln in lines} == {"Ea"}
        today = datetime.now(UTC).date().isoformat()
        assert all((ln["ActualShipDate"] or "").startswith(today) for ln in lines)

        # And a repeat gets the very same answer, recorded as a duplicate, applied once
        again = send(sim.url, body, "processSync")
        assert again.content == send(sim.url, body, "processSync").content
        assert header_tr(again, tr_schema) is not None
        state = sim.state()
        (rec,) = state["requests"]
        assert (rec["mode"], rec["times_received"], rec["applied"]) == ("sync", 3, True)
        assert rec["message_id"] == "m-1"
        assert rec["callback_status"] == "none"  # a synchronous answer needs no callback
        assert state["counters"]["applied"] == 1
        assert state["counters"]["duplicates"] == 2


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        # half, rounded down to a whole number, at least one
        ({"partial_rate": 1.0}, [("SHIPPED", "5"), ("SHIPPED", "1"), ("SHIPPED", "1")]),
        ({"backorder_rate": 1.0}, [("BACKORDERED", None)] * 3),
    ],
)
def test_sync_partial_shipments_and_backorders(
    imports, info, unique, outbound, tr_schema, rates, expected
):
    got = new_order(imports, info, f"P{unique}", [("AS54888", 10), ("CM5008", 3), ("X", 1)])
    body = envelope(outbound, request_for(got), "processFulfillmentRequestSync")
    with running(SimulatorOptions(**rates)) as sim:
        lines = tr_lines(header_tr(send(sim.url, body, "processSync"), tr_schema))
    assert [(ln["StatusCode"], ln["ShippedQty"]) for ln in lines] == expected
    if "backorder_rate" in rates:
        assert all(ln["TrackingNumber"] is None for ln in lines)
        assert all(ln["ActualShipDate"] is None for ln in lines)


def test_invoice_bills_and_other_task_types_are_accepted_without_lines(outbound, tr_schema):
    with running() as sim:
        invoice = envelope(outbound, header_tl(7001, "Invoice"), "processFulfillmentRequestSync")
        (line,) = tr_lines(header_tr(send(sim.url, invoice, "processSync"), tr_schema))
        assert line["StatusCode"] == "BILLED"
        assert line["BillingNumber"] == "INV-7001-21"
        assert line["ShippedQty"] is None

        custom = header_tl(7002, "Pick_From_Ravi")
        tr = header_tr(
            send(
                sim.url, envelope(outbound, custom, "processFulfillmentRequestSync"), "processSync"
            ),
            tr_schema,
        )
        assert tr.findtext(f"{{{TR}}}StatusCode") == "ACCEPTED"
        assert tr.findall(f"{{{TR}}}Line") == []
        assert tr.findtext(f"{{{TR}}}FulfillmentSystemResponseIdentifier") == (
            "WMS01-7002-Pick_From_Ravi"
        )


def test_outcomes_are_decided_by_the_seed(outbound, tr_schema):
    payload = header_tl()
    payload["Line"] = [
        {**payload["Line"][0], "FulfillLineId": 100 + i, "LineId": 200 + i} for i in range(20)
    ]
    body = envelope(outbound, payload, "processFulfillmentRequestSync")

    def outcome(seed: int) -> list[tuple[str | None, str | None]]:
        options = SimulatorOptions(seed=seed, partial_rate=0.5, backorder_rate=0.3)
        with running(options) as sim:
            lines = tr_lines(header_tr(send(sim.url, body, "processSync"), tr_schema))
        return [(ln["StatusCode"], ln["ShippedQty"]) for ln in lines]

    first = outcome(7)
    assert outcome(7) == first
    assert {q for _, q in first} == {None, "5", "10"}  # backordered, half and whole lines
    assert outcome(8) != first


def test_the_served_wsdl_names_the_url_asked_for_and_zeep_can_use_it(outbound):
    with running() as sim:
        for url in (sim.url + "?wsdl", sim.url + "?WSDL", sim.base + "/some/where?Wsdl"):
            resp = requests.get(url, timeout=10)
            assert resp.status_code == 200
            assert resp.headers["Content-Type"].startswith("text/xml")
            doc = etree.fromstring(resp.content)
            locations = {a.get("location") for a in doc.iter(f"{{{WSDL_SOAP}}}address")}
            assert locations == {url.split("?")[0]}

        # A client that knows only the URL: the WSDL, the schemas beside it, a call
        client = zeep.Client(sim.wsdl_url)
        answer = client.service.processFulfillmentRequestSync(**header_tl(8001))
        assert answer.FulfillmentRequestIdentifier == 8001
        assert [(ln.StatusCode, ln.ShippedQty) for ln in answer.Line] == [
            ("SHIPPED", Decimal("10"))
        ]
        # zeep's one-way call gets the 202 and nothing else
        assert client.service.processFulfillmentRequest(**header_tl(8002)) is None
        assert record(sim, 8002)["mode"] == "async"


# -- asynchronous, with callbacks to the real gateway ----------------------------------------


def test_async_acknowledges_ships_and_bills_through_the_gateway(
    gateway, imports, info, unique, outbound
):
    got = new_order(imports, info, f"A{unique}", [("AS54888", 10)])
    payload = request_for(got)
    rid = payload["FulfillmentRequestIdentifier"]
    (fline,) = (ln.FulfillLineIdentifier for ln in got.OrderLine)
    # gateway_url leads nowhere: the callbacks must follow wsa:ReplyTo
    with (
        refused_port() as nowhere,
        running(gateway_options(gateway, gateway_url=f"http://127.0.0.1:{nowhere}")) as sim,
    ):
        # When the shipment request is sent one-way, with a ReplyTo
        body = envelope(
            outbound, payload, message_id=f"urn:uuid:{uuid.uuid4()}", reply_to=gateway.url(OFRS)
        )
        resp = send(sim.url, body, "process")

        # Then the simulator answers 202 at once, then acknowledges and ships
        assert resp.status_code == 202 and resp.content == b""
        line = until(
            lambda: next(
                (
                    ln
                    for ln in details(info, got.OrderNumber).OrderLine
                    if ln.StatusCode == "AWAIT_BILLING"
                ),
                None,
            ),
            "the line to ship",
        )
        assert line.FulfillLineIdentifier == fline
        assert line.ShippedQuantity._value_1 == Decimal(10)
        assert [(d.TaskType, d.Status, d.TrackingNumber) for d in line.LineDetail] == [
            ("Shipment", "SHIPPED", f"TRK-{rid}-{fline}")
        ]
        with gateway.runtime.sessions() as s:
            assert s.get(FulfillmentRequest, rid).status == "ACCEPTED"
        rec = until(lambda: callbacks_done(sim, rid), "the callbacks")
        assert rec["callback_status"] == "sent"
        assert rec["callback_url"] == gateway.url(OFRS)
        assert [(c["operation"], c["outcome"], c["detail"]) for c in rec["callbacks"]] == [
            ("processAcknowledgement", "ok", None),
            ("processFulfillmentResponse", "ok", "SUCCESS"),
        ]

        # And the invoice request omgw makes next is billed the same way: the order closes
        invoice = request_for(details(info, got.OrderNumber), "Invoice")
        assert invoice["FulfillmentRequestIdentifier"] != rid
        resp = send(sim.url, envelope(outbound, invoice, reply_to=gateway.url(OFRS)), "process")
        assert resp.status_code == 202
        closed = until(
            lambda: (g := details(info, got.OrderNumber)).StatusCode == "CLOSED" and g,
            "the order to close",
        )
        # the shipment's details, then the invoice's
        assert [d.BillingTransactionNumber for d in closed.OrderLine[0].LineDetail] == [
            None,
            f"INV-{invoice['FulfillmentRequestIdentifier']}-{fline}",
        ]
        # the order closes when the gateway commits the last callback, which the
        # simulator counts only once it has read the answer
        until(
            lambda: callbacks_done(sim, invoice["FulfillmentRequestIdentifier"]),
            "the invoice's callbacks",
        )
        counters = sim.state()["counters"]
        assert counters["callbacks_sent"] == 4
        assert counters["callback_errors"] == 0


def test_a_repeated_message_is_applied_once(gateway, imports, info, unique, outbound):
    got = new_order(imports, info, f"D{unique}", [("AS54888", 10)])
    payload = request_for(got)
    rid = payload["FulfillmentRequestIdentifier"]
    message_id = f"urn:uuid:{uuid.uuid4()}"
    with running(gateway_options(gateway)) as sim:
        body = envelope(outbound, payload, message_id=message_id, reply_to=gateway.url(OFRS))
        # The same message twice (a sender's retry), then the same request under a new id
        assert send(sim.url, body).status_code == 202
        assert send(sim.url, body).status_code == 202
        other = envelope(outbound, payload, message_id=f"urn:uuid:{uuid.uuid4()}")
        assert send(sim.url, other).status_code == 202

        rec = until(lambda: callbacks_done(sim, rid), "the callbacks")
        state = sim.state()
        # one round of callbacks, scheduled once: the repeats were answered from the record
        assert state["counters"]["callbacks_scheduled"] == 1
        rec = record(sim, rid)
        assert (rec["times_received"], rec["applied"], rec["message_id"]) == (3, True, message_id)
        assert [c["operation"] for c in rec["callbacks"]] == [
            "processAcknowledgement",
            "processFulfillmentResponse",
        ]
        assert state["counters"]["applied"] == 1
        assert state["counters"]["duplicates"] == 2
        assert state["counters"]["callbacks_sent"] == 2

    # The gateway saw one shipment: one response recorded, one line shipped in full
    with gateway.runtime.sessions() as s:
        responses = s.scalar(
            select(func.count())
            .select_from(FulfillmentResponseRecord)
            .where(FulfillmentResponseRecord.response_identifier == f"WMS01-{rid}-Shipment")
        )
    assert responses == 1
    lines = details(info, got.OrderNumber).OrderLine
    assert [(ln.StatusCode, ln.ShippedQuantity._value_1) for ln in lines] == [
        ("AWAIT_BILLING", Decimal(10))
    ]


def test_duplicate_callbacks_are_applied_once_by_the_gateway(
    gateway, imports, info, unique, outbound
):
    got = new_order(imports, info, f"C{unique}", [("AS54888", 10)])
    payload = request_for(got)
    rid = payload["FulfillmentRequestIdentifier"]
    options = gateway_options(gateway, duplicate_callbacks=True, partial_rate=1.0)
    with running(options) as sim:
        assert send(sim.url, envelope(outbound, payload)).status_code == 202  # no ReplyTo
        rec = until(lambda: callbacks_done(sim, rid), "the callbacks")
        assert rec["callback_url"] == gateway.url(OFRS)  # gateway_url, as there is no ReplyTo

        # Every callback went twice; the gateway accepted both copies without a fault
        # (a repeated acknowledgement is a no-op; a repeated response gets the first result)
        assert [(c["operation"], c["outcome"], c["detail"]) for c in rec["callbacks"]] == [
            ("processAcknowledgement", "ok", None),
            ("processAcknowledgement", "ok", None),
            ("processFulfillmentResponse", "ok", "SUCCESS"),
            ("processFulfillmentResponse", "ok", "SUCCESS"),
        ]
        assert sim.state()["counters"]["callback_errors"] == 0

    # and applied the half shipment once: one split, 5 shipped and 5 still to ship
    lines = details(info, got.OrderNumber).OrderLine
    assert sorted((ln.StatusCode, ln.OrderedQuantity._value_1) for ln in lines) == [
        ("AWAIT_BILLING", Decimal(5)),
        ("AWAIT_SHIP", Decimal(5)),
    ]


def test_a_fault_from_the_gateway_is_recorded_and_not_retried(gateway, outbound):
    # A request the gateway never sent: it refuses both callbacks
    with running(gateway_options(gateway)) as sim:
        payload = header_tl(987654321, FulfillLineId=987654321)
        assert send(sim.url, envelope(outbound, payload)).status_code == 202
        rec = until(lambda: callbacks_done(sim, 987654321), "the callbacks")
        assert rec["callback_status"] == "error"
        assert [(c["operation"], c["outcome"], c["attempts"]) for c in rec["callbacks"]] == [
            ("processAcknowledgement", "fault", 1),
            ("processFulfillmentResponse", "fault", 1),
        ]
        assert "987654321" in rec["callbacks"][0]["detail"]
        counters = sim.state()["counters"]
        assert (counters["callback_errors"], counters["callbacks_sent"]) == (2, 0)


def test_an_unreachable_gateway_is_retried_then_recorded(outbound):
    with refused_port() as nowhere:
        options = SimulatorOptions(
            gateway_url=f"http://127.0.0.1:{nowhere}",
            delay=0,
            callback_retries=2,
            callback_backoff=0.01,
            callback_timeout=2,
        )
        with running(options) as sim:
            assert send(sim.url, envelope(outbound, header_tl(4242))).status_code == 202
            rec = until(lambda: callbacks_done(sim, 4242), "the callbacks")
    assert rec["callback_status"] == "error"
    assert [(c["outcome"], c["attempts"]) for c in rec["callbacks"]] == [("error", 3)] * 2
    assert "ConnectionError" in rec["callbacks"][0]["detail"]


# -- injected failures, refusals, control --------------------------------------------------


def test_a_request_waits_the_delay_in_force_when_it_was_accepted(outbound):
    """A caller can hold one request's callbacks (a long delay while it is accepted) and
    not the next ones (the usual delay again), however late a callback worker picks the
    request up: what a demo of a change in flight needs."""
    deferred: list[Any] = []
    with refused_port() as nowhere:
        options = SimulatorOptions(
            gateway_url=f"http://127.0.0.1:{nowhere}", delay=30, callback_retries=0
        )
        with running(options) as sim:
            pool = sim.simulator._pool
            sim.simulator._pool = SimpleNamespace(submit=lambda fn, *a: deferred.append((fn, a)))
            try:
                assert send(sim.url, envelope(outbound, header_tl(5151))).status_code == 202
            finally:
                sim.simulator._pool = pool
            sim.control(delay=0)  # before a worker picked the request up
            ((fn, args),) = deferred
            picked_up = threading.Thread(target=fn, args=args)
            picked_up.start()
            assert send(sim.url, envelope(outbound, header_tl(5152))).status_code == 202
            until(lambda: callbacks_done(sim, 5152), "the callbacks of the next request")
            held = record(sim, 5151)
            assert (held["callback_status"], held["callbacks"]) == ("pending", [])
        picked_up.join(10)  # closing the simulator ends its wait


def test_an_outage_answers_503_until_it_is_switched_off(outbound, tr_schema):
    options = SimulatorOptions(
        failure_rate=1.0,
        username="wms",
        password=SIM_SECRET,
        gateway_user="omgw",
        gateway_password=WRONG_SECRET,
    )
    body = envelope(
        outbound,
        header_tl(5001),
        "processFulfillmentRequestSync",
        wsse=UsernameToken("wms", SIM_SECRET),
    )
    with running(options) as sim:
        resp = send(sim.url, body, "processSync")
        assert resp.status_code == 503
        state = sim.state()
        assert state["requests"] == []
        assert state["counters"]["failures"] == 1

        # The control endpoint ends the outage at run time, and never shows a password
        changed = requests.post(
            sim.base + "/simulator/control", json={"failure_rate": 0}, timeout=10
        )
        assert changed.status_code == 200
        assert changed.json()["failure_rate"] == 0
        assert SIM_SECRET not in changed.text and WRONG_SECRET not in changed.text
        assert changed.json()["authentication"] is True
        state_text = requests.get(sim.base + "/simulator/state", timeout=10).text
        assert SIM_SECRET not in state_text and WRONG_SECRET not in state_text

        tr = header_tr(send(sim.url, body, "processSync"), tr_schema)
        assert tr.findtext(f"{{{TR}}}FulfillmentRequestIdentifier") == "5001"
        assert [r["request_id"] for r in sim.state()["requests"]] == [5001]


def test_an_injected_fault_is_a_client_fault_and_records_nothing(outbound):
    with running(SimulatorOptions(fault_rate=1.0)) as sim:
        code, text = fault_parts(send(sim.url, envelope(outbound, header_tl()), "process"))
        assert code == "soap:Client"
        assert "simulated fault" in text
        state = sim.state()
        assert state["requests"] == []
        assert (state["counters"]["faults"], state["counters"]["applied"]) == (1, 0)


def _soap(body: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body>{body}</soap:Body></soap:Envelope>'.encode()
    )


def _schema_invalid(outbound: zeep.Client) -> bytes:
    doc = etree.fromstring(envelope(outbound, header_tl()))
    qty = doc.find(f".//{{{TL}}}OrderedQty")
    assert qty is not None
    qty.text = "0"
    return etree.tostring(doc)


@pytest.mark.parametrize(
    ("make", "action", "why"),
    [
        (lambda _: b"this is not XML", "process", "not well-formed"),
        (lambda _: b"", "process", "no body"),
        (
            lambda _: (
                b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>' + _soap("&lol2;")
            ),
            "process",
            "DOCTYPE",
        ),
        (
            lambda _: (
                b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + _soap("<x>&e;</x>")
            ),
            "process",
            "DOCTYPE",
        ),
        (lambda _: b"<a>not a SOAP envelope</a>", "process", "not a SOAP 1.1 envelope"),
        (
            lambda _: (
                b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/>'
                b"</e:Envelope>"
            ),
            "process",
            "SOAP 1.2",
        ),
        (lambda _: _soap("<other/>"), "process", "must hold a headerTL"),
        (_schema_invalid, "processSync", "minExclusive"),
        (lambda o: envelope(o, header_tl()), "processFulfillmentRequestResponse", "SOAPAction"),
    ],
    ids=[
        "not-xml",
        "empty",
        "entity-expansion",
        "external-entity",
        "not-soap",
        "soap12",
        "wrong-body",
        "schema-invalid",
        "unknown-action",
    ],
)
def test_bad_requests_get_a_client_fault_and_record_nothing(outbound, make, action, why):
    with running() as sim:
        code, text = fault_parts(send(sim.url, make(outbound), action))
        assert code == "soap:Client"
        assert why in text
        assert "root:" not in text  # no file was read
        state = sim.state()
        assert state["requests"] == []
        assert state["counters"]["faults"] == 1


def _digest_token(user: str, password: str) -> bytes:
    nonce = os.urandom(16)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(
        hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    ).decode()
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    return f"""<wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}"><wsse:UsernameToken>
      <wsse:Username>{user}</wsse:Username>
      <wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{digest}</wsse:Password>
      <wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce><wsu:Created>{created}</wsu:Created>
    </wsse:UsernameToken></wsse:Security>""".encode()


def test_authentication_by_username_token_or_basic_never_echoes_a_password(outbound):
    def basic(user: str, password: str) -> dict[str, str]:
        return {
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        }

    def with_digest(user: str, password: str) -> bytes:
        doc = etree.fromstring(envelope(outbound, header_tl(6004)))
        header = doc.find(f"{{{SOAP}}}Header")
        assert header is not None
        header.append(etree.fromstring(_digest_token(user, password)))
        return etree.tostring(doc)

    options = SimulatorOptions(username="wms", password=SIM_SECRET)
    with running(options) as sim:
        plain = envelope(outbound, header_tl(6001))
        refused = [
            send(sim.url, plain),
            send(sim.url, plain, headers=basic("wms", WRONG_SECRET)),
            send(sim.url, plain, headers=basic("intruder", SIM_SECRET)),
            send(sim.url, plain, headers={"Authorization": "Basic !!!"}),
            send(sim.url, envelope(outbound, header_tl(6001), wsse=UsernameToken("wms", "x"))),
            send(sim.url, envelope(outbound, header_tl(6001), wsse=UsernameToken("x", SIM_SECRET))),
            send(sim.url, with_digest("wms", WRONG_SECRET)),
        ]
        for resp in refused:
            code, text = fault_parts(resp)
            assert code == "soap:Client"
            assert "authentication failed" in text
            assert SIM_SECRET not in resp.text and WRONG_SECRET not in resp.text
        assert sim.state()["requests"] == []

        accepted = [
            send(sim.url, plain, headers=basic("wms", SIM_SECRET)),
            send(
                sim.url,
                envelope(outbound, header_tl(6002), wsse=UsernameToken("wms", SIM_SECRET)),
            ),
            send(sim.url, with_digest("wms", SIM_SECRET)),
        ]
        assert [r.status_code for r in accepted] == [202, 202, 202]
        assert [r["request_id"] for r in sim.state()["requests"]] == [6001, 6002, 6004]


def test_control_changes_options_at_run_time_and_refuses_nonsense():
    with running(SimulatorOptions(gateway_url="http://127.0.0.1:1")) as sim:
        url = sim.base + "/simulator/control"
        changed = requests.post(
            url,
            json={"backorder_rate": 0.25, "slow": 0.5, "duplicate_callbacks": True, "delay": 1},
            timeout=10,
        )
        assert changed.status_code == 200
        got = changed.json()
        assert (got["backorder_rate"], got["slow"], got["duplicate_callbacks"]) == (
            0.25,
            0.5,
            True,
        )
        assert sim.simulator.options.delay == 1

        for bad in (
            {"failure_rate": 2},
            {"delay": -1},
            {"duplicate_callbacks": "yes"},
            {"seed": 3},  # not changeable at run time
            {"password": "x"},
            [1, 2],
        ):
            resp = requests.post(url, json=bad, timeout=10)
            assert resp.status_code == 400, bad
            assert "error" in resp.json()
        resp = requests.post(url, data=b"{not json", timeout=10)
        assert resp.status_code == 400
        assert sim.control(failure_rate=0.5)["failure_rate"] == 0.5
        assert sim.state()["options"]["backorder_rate"] == 0.25  # the refusals changed nothing
        assert requests.get(sim.base + "/nowhere", timeout=10).status_code == 404


def test_a_slow_answer_times_the_caller_out_but_the_request_was_heard(outbound, tr_schema):
    body = envelope(outbound, header_tl(9001), "processFulfillmentRequestSync", message_id="m-9")
    with running(SimulatorOptions(slow=1.0)) as sim:
        with pytest.raises(requests.exceptions.ReadTimeout):
            send(sim.url, body, "processSync", timeout=0.3)
        until(lambda: sim.state()["requests"], "the request to be recorded", timeout=5)
        sim.control(slow=0)
        # The caller's retry gets the answer the first call would have had, applied once
        tr = header_tr(send(sim.url, body, "processSync"), tr_schema)
        assert tr_lines(tr)[0]["StatusCode"] == "SHIPPED"
        assert record(sim, 9001)["times_received"] == 2
        assert sim.state()["counters"]["applied"] == 1


# -- the command line ------------------------------------------------------------------------


def test_cli_help_and_option_checks():
    runner = CliRunner()
    assert help_options("simulate", "fulfillment") >= {
        "--host",
        "--port",
        "--system",
        "--delay",
        "--failure-rate",
        "--fault-rate",
        "--partial-rate",
        "--backorder-rate",
        "--slow",
        "--duplicate-callbacks",
        "--seed",
        "--gateway-url",
        "--gateway-user",
        "--gateway-password-env",
        "--password-env",
    }
    assert runner.invoke(cli, ["simulate", "--help"]).exit_code == 0

    too_high = runner.invoke(cli, ["simulate", "fulfillment", "--failure-rate", "1.5"])
    assert too_high.exit_code == 2
    assert "0<=x<=1" in too_high.output
    plain = runner.invoke(cli, ["simulate", "fulfillment", "--password", SIM_SECRET])
    assert plain.exit_code == 2  # no option takes a password as its value
    no_password = runner.invoke(cli, ["simulate", "fulfillment", "--user", "wms"])
    assert no_password.exit_code == 2
    assert "--password-env" in no_password.output
    unset = runner.invoke(
        cli,
        ["simulate", "fulfillment", "--user", "wms", "--password-env", "OMGW_SIM_UNSET"],
        env={"OMGW_SIM_UNSET": None},
    )
    assert unset.exit_code == 2
    assert "OMGW_SIM_UNSET" in unset.output


def test_cli_serves_until_sigterm(tmp_path, outbound):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env["SIM_INBOUND_PASSWORD"] = SIM_SECRET
    gateway_password = tmp_path / "gw-password"
    gateway_password.write_text(WRONG_SECRET + "\n")
    with refused_port() as nowhere:
        args = [
            sys.executable, "-m", "gateway.cli", "simulate", "fulfillment", "--port", "0",
            "--user", "wms", "--password-env", "SIM_INBOUND_PASSWORD",
            "--gateway-user", "omgw", "--gateway-password-file", str(gateway_password),
            "--seed", "3",
            # a pending callback (to a port nobody serves) must not hold up the shutdown
            "--delay", "60", "--gateway-url", f"http://127.0.0.1:{nowhere}",
        ]  # fmt: skip
        ready = r"fulfillment system WMS01: (http://\S+)"
        with started(args, env, ready=ready, cwd=ROOT) as sim:
            url = sim.url
            with urllib.request.urlopen(url + "?wsdl", timeout=10) as resp:
                doc = etree.fromstring(resp.read())
            assert {a.get("location") for a in doc.iter(f"{{{WSDL_SOAP}}}address")} == {url}
            # it checks the inbound password it was given through the environment
            code, _ = fault_parts(send(url, envelope(outbound, header_tl())))
            assert code == "soap:Client"
            token = UsernameToken("wms", SIM_SECRET)
            body = envelope(outbound, header_tl(), wsse=token)
            assert send(url, body, timeout=5).status_code == 202

            sim.proc.send_signal(signal.SIGTERM)
            assert sim.proc.wait(timeout=10) == 0
    output = sim.output.finish()
    assert f"WSDL: {url}?WSDL" in output
    assert SIM_SECRET not in output and WRONG_SECRET not in output
    assert "stopping" in output
