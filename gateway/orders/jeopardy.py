"""Jeopardy: how late each open fulfillment line is against its process's plan.

Each process step has a planned duration; a line's plan starts when its order was
submitted, so the planned completion of a step is that start plus the durations of
every step up to and including it (the whole process's is stored on the line as
``planned_completion_at``). A line's delay is how far *now* is past the planned
completion of the step it is in (the step of its task type: Shipment while it waits to
ship, Invoice while it waits to be billed); the configured thresholds turn the delay
into a priority (``LOW``, ``MEDIUM``, ``HIGH``; none when it is on time or no range
covers it). When a line's priority rises, the ``JEOPARDY`` business event is noted; the
trigger point of that priority decides whether it is sent.

The check runs in the background loop (:mod:`gateway.background`) every
``OMGW_JEOPARDY_INTERVAL_SECONDS`` and with ``omgw jeopardy check``. On PostgreSQL a
transaction-scoped advisory lock runs one check at a time across processes, so a rise is
raised once. The loop checks in batches of lines (:func:`check_in_batches`), one
transaction each: on SQLite a check holds the only write lock, so an inbound message
waits for one batch at most, not for the whole check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, Select, bindparam, func, select, tuple_, update
from sqlalchemy.orm import Session

from connectors.trigger_points import JeopardyThresholdSpec, priority_rank
from gateway.events import recorder
from gateway.lifecycle import TERMINAL
from gateway.orchestration_model import DEFAULT_PROCESS, StepSpec
from gateway.persistence.models import FulfillLine, OrderHeader, OrderLine, utcnow
from gateway.registry.registry_snapshot import Snapshot, current
from gateway.registry.trigger_store import TriggerStore

__all__ = [
    "BATCH_LINES",
    "JeopardyCheck",
    "JeopardyReport",
    "LineJeopardy",
    "check_in_batches",
    "plan",
    "priority_for",
]

#: a row of :func:`_open_lines`: the line's id, order id, task type, status, process and
#: last priority; its order line's number; its order's number and creation time
_OpenLine = tuple[int, int, str | None, str, int | None, str | None, int, str, datetime]

_LOCK = 0x6A656F70  # "jeop"
#: open lines per transaction of the background loop's check (~0.2 s of SQLite's write lock)
BATCH_LINES = 1000
#: the columns a check writes on each line
_WRITTEN = (
    "planned_completion_at",
    "jeopardy_delay_minutes",
    "jeopardy_priority",
    "jeopardy_checked_at",
)


@dataclass(frozen=True)
class LineJeopardy:
    order_number: str
    line_number: int
    fulfill_line_id: int
    task_type: str
    status: str
    step_due: datetime
    delay_minutes: int
    priority: str | None
    previous: str | None

    @property
    def rose(self) -> bool:
        return priority_rank(self.priority) > priority_rank(self.previous)


@dataclass(frozen=True)
class JeopardyReport:
    checked: int
    lines: tuple[LineJeopardy, ...]
    #: (order id, line id) of the last line read when a ``limit`` cut the check short
    resume_after: tuple[int, int] | None = None

    @property
    def in_jeopardy(self) -> list[LineJeopardy]:
        return [ln for ln in self.lines if ln.priority]

    @property
    def raised(self) -> list[LineJeopardy]:
        return [ln for ln in self.lines if ln.rose]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def plan(
    steps: tuple[StepSpec, ...], start: datetime, task_type: str
) -> tuple[datetime, datetime] | None:
    """(planned completion of the step of ``task_type``, of the whole process), or None
    when the process has no such step."""
    elapsed = 0
    due: datetime | None = None
    for step in steps:
        elapsed += step.planned_minutes or 0
        if due is None and step.task_type == task_type:
            due = start + timedelta(minutes=elapsed)
    if due is None:
        return None
    return due, start + timedelta(minutes=elapsed)


def priority_for(
    thresholds: list[JeopardyThresholdSpec], task_type: str, delay_minutes: int
) -> str | None:
    """The priority the ranges of ``task_type`` (else the general ones) give a delay."""
    own = [t for t in thresholds if t.task_type == task_type]
    ranges = own or [t for t in thresholds if not t.task_type]
    return next((t.priority for t in ranges if t.covers(delay_minutes)), None)


def _open_lines(after: tuple[int, int] | None) -> Select[*_OpenLine]:
    """The open lines that have a task type, of orders still open and current, in (order
    id, line id) order; only those after ``after`` when given. Each row has what a
    check needs: the line's ids, task type, status, process and last priority, its order
    line's number, and its order's number and creation time (the plan's start)."""
    f = FulfillLine
    query = (
        select(
            f.id,
            f.header_id,
            f.task_type,
            f.status,
            f.process_id,
            f.jeopardy_priority,
            OrderLine.line_number,
            OrderHeader.order_number,
            OrderHeader.created_at,
        )
        .join(OrderLine, OrderLine.id == f.order_line_id)
        .join(OrderHeader, OrderHeader.id == f.header_id)
        .where(
            f.status.not_in(TERMINAL),
            f.task_type.is_not(None),
            OrderHeader.status.not_in(("DOO_REFERENCE", *TERMINAL)),
        )
        .order_by(f.header_id, f.id)
    )
    if after is not None:
        query = query.where(tuple_(f.header_id, f.id) > tuple_(*after))
    return query


class JeopardyCheck:
    """Computes and stores every open line's jeopardy in the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self._s = session
        self._registry: Snapshot | None = None

    def _process_steps(self, process_id: int | None) -> tuple[StepSpec, ...]:
        if self._registry is None:
            self._registry = current(self._s)
        process = self._registry.processes.get(process_id) if process_id is not None else None
        return process.steps if process is not None else DEFAULT_PROCESS.steps

    def run(
        self,
        now: datetime | None = None,
        after: tuple[int, int] | None = None,
        limit: int | None = None,
        *,
        dry_run: bool = False,
    ) -> JeopardyReport:
        """Check every open line, or the first ``limit`` after the (order id, line id)
        ``after``. Rows are read and written with Core: this runs while holding SQLite's
        write lock, and loading every open line as ORM objects and flushing each one
        would hold it many times longer, nothing sent meanwhile. Only the lines whose
        priority rose are loaded as objects, for their events. ``dry_run`` only reports: nothing
        is stored and no event is raised (a line's ``rose`` says it would be)."""
        now = _aware(now or utcnow())
        if not dry_run and self._s.get_bind().dialect.name == "postgresql":
            self._s.execute(select(func.pg_advisory_xact_lock(_LOCK)))
        thresholds = TriggerStore(self._s).thresholds()
        rows = self._s.execute(_open_lines(after).limit(limit)).all()
        out, changes = self._judge(rows, thresholds, now)
        if dry_run:
            return JeopardyReport(len(rows), tuple(out))
        self._write(changes, now)
        self._raise_events(out)
        cut = limit is not None and len(rows) == limit
        last = (rows[-1].header_id, rows[-1].id) if cut else None
        return JeopardyReport(len(rows), tuple(out), last)

    def _judge(
        self,
        rows: Sequence[Row[*_OpenLine]],
        thresholds: list[JeopardyThresholdSpec],
        now: datetime,
    ) -> tuple[list[LineJeopardy], list[dict[str, object]]]:
        """Each line's jeopardy at ``now``, and the values to store on it (executemany
        parameters of :meth:`_write`). A line whose process has no step of its task type
        has no plan and is left out of both."""
        out: list[LineJeopardy] = []
        changes: list[dict[str, object]] = []
        for row in rows:
            task = row.task_type or ""
            planned = plan(self._process_steps(row.process_id), _aware(row.created_at), task)
            if planned is None:
                continue
            due, whole = planned
            delay = int((now - due).total_seconds() // 60)
            priority = priority_for(thresholds, task, delay) if delay >= 0 else None
            out.append(
                LineJeopardy(
                    row.order_number,
                    row.line_number,
                    row.id,
                    task,
                    row.status,
                    due,
                    delay,
                    priority,
                    row.jeopardy_priority,
                )
            )
            changes.append(
                {
                    "fid": row.id,
                    "planned": whole,
                    "delay": delay,
                    "priority": priority,
                }
            )
        return out, changes

    def _raise_events(self, lines: list[LineJeopardy]) -> None:
        """Note the ``JEOPARDY`` event of each line whose priority rose."""
        for result in lines:
            if result.rose and result.priority is not None:
                fline = self._s.get_one(FulfillLine, result.fulfill_line_id)
                recorder.jeopardy_raised(self._s, fline.order_line.header, fline, result.priority)

    def _write(self, changes: list[dict[str, object]], now: datetime) -> None:
        """One executemany UPDATE; objects of those lines already in the session are
        expired, so they read what was written."""
        if not changes:
            return
        table = FulfillLine.__table__
        self._s.connection().execute(
            update(table)  # type: ignore[arg-type]
            .where(table.c.id == bindparam("fid"))
            .values(
                planned_completion_at=bindparam("planned"),
                jeopardy_delay_minutes=bindparam("delay"),
                jeopardy_priority=bindparam("priority"),
                jeopardy_checked_at=now,
            ),
            changes,
        )
        written = {c["fid"] for c in changes}
        for obj in list(self._s.identity_map.values()):
            if isinstance(obj, FulfillLine) and obj.id in written:
                self._s.expire(obj, _WRITTEN)


def check_in_batches(
    transaction: Callable[[], AbstractContextManager[Session]],
    now: datetime | None = None,
    batch: int = BATCH_LINES,
) -> JeopardyReport:
    """Check every open line, ``batch`` lines per transaction (each from ``transaction()``,
    committed when its block ends), so writers wait for one batch at most. All batches
    use the same ``now``; a line that changes between batches is checked as it is then."""
    now = _aware(now or utcnow())
    checked, lines = 0, list[LineJeopardy]()
    after: tuple[int, int] | None = None
    while True:
        with transaction() as session:
            report = JeopardyCheck(session).run(now, after, batch)
        checked += report.checked
        lines.extend(report.lines)
        if report.resume_after is None:
            return JeopardyReport(checked, tuple(lines))
        after = report.resume_after
