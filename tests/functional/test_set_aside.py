"""``omgw messages park|discard`` and :class:`SetAside` against a real gateway, a real
outbox worker and a stand-in receiver on 127.0.0.1, on SQLite and PostgreSQL.

Parking stops a delivery the worker would make and replay resumes it; a message being
sent (a worker holds its lease while the receiver has not answered) is refused and its
outcome is still recorded; discarding a fulfillment request needs force, and a
discarded message is never sent or replayed. Precise states are written straight into
the outbox.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.outbox.message_filter import MessageFilter
from gateway.outbox.set_aside import SetAside, SetAsideResult
from gateway.outbox.worker import OutboxWorker, Pass
from gateway.persistence.models import Connector, OutboxMessage, utcnow
from tests.common.orders import order
from tests.common.outbox import Hub, fails, hub_on, outbox, outbox_audit, publish
from tests.common.processes import until
from tests.common.soap import client
from tests.common.threaded_server import served
from tests.conftest import Admin, Gateway

# about locks and concurrent workers: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases

CLIENT_FAULT = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>"
    b"<faultstring>unknown item</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
)


@pytest.fixture
def hub(fresh_database_url: str, tmp_path: Path) -> Iterator[Hub]:
    """A gateway of its own whose Shipment requests go to a stand-in receiver, its CLI."""
    with hub_on(fresh_database_url, tmp_path) as hub:
        hub.admin.ok("connector", "update", "WMS01_Fulfillment", "--url", hub.rx.url,
                     "--retry-base-delay", "0", "--retry-max-delay", "0")  # fmt: skip
        publish(hub.gw)
        yield hub


def submit(gw: Gateway, key: str, revision: str = "1", quantity: int = 10) -> str:
    imports = client(gw.base, "OrderImportService")
    request = {"Order": [order(key, [("AS54888", quantity)], revision=revision)]}
    return str(imports.service.createOrders(request=request)[0].OrderNumber)


def put(
    gw: Gateway,
    status: str,
    *,
    kind: str = "FULFILLMENT_REQUEST",
    lease: tuple[str, float] | None = None,
    error: str | None = "HTTP 503",
) -> tuple[int, str]:
    """An outbox row in a precise state (``lease``: owner, seconds from now); its ids."""
    with gw.runtime.sessions() as s, s.begin():
        cid = s.scalar(select(Connector.id).where(Connector.name == "WMS01_Fulfillment"))
        now = utcnow()
        row = OutboxMessage(
            message_id=f"urn:uuid:{uuid.uuid4()}",
            kind=kind,
            connector_id=None if kind == "EMAIL" else cid,
            order_number="4711",
            task_type="Shipment" if kind == "FULFILLMENT_REQUEST" else None,
            event_code="FlineStatusUpdate" if kind == "BUSINESS_EVENT" else None,
            recipients="ops@example.com" if kind == "EMAIL" else None,
            invocation_mode="ASYNC_SERVICE",
            operation="processFulfillmentRequest",
            soap_action="process",
            payload=b"<x/>",
            status=status,
            attempts=1,
            next_attempt_at=now + timedelta(hours=1),  # never due while a test runs
            uncertain=False,
            replays=0,
            last_error=error,
            lease_owner=lease[0] if lease else None,
            lease_until=now + timedelta(seconds=lease[1]) if lease else None,
            created_at=now,
        )
        s.add(row)
        s.flush()
        return row.id, row.message_id


def report(admin: Admin, code: int, *args: str) -> dict[str, Any]:
    result = admin(*args, "--json")
    assert result.exit_code == code, (args, result.output)
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


# -- park, then replay, with a running worker ------------------------------------------------


def test_park_stops_a_delivery_and_replay_resumes_it(hub, unique):
    gw, admin, rx = hub.gw, hub.admin, hub.rx
    number = submit(gw, unique)
    (queued,) = admin.json("messages", "list", "--order", number)
    oid, mid = queued["id"], queued["message_id"]
    assert queued["status"] == "READY"

    # a dry run says what it would do and changes nothing
    planned = report(admin, 0, "messages", "park", "--order", number, "--reason", "pause",
                     "--dry-run")  # fmt: skip
    assert (planned["dry_run"], planned["parked"], planned["selection"]) == (
        True, 1, f"status READY, order {number}"
    )  # fmt: skip
    assert [(m["verdict"], m["id"], m["was"]) for m in planned["messages"]] == [
        ("PARKED", oid, "READY")
    ]
    out = admin.ok("messages", "park", "--order", number, "--reason", "pause", "--dry-run")
    assert "would park" in out and "dry run: 1 message(s) would be parked" in out
    assert outbox(gw, oid).status == "READY" and outbox_audit(gw) == []

    out = admin.ok("--actor", "alice", "messages", "park", "--order", number,
                   "--reason", "WMS01 asked for a pause")  # fmt: skip
    assert out.splitlines()[-1] == (
        "1 message(s) parked: the worker does not send them until replayed"
    )
    row = outbox(gw, oid)
    assert (row.status, row.last_error, row.lease_owner) == (
        "PARKED", "parked by alice: WMS01 asked for a pause", None
    )  # fmt: skip
    ((actor, action, key, before, after),) = outbox_audit(gw)
    assert (actor, action, key) == ("alice", "park", mid)
    assert before["status"] == "READY"
    assert {k: after[k] for k in ("status", "reason", "id", "connector", "order_number")} == {
        "status": "PARKED", "reason": "WMS01 asked for a pause", "id": oid,
        "connector": "WMS01_Fulfillment", "order_number": number,
    }  # fmt: skip
    # a parked message counts as parked, whoever parked it: a person must act on it
    status = json.loads(fails(admin, 2, "status", "--json"))
    (view,) = [c for c in status["connectors"] if c["connector"] == "WMS01_Fulfillment"]
    assert (view["ready"], view["parked"]) == (0, 1)

    stop = threading.Event()
    worker = OutboxWorker(gw.runtime, name="running-worker")
    thread = threading.Thread(target=worker.run, args=(stop, 0.05))
    thread.start()
    try:
        time.sleep(1.0)  # twenty polls: a READY row would have gone by now
        assert rx.bodies == [] and outbox(gw, oid).status == "PARKED"
        admin.ok("--actor", "alice", "messages", "replay", "--id", str(oid))
        until(lambda: outbox(gw, oid).status == "DELIVERED", "the replayed request delivered", 20)
    finally:
        stop.set()
        thread.join(30)
    assert rx.message_ids() == [mid]  # the same message, sent once
    assert [(a, b) for a, b, _k, _x, _y in outbox_audit(gw)] == [
        ("alice", "park"),
        ("alice", "replay"),
    ]

    # delivered now: there is nothing left to park
    skipped = report(admin, 1, "messages", "park", "--id", str(oid), "--reason", "late")
    assert [(m["verdict"], m["reason"]) for m in skipped["messages"]] == [
        ("SKIPPED", "it was DELIVERED: nothing is left to send")
    ]
    assert skipped["error"]["code"] == "PARK_INCOMPLETE"
    assert len(outbox_audit(gw)) == 2


class _Gate:
    """A receiver that holds each request until ``open`` is set, then accepts it."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.open = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.arrived.set()
        self.open.wait(30)
        start_response("202 Accepted", [("Content-Type", "text/xml")])
        return [b""]


def test_a_message_being_sent_is_not_parked_under_the_worker(hub, unique):
    gw, admin = hub.gw, hub.admin
    gate = _Gate()
    with served(gate) as base:
        admin.ok("connector", "update", "WMS01_Fulfillment", "--url", f"{base}/wms")
        number = submit(gw, unique)
        (queued,) = admin.json("messages", "list", "--order", number)
        oid = queued["id"]
        worker = OutboxWorker(gw.runtime, name="busy-worker")
        done: list[Pass] = []
        thread = threading.Thread(target=lambda: done.append(worker.run_once()))
        thread.start()
        try:
            assert gate.arrived.wait(20), "the worker never sent the request"
            # the worker holds the lease while the receiver has not answered
            refused = report(admin, 1, "messages", "park", "--order", number, "--reason", "stop")
            ((item,),) = [refused["messages"]]
            assert (item["verdict"], item["was"]) == ("REFUSED", "READY")
            assert item["reason"].startswith("being sent by busy-worker right now; try again in ")
            assert 0 < item["retry_after"] <= 65
            assert refused["parked"] == 0 and refused["error"]["message"].startswith(
                f"busy right now: {oid} ("
            )
            out = fails(admin, 1, "messages", "park", "--id", str(oid), "--reason", "stop")
            assert "being sent by busy-worker right now" in out
            # discarding it by id is refused alike
            gone = report(admin, 1, "messages", "discard", "--id", str(oid), "--reason", "x",
                          "--force")  # fmt: skip
            assert gone["messages"][0]["verdict"] == "REFUSED"
            row = outbox(gw, oid)
            assert (row.status, row.lease_owner) == ("READY", "busy-worker")
        finally:
            gate.open.set()
            thread.join(30)
    # the send's outcome was recorded: nothing was set aside under the worker's feet
    assert done == [Pass(delivered=1)]
    assert outbox(gw, oid).status == "DELIVERED"
    assert outbox_audit(gw) == []


# -- discard ----------------------------------------------------------------------------------


def test_discard_needs_force_for_a_request_and_the_worker_never_sends_it(hub, unique):
    gw, admin, rx = hub.gw, hub.admin, hub.rx
    number = submit(gw, unique)
    (queued,) = admin.json("messages", "list", "--order", number)
    oid, mid = queued["id"], queued["message_id"]
    rx.script = [("500 Internal Server Error", CLIENT_FAULT)]
    worker = OutboxWorker(gw.runtime, name="test-worker")
    assert worker.run_once() == Pass(parked=1)

    refused = report(admin, 1, "messages", "discard", "--order", number, "--reason", "dup")
    (item,) = refused["messages"]
    assert (item["verdict"], item["was"], item["reason"]) == (
        "REFUSED", "PARKED",
        "a fulfillment request: discarded, its lines wait on a request that is never sent, "
        f"and order {number} must be handled by hand; force discards it anyway",
    )  # fmt: skip
    assert refused["error"] == {
        "code": "DISCARD_INCOMPLETE",
        "message": f"refused without force: {oid} ({mid}): fulfillment requests whose lines "
        "would wait on a request that is never sent; force discards them anyway, and their "
        "orders must then be handled by hand",
    }
    assert outbox(gw, oid).status == "PARKED" and outbox_audit(gw) == []
    # a dry run of the forced discard changes nothing either
    planned = report(admin, 0, "messages", "discard", "--order", number, "--reason", "dup",
                     "--force", "--dry-run")  # fmt: skip
    assert (planned["discarded"], planned["messages"][0]["verdict"]) == (1, "DISCARDED")
    assert outbox(gw, oid).status == "PARKED" and outbox_audit(gw) == []

    out = admin.ok("--actor", "bob", "messages", "discard", "--order", number,
                   "--reason", "entered twice; cancelled in the source", "--force")  # fmt: skip
    assert "forced: a fulfillment request" in out
    assert out.splitlines()[-1] == ("1 message(s) discarded: they are never sent or replayed again")
    row = outbox(gw, oid)
    assert (row.status, row.last_error) == (
        "DISCARDED", "discarded by bob: entered twice; cancelled in the source"
    )  # fmt: skip
    ((actor, action, key, before, after),) = outbox_audit(gw)
    assert (actor, action, key, before["status"]) == ("bob", "discard", mid, "PARKED")
    assert (after["status"], after["forced"]) == ("DISCARDED", True)

    # replay keeps it aside, and says why
    out = fails(admin, 1, "messages", "replay", "--id", str(oid))
    assert "DISCARDED (discarded by bob: entered twice; cancelled in the source): it is " \
           "never sent again" in out  # fmt: skip
    assert outbox(gw, oid).replays == 0
    # the worker never sends it, even once it would be due
    with gw.runtime.sessions() as s, s.begin():
        s.execute(update(OutboxMessage).where(OutboxMessage.id == oid)
                  .values(next_attempt_at=utcnow() - timedelta(minutes=1)))  # fmt: skip
    assert worker.run_once() == Pass()
    assert len(rx.bodies) == 1 and outbox(gw, oid).status == "DISCARDED"
    # discarded already: a second discard changes nothing
    again = report(admin, 1, "messages", "discard", "--id", str(oid), "--reason", "x", "--force")
    assert again["messages"][0]["reason"].startswith("already DISCARDED (discarded by bob")
    assert len(outbox_audit(gw)) == 1


def test_a_request_of_a_revised_order_is_discarded_without_force(hub, unique):
    gw, admin = hub.gw, hub.admin
    number = submit(gw, unique)
    (first,) = admin.json("messages", "list", "--order", number)
    assert submit(gw, unique, revision="2", quantity=4) == number  # withdraws the first
    with gw.runtime.sessions() as s, s.begin():  # say it had been parked meanwhile
        s.execute(update(OutboxMessage).where(OutboxMessage.id == first["id"])
                  .values(status="PARKED"))  # fmt: skip
    done = report(admin, 0, "messages", "discard", "--id", str(first["id"]), "--reason", "old")
    (item,) = done["messages"]
    assert (
        item["verdict"] == "DISCARDED"
        and "SUPERSEDED): the worker would discard it" in (item["reason"])
    )
    assert "error" not in done and outbox(gw, first["id"]).status == "DISCARDED"


# -- every state, through the API ---------------------------------------------------------------


def verdicts(result: SetAsideResult) -> dict[Any, tuple[str, str | None]]:
    return {i.id or i.message_id: (i.verdict, i.reason) for i in result.items}


def test_park_and_discard_judge_each_state(hub):
    gw = hub.gw
    ready = put(gw, "READY")
    sending = put(gw, "READY", lease=("w1", 30))
    stale = put(gw, "READY", lease=("dead-worker", -5))
    parked = put(gw, "PARKED")
    delivered = put(gw, "DELIVERED", error=None)
    discarded = put(gw, "DISCARDED", error="withdrawn")
    event = put(gw, "PARKED", kind="BUSINESS_EVENT")
    mail = put(gw, "READY", kind="EMAIL")
    every = (ready, sending, stale, parked, delivered, discarded, event, mail)
    named = MessageFilter(ids=(*(i for i, _m in every), 999999))

    with gw.runtime.sessions() as s, s.begin():
        parking = SetAside(s, "carol").park(named, reason="  partner\n asked ", dry_run=True)
    assert parking.reason == "partner asked" and parking.dry_run
    assert verdicts(parking) == {
        ready[0]: ("PARKED", None),
        sending[0]: ("REFUSED", "being sent by w1 right now; try again in 30 s"),
        stale[0]: ("PARKED", "the lease of dead-worker ran out during a send, which may have "
                   "reached the receiver: it is marked uncertain"),
        parked[0]: ("SKIPPED", "already PARKED: the worker does not send it"),
        delivered[0]: ("SKIPPED", "it was DELIVERED: nothing is left to send"),
        discarded[0]: ("SKIPPED", "DISCARDED (withdrawn): it is never sent again"),
        event[0]: ("SKIPPED", "already PARKED: the worker does not send it"),
        mail[0]: ("PARKED", None),
        "999999": ("SKIPPED", "no outbox message 999999"),
    }  # fmt: skip
    assert [i.retry_after for i in parking.refused] == [30] and parking.retry_after == 30
    shape = parking.to_json()
    assert list(shape) == ["action", "dry_run", "force", "reason", "selection", "parked",
                           "refused", "skipped", "messages", "error"]  # fmt: skip
    assert (shape["parked"], shape["refused"], shape["skipped"]) == (3, 1, 5)
    assert shape["messages"][0]["message_id"] == "999999"  # named, not found: first
    assert shape["messages"][1] == {
        "verdict": "PARKED", "id": ready[0], "message_id": ready[1],
        "connector": "WMS01_Fulfillment", "order_number": "4711", "task_type": "Shipment",
        "was": "READY", "reason": None, "kind": "FULFILLMENT_REQUEST", "event_code": None,
        "retry_after": None,
    }  # fmt: skip
    assert {outbox(gw, i).status for i in (ready[0], stale[0], mail[0])} == {"READY"}
    assert outbox_audit(gw) == []

    with gw.runtime.sessions() as s, s.begin():
        parking = SetAside(s, "carol").park(named, reason="partner asked")
    assert len(parking.changed) == 3
    row = outbox(gw, stale[0])
    assert (row.status, row.uncertain, row.lease_owner, row.lease_until) == (
        "PARKED", True, None, None
    )  # fmt: skip
    assert (outbox(gw, sending[0]).status, outbox(gw, sending[0]).lease_owner) == ("READY", "w1")
    assert sorted(k for _a, _b, k, _x, _y in outbox_audit(gw)) == sorted(
        m for _i, m in (ready, stale, mail)
    )

    # discard: a selection takes PARKED rows; READY ones only when named
    with gw.runtime.sessions() as s, s.begin():
        by_kind = SetAside(s, "carol").discard(MessageFilter(kind="BUSINESS_EVENT"), reason="old")
    assert by_kind.selection == "status PARKED, kind EVENT"
    assert verdicts(by_kind) == {event[0]: ("DISCARDED", None)}  # a notification: no force
    with gw.runtime.sessions() as s, s.begin():
        queued = SetAside(s, "carol").discard(
            MessageFilter(status="READY", connector="WMS01_Fulfillment"), reason="old"
        )
    assert verdicts(queued) == {
        sending[0]: ("SKIPPED", "READY: it is queued; park it first, or name it by id or "
                     "message id to discard it while queued"),
    }  # fmt: skip
    with gw.runtime.sessions() as s, s.begin():
        by_id = SetAside(s, "carol").discard(MessageFilter(ids=(sending[0],)), reason="old")
    assert by_id.items[0].verdict == "REFUSED" and by_id.items[0].retry_after
    assert outbox(gw, event[0]).status == "DISCARDED" and outbox(gw, sending[0]).status == "READY"


def test_a_selection_and_a_reason_are_required(hub):
    gw, admin = hub.gw, hub.admin
    (id_, _m) = put(gw, "READY")
    for command in ("park", "discard"):
        for args in ([], ["--status", "READY"], ["--dry-run"]):
            out = fails(admin, 2, "messages", command, *args, "--reason", "r")
            assert f"say which messages to {command}: --id, --message-id" in out
        assert "Missing option '--reason'" in fails(admin, 2, "messages", command, "--id", "1")
        assert "no connector named NOPE" in fails(
            admin, 1, "messages", command, "--connector", "NOPE", "--reason", "r"
        )
    with gw.runtime.sessions() as s, s.begin():
        with pytest.raises(Exception, match="say why the messages are PARKED"):
            SetAside(s, "x").park(MessageFilter(ids=(id_,)), reason=" \n")
        with pytest.raises(Exception, match="longer than 500 characters"):
            SetAside(s, "x").discard(MessageFilter(ids=(id_,)), reason="x" * 501)
    out = admin.ok("messages", "park", "--until", "2001-01-01", "--reason", "r")
    assert out.strip() == (
        "nothing to park: no message matches (status READY, created before "
        "2001-01-01T00:00:00+00:00)"
    )
    assert outbox(gw, id_).status == "READY" and outbox_audit(gw) == []


def test_two_admins_at_once_set_each_row_aside_once(hub):
    """The first admin's transaction holds the row. On PostgreSQL the second is not kept
    waiting (SKIP LOCKED): the row is refused as busy. On SQLite the second waits for the
    first's write lock, then finds the row parked already."""
    gw = hub.gw
    (id_, _m) = put(gw, "READY")
    wanted = MessageFilter(ids=(id_,))
    first = gw.runtime.sessions()
    first.begin()
    mine = SetAside(first, "alice").park(wanted, reason="first")
    theirs: list[SetAsideResult] = []

    def other() -> None:
        with gw.runtime.sessions() as s, s.begin():
            theirs.append(SetAside(s, "bob").park(wanted, reason="second"))

    thread = threading.Thread(target=other)
    thread.start()
    postgres = gw.runtime.settings.database_url.startswith("postgresql")
    try:
        thread.join(5 if postgres else 0.5)
        assert thread.is_alive() is not postgres  # only SQLite waits for the first admin
    finally:
        first.commit()
        first.close()
        thread.join(30)
    assert [i.verdict for i in mine.items] == ["PARKED"]
    (item,) = theirs[0].items
    if postgres:
        assert (item.verdict, item.retry_after) == ("REFUSED", 1)
        assert item.reason is not None and item.reason.startswith("another transaction holds it")
    else:
        assert (item.verdict, item.was) == ("SKIPPED", "PARKED")
    assert outbox(gw, id_).last_error == "parked by alice: first"
    assert [a for a, _b, _k, _x, _y in outbox_audit(gw)] == ["alice"]
