"""What every registry store shares: the caller's session and actor, the audit record
of each change, and the wording of "there is no …" and "already exists"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, NotFoundError, did_you_mean
from gateway.persistence import audit_trail
from gateway.persistence.audit_trail import Change

__all__ = ["StoreBase", "like", "names"]


class _Spec(Protocol):
    def to_mapping(self) -> dict[str, Any]: ...


def names(items: Sequence[str], limit: int | None = 5) -> str:
    """``items`` for a message: the first ``limit`` of them, and how many more."""
    if limit is None or len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def like(session: Session, column: Any, name: str) -> str:
    """:func:`did_you_mean` over every value of ``column`` (registry tables are small)."""
    return did_you_mean(name, session.scalars(select(column).distinct()))


class StoreBase:
    """Reads and changes one part of the registry in the caller's session and
    transaction; every change is audited there, for the caller to commit."""

    def __init__(self, session: Session, actor: str = "system") -> None:
        self._s = session
        self.actor = actor

    def _audit(self, change: Change) -> Change:
        audit_trail.record(self._s, self.actor, change)
        return change

    def _audit_put(self, entity: str, key: str, before: _Spec | None, after: _Spec) -> Change:
        old = None if before is None else before.to_mapping()
        return self._audit(Change.put(entity, key, old, after.to_mapping()))

    def _like(self, column: Any, name: str) -> str:
        return like(self._s, column, name)

    def _check_mode(
        self, mode: str, what: str, key: str, exists: bool, unknown: str, column: Any
    ) -> None:
        """``mode``: ``create`` (must be new), ``update`` (must exist) or ``upsert``;
        ``unknown`` is the code, and ``column`` the names suggested, when it must exist."""
        if mode == "create" and exists:
            raise ConflictError(
                "ALREADY_EXISTS", f"{what} {key} already exists; use 'update' to change it"
            )
        if mode == "update" and not exists:
            raise NotFoundError(unknown, f"there is no {what} {key!r}{self._like(column, key)}")
