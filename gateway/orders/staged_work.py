"""Staged orders and responses an operator looks after: those the background loop could
not process (``ERROR``), listed with their reason, put back in the queue once the cause
is fixed, or discarded when the sender will send them anew.

Both changes are audited like the CLI's other changes, and refused for a row that is not
in ``ERROR`` (a row still ``STAGED`` is waiting its turn; one processed is done).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import NotFoundError, StateError
from gateway.persistence import audit_trail
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import StagedOrder, StagedResponse, as_utc, utcnow

__all__ = ["KINDS", "StagedItem", "discard", "list_staged", "retry"]

Staged = StagedOrder | StagedResponse
#: the staged kinds and their models
KINDS: dict[str, type[Staged]] = {
    "order": StagedOrder,
    "response": StagedResponse,
}
DISCARDED = "DISCARDED"


@dataclass(frozen=True)
class StagedItem:
    kind: str
    id: int
    #: the sender's key: source system / order id / revision, or system / response id
    key: str
    status: str
    staged_at: datetime | None
    processed_at: datetime | None
    error_code: str | None
    error_message: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "key": self.key,
            "status": self.status,
            "staged_at": None if self.staged_at is None else self.staged_at.isoformat(),
            "processed_at": None if self.processed_at is None else self.processed_at.isoformat(),
            "error_code": self.error_code,
            "error_message": self.error_message,
        }


def _key(row: StagedOrder | StagedResponse) -> str:
    if isinstance(row, StagedOrder):
        return f"{row.source_system}/{row.source_order_id}/{row.revision}"
    return f"{row.fulfillment_system}/{row.response_identifier}"


def _item(kind: str, row: StagedOrder | StagedResponse) -> StagedItem:
    return StagedItem(
        kind, row.id, _key(row), row.status, as_utc(row.staged_at), as_utc(row.processed_at),
        row.error_code, row.error_message,
    )  # fmt: skip


def list_staged(
    session: Session, kind: str | None, status: str | None = "ERROR", limit: int = 100
) -> list[StagedItem]:
    """Staged rows, newest first (of both kinds unless ``kind`` is given)."""
    found: list[StagedItem] = []
    for name, model in KINDS.items():
        if kind is not None and kind != name:
            continue
        stmt = select(model).order_by(model.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(model.status == status.upper())
        found.extend(_item(name, cast(Staged, row)) for row in session.scalars(stmt))
    return sorted(found, key=lambda i: (i.staged_at or utcnow(), i.id), reverse=True)[:limit]


def _in_error(session: Session, kind: str, row_id: int) -> StagedOrder | StagedResponse:
    model = KINDS[kind]
    row = cast(Staged | None, session.get(model, row_id, with_for_update=True))
    if row is None:
        raise NotFoundError("STAGED_NOT_FOUND", f"no staged {kind} {row_id}")
    if row.status != "ERROR":
        raise StateError(
            "STAGED_NOT_IN_ERROR",
            f"staged {kind} {row_id} is {row.status}; only one in ERROR is retried or discarded",
        )
    return row


def retry(session: Session, kind: str, row_id: int, actor: str) -> StagedItem:
    """Put a staged row in ERROR back in the queue: the background loop processes it
    again at its next pass, in a transaction of its own, as when it was first staged."""
    row = _in_error(session, kind, row_id)
    before = _item(kind, row).to_json()
    row.status, row.error_code, row.error_message, row.processed_at = "STAGED", None, None, None
    after = _item(kind, row)
    audit_trail.record(
        session, actor, Change("retry", f"staged {kind}", str(row_id), before, after.to_json())
    )
    return after


def discard(session: Session, kind: str, row_id: int, actor: str, reason: str) -> StagedItem:
    """Set a staged row in ERROR aside for good (the sender sends it anew), with why."""
    row = _in_error(session, kind, row_id)
    before = _item(kind, row).to_json()
    row.status = DISCARDED
    row.error_message = f"{row.error_message or ''} [discarded by {actor}: {reason}]".strip()[:4000]
    row.processed_at = utcnow()
    after = _item(kind, row)
    audit_trail.record(
        session, actor, Change("discard", f"staged {kind}", str(row_id), before, after.to_json())
    )
    return after
