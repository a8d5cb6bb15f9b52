"""The simulated warehouse's answers to changes after release (Update, Cancel) and to returns.

Requests are built as omgw builds them (``connectors.outbound.build_envelope``; the
compensation elements omgw does not fill yet are added to the tree) and sent over HTTP to a
simulator on 127.0.0.1. Its callbacks go to a small receiver that serves the published
OrderFulfillmentResponseService WSDL and records every call. Every wait is bounded.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from lxml import etree

from connectors.outbound import RequestDocument, RequestLine, build_envelope
from gateway.cli import cli
from simulators import RunningSimulator, SimulatorOptions, running
from tests.common.fulfillment_request import request_document
from tests.common.processes import until
from tests.common.threaded_server import served

ROOT = Path(__file__).resolve().parents[2]
OUTBOUND = ROOT / "connectors" / "wsdl" / "outbound"
OFRS_WSDL = ROOT / "wsdl" / "OrderFulfillmentResponseService.wsdl"
TL = "http://xmlns.oracle.com/apps/scm/doo/processOrder/service/"
TR = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/model/"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
TYPES = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/types/"
COMMON = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/"

#: the original Shipment request and its two lines (10 and 4 Ea)
ORIGINAL, FIRST, SECOND = 500100, 21, 22
#: a compensation request's own identifier
CHANGE = 500200


# -- a gateway stand-in that records every callback ---------------------------------------


def _soap(body: str) -> bytes:
    return f'<s:Envelope xmlns:s="{SOAP}"><s:Body>{body}</s:Body></s:Envelope>'.encode()


_ANSWERS = {
    "processAcknowledgement": _soap(f'<t:processAcknowledgementResponse xmlns:t="{TYPES}"/>'),
    "processFulfillmentResponse": _soap(
        f'<t:processFulfillmentResponseResponse xmlns:t="{TYPES}" xmlns:c="{COMMON}"><t:result>'
        "<c:ErrorMessageName/><c:ErrorMessageText/>"
        "<c:FulfillmentSystemResponseIdentifier/><c:OverallStatusCode>SUCCESS</c:OverallStatusCode>"
        "</t:result></t:processFulfillmentResponseResponse>"
    ),
}


@dataclass
class Callbacks:
    """Serves the WSDL on GET; records each SOAP call's payload and answers it."""

    url: str = ""
    calls: list[tuple[str, etree._Element]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["REQUEST_METHOD"] == "GET":
            body = OFRS_WSDL.read_bytes()
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            root = etree.fromstring(environ["wsgi.input"].read(length))
            payload = root.find(f"{{{SOAP}}}Body")[0]
            name = etree.QName(payload).localname
            with self.lock:
                self.calls.append((name, payload))
            body = _ANSWERS[name]
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [body]

    def of(self, operation: str) -> list[etree._Element]:
        with self.lock:
            return [payload for name, payload in self.calls if name == operation]

    def acks(self) -> dict[int, dict[str, str | None]]:
        """Each acknowledgement by request id: status, error name and text."""
        found = {}
        for payload in self.of("processAcknowledgement"):
            ack = payload.find("{*}fulfillmentRequestAcknowledgement")
            assert ack is not None
            found[int(ack.findtext("{*}FulfillmentRequestIdentifier") or 0)] = {
                name: ack.findtext(f"{{*}}{name}")
                for name in ("RequestStatusCode", "ErrorMessageName", "ErrorMessageText")
            }
        return found

    def responses(self) -> list[tuple[str | None, list[dict[str, str | None]]]]:
        """Each processFulfillmentResponse: its IntegrationContextCode and its lines."""
        found = []
        for payload in self.of("processFulfillmentResponse"):
            context = payload.findtext("{*}responseMessageHeader/{*}IntegrationContextCode")
            lines = [
                {
                    "id": ln.findtext("{*}FulfillLineIdentifier"),
                    "status": ln.findtext("{*}StatusCode"),
                    "qty": ln.findtext("{*}ShippedQuantity"),
                    "task": ln.findtext("{*}FulfillmentDetail/{*}TaskTypeCode"),
                    "tracking": ln.findtext("{*}FulfillmentDetail/{*}TrackingNumber"),
                    "billing": ln.findtext("{*}FulfillmentDetail/{*}BillingTransactionNumber"),
                    "receipt": ln.findtext("{*}FulfillmentDetail/{*}RMAReceiptNumber"),
                }
                for ln in payload.findall("{*}fulfillLineList")
            ]
            found.append((context, lines))
        return found


@pytest.fixture
def callbacks() -> Iterator[Callbacks]:
    receiver = Callbacks()
    with served(receiver) as base:
        receiver.url = f"{base}/fscmService/OrderFulfillmentResponseService"
        yield receiver


@contextmanager
def warehouse(callbacks: Callbacks, **options: Any) -> Iterator[RunningSimulator]:
    base = callbacks.url.split("/fscmService/")[0]
    settings = {"gateway_url": base, "delay": 0.05, "callback_backoff": 0.05, **options}
    with running(SimulatorOptions(**settings)) as sim:
        yield sim


# -- requests as omgw builds them ---------------------------------------------------------


def document(
    request_id: int,
    lines: list[tuple[int, int]],
    task: str = "Shipment",
    operation: str = "Create",
    status: str = "AWAIT_SHIP",
    ship_date: datetime | None = None,
) -> RequestDocument:
    return request_document(
        request_id=request_id,
        task_type=task,
        operation=operation,
        source_order_revision=None,
        currency_code=None,
        lines=tuple(
            RequestLine(
                line_id=1000 + fid,
                line_number=n,
                source_line_id=f"L{n}",
                source_line_number=None,
                fulfill_line_id=fid,
                fulfill_line_number=n,
                product_number="AS54888",
                product_description=None,
                ordered_qty=Decimal(qty),
                uom_code="Ea",
                organization=None,
                ship_set_name=None,
                requested_ship_date=ship_date,
                scheduled_ship_date=None,
                status_code=status,
            )
            for n, (fid, qty) in enumerate(lines, 1)
        ),
    )


def original(lines: list[tuple[int, int]] | None = None, **kwargs: Any) -> RequestDocument:
    return document(ORIGINAL, lines or [(FIRST, 10), (SECOND, 4)], **kwargs)


def change(
    operation: str, lines: list[tuple[int, int]], request_id: int = CHANGE, **kwargs: Any
) -> RequestDocument:
    status = "CANCEL_PENDING" if operation == "Cancel" else "CHANGE_PENDING"
    return document(request_id, lines, operation=operation, status=status, **kwargs)


def envelope(
    doc: RequestDocument,
    *,
    sync: bool = False,
    message_id: str | None = None,
    reply_to: str | None = None,
    original_id: int | None = None,
    reason: tuple[str, str] | None = None,
    site: str | None = None,
) -> bytes:
    """The envelope omgw sends for ``doc``, with the compensation elements given."""
    operation = "processFulfillmentRequestSync" if sync else "processFulfillmentRequest"
    built = build_envelope(
        doc,
        operation,
        message_id=message_id or f"urn:uuid:{uuid.uuid4()}",
        to="http://127.0.0.1/simulator/FulfillmentService",
        reply_to=reply_to,
    )
    root = etree.fromstring(built)
    tl = root.find(f"{{{SOAP}}}Body/{{{TL}}}headerTL")
    assert tl is not None
    extra = [] if original_id is None else [("OriginalRequestIdentifier", str(original_id))]
    extra += [("ChangeReasonCode", reason[0]), ("ChangeReason", reason[1])] if reason else []
    anchor = tl.find(f"{{{TL}}}Operation")  # no InterfaceType is sent
    assert anchor is not None
    for name, text in reversed(extra):
        anchor.addnext(element := etree.Element(f"{{{TL}}}{name}"))
        element.text = text
    if site is not None:
        for line in tl.findall(f"{{{TL}}}Line"):
            etree.SubElement(line, f"{{{TL}}}ShipToPartySiteIdentifier").text = site
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def send(sim: RunningSimulator, body: bytes, *, sync: bool = False) -> requests.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    headers["SOAPAction"] = '"processSync"' if sync else '"process"'
    resp = requests.post(sim.url, data=body, headers=headers, timeout=10)
    assert resp.status_code == (200 if sync else 202), resp.text
    return resp


@pytest.fixture(scope="module")
def tr_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(OUTBOUND / "HeaderTR.xsd")))


def header_tr(resp: requests.Response, schema: etree.XMLSchema) -> dict[str, Any]:
    """A synchronous answer's headerTR, validated against HeaderTR.xsd, as a dict."""
    tr = etree.fromstring(resp.content).find(f"{{{SOAP}}}Body/{{{TR}}}headerTR")
    assert tr is not None, resp.text
    schema.assertValid(tr)
    names = ("FulfillLineId", "StatusCode", "ShippedQty", "TrackingNumber", "BillingNumber")
    return {
        **{
            name: tr.findtext(f"{{{TR}}}{name}")
            for name in (
                "FulfillmentRequestIdentifier",
                "StatusCode",
                "ErrorMessageName",
                "ErrorMessageText",
            )
        },
        "Line": [
            {name: ln.findtext(f"{{{TR}}}{name}") for name in names}
            for ln in tr.findall(f"{{{TR}}}Line")
        ],
    }


def ledger(sim: RunningSimulator) -> dict[int, dict[str, Any]]:
    return {ln["fulfill_line_id"]: ln for ln in sim.state()["fulfillment_lines"]}


def done(sim: RunningSimulator, request_id: int) -> bool:
    (rec,) = [r for r in sim.state()["requests"] if r["request_id"] == request_id]
    return rec["callback_status"] in ("sent", "error")


def shipped_lines(callbacks: Callbacks) -> list[tuple[str | None, str | None]]:
    """(line id, shipped quantity) of every line any processFulfillmentResponse shipped."""
    return [
        (ln["id"], ln["qty"])
        for _, lines in callbacks.responses()
        for ln in lines
        if ln["status"] == "SHIPPED"
    ]


# -- asynchronous: Cancel and Update against a line's shipment -----------------------------


def test_a_cancel_before_shipping_is_accepted_and_the_line_never_ships(callbacks):
    # Given a two-line shipment whose callback goes out in a second
    with warehouse(callbacks, delay=1.0) as sim:
        send(sim, envelope(original(), reply_to=callbacks.url))

        # When the second line is cancelled before then
        cancel = change("Cancel", [(SECOND, 4)])
        body = envelope(cancel, original_id=ORIGINAL, reason=("CUSTOMER", "changed her mind"))
        send(sim, body)
        until(lambda: done(sim, ORIGINAL) and done(sim, CHANGE), "both requests' callbacks")

        # Then the cancel is acknowledged SUCCESS under its own id, and only the first ships
        acks = callbacks.acks()
        assert acks[CHANGE] == {
            "RequestStatusCode": "SUCCESS",
            "ErrorMessageName": None,
            "ErrorMessageText": None,
        }
        assert acks[ORIGINAL]["RequestStatusCode"] == "SUCCESS"
        (response,) = callbacks.responses()
        assert [(ln["id"], ln["status"], ln["qty"]) for ln in response[1]] == [
            (str(FIRST), "SHIPPED", "10")
        ]
        lines = ledger(sim)
        assert (lines[SECOND]["state"], lines[SECOND]["changed_by"]) == ("cancelled", [CHANGE])
        state = sim.state()
        assert state["counters"]["changes_accepted"] == 1
        (rec,) = [r for r in state["requests"] if r["request_id"] == CHANGE]
        assert (rec["operation"], rec["original_request_id"]) == ("Cancel", ORIGINAL)


@pytest.mark.parametrize("operation", ["Cancel", "Update"])
def test_a_change_after_shipping_is_refused_as_already_shipped(callbacks, operation):
    with warehouse(callbacks) as sim:
        send(sim, envelope(original(), reply_to=callbacks.url))
        until(lambda: done(sim, ORIGINAL), "the shipment's callbacks")

        send(sim, envelope(change(operation, [(FIRST, 3)]), original_id=ORIGINAL))
        until(lambda: done(sim, CHANGE), "the change's acknowledgement")

        ack = callbacks.acks()[CHANGE]
        assert (ack["RequestStatusCode"], ack["ErrorMessageName"]) == ("ERROR", "ALREADY_SHIPPED")
        assert str(FIRST) in (ack["ErrorMessageText"] or "")
        # the shipment was reported once, by the original request, at its quantity
        assert shipped_lines(callbacks) == [(str(FIRST), "10"), (str(SECOND), "4")]
        assert ledger(sim)[FIRST]["changed_by"] == []
        assert sim.state()["counters"]["changes_already_shipped"] == 1


def test_an_update_before_shipping_ships_the_new_quantity(callbacks):
    with warehouse(callbacks, delay=1.0) as sim:
        send(sim, envelope(original(), reply_to=callbacks.url))
        new_date = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
        update = change("Update", [(FIRST, 6)], ship_date=new_date)
        send(sim, envelope(update, original_id=ORIGINAL, site="SITE-42"))
        until(lambda: done(sim, ORIGINAL) and done(sim, CHANGE), "both requests' callbacks")

        assert callbacks.acks()[CHANGE]["RequestStatusCode"] == "SUCCESS"
        assert shipped_lines(callbacks) == [(str(FIRST), "6"), (str(SECOND), "4")]
        held = ledger(sim)[FIRST]
        assert (held["ordered_qty"], held["shipped_qty"], held["ship_to_site"]) == (
            "6",
            "6",
            "SITE-42",
        )
        assert (held["requested_ship_date"] or "").startswith("2027-01-15T12:00:00")


def test_a_change_to_a_line_never_received_is_rejected(callbacks):
    with warehouse(callbacks) as sim:
        send(sim, envelope(change("Update", [(999, 2)]), reply_to=callbacks.url))
        until(lambda: done(sim, CHANGE), "the acknowledgement")
        ack = callbacks.acks()[CHANGE]
        assert (ack["RequestStatusCode"], ack["ErrorMessageName"]) == ("ERROR", "CHANGE_REJECTED")
        assert "999" in (ack["ErrorMessageText"] or "")
        assert callbacks.of("processFulfillmentResponse") == []
        assert sim.state()["counters"]["changes_rejected"] == 1


# -- change_answer: the forced answers -----------------------------------------------------


def test_change_answer_reject_refuses_and_the_line_still_ships(callbacks):
    with warehouse(callbacks, delay=1.0) as sim:
        changed = requests.post(
            sim.base + "/simulator/control", json={"change_answer": "reject"}, timeout=10
        )
        assert changed.status_code == 200 and changed.json()["change_answer"] == "reject"
        send(sim, envelope(original(), reply_to=callbacks.url))
        send(sim, envelope(change("Cancel", [(FIRST, 10)])))
        until(lambda: done(sim, ORIGINAL) and done(sim, CHANGE), "both requests' callbacks")

        ack = callbacks.acks()[CHANGE]
        assert (ack["RequestStatusCode"], ack["ErrorMessageName"]) == ("ERROR", "CHANGE_REJECTED")
        assert ack["ErrorMessageText"]
        assert shipped_lines(callbacks) == [(str(FIRST), "10"), (str(SECOND), "4")]


def test_change_answer_shipped_ships_the_line_as_it_stood_before(callbacks):
    with warehouse(callbacks, delay=1.0) as sim:
        send(sim, envelope(original(), reply_to=callbacks.url))
        # an Update accepted first, then one answered ALREADY_SHIPPED
        send(sim, envelope(change("Update", [(FIRST, 6)], request_id=CHANGE - 1)))
        sim.control(change_answer="shipped")
        send(sim, envelope(change("Update", [(FIRST, 3)])))
        until(
            lambda: done(sim, ORIGINAL) and done(sim, CHANGE - 1) and done(sim, CHANGE),
            "the three requests' callbacks",
        )

        assert callbacks.acks()[CHANGE - 1]["RequestStatusCode"] == "SUCCESS"
        ack = callbacks.acks()[CHANGE]
        assert (ack["RequestStatusCode"], ack["ErrorMessageName"]) == ("ERROR", "ALREADY_SHIPPED")
        # reported once, by the original request's response, at the quantity before the
        # refused change (not the 3 it asked for)
        assert shipped_lines(callbacks) == [(str(FIRST), "6"), (str(SECOND), "4")]
        assert len(callbacks.responses()) == 1


def test_change_answer_shipped_reports_a_backordered_line_it_ships(callbacks):
    # The original's callback already reported the line BACKORDERED: the forced shipment
    # is reported after the change's acknowledgement, once
    with warehouse(callbacks, backorder_rate=1.0) as sim:
        send(sim, envelope(original([(FIRST, 10)]), reply_to=callbacks.url))
        until(lambda: done(sim, ORIGINAL), "the shipment's callbacks")
        sim.control(change_answer="shipped")
        send(sim, envelope(change("Cancel", [(FIRST, 10)]), message_id="m-forced"))
        until(lambda: done(sim, CHANGE), "the change's callbacks")

        assert callbacks.acks()[CHANGE]["ErrorMessageName"] == "ALREADY_SHIPPED"
        statuses = [[ln["status"] for ln in lines] for _, lines in callbacks.responses()]
        assert statuses == [["BACKORDERED"], ["SHIPPED"]]
        assert shipped_lines(callbacks) == [(str(FIRST), "10")]


def test_change_answer_accept_accepts_even_a_shipped_line(callbacks):
    with warehouse(callbacks, change_answer="accept") as sim:
        send(sim, envelope(original(), reply_to=callbacks.url))
        until(lambda: done(sim, ORIGINAL), "the shipment's callbacks")
        send(sim, envelope(change("Update", [(FIRST, 3)])))
        until(lambda: done(sim, CHANGE), "the change's acknowledgement")

        assert callbacks.acks()[CHANGE]["RequestStatusCode"] == "SUCCESS"
        assert shipped_lines(callbacks) == [(str(FIRST), "10"), (str(SECOND), "4")]
        assert ledger(sim)[FIRST]["changed_by"] == [CHANGE]


# -- synchronous answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status", "error", "lines"),
    [
        ("auto", "REJECTED", "ALREADY_SHIPPED", [(str(FIRST), "SHIPPED", "10")]),
        ("accept", "ACCEPTED", None, []),
        ("reject", "REJECTED", "CHANGE_REJECTED", []),
        ("shipped", "REJECTED", "ALREADY_SHIPPED", [(str(FIRST), "SHIPPED", "10")]),
    ],
)
def test_sync_change_of_a_line_shipped_at_once(callbacks, tr_schema, answer, status, error, lines):
    # A synchronous shipment ships at once: only a forced answer accepts a change after it
    with warehouse(callbacks, change_answer=answer) as sim:
        header_tr(send(sim, envelope(original(), sync=True), sync=True), tr_schema)
        cancel = envelope(change("Cancel", [(FIRST, 10)]), sync=True, original_id=ORIGINAL)
        tr = header_tr(send(sim, cancel, sync=True), tr_schema)

        assert tr["FulfillmentRequestIdentifier"] == str(CHANGE)
        assert (tr["StatusCode"], tr["ErrorMessageName"]) == (status, error)
        assert [(ln["FulfillLineId"], ln["StatusCode"], ln["ShippedQty"]) for ln in tr["Line"]] == (
            lines
        )
        if lines:
            assert tr["Line"][0]["TrackingNumber"] == f"TRK-{ORIGINAL}-{FIRST}"
            assert str(FIRST) in tr["ErrorMessageText"]


def test_sync_answers_accepted_and_rejected_before_shipping(callbacks, tr_schema):
    with warehouse(callbacks, delay=1.0) as sim:
        send(sim, envelope(original(), reply_to=callbacks.url))
        cancel = envelope(change("Cancel", [(SECOND, 4)]), sync=True)
        accepted = header_tr(send(sim, cancel, sync=True), tr_schema)
        assert (accepted["StatusCode"], accepted["ErrorMessageName"], accepted["Line"]) == (
            "ACCEPTED",
            None,
            [],
        )

        # an update of the cancelled line, and a change of an invoice, are refused
        update = envelope(change("Update", [(SECOND, 2)], request_id=CHANGE + 1), sync=True)
        refused = header_tr(send(sim, update, sync=True), tr_schema)
        assert (refused["StatusCode"], refused["ErrorMessageName"]) == (
            "REJECTED",
            "CHANGE_REJECTED",
        )
        assert "cancelled" in refused["ErrorMessageText"]
        invoice = change("Cancel", [(FIRST, 10)], request_id=CHANGE + 2, task="Invoice")
        refused = header_tr(send(sim, envelope(invoice, sync=True), sync=True), tr_schema)
        assert refused["ErrorMessageName"] == "CHANGE_REJECTED"
        assert "Invoice" in refused["ErrorMessageText"]

        until(lambda: done(sim, ORIGINAL), "the shipment's callbacks")
        assert shipped_lines(callbacks) == [(str(FIRST), "10")]


def test_sync_change_answer_shipped_reports_a_backordered_line_once(callbacks, tr_schema):
    with warehouse(callbacks, backorder_rate=1.0, change_answer="shipped") as sim:
        tr = header_tr(
            send(sim, envelope(original([(FIRST, 10)]), sync=True), sync=True), tr_schema
        )
        assert tr["Line"][0]["StatusCode"] == "BACKORDERED"

        # the synchronous answer ships the line and is its report...
        cancel = envelope(change("Cancel", [(FIRST, 10)]), sync=True)
        tr = header_tr(send(sim, cancel, sync=True), tr_schema)
        assert [(ln["StatusCode"], ln["ShippedQty"]) for ln in tr["Line"]] == [("SHIPPED", "10")]
        assert ledger(sim)[FIRST]["reported"] is True

        # ...so a later asynchronous change of the line is acknowledged, and reports nothing
        later = change("Cancel", [(FIRST, 10)], request_id=CHANGE + 1)
        send(sim, envelope(later, reply_to=callbacks.url))
        until(lambda: done(sim, CHANGE + 1), "the change's acknowledgement")
        assert callbacks.acks()[CHANGE + 1]["ErrorMessageName"] == "ALREADY_SHIPPED"
        assert callbacks.responses() == []


# -- repeats -----------------------------------------------------------------------------------


def test_a_repeated_compensation_request_is_answered_once(callbacks, tr_schema):
    with warehouse(callbacks, delay=1.0) as sim:
        send(sim, envelope(original(), reply_to=callbacks.url))
        update = change("Update", [(FIRST, 6)])
        body = envelope(update, message_id="m-update")
        send(sim, body)
        send(sim, body)  # the sender's retry: the same MessageID
        send(sim, envelope(update, message_id="m-update-again"))  # the same request id
        # a later Update of the same line under a new id is a change of its own
        send(sim, envelope(change("Update", [(FIRST, 7)], request_id=CHANGE + 1)))
        until(lambda: done(sim, ORIGINAL) and done(sim, CHANGE + 1), "the callbacks")

        state = sim.state()
        assert state["counters"]["changes_accepted"] == 2
        assert state["counters"]["duplicates"] == 2
        assert ledger(sim)[FIRST]["changed_by"] == [CHANGE, CHANGE + 1]
        until(lambda: done(sim, CHANGE), "the first change's callbacks")
        acks = [
            p.findtext("{*}fulfillmentRequestAcknowledgement/{*}FulfillmentRequestIdentifier")
            for p in callbacks.of("processAcknowledgement")
        ]
        assert sorted(acks) == sorted([str(ORIGINAL), str(CHANGE), str(CHANGE + 1)])
        assert shipped_lines(callbacks) == [(str(FIRST), "7"), (str(SECOND), "4")]

        # a synchronous repeat gets the very same answer
        cancel = envelope(change("Cancel", [(FIRST, 7)], request_id=CHANGE + 5), sync=True)
        first = send(sim, cancel, sync=True)
        assert header_tr(first, tr_schema)["ErrorMessageName"] == "ALREADY_SHIPPED"
        assert send(sim, cancel, sync=True).content == first.content
        counters = sim.state()["counters"]
        assert (counters["changes_already_shipped"], counters["duplicates"]) == (1, 3)


# -- returns -----------------------------------------------------------------------------------


def test_a_return_is_received_and_its_invoice_is_a_credit_memo(callbacks, tr_schema):
    with warehouse(callbacks) as sim:
        # A synchronous return: the whole line is received
        ret = document(600100, [(FIRST, 10)], task="Return", status="AWAIT_RECEIPT")
        tr = header_tr(send(sim, envelope(ret, sync=True), sync=True), tr_schema)
        assert tr["StatusCode"] == "ACCEPTED"
        assert [(ln["FulfillLineId"], ln["StatusCode"], ln["ShippedQty"]) for ln in tr["Line"]] == [
            (str(FIRST), "RECEIVED", "10")
        ]

        # An asynchronous one is reported through processFulfillmentResponse
        ret = document(600200, [(SECOND, 4)], task="Return", status="AWAIT_RECEIPT")
        send(sim, envelope(ret, reply_to=callbacks.url))
        until(lambda: done(sim, 600200), "the return's callbacks")
        ((context, (line,)),) = callbacks.responses()
        assert context == "Return"
        assert (line["id"], line["status"], line["qty"], line["task"]) == (
            str(SECOND),
            "RECEIVED",
            "4",
            "Return",
        )
        assert line["receipt"] == f"RCV-600200-{SECOND}"

        # The invoices of returned lines are credit memos; another line's is an invoice
        invoice = document(600300, [(FIRST, 10), (SECOND, 4), (23, 1)], task="Invoice")
        tr = header_tr(send(sim, envelope(invoice, sync=True), sync=True), tr_schema)
        assert [ln["BillingNumber"] for ln in tr["Line"]] == [
            f"CM-600300-{FIRST}",
            f"CM-600300-{SECOND}",
            "INV-600300-23",
        ]
        invoice = document(600400, [(SECOND, 4)], task="Invoice")
        send(sim, envelope(invoice, reply_to=callbacks.url))
        until(lambda: done(sim, 600400), "the invoice's callbacks")
        assert callbacks.responses()[-1][1][0]["billing"] == f"CM-600400-{SECOND}"
        state = sim.state()
        assert state["counters"]["returns"] == 2
        assert state["returned_lines"] == [FIRST, SECOND]


# -- options -----------------------------------------------------------------------------------


def test_change_answer_is_an_option_of_the_cli_and_the_control_interface():
    runner = CliRunner()
    result = runner.invoke(cli, ["simulate", "fulfillment", "--help"])
    assert result.exit_code == 0, result.output
    assert "--change-answer" in result.output
    bad = runner.invoke(cli, ["simulate", "fulfillment", "--change-answer", "maybe"])
    assert bad.exit_code == 2
    assert "maybe" in bad.output

    with pytest.raises(ValueError, match="change_answer"):
        SimulatorOptions(change_answer="maybe")
    with running(SimulatorOptions(gateway_url="http://127.0.0.1:1")) as sim:
        url = sim.base + "/simulator/control"
        assert requests.post(url, json={"change_answer": "maybe"}, timeout=10).status_code == 400
        assert sim.state()["options"]["change_answer"] == "auto"
        assert requests.post(url, json={"change_answer": "shipped"}, timeout=10).status_code == 200
        assert sim.simulator.options.change_answer == "shipped"
