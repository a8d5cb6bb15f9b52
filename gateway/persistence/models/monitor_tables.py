"""What watching the hub keeps: outbox workers' heartbeats, the last run of each
periodic job, and the alerts the monitor raised.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.persistence.models.table_base import Base, utcnow

__all__ = ["Alert", "JobRun", "WorkerBeat"]


class WorkerBeat(Base):
    """When each outbox worker was last seen working (``/readyz``, ``omgw status``)."""

    __tablename__ = "worker_beats"

    worker: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRun(Base):
    """The last run of a periodic job (the jeopardy check, the monitor) and what it did."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    """An alert the monitor raised: active until ``cleared_at``; ``last_sent_at`` limits
    how often it is mailed (``gateway.observe.alerts``)."""

    __tablename__ = "alerts"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    severity: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text)
    runbook: Mapped[str] = mapped_column(String(100))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sent_at: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None]
    emails: Mapped[int] = mapped_column(Integer, default=0)
    #: what the recipients were last mailed: RAISED, CLEARED, or nothing yet
    told: Mapped[str | None] = mapped_column(String(10))
