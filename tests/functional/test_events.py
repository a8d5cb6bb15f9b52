"""Business events end to end: a real gateway and outbox worker, the simulated
fulfillment system and one or two simulated subscribers on 127.0.0.1. Orders run
through statuses, holds, a split and a jeopardy; each test asserts exactly which events
each subscriber received, in order, in Oracle's payload (validated by the subscriber
against the published XSD)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import event, select

from connectors.push_payload import EVENTS_NS
from connectors.trigger_points import JeopardyThresholdSpec
from gateway.errors import GatewayError
from gateway.orders.hold_service import HoldService
from gateway.orders.jeopardy import JeopardyCheck, check_in_batches
from gateway.persistence.models import MessageLog, OrderHeader
from gateway.registry.trigger_store import TriggerStore
from tests.common.event_flow import events_flow
from tests.common.flow import run_until
from tests.common.orders import response, shipped
from tests.common.soap import client

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


STATUS_POINTS = (
    {"event": "ORDER_STATUS_UPDATE", "criterion": "OPEN", "connectors": ["SUB_A"]},
    {"event": "ORDER_STATUS_UPDATE", "criterion": "CLOSED", "connectors": ["SUB_A", "SUB_B"]},
    {"event": "FLINE_STATUS_UPDATE", "criterion": "SHIPPED", "connectors": ["SUB_A"]},
    {"event": "FLINE_CLOSED", "connectors": ["SUB_B"]},
    {"event": "HOLD", "connectors": ["SUB_A", "SUB_B"]},
)


def test_subscribers_receive_exactly_their_trigger_points_events_in_order(
    fresh_database_url, home, unique
):
    with events_flow(fresh_database_url, home, ("SUB_A", "SUB_B")) as ev:
        ev.triggers(*STATUS_POINTS)
        number = ev.submit(
            f"E{unique}",
            [("AS54888", 4), ("CM5008", 2)],
            Hold=[{"HoldCode": "CREDIT_CHECK", "HoldComments": "over the limit"}],
        )
        # held at intake: scheduled, nothing requested
        assert [fl.status for fl in ev.f.flines(number)] == ["SCHEDULED", "SCHEDULED"]
        assert ev.f.outbox() and all(m.kind == "BUSINESS_EVENT" for m in ev.f.outbox())
        run_until(ev.f, ev.events_settled)
        assert ev.received("SUB_A") == ["HOLD", "OrderHeaderStatusUpdate"]
        assert ev.received("SUB_B") == ["HOLD"]

        with ev.f.gw.runtime.sessions() as s, s.begin():
            _row, requested = HoldService(
                s, "tests", reply_to=ev.f.gw.runtime.settings.reply_to
            ).release(number, "CREDIT_CHECK", "paid")
            assert len(requested) == 2
        run_until(ev.f, lambda: ev.f.status(number) == "CLOSED" and ev.events_settled())

        assert ev.received("SUB_A") == [
            "HOLD",
            "OrderHeaderStatusUpdate",
            "HOLD",
            "FlineStatusUpdate",
            "FlineStatusUpdate",
            "OrderHeaderStatusUpdate",
        ]
        assert ev.received("SUB_B") == [
            "HOLD",
            "HOLD",
            "FlineClosed",
            "FlineClosed",
            "OrderHeaderStatusUpdate",
        ]
        a = ev.payloads("SUB_A")
        assert (a[0].hold_code, a[0].hold_comments) == ("CREDIT_CHECK", "over the limit")
        assert (a[1].status_prior_value, a[1].status_new_value) == ("DOO_DRAFT", "OPEN")
        assert (a[2].hold_code, a[2].hold_comments) == ("CREDIT_CHECK", "Released: paid")
        assert [
            ln.fulfillment_lines[0].status_code_new_value for ln in (a[3].lines[0], a[4].lines[0])
        ] == ["SHIPPED", "SHIPPED"]
        assert a[3].lines[0].fulfillment_lines[0].status_code_old_value == "AWAIT_SHIP"
        assert (a[5].status_prior_value, a[5].status_new_value) == ("OPEN", "CLOSED")
        assert {h.orchestration_order_number for h in (a[0], a[1], a[5])} == {number}
        b = ev.payloads("SUB_B")
        closed = b[2].lines[0]
        assert (
            closed.fulfillment_lines[0].cancel_flag_old_value,
            closed.fulfillment_lines[0].cancel_flag_new_value,
        ) == ("N", "N")
        # each push was one OrderHeader, validated by the subscriber, sent once
        for sub in ev.subs.values():
            state = sub.state()
            assert state["invalid"] == 0 and state["duplicates"] == 0
            assert all(e["orders"] == 1 for e in state["events"])
        # every event row delivered on its first attempt, in id order per subscriber
        rows = [m for m in ev.f.outbox() if m.kind == "BUSINESS_EVENT"]
        assert {(m.status, m.attempts) for m in rows} == {("DELIVERED", 1)}


def test_a_held_line_refuses_its_shipment_until_released(fresh_database_url, home, unique):
    with events_flow(fresh_database_url, home) as ev:
        ev.triggers({"event": "HOLD", "connectors": ["SUB_A"]})
        number = ev.submit(f"H{unique}", [("AS54888", 1)])
        with ev.f.gw.runtime.sessions() as s, s.begin():
            HoldService(s, "tests").apply(number, "QA", "inspect first", line_number=1)
        with (
            ev.f.gw.runtime.sessions() as s2,
            s2.begin(),
            pytest.raises(GatewayError) as again,
        ):
            HoldService(s2, "tests").apply(number, "QA", line_number=1)
        assert again.value.code == "ALREADY_EXISTS"
        # the request was queued before the hold: it goes out, and the shipment that
        # comes back is refused while the line is held
        run_until(
            ev.f,
            lambda: [r["callback_status"] for r in ev.f.sim.state()["requests"]] == ["error"],
        )
        (fl,) = ev.f.flines(number)
        assert fl.status == "AWAIT_SHIP"
        with ev.f.gw.runtime.read_sessions() as rs:
            faults = rs.scalars(
                select(MessageLog.fault_code).where(
                    MessageLog.operation == "processFulfillmentResponse"
                )
            ).all()
        assert faults and all("LINE_ON_HOLD" in (f or "") for f in faults)
        with ev.f.gw.runtime.sessions() as s3, s3.begin():
            _row, requested = HoldService(s3, "tests").release(number, "QA", line_number=1)
            assert requested == []  # it was already requested
            with pytest.raises(GatewayError) as gone:
                HoldService(s3, "tests").release(number, "QA", line_number=1)
        assert gone.value.code == "HOLD_NOT_FOUND"
        # sent again after the release, the shipment applies
        answer = client(ev.f.gw.base, "OrderFulfillmentResponseService").service
        answer.processFulfillmentResponse(**response(f"R{unique}", [shipped(fl.id)]))
        assert ev.f.flines(number)[0].status in ("AWAIT_BILLING", "SHIPPED")
        run_until(ev.f, ev.events_settled)
        assert ev.received("SUB_A") == ["HOLD", "HOLD"]
        applied, released = ev.payloads("SUB_A")
        assert [ln.orchestration_order_line_number for ln in applied.lines] == [1]
        assert applied.lines[0].fulfillment_lines[0].hold_code == "QA"
        assert released.hold_comments == "Released"


def test_a_partial_shipment_raises_split_with_the_pre_split_quantity(
    fresh_database_url, home, unique
):
    with events_flow(fresh_database_url, home, partial_rate=1.0) as ev:
        ev.triggers({"event": "SPLIT", "connectors": ["SUB_A"]})
        number = ev.submit(f"S{unique}", [("AS54888", 10)])
        run_until(
            ev.f,
            lambda: (
                any(
                    fl.status == "AWAIT_BILLING" or fl.status == "CLOSED"
                    for fl in ev.f.flines(number)
                )
                and ev.events_settled()
                and len(ev.received("SUB_A")) == 1
            ),
        )
        assert ev.received("SUB_A") == ["SPLIT"]
        (split,) = ev.payloads("SUB_A")
        line = split.lines[0]
        flines = ev.f.flines(number)
        assert line.pre_split_ordered_quantity == 10
        assert [
            (f.fulfillment_order_line_id, f.ordered_quantity) for f in line.fulfillment_lines
        ] == [(fl.id, int(fl.quantity)) for fl in flines]
        shipped = line.fulfillment_lines[0].shipped_quantity
        assert shipped == int(flines[0].shipped_quantity) and 0 < shipped < 10
        assert line.fulfillment_lines[1].shipped_quantity == 0


def test_the_workers_jeopardy_check_commits_batch_by_batch_and_raises_each_rise_once(
    fresh_database_url, home, unique
):
    """The worker checks a batch of lines per transaction, so an inbound message waits
    for one batch at most, not for every open line; the batches together check each
    line once, as one transaction would."""
    with events_flow(fresh_database_url, home) as ev:
        ev.triggers({"event": "JEOPARDY", "criterion": "HIGH", "connectors": ["SUB_A"]})
        runtime = ev.f.gw.runtime
        with runtime.sessions() as s, s.begin():
            TriggerStore(s, "tests").replace_thresholds([JeopardyThresholdSpec("HIGH", 1440)])
        numbers = [ev.submit(f"JB{unique}-{i}", [("AS54888", 1)] * 2) for i in range(3)]
        with runtime.read_sessions() as s:
            created = max(
                s.scalars(
                    select(OrderHeader.created_at).where(OrderHeader.order_number.in_(numbers))
                )
            )
        at = created + timedelta(minutes=3000 + 2000)

        @contextmanager
        def transaction() -> Iterator[Any]:
            with runtime.sessions() as s, s.begin():
                yield s

        commits: list[object] = []

        def count(conn: object) -> None:
            commits.append(conn)

        event.listen(runtime.engine, "commit", count)
        try:
            report = check_in_batches(transaction, at, batch=4)
        finally:
            event.remove(runtime.engine, "commit", count)
        mine = [ln for ln in report.lines if ln.order_number in numbers]
        assert len(mine) == 6 and {ln.priority for ln in mine} == {"HIGH"}
        assert len({ln.fulfill_line_id for ln in report.lines}) == report.checked
        assert len(commits) == report.checked // 4 + 1  # a transaction per batch of 4
        raised = [m for m in ev.f.outbox() if m.event_code == "JEOPARDY"]
        assert len(report.raised) >= 6 and raised
        # checked again in one transaction: nothing rises twice
        with runtime.sessions() as s, s.begin():
            again = JeopardyCheck(s).run(at)
        assert again.raised == [] and again.checked == report.checked
        assert len([m for m in ev.f.outbox() if m.event_code == "JEOPARDY"]) == len(raised)


def test_jeopardy_raises_when_the_priority_rises_to_an_enabled_level(
    fresh_database_url, home, unique
):
    with events_flow(fresh_database_url, home) as ev:
        ev.triggers(
            {"event": "JEOPARDY", "criterion": "HIGH", "connectors": ["SUB_A"]},
        )
        with ev.f.gw.runtime.sessions() as s, s.begin():
            TriggerStore(s, "tests").replace_thresholds(
                [
                    JeopardyThresholdSpec("LOW", 0, 60),
                    JeopardyThresholdSpec("MEDIUM", 60, 1440),
                    JeopardyThresholdSpec("HIGH", 1440),
                ]
            )
        number = ev.submit(f"J{unique}", [("AS54888", 1)])  # nothing drains: stays AWAIT_SHIP
        with ev.f.gw.runtime.read_sessions() as s:
            created = s.scalar(
                select(OrderHeader.created_at).where(OrderHeader.order_number == number)
            )
        # the Ship step is due 3000 minutes after submission (60 + 60 + 2880)
        checks = [
            (3000 - 5, None),
            (3000 + 5, "LOW"),
            (3000 + 120, "MEDIUM"),
            (3000 + 2000, "HIGH"),
            (3000 + 3000, "HIGH"),
        ]
        for minutes, expected in checks:
            with ev.f.gw.runtime.sessions() as s, s.begin():
                report = JeopardyCheck(s).run(created + timedelta(minutes=minutes))
            mine = [ln for ln in report.lines if ln.order_number == number]
            assert [ln.priority for ln in mine] == [expected]
        (fl,) = ev.f.flines(number)
        assert (fl.jeopardy_priority, fl.jeopardy_delay_minutes) == ("HIGH", 3000)
        # LOW and MEDIUM rises are not enabled; HIGH is, once (the repeat did not rise)
        jeopardy = [m for m in ev.f.outbox() if m.kind == "BUSINESS_EVENT"]
        assert [m.event_code for m in jeopardy] == ["JEOPARDY"]
        root = etree.fromstring(jeopardy[0].payload)
        (line,) = root.iter(f"{{{EVENTS_NS}}}OrderLine")
        assert line.findtext(f"{{{EVENTS_NS}}}EventCode") == "JEOPARDY"
        assert root.find(f".//{{{EVENTS_NS}}}OrderHeader/{{{EVENTS_NS}}}EventCode") is None
        run_until(ev.f, ev.events_settled)
        assert ev.received("SUB_A") == ["JEOPARDY"]
        assert ev.payloads("SUB_A")[0].lines[0].fulfillment_lines[0].jeopardy_priority == "HIGH"
