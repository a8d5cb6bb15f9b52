"""What an operator needs to know, read from the database in one go.

:func:`read_snapshot` answers the questions behind ``omgw status``, the gauges of
``/metrics`` and the monitor's alerts with a handful of grouped reads; nothing here
decides what is wrong (:mod:`gateway.observe.findings` does). The database is the one
place every process and host writes to, so the answers hold across a whole installation,
not one process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from gateway.config import Settings
from gateway.lifecycle import OPEN_FOR_SHIPMENT
from gateway.persistence.models import (
    Connector,
    ConnectorHealth,
    FulfillLine,
    FulfillmentRequest,
    Hold,
    JobRun,
    OrderHeader,
    OutboxMessage,
    StagedOrder,
    StagedResponse,
    WorkerBeat,
    as_utc,
    table_of,
)

__all__ = [
    "ALERT_EVENT",
    "EMAIL",
    "JOB_JEOPARDY",
    "JOB_MONITOR",
    "ConnectorView",
    "OpsSnapshot",
    "Thresholds",
    "read_snapshot",
    "thresholds",
]

#: the outbox ``event_code`` of an alert e-mail
ALERT_EVENT = "ALERT"
#: the name e-mail rows (no connector) are shown under
EMAIL = "(e-mail)"
JOB_JEOPARDY = "jeopardy"
JOB_MONITOR = "monitor"
#: fulfillment line statuses before a line is routed to a fulfillment system
_BEFORE_ROUTING = ("CREATED", "SCHEDULED")


@dataclass(frozen=True)
class Thresholds:
    """How long before something waiting counts as stuck, in seconds."""

    unacknowledged: float = 900.0
    no_response: float = 86400.0
    event_late: float = 900.0
    stuck: float = 300.0
    worker_silent: float = 60.0


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        unacknowledged=settings.unacknowledged_seconds,
        no_response=settings.no_response_seconds,
        event_late=settings.event_late_seconds,
        stuck=settings.stuck_seconds,
        worker_silent=settings.worker_silent_seconds,
    )


@dataclass
class ConnectorView:
    """One connector's queue and health (``name`` :data:`EMAIL` for e-mails)."""

    name: str
    #: ASYNC_SERVICE, SYNC_SERVICE, BUSINESS_EVENT, or EMAIL
    mode: str
    enabled: bool = True
    #: messages waiting to go (READY), and when the oldest of them was written
    ready: int = 0
    oldest_ready_at: datetime | None = None
    parked: int = 0
    breaker: str = "CLOSED"
    #: when the breaker left CLOSED (None while closed)
    breaker_since: datetime | None = None
    last_error: str | None = None
    #: requests delivered but not acknowledged within the threshold, the oldest's delivery
    unacknowledged: int = 0
    oldest_unacknowledged_at: datetime | None = None
    #: requests acknowledged but with lines still waiting for shipment past the threshold
    no_response: int = 0
    #: business events still undelivered past the threshold
    late_events: int = 0


@dataclass
class OpsSnapshot:
    """Everything :func:`read_snapshot` read, at ``now``."""

    now: datetime
    thresholds: Thresholds
    connectors: dict[str, ConnectorView] = field(default_factory=dict)
    #: fulfillment lines in ROUTING_ERROR, and lines not routed past the threshold
    routing_errors: int = 0
    stuck_before_routing: int = 0
    staged_order_errors: int = 0
    staged_response_errors: int = 0
    #: alert e-mails that could not be sent (parked)
    alert_emails_parked: int = 0
    #: outbox worker name → last seen
    workers: dict[str, datetime] = field(default_factory=dict)
    #: job name → (last run, what it did)
    jobs: dict[str, tuple[datetime, str | None]] = field(default_factory=dict)
    orders_by_status: dict[str, int] = field(default_factory=dict)
    lines_by_status: dict[str, int] = field(default_factory=dict)

    def latest_worker(self) -> datetime | None:
        return max(self.workers.values(), default=None)


def _view(views: dict[str, ConnectorView], name: str, mode: str) -> ConnectorView:
    view = views.get(name)
    if view is None:
        view = views[name] = ConnectorView(name, mode)
    return view


def read_snapshot(session: Session, now: datetime, thresholds: Thresholds) -> OpsSnapshot:
    """Read the whole snapshot in one transaction (one consistent view on PostgreSQL)."""
    snap = OpsSnapshot(now, thresholds)
    names: dict[int, str] = {}
    for cid, name, mode, enabled in session.execute(
        select(Connector.id, Connector.name, Connector.invocation_mode, Connector.enabled)
    ):
        names[cid] = name
        _view(snap.connectors, name, mode).enabled = enabled
    _read_outbox(session, snap, names)
    _read_breakers(session, snap, names)
    _read_requests(session, snap, names)
    _read_lines(session, snap)
    for model in (StagedOrder, StagedResponse):
        errors = session.scalar(
            select(func.count()).select_from(model).where(model.status == "ERROR")
        )
        if model is StagedOrder:
            snap.staged_order_errors = int(errors or 0)
        else:
            snap.staged_response_errors = int(errors or 0)
    snap.workers = {
        worker: _utc(seen)
        for worker, seen in session.execute(select(WorkerBeat.worker, WorkerBeat.seen_at))
    }
    snap.jobs = {
        job: (_utc(ran_at), detail)
        for job, ran_at, detail in session.execute(select(JobRun.job, JobRun.ran_at, JobRun.detail))
    }
    snap.orders_by_status = _grouped(
        session, select(OrderHeader.status, func.count()).group_by(OrderHeader.status)
    )
    return snap


def _grouped(session: Session, stmt: Select[str, int]) -> dict[str, int]:
    return {str(k): int(n) for k, n in session.execute(stmt)}


def _read_outbox(session: Session, snap: OpsSnapshot, names: Mapping[int, str]) -> None:
    o = table_of(OutboxMessage).c
    alert = and_(o.kind == "EMAIL", o.event_code == ALERT_EVENT)
    late_before = snap.now - timedelta(seconds=snap.thresholds.event_late)
    is_late = and_(o.kind == "BUSINESS_EVENT", o.status == "READY", o.created_at < late_before)
    late = func.sum(case((is_late, 1), else_=0))
    stmt = (
        select(
            o.connector_id,
            o.status,
            alert.label("alert"),
            func.count(),
            func.min(o.created_at),
            late,
        )
        .where(o.status.in_(("READY", "PARKED")))
        .group_by(o.connector_id, o.status, alert)
    )
    for cid, status, is_alert, n, oldest, late_n in session.execute(stmt):
        if is_alert:
            if status == "PARKED":
                snap.alert_emails_parked += int(n)
            continue
        name = EMAIL if cid is None else names.get(cid, f"#{cid}")
        view = _view(snap.connectors, name, "EMAIL" if cid is None else "ASYNC_SERVICE")
        if status == "READY":
            view.ready += int(n)
            view.oldest_ready_at = _earliest(view.oldest_ready_at, as_utc(oldest))
            view.late_events += int(late_n or 0)
        else:
            view.parked += int(n)


def _utc(at: datetime) -> datetime:
    aware = as_utc(at)
    assert aware is not None
    return aware


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def _read_breakers(session: Session, snap: OpsSnapshot, names: Mapping[int, str]) -> None:
    h = table_of(ConnectorHealth).c
    for cid, state, broken, error in session.execute(
        select(h.connector_id, h.state, h.broken_since, h.last_error)
    ):
        view = snap.connectors.get(names.get(cid, ""))
        if view is None:
            continue
        view.breaker = state
        view.last_error = error
        view.breaker_since = None if state == "CLOSED" else as_utc(broken)


def _read_requests(session: Session, snap: OpsSnapshot, names: Mapping[int, str]) -> None:
    r = table_of(FulfillmentRequest).c
    outbox = table_of(OutboxMessage)
    o = outbox.c
    unacked_before = snap.now - timedelta(seconds=snap.thresholds.unacknowledged)
    stmt = (
        select(r.connector_id, func.count(), func.min(o.delivered_at))
        .join(outbox, o.request_id == r.id)
        .where(r.status == "SENT", o.status == "DELIVERED", o.delivered_at < unacked_before)
        .group_by(r.connector_id)
    )
    for cid, n, oldest in session.execute(stmt):
        view = snap.connectors.get(names.get(cid, ""))
        if view is not None:
            view.unacknowledged = int(n)
            view.oldest_unacknowledged_at = as_utc(oldest)
    f = table_of(FulfillLine).c
    answered_before = snap.now - timedelta(seconds=snap.thresholds.no_response)
    waiting = (
        select(f.request_id)
        .where(f.status.in_(sorted(OPEN_FOR_SHIPMENT)), f.request_id.is_not(None))
        .distinct()
        .subquery()
    )
    stmt = (
        select(r.connector_id, func.count())
        .join(waiting, waiting.c.request_id == r.id)
        .where(r.status == "ACCEPTED", r.acknowledged_at < answered_before)
        .group_by(r.connector_id)
    )
    for cid, n in session.execute(stmt):
        view = snap.connectors.get(names.get(cid, ""))
        if view is not None:
            view.no_response = int(n)


def _read_lines(session: Session, snap: OpsSnapshot) -> None:
    f = table_of(FulfillLine).c
    snap.lines_by_status = _grouped(session, select(f.status, func.count()).group_by(f.status))
    snap.routing_errors = snap.lines_by_status.get("ROUTING_ERROR", 0)
    stuck_before = snap.now - timedelta(seconds=snap.thresholds.stuck)
    h = table_of(Hold).c
    # a line under a hold waits on purpose (orders.hold_service): that is not being stuck
    held = exists().where(
        h.header_id == f.header_id,
        h.released_at.is_(None),
        or_(h.order_line_id.is_(None), h.order_line_id == f.order_line_id),
    )
    snap.stuck_before_routing = int(
        session.scalar(
            select(func.count()).where(
                f.status.in_(_BEFORE_ROUTING), f.created_at < stuck_before, ~held
            )
        )
        or 0
    )
