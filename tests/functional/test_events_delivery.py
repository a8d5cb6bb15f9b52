"""Delivering business events and e-mail when receivers misbehave, end to end: a real
gateway and outbox worker, the simulated fulfillment system, simulated subscribers and an
SMTP server (aiosmtpd) on 127.0.0.1, on SQLite and PostgreSQL.

A subscriber that is down, refuses a payload or answers too slowly; two subscribers of
which one is down; e-mail with and without an SMTP server, refused and unreachable; and
orders that raise nothing. Each test asserts exactly what every receiver got, in order,
and the final outbox rows; replay re-sends the stored message with its MessageID.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.resilience import BreakerSettings
from gateway.outbox.message_filter import MessageFilter
from gateway.outbox.replay import Replayer
from gateway.outbox.replay_verdicts import ReplayResult
from gateway.outbox.worker import OutboxWorker
from gateway.persistence.models import (
    Connector,
    ConnectorHealth,
    DeliveryAttempt,
    OutboxMessage,
)
from gateway.runtime import Runtime
from tests.common.event_flow import Events, events_flow
from tests.common.flow import drive, run_until
from tests.common.processes import refused_port, until
from tests.common.smtp import Mailbox, smtp_server

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases

SENDER = "omgw@example.com"
OPS, CS = "ops@example.com", "cs@example.com"
STATUS = "OrderHeaderStatusUpdate"
FLINE = "FlineStatusUpdate"
# DOO_DRAFT → OPEN, both lines SHIPPED, OPEN → CLOSED: the changes of a 2-line order
LIFE = [STATUS, FLINE, FLINE, STATUS]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


# -- helpers ----------------------------------------------------------------------------------


def points(*connectors: str, **extra: Any) -> list[dict[str, Any]]:
    """Trigger points for an order's whole life: OPEN, each line SHIPPED, CLOSED."""
    return [
        {"event": "ORDER_STATUS_UPDATE", "criterion": "OPEN", "connectors": list(connectors)}
        | extra,
        {"event": "FLINE_STATUS_UPDATE", "criterion": "SHIPPED", "connectors": list(connectors)}
        | extra,
        {"event": "ORDER_STATUS_UPDATE", "criterion": "CLOSED", "connectors": list(connectors)}
        | extra,
    ]


def rows(
    ev: Events, kind: str = "BUSINESS_EVENT", connector: str | None = None
) -> list[OutboxMessage]:
    """Outbox rows of one kind (and connector), in id order (the order they were written)."""
    wanted = None if connector is None else connector_id(ev, connector)
    return [
        m for m in ev.f.outbox() if m.kind == kind and (wanted is None or m.connector_id == wanted)
    ]


def connector_id(ev: Events, name: str) -> int:
    with ev.f.gw.runtime.read_sessions() as s:
        found = s.scalar(select(Connector.id).where(Connector.name == name))
    assert found is not None
    return int(found)


def health(ev: Events, name: str) -> tuple[str, int, str | None]:
    """A connector's breaker: (state, consecutive failures, last error)."""
    with ev.f.gw.runtime.read_sessions() as s:
        row = s.get(ConnectorHealth, connector_id(ev, name))
        assert row is not None, f"{name} has no breaker row"
        return row.state, row.failures, row.last_error


def attempts(ev: Events, outbox_id: int) -> list[tuple[int, str]]:
    with ev.f.gw.runtime.read_sessions() as s:
        return [
            (a.attempt, a.outcome)
            for a in s.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.outbox_id == outbox_id)
                .order_by(DeliveryAttempt.attempt, DeliveryAttempt.id)
            )
        ]


def replay(ev: Events, f: MessageFilter) -> ReplayResult:
    """What ``omgw messages replay`` does, in one transaction."""
    with ev.f.gw.runtime.sessions() as s, s.begin():
        return Replayer(s, "tests").replay(f)


def pushed_ids(ev: Events, name: str) -> list[str]:
    return [e["message_id"] for e in ev.subs[name].state()["events"]]


@contextmanager
def mail_worker(ev: Events, port: int) -> Iterator[OutboxWorker]:
    """A worker whose settings name an SMTP server on 127.0.0.1:``port``."""
    settings = replace(
        ev.f.gw.runtime.settings,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_sender=SENDER,
        smtp_timeout=5.0,
    )
    runtime = Runtime(settings)
    try:
        yield OutboxWorker(runtime, breaker=BreakerSettings(failure_threshold=3, cool_down=0.3))
    finally:
        runtime.close()


# -- 1. a subscriber that is down for a while -------------------------------------------------


def test_a_subscriber_down_for_a_while_loses_nothing_and_gets_its_events_in_order_on_replay(
    fresh_database_url, home, unique
):
    with events_flow(fresh_database_url, home) as ev:
        ev.triggers(*points("SUB_A"))
        sub = ev.subs["SUB_A"]
        sub.control(down=True)
        ev.f.cool_down = 0.1  # the breaker holds the queue this long after each failure
        number = ev.submit(f"DN{unique}", [("AS54888", 2), ("CM5008", 1)])
        (opened,) = rows(ev)
        worker = ev.f.worker()
        # one pass: the shipment request goes out, the first event fails (503)
        assert worker.run_once().total == 2
        until(
            lambda: len(rows(ev)) == 3, "three events", 20
        )  # the shipment came back: both lines SHIPPED
        first, *later = rows(ev)
        assert first.id == opened.id
        assert (first.status, first.attempts, first.last_error) == ("READY", 1, "HTTP 503")
        assert [(m.event_code, m.status, m.attempts) for m in later] == [
            (FLINE, "READY", 0),
            (FLINE, "READY", 0),
        ]
        # the next pass tries the first event again, and still not the later ones (the
        # invoice goes too: its answer may already have queued the CLOSED event)
        worker.run_once()
        first, *later = rows(ev)
        assert (first.status, first.attempts) == ("READY", 2)
        assert [m.event_code for m in later] in (LIFE[1:3], LIFE[1:])
        assert {(m.status, m.attempts) for m in later} == {("READY", 0)}

        # fulfillment is not held by the event connector: the order closes meanwhile
        run_until(ev.f, lambda: ev.f.status(number) == "CLOSED" and ev.events_settled())
        events = rows(ev)
        assert [m.event_code for m in events] == LIFE
        assert [(m.status, m.attempts) for m in events] == [("PARKED", 3)] * 4
        assert {m.last_error for m in events} == {"gave up after 3 attempts; last: HTTP 503"}
        for m in events:
            assert attempts(ev, m.id) == [(1, "RETRY"), (2, "RETRY"), (3, "PARKED")]
        requests_ = rows(ev, "FULFILLMENT_REQUEST")
        assert [(m.task_type, m.status, m.attempts) for m in requests_] == [
            ("Shipment", "DELIVERED", 1),
            ("Invoice", "DELIVERED", 1),
        ]
        state = sub.state()
        assert (state["pushes"], state["failed"], state["received"]) == (12, 12, 0)
        # the event connector's breaker opened; the fulfillment connector's never did
        assert health(ev, "SUB_A") == ("OPEN", 12, "HTTP 503")
        assert health(ev, ev.f.connector)[:2] == ("CLOSED", 0)

        before = {m.id: (m.message_id, m.payload, m.created_at) for m in events}
        sub.control(down=False)
        result = replay(ev, MessageFilter(status="PARKED", connector="SUB_A"))
        assert [(i.id, i.verdict, i.was) for i in result.items] == [
            (m.id, "REPLAYED", "PARKED") for m in events
        ]
        assert all("circuit breaker is OPEN" in (i.reason or "") for i in result.items)
        run_until(ev.f, ev.events_settled)

        # each event once, in the order the changes happened, as first written
        events = rows(ev)
        assert ev.received("SUB_A") == LIFE
        assert pushed_ids(ev, "SUB_A") == [m.message_id for m in events]
        state = sub.state(xml=True)
        assert (state["received"], state["duplicates"], state["invalid"]) == (4, 0, 0)
        assert {e["times_received"] for e in state["events"]} == {1}
        assert [(m.status, m.attempts, m.replays) for m in events] == [("DELIVERED", 1, 1)] * 4
        assert {m.id: (m.message_id, m.payload, m.created_at) for m in events} == before
        opened_, ship1, ship2, closed = ev.payloads("SUB_A")
        assert (opened_.status_prior_value, opened_.status_new_value) == ("DOO_DRAFT", "OPEN")
        assert (closed.status_prior_value, closed.status_new_value) == ("OPEN", "CLOSED")
        shipped_lines = [p.lines[0].fulfillment_lines[0] for p in (ship1, ship2)]
        assert {fl.status_code_new_value for fl in shipped_lines} == {"SHIPPED"}
        assert sorted(fl.fulfillment_order_line_id for fl in shipped_lines) == [
            fl.id for fl in ev.f.flines(number)
        ]
        assert health(ev, "SUB_A")[:2] == ("CLOSED", 0)


# -- 2. a SOAP Client fault -------------------------------------------------------------------


def test_a_client_fault_parks_the_event_at_once_and_a_replay_delivers_it(
    fresh_database_url, home, unique
):
    with events_flow(fresh_database_url, home) as ev:
        ev.triggers(points("SUB_A")[0])
        sub = ev.subs["SUB_A"]
        sub.control(client_fault_rate=1.0)
        number = ev.submit(f"CF{unique}", [("AS54888", 1)])
        result = ev.f.worker().run_once()
        assert (result.delivered, result.parked) == (1, 1)  # the shipment request, the event
        (event,) = rows(ev)
        assert (event.status, event.attempts, event.last_http_status) == ("PARKED", 1, 500)
        assert event.last_error == (
            "SOAP fault Client: simulated fault: payload refused by the subscriber"
        )
        assert attempts(ev, event.id) == [(1, "PARKED")]
        # not retried: later passes leave it alone
        run_until(ev.f, lambda: ev.f.status(number) == "CLOSED" and ev.f.settled())
        assert (sub.state()["pushes"], sub.state()["failed"]) == (1, 1)
        assert rows(ev)[0].attempts == 1
        # the subscriber answered: its breaker stays closed
        assert health(ev, "SUB_A")[:2] == ("CLOSED", 0)

        sub.control(client_fault_rate=0.0)
        done = replay(ev, MessageFilter(status="PARKED", connector="SUB_A"))
        assert [(i.id, i.verdict, i.reason) for i in done.items] == [(event.id, "REPLAYED", None)]
        run_until(ev.f, ev.events_settled)
        (after,) = rows(ev)
        assert (after.status, after.attempts, after.replays) == ("DELIVERED", 1, 1)
        assert pushed_ids(ev, "SUB_A") == [event.message_id]
        assert after.payload == event.payload
        state = sub.state()
        assert (state["pushes"], state["received"], state["duplicates"]) == (2, 1, 0)


# -- 3. a slow subscriber ---------------------------------------------------------------------


def test_a_slow_subscriber_gets_the_same_message_again_and_records_it_once(
    fresh_database_url, home, unique
):
    with events_flow(fresh_database_url, home) as ev:
        ev.triggers(points("SUB_A")[0])
        sub = ev.subs["SUB_A"]
        sub.control(delay=2.5)  # the connector waits 2 s
        number = ev.submit(f"SL{unique}", [("AS54888", 1)])
        result = ev.f.worker().run_once()
        assert (result.delivered, result.retried) == (1, 1)
        (event,) = rows(ev)
        assert event.order_number == number
        assert (event.status, event.attempts, event.uncertain) == ("READY", 1, True)
        assert event.last_error == "no answer within 2 s (it may have been received)"
        assert attempts(ev, event.id) == [(1, "RETRY")]
        # the subscriber had it (it records, then is slow to answer)
        assert pushed_ids(ev, "SUB_A") == [event.message_id]

        sub.control(delay=0.0)
        run_until(ev.f, ev.events_settled)
        (after,) = rows(ev)
        assert (after.status, after.attempts, after.uncertain) == ("DELIVERED", 2, True)
        assert attempts(ev, event.id) == [(1, "RETRY"), (2, "DELIVERED")]
        # the same MessageID came twice: recorded once, the copy counted as a duplicate
        state = sub.state()
        assert ev.received("SUB_A") == [STATUS]
        assert [(e["message_id"], e["times_received"]) for e in state["events"]] == [
            (event.message_id, 2)
        ]
        assert (state["pushes"], state["received"], state["duplicates"]) == (2, 1, 1)
        assert health(ev, "SUB_A")[:2] == ("CLOSED", 0)


# -- 4. two subscribers -----------------------------------------------------------------------


def test_a_subscriber_that_is_down_does_not_hold_another_subscribers_events(
    fresh_database_url, home, unique
):
    with events_flow(fresh_database_url, home, ("SUB_A", "SUB_B")) as ev:
        ev.triggers(*points("SUB_A", "SUB_B"))
        ev.subs["SUB_A"].control(down=True)
        ev.f.cool_down = 0.1
        number = ev.submit(f"TW{unique}", [("AS54888", 2), ("CM5008", 1)])
        worker = ev.f.worker()
        worker.run_once()
        # (the shipment may be back already: its events are queued behind these)
        a_open, *_ = rows(ev, connector="SUB_A")
        b_open, *_ = rows(ev, connector="SUB_B")
        assert a_open.event_code == b_open.event_code == STATUS
        assert (a_open.status, a_open.attempts) == ("READY", 1)
        assert (b_open.status, b_open.attempts) == ("DELIVERED", 1)

        run_until(ev.f, lambda: ev.f.status(number) == "CLOSED" and ev.events_settled())
        a_rows, b_rows = rows(ev, connector="SUB_A"), rows(ev, connector="SUB_B")
        assert [m.event_code for m in b_rows] == [m.event_code for m in a_rows] == LIFE
        assert [(m.status, m.attempts) for m in b_rows] == [("DELIVERED", 1)] * 4
        assert [(m.status, m.attempts) for m in a_rows] == [("PARKED", 3)] * 4
        assert ev.received("SUB_B") == LIFE
        assert pushed_ids(ev, "SUB_B") == [m.message_id for m in b_rows]
        assert ev.received("SUB_A") == []
        # B had its last event while A's were still being tried
        delivered = [m.delivered_at for m in b_rows]
        parked = [m.parked_at for m in a_rows]
        assert None not in delivered and None not in parked
        assert max(d for d in delivered if d) < max(p for p in parked if p)
        assert health(ev, "SUB_A")[0] == "OPEN"
        assert health(ev, "SUB_B")[:2] == ("CLOSED", 0)
        assert ev.subs["SUB_B"].state()["duplicates"] == 0


# -- 5. e-mail --------------------------------------------------------------------------------


def one_line(text: str) -> str:
    """A header as a reader sees it, white space collapsed: Python folds a long subject
    before its encoded "→" leaving a space on both sides of the fold."""
    return " ".join(text.split())


def test_each_event_is_mailed_once_from_the_sender_to_the_recipients(
    fresh_database_url, home, unique
):
    box = Mailbox()
    with events_flow(fresh_database_url, home) as ev, smtp_server(box) as port:
        first, _shipped, closed = points("SUB_A", send_email=True, email_to=[OPS, CS])
        ev.triggers(first, closed)
        number = ev.submit(f"EM{unique}", [("AS54888", 1)])
        with mail_worker(ev, port) as worker:
            drive(worker, lambda: ev.f.status(number) == "CLOSED" and ev.events_settled())
        mails = rows(ev, "EMAIL")
        assert [(m.event_code, m.status, m.attempts) for m in mails] == [
            (STATUS, "DELIVERED", 1),
            (STATUS, "DELIVERED", 1),
        ]
        assert {m.recipients for m in mails} == {f"{OPS},{CS}"}
        # the events went to the subscriber as well
        assert ev.received("SUB_A") == [STATUS, STATUS]

        got = box.messages()
        assert len(got) == 2
        assert [(e.mail_from, e.rcpt_tos) for e in box.envelopes] == [(SENDER, [OPS, CS])] * 2
        changes = ("DOO_DRAFT → OPEN", "OPEN → CLOSED")
        for msg, row, change in zip(got, mails, changes, strict=True):
            assert (msg["From"], msg["To"]) == (SENDER, f"{OPS}, {CS}")
            assert one_line(msg["Subject"]) == (
                f"[omgw] Order {number} (SO-EM{unique}) status update: {change}"
            )
            assert msg["Message-ID"] == f"<{row.message_id.removeprefix('urn:uuid:')}@omgw>"
            body = msg.get_content().splitlines()
            assert body[:2] == [f"Event:        {STATUS}", f"Order:        {number} (header id 1)"]
            assert f"Change:       {change}" in body


def test_mail_without_smtp_or_refused_is_parked_and_delivered_on_replay_and_unreachable_retries(
    fresh_database_url, home, unique
):
    box = Mailbox()
    with events_flow(fresh_database_url, home) as ev:
        ev.triggers(points("SUB_A", send_email=True, email_to=[OPS])[0])
        # no SMTP server configured (the default): parked, saying what to set
        assert ev.f.gw.runtime.settings.smtp_host is None
        unset = ev.submit(f"NS{unique}", [("AS54888", 1)])
        run_until(ev.f, lambda: rows(ev, "EMAIL")[0].attempts > 0)
        (no_smtp,) = rows(ev, "EMAIL")
        assert (no_smtp.status, no_smtp.attempts, no_smtp.connector_id) == ("PARKED", 1, None)
        assert no_smtp.last_error == (
            "no SMTP server is configured; set OMGW_SMTP_HOST (and replay this message)"
        )
        assert attempts(ev, no_smtp.id) == [(1, "PARKED")]
        assert ev.received("SUB_A") == [STATUS]  # the event went out: the mail is apart

        # a server that answers 550 to RCPT: parked, with its answer
        box.refuse = "550 5.1.1 <ops@example.com>: mailbox unavailable"
        refused_order = ev.submit(f"RF{unique}", [("AS54888", 1)])
        with smtp_server(box) as port:
            with mail_worker(ev, port) as worker:
                drive(worker, lambda: rows(ev, "EMAIL")[-1].attempts > 0)
            _, refused = rows(ev, "EMAIL")
            assert (refused.order_number, refused.status, refused.attempts) == (
                refused_order,
                "PARKED",
                1,
            )
            assert refused.last_error == (
                "every recipient was refused: ops@example.com: SMTP 550 5.1.1 "
                "<ops@example.com>: mailbox unavailable (RCPT TO)"
            )
            assert box.envelopes == []
            assert rows(ev, "EMAIL")[0].attempts == 1  # the parked one was left alone

            # SMTP configured and the recipient taken: a replay delivers both, as written
            box.refuse = None
            done = replay(ev, MessageFilter(ids=(no_smtp.id, refused.id)))
            assert [(i.id, i.verdict, i.was) for i in done.items] == [
                (no_smtp.id, "REPLAYED", "PARKED"),
                (refused.id, "REPLAYED", "PARKED"),
            ]
            with mail_worker(ev, port) as worker:
                drive(worker, lambda: {m.status for m in rows(ev, "EMAIL")} == {"DELIVERED"})
        mails = rows(ev, "EMAIL")
        assert [(m.id, m.attempts, m.replays) for m in mails] == [
            (no_smtp.id, 1, 1),
            (refused.id, 1, 1),
        ]
        assert [m.payload for m in mails] == [no_smtp.payload, refused.payload]
        # one message each (sent side by side: in either order), with the row's id
        subjects = {m["Message-ID"]: one_line(m["Subject"]) for m in box.messages()}
        assert len(box.envelopes) == 2
        assert subjects == {
            f"<{m.message_id.removeprefix('urn:uuid:')}@omgw>": (
                f"[omgw] Order {m.order_number} (SO-{key}{unique}) status update: DOO_DRAFT → OPEN"
            )
            for m, key in zip(mails, ("NS", "RF"), strict=True)
        }
        assert [m.order_number for m in mails] == [unset, refused_order]

        # nothing listening on the port: tried again later
        ev.submit(f"UR{unique}", [("AS54888", 1)])
        with refused_port() as dead, mail_worker(ev, dead) as worker:
            drive(worker, lambda: rows(ev, "EMAIL")[-1].attempts > 0)
        *_, unreachable = rows(ev, "EMAIL")
        assert (unreachable.status, unreachable.attempts, unreachable.uncertain) == (
            "READY",
            1,
            False,
        )
        assert unreachable.last_error == f"connection refused by 127.0.0.1:{dead}"
        assert attempts(ev, unreachable.id) == [(1, "RETRY")]


# -- 6. nothing raised without a trigger point ------------------------------------------------


def test_events_are_raised_only_by_trigger_points_that_raise_or_mail(
    fresh_database_url, home, unique
):
    with events_flow(fresh_database_url, home) as ev:

        def run(key: str) -> str:
            number = ev.submit(key, [("AS54888", 2), ("CM5008", 1)])
            run_until(ev.f, lambda: ev.f.status(number) == "CLOSED" and ev.f.settled())
            return number

        # no trigger points at all
        run(f"N1{unique}")
        assert {m.kind for m in ev.f.outbox()} == {"FULFILLMENT_REQUEST"}
        # trigger points for every change, that neither raise nor mail
        ev.triggers(*points("SUB_A", raise_event=False, send_email=False))
        run(f"N2{unique}")
        assert {m.kind for m in ev.f.outbox()} == {"FULFILLMENT_REQUEST"}
        assert ev.subs["SUB_A"].state()["pushes"] == 0
        # one that raises, for SHIPPED: one event per fulfillment line
        ev.triggers(points("SUB_A")[1])
        number = run(f"N3{unique}")
        events = [m for m in ev.f.outbox() if m.kind != "FULFILLMENT_REQUEST"]
        assert [(m.kind, m.event_code, m.order_number) for m in events] == [
            ("BUSINESS_EVENT", FLINE, number)
        ] * 2
        assert ev.received("SUB_A") == [FLINE, FLINE]
        shipped = sorted(p.lines[0].fulfillment_lines[0].fulfillment_order_line_id
                         for p in ev.payloads("SUB_A"))  # fmt: skip
        assert shipped == [fl.id for fl in ev.f.flines(number)]
