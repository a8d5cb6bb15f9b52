"""A connector's circuit breaker as stored in ``connector_health``: read into the pure
:class:`connectors.resilience.BreakerState`, written back, and locked for a recording.

Every worker shares one breaker per connector through this row, so the claims (which
let a probe through a half-open breaker) and the recording (which feeds it each send's
outcome) read and write it the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from connectors.resilience import BreakerState
from gateway.persistence.models import ConnectorHealth, utcnow

__all__ = ["breaker_state", "locked_health", "store_breaker"]


def _epoch(at: datetime | None) -> float | None:
    if at is None:
        return None
    if at.tzinfo is None:  # SQLite hands back naive UTC
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


def _instant(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def breaker_state(row: ConnectorHealth | None) -> BreakerState:
    if row is None:
        return BreakerState()
    return BreakerState(row.state, row.failures, _epoch(row.opened_at), _epoch(row.probing_since))


def store_breaker(row: ConnectorHealth, state: BreakerState, error: str | None = None) -> None:
    if state.state == "CLOSED":
        row.broken_since = None
    elif row.broken_since is None:
        row.broken_since = utcnow()
    row.state = state.state
    row.failures = state.failures
    row.opened_at = _instant(state.opened_at)
    row.probing_since = _instant(state.probing_since)
    if error is not None:
        row.last_error = error


def locked_health(s: Session, connector_id: int) -> ConnectorHealth:
    """The connector's breaker row, locked; created if missing, race-free (two workers
    recording their first outcome for one connector at once must not collide)."""
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    s.execute(
        insert(ConnectorHealth)
        .values(connector_id=connector_id, state="CLOSED", failures=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["connector_id"])
    )
    row = s.get(ConnectorHealth, connector_id, with_for_update=True, populate_existing=True)
    assert row is not None
    return row
