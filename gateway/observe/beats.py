"""Signs of life: when each outbox worker was last seen, when each periodic job last ran.

Written to the database (``worker_beats``, ``job_runs``) so that ``/readyz`` and
``omgw status`` on any host see every worker and job of the installation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.persistence.models import JobRun, WorkerBeat, table_of

__all__ = ["BEAT_SECONDS", "FORGET_AFTER", "record_beat", "record_job"]

#: how often a running worker says it is alive (well inside OMGW_WORKER_SILENT_SECONDS)
BEAT_SECONDS = 10.0
#: a worker not seen for this long is forgotten (each start has a name of its own)
FORGET_AFTER = timedelta(days=1)


def _upsert(session: Session, model: type[Any], key: str, values: dict[str, Any]) -> None:
    table = table_of(model)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values)
    session.execute(stmt.on_conflict_do_update(index_elements=[key], set_=values))


def record_beat(session: Session, worker: str, now: datetime, started: datetime) -> None:
    """Worker ``worker`` (running since ``started``) is alive at ``now``."""
    values = {"worker": worker[:100], "started_at": started, "seen_at": now}
    _upsert(session, WorkerBeat, "worker", values)
    session.execute(delete(WorkerBeat).where(WorkerBeat.seen_at < now - FORGET_AFTER))


def record_job(session: Session, job: str, now: datetime, detail: str) -> None:
    """Job ``job`` ran at ``now`` and did ``detail``."""
    _upsert(session, JobRun, "job", {"job": job, "ran_at": now, "detail": detail[:1000]})
