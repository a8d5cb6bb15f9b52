"""``omgw orders list|show`` and ``omgw messages list|show|replay`` against a real gateway,
a real outbox worker and a small receiver on 127.0.0.1, on SQLite and PostgreSQL.

The end-to-end path: an order taken over SOAP is routed, its request waits in the outbox,
the worker sends it (503: retry; then a Client fault: parked), replay puts it back, and
the receiver gets it again with the same MessageID. Precise states (uncertain Shipment
rows, DELIVERED, DISCARDED) are written straight into the outbox. Each bad input gets
its exit code and one clear message.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select, update

from gateway.outbox.message_filter import MessageFilter, parse_when
from gateway.outbox.replay import Replayer
from gateway.outbox.replay_verdicts import ReplayResult
from gateway.outbox.secret_scrubber import MASK, Scrubber
from gateway.outbox.worker import OutboxWorker, Pass
from gateway.persistence.models import (
    Connector,
    FulfillmentRequest,
    OrderHeader,
    OutboxMessage,
    utcnow,
)
from tests.common.orders import order
from tests.common.outbox import fails, outbox, outbox_audit, publish
from tests.common.soap import client
from tests.conftest import Gateway

WSA = "http://www.w3.org/2005/08/addressing"
TL = "http://xmlns.oracle.com/apps/scm/doo/processOrder/service/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
SECRET = "Wms-Pa55word-8812"  # the connector's wallet password
FAULT_ECHOING_SECRET = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>"
    b"<faultstring>user wms: wrong password " + SECRET.encode() + b"</faultstring>"
    b"</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
)


# -- fixtures and helpers ---------------------------------------------------------------


def submit(gw: Gateway, key: str, lines: list[tuple[str, int]], revision: str = "1") -> str:
    imports = client(gw.base, "OrderImportService")
    result = imports.service.createOrders(request={"Order": [order(key, lines, revision=revision)]})
    return str(result[0].OrderNumber)


def put(
    gw: Gateway,
    status: str,
    *,
    task: str = "Shipment",
    uncertain: bool = False,
    connector: str = "WMS01_Fulfillment",
    order_number: str | None = None,
    created: datetime | None = None,
    error: str | None = "HTTP 503",
) -> tuple[int, str]:
    """An outbox row in a precise state; its (id, message id)."""
    with gw.runtime.sessions() as s, s.begin():
        cid = s.scalar(select(Connector.id).where(Connector.name == connector))
        row = OutboxMessage(
            message_id=f"urn:uuid:{uuid.uuid4()}",
            kind="FULFILLMENT_REQUEST",
            connector_id=cid,
            order_number=order_number,
            task_type=task,
            invocation_mode="ASYNC_SERVICE",
            operation="processFulfillmentRequest",
            soap_action="process",
            payload=b"<x/>",
            status=status,
            attempts=3,
            next_attempt_at=utcnow(),
            uncertain=uncertain,
            replays=0,
            last_error=error,
            created_at=created or utcnow(),
        )
        s.add(row)
        s.flush()
        return row.id, row.message_id


def audit_keys(gw: Gateway) -> list[tuple[str, str, str]]:
    return [(actor, action, key) for actor, action, key, _before, _after in outbox_audit(gw)]


# -- pure parts -------------------------------------------------------------------------


def test_times_need_a_time_zone_or_are_dates():
    assert parse_when("2027-06-01") == datetime(2027, 6, 1, tzinfo=UTC)
    assert parse_when("2027-06-01T08:00:00+02:00") == datetime(2027, 6, 1, 6, tzinfo=UTC)
    assert parse_when("2027-06-01T08:00:00Z") == datetime(2027, 6, 1, 8, tzinfo=UTC)
    with pytest.raises(ValueError, match="has no time zone"):
        parse_when("2027-06-01T08:00:00")
    with pytest.raises(ValueError, match="is not a date"):
        parse_when("yesterday")


def test_the_scrubber_masks_secrets_in_text_and_envelopes():
    scrub = Scrubber(["hunter2-secret"])
    assert scrub.text("wrong password hunter2-secret!") == f"wrong password {MASK}!"
    assert scrub.text("password=abc; pwd: 'x y'") == f"password={MASK}; pwd: {MASK}"
    assert scrub.text("Authorization: Basic dXNlcjpwYXNz") == f"Authorization: Basic {MASK}"
    assert scrub.text("see https://u:pw@host/x") == f"see https://u:{MASK}@host/x"
    assert scrub.text("<wsse:Password Type='t'>p</wsse:Password>") == (
        f"<wsse:Password Type='t'>{MASK}</wsse:Password>"
    )
    envelope = (
        f'<e:Envelope xmlns:e="urn:e" xmlns:w="{WSSE}"><e:Header><w:Security><w:UsernameToken>'
        "<w:Username>u</w:Username><w:Password>pw-1</w:Password><w:Nonce>n0nce</w:Nonce>"
        "</w:UsernameToken></w:Security></e:Header><e:Body><a>hunter2-secret</a></e:Body>"
        "</e:Envelope>"
    ).encode()
    shown = scrub.envelope(envelope)
    assert "pw-1" not in shown and "n0nce" not in shown and "hunter2" not in shown
    assert "<w:Username>u</w:Username>" in shown and "\n  <e:Body>" in shown  # indented
    assert scrub.envelope(b"<not xml") == (
        "(the stored payload is not well-formed XML; it is not shown)"
    )


# -- the end-to-end path ------------------------------------------------------------------


def test_a_parked_request_is_shown_and_replayed_with_the_same_message_id(hub, unique):
    gw, admin, rx = hub.gw, hub.admin, hub.rx
    admin.ok("wallet", "set", "oracle.wsm.security", "WMS01_KEY", "--username", "wms",
             "--password-stdin", input=SECRET)  # fmt: skip
    admin.ok("connector", "update", "WMS01_Fulfillment", "--url", rx.url,
             "--credential-key", "WMS01_KEY", "--retry-base-delay", "0",
             "--retry-max-delay", "0")  # fmt: skip
    publish(gw)
    number = submit(gw, unique, [("AS54888", 10)])

    (queued,) = admin.json("messages", "list", "--order", number)
    assert (queued["status"], queued["attempts"], queued["connector"]) == (
        "READY", 0, "WMS01_Fulfillment"
    )  # fmt: skip
    oid, mid = queued["id"], queued["message_id"]
    assert mid.startswith("urn:uuid:")

    rx.script = [("503 Service Unavailable", b""), ("500 Internal Server Error",
                                                     FAULT_ECHOING_SECRET)]  # fmt: skip
    worker = OutboxWorker(gw.runtime, name="test-worker")
    assert worker.run_once() == Pass(retried=1)
    # a READY row is queued already: replay says so and changes nothing
    out = fails(admin, 1, "messages", "replay", "--id", str(oid))
    assert "already queued (READY); the worker sends it when due" in out
    assert f"not replayable: {oid} ({mid}): see the reasons above" in out
    assert (outbox(gw, oid).attempts, outbox(gw, oid).replays) == (1, 0)

    assert worker.run_once() == Pass(parked=1)  # a Client fault: sending again cannot help
    shown = admin.json("messages", "show", str(oid))
    assert (shown["status"], shown["attempts"], shown["last_http_status"]) == ("PARKED", 2, 500)
    assert [(a["attempt"], a["outcome"], a["http_status"], a["worker"])
            for a in shown["delivery_attempts"]] == [
        (1, "RETRY", 503, "test-worker"), (2, "PARKED", 500, "test-worker"),
    ]  # fmt: skip
    # the receiver echoed our password in its fault: never shown
    assert shown["last_error"] == f"SOAP fault Client: user wms: wrong password {MASK}"
    assert shown["delivery_attempts"][1]["error"] == shown["last_error"]
    text = admin.ok("messages", "show", mid, "--payload")
    assert SECRET not in text and "wrong password ********" in text
    assert "payload (as stored; WS-Security is added at each send):" in text
    with gw.runtime.sessions() as s:
        request_id = s.scalar(
            select(FulfillmentRequest.id)
            .join(OrderHeader, OrderHeader.id == FulfillmentRequest.header_id)
            .where(OrderHeader.order_number == number)
        )
    envelope = text.split("payload (as stored; WS-Security is added at each send):\n", 1)[1]
    doc = etree.fromstring(envelope.encode())
    assert doc.findtext(f".//{{{WSA}}}MessageID") == mid
    assert doc.findtext(f".//{{{TL}}}FulfillmentRequestIdentifier") == str(request_id)
    assert doc.find(f".//{{{WSSE}}}Security") is None and "Password" not in envelope
    # …while what went out did carry the credential, added at send time
    assert all(SECRET.encode() in body for body in rx.bodies)
    assert admin.json("messages", "show", str(oid), "--payload")["payload"] == envelope

    # the order's story, with both directions of messages
    story = admin.json("orders", "show", number)
    assert (story["status"], story["source_system"], story["revision"]) == ("OPEN", "LEGACY", "1")
    assert story["source_order_number"] == f"SO-{unique}"
    assert story["customer"]["name"] == "Computer Service and Rentals"
    (line,) = story["lines"]
    assert (line["item"], line["quantity"], line["status"]) == ("AS54888", "10", "AWAIT_SHIP")
    (fline,) = line["fulfill_lines"]
    assert {k: fline[k] for k in ("quantity", "status", "task_type", "request_id",
                                  "fulfillment_system", "connector", "routing_version",
                                  "routing_rule", "routing_error")} == {
        "quantity": "10", "status": "AWAIT_SHIP", "task_type": "Shipment",
        "request_id": request_id, "fulfillment_system": "WMS01",
        "connector": "WMS01_Fulfillment", "routing_version": 1, "routing_rule": None,
        "routing_error": None,
    }  # fmt: skip
    assert fline["warehouse"] and fline["scheduled_ship_date"]
    assert [(r["id"], r["task_type"], r["connector"], r["status"], r["acknowledged"])
            for r in story["requests"]] == [
        (request_id, "Shipment", "WMS01_Fulfillment", "PARKED", None)
    ]  # fmt: skip
    fline_history = [
        h["new_status"] for h in story["status_history"] if h["entity"] == "FULFILL_LINE"
    ]
    assert fline_history == ["CREATED", "SCHEDULED", "AWAIT_SHIP"]
    assert story["status_history"][0]["entity"] == "HEADER"
    inbound, outbound = story["messages"]
    assert (inbound["direction"], inbound["service"], inbound["operation"]) == (
        "IN", "OrderImportService", "createOrders"
    )  # fmt: skip
    assert (inbound["outcome"], inbound["fault_code"]) == ("OK", None)
    assert {k: outbound[k] for k in ("direction", "outbox_id", "message_id", "connector",
                                     "operation", "status", "attempts")} == {
        "direction": "OUT", "outbox_id": oid, "message_id": mid,
        "connector": "WMS01_Fulfillment", "operation": "processFulfillmentRequest",
        "status": "PARKED", "attempts": 2,
    }  # fmt: skip
    assert SECRET not in json.dumps(story) and MASK in outbound["last_error"]
    table = admin.ok("orders", "show", number)
    assert SECRET not in table
    for heading in ("lines:", "fulfillment lines:", "fulfillment requests:",
                    "status history:", "messages:"):  # fmt: skip
        assert f"\n{heading}\n" in table
    assert "default (v1)" in table and "#%d 2 attempt(s)" % oid in table

    # a dry run changes nothing
    planned = admin.json("messages", "replay", "--order", number, "--dry-run")
    assert (planned["dry_run"], planned["replayed"]) == (True, 1)
    assert planned["messages"][0]["verdict"] == "REPLAYED"
    out = admin.ok("messages", "replay", "--order", number, "--dry-run")
    assert "would replay" in out and "dry run: 1 message(s) would be replayed" in out
    assert outbox(gw, oid).status == "PARKED" and audit_keys(gw) == []

    out = admin.ok("--actor", "alice", "messages", "replay", "--order", number)
    assert out.splitlines()[-1] == (
        "1 message(s) replayed: the worker sends them again with the same MessageID"
    )
    row = outbox(gw, oid)
    assert (row.status, row.attempts, row.replays, row.lease_owner) == ("READY", 0, 1, None)
    assert row.message_id == mid and row.payload.count(mid.encode()) == 1
    assert audit_keys(gw) == [("alice", "replay", mid)]
    (entry,) = admin.json("audit", "list", "--entity", "outbox")
    assert entry["before"]["status"] == "PARKED" and entry["after"]["replays"] == 1
    assert "payload" not in entry["after"] and SECRET not in json.dumps(entry)

    assert worker.run_once() == Pass(delivered=1)
    assert outbox(gw, oid).status == "DELIVERED"
    assert rx.message_ids() == [mid, mid, mid]  # the receiver sees one message, thrice

    # now delivered: another replay could ship twice, so only --force sends it
    out = fails(admin, 1, "messages", "replay", "--id", str(oid))
    assert "it was DELIVERED: the receiver has it already, and sending it again may create " \
           "a second shipment; --force sends it anyway" in out  # fmt: skip
    assert f"refused without --force: {oid} ({mid}): sending them again may create a second " \
           "shipment or invoice; check with the receiver, then use --force" in out  # fmt: skip
    assert outbox(gw, oid).status == "DELIVERED"
    forced = admin.json("messages", "replay", "--id", str(oid), "--force")
    assert forced["messages"][0]["reason"].startswith("forced: it was DELIVERED")
    assert worker.run_once() == Pass(delivered=1)
    assert rx.message_ids() == [mid] * 4
    assert outbox(gw, oid).replays == 2
    assert [k for _a, _b, k in audit_keys(gw)] == [mid, mid]


# -- precise states -------------------------------------------------------------------------


def test_replay_refuses_what_may_act_twice_and_skips_what_cannot_be_sent(hub):
    gw, admin = hub.gw, hub.admin
    ship_uncertain = put(gw, "PARKED", uncertain=True)
    bill_uncertain = put(gw, "PARKED", task="Invoice", uncertain=True)
    schedule_uncertain = put(gw, "PARKED", task="Schedule", uncertain=True)
    delivered = put(gw, "DELIVERED", task="Schedule", error=None)
    parked = put(gw, "PARKED")
    ready = put(gw, "READY")
    discarded = put(gw, "DISCARDED", error="the order was revised before this request was sent")
    named = [ship_uncertain, bill_uncertain, schedule_uncertain, delivered, parked, ready,
             discarded]  # fmt: skip
    args = [a for id_, _m in named for a in ("--id", str(id_))]

    result = admin(*["messages", "replay", *args, "--id", "999999", "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)  # one document: the report, with the error in it
    assert report["error"]["code"] == "REPLAY_INCOMPLETE" and result.stderr == ""
    verdicts = {m["id"] or m["message_id"]: (m["verdict"], m["reason"]) for m in report["messages"]}
    assert verdicts == {
        ship_uncertain[0]: ("REFUSED", "an earlier attempt may have reached the receiver "
                            "(uncertain), and sending it again may create a second shipment; "
                            "--force sends it anyway"),
        bill_uncertain[0]: ("REFUSED", "an earlier attempt may have reached the receiver "
                            "(uncertain), and sending it again may create a second invoice; "
                            "--force sends it anyway"),
        schedule_uncertain[0]: ("REPLAYED", None),
        delivered[0]: ("REFUSED", "it was DELIVERED: the receiver has it already, and sending "
                       "it again may make it act twice; --force sends it anyway"),
        parked[0]: ("REPLAYED", None),
        ready[0]: ("SKIPPED", "already queued (READY); the worker sends it when due"),
        discarded[0]: ("SKIPPED", "DISCARDED (the order was revised before this request was "
                       "sent): it is never sent again"),
        "999999": ("SKIPPED", "no outbox message 999999"),
    }  # fmt: skip
    assert (report["replayed"], report["refused"], report["skipped"]) == (2, 3, 3)
    refused = ", ".join(f"{i} ({m})" for i, m in (ship_uncertain, bill_uncertain, delivered))
    assert f"refused without --force: {refused}: sending them again may create a second " \
           "shipment or invoice" in report["error"]["message"]  # fmt: skip
    for id_, _m in (schedule_uncertain, parked):
        row = outbox(gw, id_)
        assert (row.status, row.attempts, row.replays) == ("READY", 0, 1)
    for id_, _m in (ship_uncertain, bill_uncertain):
        assert (outbox(gw, id_).status, outbox(gw, id_).replays) == ("PARKED", 0)
    assert (outbox(gw, delivered[0]).status, outbox(gw, ready[0]).attempts) == ("DELIVERED", 3)
    assert outbox(gw, discarded[0]).status == "DISCARDED"

    # --force lets the risky ones through; READY and DISCARDED still are not replayable
    forced = admin(*["messages", "replay", *args, "--force", "--json"])
    assert forced.exit_code == 1, forced.output
    forced_report = json.loads(forced.stdout)
    got = {m["id"]: m["verdict"] for m in forced_report["messages"]}
    assert got == {
        ship_uncertain[0]: "REPLAYED", bill_uncertain[0]: "REPLAYED",
        schedule_uncertain[0]: "SKIPPED", delivered[0]: "REPLAYED", parked[0]: "SKIPPED",
        ready[0]: "SKIPPED", discarded[0]: "SKIPPED",
    }  # fmt: skip
    for id_, _m in (ship_uncertain, bill_uncertain, delivered):
        row = outbox(gw, id_)
        assert (row.status, row.attempts, row.replays, row.uncertain) == (
            "READY", 0, 1, id_ != delivered[0]
        )  # fmt: skip
    message = forced_report["error"]["message"]
    assert "not replayable" in message and "refused" not in message
    assert len(audit_keys(gw)) == 5  # one per row actually replayed

    # a replayed row that cannot go out at once says why
    admin.ok("connector", "update", "WMSANY_Fulfillment", "--disabled")
    held, _m = put(gw, "PARKED", connector="WMSANY_Fulfillment")
    (item,) = admin.json("messages", "replay", "--id", str(held))["messages"]
    assert (item["verdict"], item["reason"]) == (
        "REPLAYED", "connector WMSANY_Fulfillment is disabled: it waits until the connector is enabled"
    )  # fmt: skip


def test_replay_needs_a_filter_and_checks_every_one(hub):
    admin = hub.admin
    (id_, _m) = put(hub.gw, "PARKED")
    for args in ([], ["--status", "PARKED"], ["--dry-run"], ["--force"]):
        out = fails(admin, 2, "messages", "replay", *args)
        assert "say which messages to replay: --id, --message-id, --connector, --order, " \
               "--since or --until" in out  # fmt: skip
    bad = {
        ("--since", "yesterday"): "Invalid value for '--since': 'yesterday' is not a date",
        ("--until", "2027-01-01T00:00:00"): "Invalid value for '--until': "
        "'2027-01-01T00:00:00' has no time zone; add one, e.g. 2027-01-01T00:00:00+00:00",
        ("--status", "LOST"): "Invalid value for '--status'",
        ("--id", "x"): "Invalid value for '--id'",
    }
    for args, message in bad.items():
        assert message in fails(admin, 2, "messages", "replay", *args), args
    assert "no connector named NOPE" in fails(admin, 1, "messages", "replay", "--connector",
                                              "NOPE")  # fmt: skip
    assert "no order 424242" in fails(admin, 1, "messages", "replay", "--order", "424242")
    assert outbox(hub.gw, id_).replays == 0
    # a window that holds nothing replays nothing, and says so
    out = admin.ok("messages", "replay", "--until", "2001-01-01")
    assert out.strip() == (
        "nothing to replay: no message matches (status PARKED, "
        "created before 2001-01-01T00:00:00+00:00)"
    )
    # a named row outside the other filters is reported, not silently ignored
    out = fails(admin, 1, "messages", "replay", "--id", str(id_), "--status", "DELIVERED")
    assert "not selected: it does not match status DELIVERED" in out
    assert outbox(hub.gw, id_).status == "PARKED"


def test_a_request_of_a_revised_order_is_not_replayed(hub, unique):
    gw, admin = hub.gw, hub.admin
    publish(gw)
    number = submit(gw, unique, [("AS54888", 10)])
    (first,) = admin.json("messages", "list", "--order", number)
    # the warehouse never had it: the revision withdraws it and asks anew, as changed
    assert submit(gw, unique, [("AS54888", 4)], revision="2") == number
    assert outbox(gw, first["id"]).status == "DISCARDED"
    with gw.runtime.sessions() as s, s.begin():  # say it had been parked meanwhile
        s.execute(update(OutboxMessage).where(OutboxMessage.id == first["id"])
                  .values(status="PARKED"))  # fmt: skip
    out = fails(admin, 1, "messages", "replay", "--order", number, "--status", "PARKED")
    assert "its order was revised since: fulfillment request" in out
    assert "is SUPERSEDED, so the worker would discard it" in out
    assert outbox(gw, first["id"]).status == "PARKED"

    listed = admin.json("orders", "list")
    assert [(o["order_number"], o["revision"], o["status"]) for o in listed] == [
        (number, "2", "OPEN")
    ]
    every = admin.json("orders", "list", "--all-revisions")
    assert [(o["revision"], o["status"]) for o in every] == [("2", "OPEN"), ("1", "DOO_REFERENCE")]
    assert [o["revision"] for o in admin.json("orders", "list", "--status", "DOO_REFERENCE")] == [
        "1"
    ]
    story = admin.json("orders", "show", number)
    (fline,) = story["lines"][0]["fulfill_lines"]
    assert story["revision"] == "2" and (fline["status"], fline["quantity"]) == ("AWAIT_SHIP", "4")
    assert [(r["revision"], r["status"]) for r in story["revisions"]] == [
        ("1", "DOO_REFERENCE"), ("2", "OPEN")
    ]  # fmt: skip
    assert [r["status"] for r in story["requests"]] == ["SUPERSEDED", "SENT"]
    ins = [m for m in story["messages"] if m["direction"] == "IN"]
    outs = [m for m in story["messages"] if m["direction"] == "OUT"]
    assert len(ins) == 2 and len(outs) == 2
    assert [m["at"] for m in story["messages"]] == sorted(m["at"] for m in story["messages"])


def test_two_admins_replaying_at_once_count_each_row_once(hub):
    gw = hub.gw
    (id_, _m) = put(gw, "PARKED")
    wanted = MessageFilter(ids=(id_,))
    first = gw.runtime.sessions()
    first.begin()
    mine = Replayer(first, "alice").replay(wanted)
    theirs: list[ReplayResult] = []

    def other() -> None:
        with gw.runtime.sessions() as s, s.begin():
            theirs.append(Replayer(s, "bob").replay(wanted))

    thread = threading.Thread(target=other)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()  # waits for the first admin's lock
    first.commit()
    first.close()
    thread.join(30)
    assert [i.verdict for i in mine.items] == ["REPLAYED"]
    assert [(i.verdict, i.was) for i in theirs[0].items] == [("SKIPPED", "READY")]
    assert outbox(gw, id_).replays == 1
    assert [a for a, _b, _c in audit_keys(gw)] == ["alice"]


# -- listings and their filters -------------------------------------------------------------


def test_messages_list_filters_each_narrow_the_listing(hub, unique):
    gw, admin = hub.gw, hub.admin
    publish(gw)
    a = submit(gw, f"{unique}A", [("AS54888", 1)])  # → WMS01
    b = submit(gw, f"{unique}B", [("AS1", 2)])  # → WMSANY
    old = put(gw, "PARKED", order_number=a, created=datetime(2020, 1, 10, 12, tzinfo=UTC))
    older = put(gw, "DELIVERED", order_number=a, connector="WMSANY_Fulfillment",
                created=datetime(2019, 6, 1, tzinfo=UTC), error=None)  # fmt: skip

    def ids(*args: str) -> list[Any]:
        return [(r["order_number"], r["status"]) for r in admin.json("messages", "list", *args)]

    everything = admin.json("messages", "list")
    assert [(r["order_number"], r["connector"], r["status"]) for r in everything] == [
        (b, "WMSANY_Fulfillment", "READY"),
        (a, "WMS01_Fulfillment", "READY"),
        (a, "WMS01_Fulfillment", "PARKED"),
        (a, "WMSANY_Fulfillment", "DELIVERED"),
    ]
    assert set(everything[0]) == {
        "id", "message_id", "created", "kind", "connector", "order_number", "task_type",
        "event_code", "operation", "status", "attempts", "uncertain", "replays", "last_error",
    }  # fmt: skip
    assert ids("--status", "parked") == [(a, "PARKED")]
    assert ids("--connector", "WMSANY_Fulfillment") == [(b, "READY"), (a, "DELIVERED")]
    assert ids("--order", a) == [(a, "READY"), (a, "PARKED"), (a, "DELIVERED")]
    assert ids("--order", a, "--connector", "WMS01_Fulfillment", "--status", "READY") == [
        (a, "READY")
    ]
    assert ids("--message-id", old[1]) == [(a, "PARKED")]
    assert ids("--message-id", old[1].removeprefix("urn:uuid:")) == [(a, "PARKED")]
    assert ids("--message-id", "urn:uuid:nothing") == []
    assert ids("--since", "2020-01-01") == [(b, "READY"), (a, "READY"), (a, "PARKED")]
    assert ids("--until", "2020-01-01") == [(a, "DELIVERED")]
    assert ids("--since", "2019-01-01", "--until", "2020-02-01T00:00:00Z") == [
        (a, "PARKED"), (a, "DELIVERED")
    ]  # fmt: skip
    # offsets are honoured on both databases: 12:00 UTC is 13:00 at +01:00
    assert ids("--since", "2020-01-10T13:00:00+01:00", "--until", "2020-01-11") == [(a, "PARKED")]
    assert ids("--since", "2020-01-10T13:00:01+01:00", "--until", "2020-01-11") == []
    assert ids("--limit", "1") == [(b, "READY")]

    table = admin.ok("messages", "list", "--status", "PARKED").splitlines()
    heading = "ID MESSAGE ID CREATED CONNECTOR ORDER TASK OPERATION STATUS ATTEMPTS UNCERTAIN"
    assert table[0].split() == [*heading.split(), "LAST", "ERROR"]
    assert table[1].split()[:3] == [str(old[0]), old[1], "2020-01-10T12:00:00+00:00"]
    assert admin.ok("messages", "list", "--status", "DISCARDED").strip() == "(none)"
    shown = admin.json("messages", "show", str(older[0]))
    assert (shown["message_id"], shown["delivery_attempts"]) == (older[1], [])
    assert "payload" not in shown

    bad = {
        ("--since", "soon"): (2, "Invalid value for '--since': 'soon' is not a date"),
        ("--until", "2020-01-01T00:00"): (2, "Invalid value for '--until'"),
        ("--status", "LOST"): (2, "Invalid value for '--status'"),
        ("--limit", "0"): (2, "Invalid value for '--limit'"),
        ("--connector", "NOPE"): (1, "no connector named NOPE"),
        ("--order", "424242"): (1, "no order 424242"),
    }
    for args, (code, message) in bad.items():
        assert message in fails(admin, code, "messages", "list", *args), args
    assert "no outbound message with id or message id 424242" in fails(
        admin, 1, "messages", "show", "424242"
    )
    assert "no outbound message with id or message id urn:uuid:x" in fails(
        admin, 1, "messages", "show", "urn:uuid:x"
    )


def test_orders_list_and_show(hub, unique):
    gw, admin = hub.gw, hub.admin
    publish(gw)
    first = submit(gw, f"{unique}A", [("AS54888", 1), ("AS1", 2)])
    second = submit(gw, f"{unique}B", [("AS54888", 3)])
    listed = admin.json("orders", "list")
    assert [o["order_number"] for o in listed] == [second, first]  # newest first
    assert listed[1] == {
        "order_number": first,
        "source_system": "LEGACY",
        "source_order_id": f"{unique}A",
        "source_order_number": f"SO-{unique}A",
        "revision": "1",
        "status": "OPEN",
        "lines": 2,
        "fulfill_lines_open": 2,
        "fulfill_lines_closed": 0,
        "created": listed[1]["created"],
    }
    assert [o["order_number"] for o in admin.json("orders", "list", "--limit", "1")] == [second]
    assert admin.json("orders", "list", "--status", "open", "--source-system", "LEGACY") == listed
    assert admin.json("orders", "list", "--status", "CLOSED") == []
    table = admin.ok("orders", "list").splitlines()
    heading = "ORDER SOURCE SOURCE ID SOURCE NUMBER REV STATUS LINES FL OPEN FL CLOSED CREATED"
    assert table[0].split() == heading.split()
    assert table[2].split()[:9] == [first, "LEGACY", f"{unique}A", f"SO-{unique}A", "1",
                                    "OPEN", "2", "2", "0"]  # fmt: skip

    story = admin.json("orders", "show", first)
    assert [(ln["item"], ln["fulfill_lines"][0]["connector"],
             ln["fulfill_lines"][0]["routing_rule"]) for ln in story["lines"]] == [
        ("AS54888", "WMS01_Fulfillment", None), ("AS1", "WMSANY_Fulfillment", "AS1")
    ]  # fmt: skip
    assert sorted(r["fulfillment_system"] for r in story["requests"]) == ["WMS01", "WMSANY"]
    outs = [m for m in story["messages"] if m["direction"] == "OUT"]
    assert sorted(m["connector"] for m in outs) == ["WMS01_Fulfillment", "WMSANY_Fulfillment"]
    assert "rule AS1 (v1)" in admin.ok("orders", "show", first)

    bad = {
        ("list", "--status", "LOST"): (2, "Invalid value for '--status'"),
        ("list", "--source-system", "NOPE"): (1, "no source system NOPE"),
        ("list", "--limit", "0"): (2, "Invalid value for '--limit'"),
        ("show", "424242"): (1, "no order 424242 (omgw orders list shows the numbers)"),
        ("show",): (2, "say which order: ORDER_NUMBER, --source-number or --po"),
    }
    for args, (code, message) in bad.items():
        assert message in fails(admin, code, "orders", *args), args


# -- business events and e-mails ----------------------------------------------------------


def put_notification(
    gw: Gateway,
    kind: str,
    status: str,
    *,
    connector: str | None = None,
    event_code: str = "HOLD",
    recipients: str | None = None,
    payload: bytes = b"<x/>",
) -> tuple[int, str]:
    """A BUSINESS_EVENT or EMAIL outbox row (an e-mail has no connector)."""
    with gw.runtime.sessions() as s, s.begin():
        cid = None
        if connector is not None:
            cid = s.scalar(select(Connector.id).where(Connector.name == connector))
        row = OutboxMessage(
            message_id=f"urn:uuid:{uuid.uuid4()}",
            kind=kind,
            connector_id=cid,
            order_number="700100",
            event_code=event_code,
            recipients=recipients,
            invocation_mode="EMAIL" if connector is None else "BUSINESS_EVENT",
            operation="sendmail" if connector is None else "pushPayload",
            soap_action="",
            payload=payload,
            status=status,
            attempts=2,
            next_attempt_at=utcnow(),
            uncertain=False,
            replays=0,
            last_error=None if status == "DELIVERED" else "SMTP 550 mailbox unavailable",
        )
        s.add(row)
        s.flush()
        return row.id, row.message_id


def test_events_and_e_mails_are_listed_shown_filtered_and_replayed_without_force(hub):
    gw, admin = hub.gw, hub.admin
    admin.ok("connector", "add", "LEGACY_Events", "--target-system", "LEGACY",
             "--url", hub.rx.url, "--invocation-mode", "BUSINESS_EVENT")  # fmt: skip
    request = put(gw, "PARKED")
    mail_text = json.dumps({"subject": "[omgw] Order 700100 hold", "body": "Event: HOLD"})
    mail = put_notification(gw, "EMAIL", "PARKED", recipients="ops@example.com,lead@example.com",
                            payload=mail_text.encode())  # fmt: skip
    event = put_notification(gw, "BUSINESS_EVENT", "DELIVERED", connector="LEGACY_Events",
                             event_code="FlineStatusUpdate")  # fmt: skip

    listed = {r["id"]: r for r in admin.json("messages", "list")}
    assert (listed[mail[0]]["kind"], listed[mail[0]]["connector"]) == ("EMAIL", "smtp")
    assert (listed[mail[0]]["event_code"], listed[mail[0]]["task_type"]) == ("HOLD", None)
    assert (listed[event[0]]["kind"], listed[event[0]]["connector"]) == (
        "BUSINESS_EVENT", "LEGACY_Events"
    )  # fmt: skip
    assert listed[request[0]]["kind"] == "FULFILLMENT_REQUEST"
    table = admin.ok("messages", "list").splitlines()
    (mail_line,) = [ln for ln in table if ln.startswith(f"{mail[0]} ")]
    assert mail_line.split()[3:5] == ["smtp", "700100"] and " HOLD " in mail_line
    (event_line,) = [ln for ln in table if ln.startswith(f"{event[0]} ")]
    assert " FlineStatusUpdate " in event_line

    def ids(*args: str) -> list[int]:
        return [r["id"] for r in admin.json("messages", "list", *args)]

    assert ids("--kind", "EMAIL") == [mail[0]]
    assert ids("--kind", "event") == [event[0]]
    assert ids("--kind", "REQUEST") == [request[0]]
    assert ids("--kind", "EMAIL", "--status", "DELIVERED") == []
    assert "Invalid value for '--kind'" in fails(admin, 2, "messages", "list", "--kind", "FAX")

    shown = admin.json("messages", "show", str(mail[0]), "--payload")
    assert (shown["kind"], shown["connector"], shown["target_system"]) == (
        "EMAIL", "smtp", "(e-mail)"
    )  # fmt: skip
    assert shown["recipients"] == ["ops@example.com", "lead@example.com"]
    assert shown["payload"] == "Subject: [omgw] Order 700100 hold\n\nEvent: HOLD"
    text = admin.ok("messages", "show", str(mail[0]), "--payload")
    assert "ops@example.com, lead@example.com" in text and "e-mail (as stored" in text
    shown = admin.json("messages", "show", event[1])
    assert (shown["event_code"], shown["target_system"]) == ("FlineStatusUpdate", "LEGACY")
    assert "recipients" not in shown

    # notifications need no --force, even DELIVERED; the request beside them is untouched
    out = admin.ok("messages", "replay", "--kind", "EMAIL")
    assert "1 message(s) replayed" in out and "smtp" in out
    result = admin.json("messages", "replay", "--id", str(event[0]))
    (item,) = result["messages"]
    assert (item["verdict"], item["kind"], item["event_code"], item["reason"]) == (
        "REPLAYED", "BUSINESS_EVENT", "FlineStatusUpdate",
        "it was DELIVERED: the receiver gets the event again",
    )  # fmt: skip
    assert (outbox(gw, mail[0]).status, outbox(gw, mail[0]).replays) == ("READY", 1)
    assert (outbox(gw, event[0]).status, outbox(gw, event[0]).replays) == ("READY", 1)
    assert outbox(gw, request[0]).status == "PARKED"
    assert [k for _a, _b, k in audit_keys(gw)] == [mail[1], event[1]]
    assert "nothing to replay: no message matches (status PARKED, kind EMAIL)" in admin.ok(
        "messages", "replay", "--kind", "EMAIL"
    )
