"""Traffic per minute over the last hour: calls and faults answered (the inbound message
log), and outbox messages delivered and parked. Counted by the database, one
row per minute, so a busy hour costs no more to read than a quiet one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from gateway.persistence.models import MessageLog, OutboxMessage

__all__ = ["Activity", "read_activity"]


@dataclass(frozen=True)
class Activity:
    """Counts per minute, oldest first; minutes without traffic are 0."""

    minutes: list[str]
    calls: list[int]
    faults: list[int]
    delivered: list[int]
    parked: list[int]

    def to_json(self) -> dict[str, Any]:
        return {
            "minutes": self.minutes,
            "calls": self.calls,
            "faults": self.faults,
            "delivered": self.delivered,
            "parked": self.parked,
        }


def _minute(session: Session, column: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.date_trunc("minute", column), "YYYY-MM-DD HH24:MI")
    return func.strftime("%Y-%m-%d %H:%M", column)


def read_activity(session: Session, now: datetime, minutes: int = 60) -> Activity:
    start = (now - timedelta(minutes=minutes - 1)).replace(second=0, microsecond=0)
    keys = [(start + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M") for i in range(minutes)]
    at = _minute(session, MessageLog.received_at)
    calls: dict[str, tuple[int, int]] = {
        k: (n, f)
        for k, n, f in session.execute(
            select(at, func.count(), func.sum(case((MessageLog.outcome == "FAULT", 1), else_=0)))
            .where(MessageLog.received_at >= start)
            .group_by(at)
        )
    }
    delivered = _per_minute(session, OutboxMessage.delivered_at, start)
    parked = _per_minute(session, OutboxMessage.parked_at, start)
    return Activity(
        minutes=keys,
        calls=[calls.get(k, (0, 0))[0] for k in keys],
        faults=[int(calls.get(k, (0, 0))[1] or 0) for k in keys],
        delivered=[delivered.get(k, 0) for k in keys],
        parked=[parked.get(k, 0) for k in keys],
    )


def _per_minute(session: Session, column: Any, start: datetime) -> dict[str, int]:
    at = _minute(session, column)
    rows = session.execute(select(at, func.count()).where(column >= start).group_by(at))
    return {k: n for k, n in rows}
