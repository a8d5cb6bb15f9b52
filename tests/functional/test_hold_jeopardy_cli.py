"""``omgw hold apply|release|list`` and ``omgw jeopardy check`` through the real CLI, on
SQLite and PostgreSQL: what each does to the order, the events it queues, and the one
sentence each mistake gets."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from gateway.config import Settings
from gateway.orders.intake import OrderIntake
from gateway.orders.message_values import LineInput, OrderInput
from gateway.persistence.models import FulfillLine, OrderHeader, OutboxMessage
from gateway.runtime import Runtime
from tests.conftest import Admin


def _runtime(admin: Admin) -> Runtime:
    env = {k: v for k, v in admin.env.items() if v is not None}
    return Runtime(Settings.from_env(env))


def _order(admin: Admin, key: str, lines: int = 2) -> str:
    admin.ok("source-system", "add", "LEGACY", "--order-capture")
    runtime = _runtime(admin)
    try:
        with runtime.sessions() as s, s.begin():
            outcome = OrderIntake(s).create(
                OrderInput(
                    "LEGACY",
                    key,
                    f"SO-{key}",
                    "1",
                    tuple(
                        LineInput(f"L{i}", str(i), "AS54888", Decimal(2))
                        for i in range(1, lines + 1)
                    ),
                )
            )
            return outcome.header.order_number
    finally:
        runtime.close()


def _events(admin: Admin) -> list[tuple[str | None, str]]:
    runtime = _runtime(admin)
    try:
        with runtime.read_sessions() as s:
            return [
                (m.event_code, m.status)
                for m in s.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.kind == "BUSINESS_EVENT")
                    .order_by(OutboxMessage.id)
                )
            ]
    finally:
        runtime.close()


def _subscriber(admin: Admin) -> None:
    admin.ok("source-system", "add", "CRM", "--events-only")
    admin.ok(
        "connector", "add", "CRM_Events", "--target-system", "CRM",
        "--url", "http://127.0.0.1:9/events", "--invocation-mode", "BUSINESS_EVENT",
    )  # fmt: skip


def test_hold_apply_list_release_round_trip_with_events(admin: Admin) -> None:
    _subscriber(admin)
    admin.ok("trigger", "set", "HOLD", "--connector", "CRM_Events")
    number = _order(admin, "CLI-H1")

    out = admin.ok("hold", "apply", number, "CREDIT", "--comments", "over the limit")
    assert f"hold CREDIT applied to order {number}" in out
    admin.ok("hold", "apply", number, "QA", "--line", "2")
    rows = admin.json("hold", "list", "--order", number)
    assert [(r["hold"], r["line"], r["comments"]) for r in rows] == [
        ("CREDIT", None, "over the limit"),
        ("QA", 2, None),
    ]

    # mistakes: one sentence, exit 1, nothing written
    for args, message in (
        (("hold", "apply", number, "CREDIT"), "hold CREDIT is already on order"),
        (("hold", "apply", "999999", "CREDIT"), "there is no order '999999'"),
        (("hold", "apply", number, "QA", "--line", "7"), f"order {number} has no line 7"),
        (("hold", "apply", number, "bad code!"), "must be 1 to 30 letters"),
        (("hold", "release", number, "NOPE"), "hold NOPE is not on order"),
    ):
        result = admin(*args)
        assert result.exit_code == 1, result.output
        assert message in result.output
    assert len(admin.json("hold", "list", "--order", number)) == 2

    out = admin.ok("hold", "release", number, "CREDIT", "--comments", "paid")
    assert f"hold CREDIT released from order {number}" in out
    assert [r["hold"] for r in admin.json("hold", "list", "--order", number)] == ["QA"]
    everything = admin.json("hold", "list", "--order", number, "--all")
    assert [(r["hold"], r["released_at"] is not None) for r in everything] == [
        ("CREDIT", True),
        ("QA", False),
    ]
    # apply, apply, release: three HOLD events queued for the subscriber, in order
    assert _events(admin) == [("HOLD", "READY")] * 3
    shown = admin.json("orders", "show", number)
    assert [(h["hold"], h["line"]) for h in shown["holds"]] == [("CREDIT", None), ("QA", 2)]


def _lines_and_outbox(admin: Admin) -> tuple[list[tuple[object, ...]], int]:
    """Every fulfillment line's jeopardy columns, and the number of outbox rows."""
    runtime = _runtime(admin)
    try:
        with runtime.read_sessions() as s:
            f = FulfillLine
            lines = s.execute(
                select(
                    f.id,
                    f.planned_completion_at,
                    f.jeopardy_delay_minutes,
                    f.jeopardy_priority,
                    f.jeopardy_checked_at,
                ).order_by(f.id)
            ).all()
            outbox = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
            return [tuple(row) for row in lines], outbox
    finally:
        runtime.close()


def _backdate(admin: Admin, number: str, by: timedelta) -> None:
    runtime = _runtime(admin)
    try:
        with runtime.sessions() as s, s.begin():
            header = s.scalars(select(OrderHeader).where(OrderHeader.order_number == number)).one()
            header.created_at -= by
    finally:
        runtime.close()


def test_jeopardy_check_lists_lines_in_jeopardy_and_raises_enabled_rises(admin: Admin) -> None:
    _subscriber(admin)
    admin.ok("trigger", "set", "JEOPARDY", "MEDIUM", "--connector", "CRM_Events")
    admin.ok("jeopardy", "thresholds", "set", "0m-1h=LOW", "1h-1d=MEDIUM", "1d-=HIGH")
    number = _order(admin, "CLI-J1", lines=1)
    runtime = _runtime(admin)
    try:
        with runtime.read_sessions() as s:
            created = s.scalar(
                select(OrderHeader.created_at).where(OrderHeader.order_number == number)
            )
    finally:
        runtime.close()
    assert created is not None

    now = admin.json("jeopardy", "check")
    assert now == []  # submitted just now: the Ship step is due in 50 hours
    late = timedelta(minutes=3000 + 90)
    # --at reports what a check then will find, and changes nothing
    before = _lines_and_outbox(admin)
    rows = admin.json("jeopardy", "check", "--at", (created + late).strftime("%Y-%m-%dT%H:%M:%S"))
    assert [(r["order"], r["priority"], r["raised"], r["task_type"]) for r in rows] == [
        (number, "MEDIUM", True, "Shipment")
    ]
    assert 89 <= rows[0]["delay_minutes"] <= 90
    assert _lines_and_outbox(admin) == before
    assert _events(admin) == []

    _backdate(admin, number, late)  # the order was submitted 51.5 hours ago
    rows = admin.json("jeopardy", "check")
    assert [(r["order"], r["priority"], r["raised"]) for r in rows] == [(number, "MEDIUM", True)]
    again = admin.json("jeopardy", "check")
    assert [r["raised"] for r in again] == [False]  # no rise, no second event
    assert _events(admin) == [("JEOPARDY", "READY")]
    runtime = _runtime(admin)
    try:
        with runtime.read_sessions() as s:
            (fl,) = s.scalars(select(FulfillLine)).all()
            assert fl.jeopardy_priority == "MEDIUM"
            assert fl.planned_completion_at is not None
    finally:
        runtime.close()
    result = admin("jeopardy", "check", "--at", "yesterday")
    assert result.exit_code == 2
