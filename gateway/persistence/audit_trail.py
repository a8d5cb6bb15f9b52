"""The admin audit log: who changed what, when, before and after; never a secret."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.persistence.models import AuditEntry

__all__ = ["Change", "entries", "entry_record", "record", "utc"]


@dataclass(frozen=True)
class Change:
    """One applied (or, in a dry run, planned) change to the registry."""

    action: str  # create | update | delete | rotate
    entity: str
    key: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    @classmethod
    def put(
        cls, entity: str, key: str, before: dict[str, Any] | None, after: dict[str, Any]
    ) -> Change:
        """A create (nothing before) or an update."""
        return cls("create" if before is None else "update", entity, key, before, after)

    def describe(self) -> str:
        sign = {"create": "+", "update": "~", "delete": "-"}.get(self.action, "*")
        head = f"{sign} {self.entity} {self.key}"
        if self.action != "update" or self.before is None or self.after is None:
            return head
        return f"{head}: {'; '.join(_diff(self.before, self.after))}"

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "entity": self.entity,
            "key": self.key,
            "before": self.before,
            "after": self.after,
        }


def _diff(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            out.extend(_diff(old, new, f"{prefix}{key}."))
        elif isinstance(old, list) or isinstance(new, list):
            out.append(f"{prefix}{key} changed")
        else:
            out.append(f"{prefix}{key} {old!r} → {new!r}")
    return out


def record(session: Session, actor: str, change: Change) -> None:
    session.add(
        AuditEntry(
            actor=actor,
            action=change.action,
            entity=change.entity,
            entity_key=change.key[:300],
            before_json=None
            if change.before is None
            else json.dumps(change.before, sort_keys=True),
            after_json=None if change.after is None else json.dumps(change.after, sort_keys=True),
        )
    )


def entries(
    session: Session,
    *,
    limit: int = 50,
    entity: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    key: str | None = None,
) -> list[AuditEntry]:
    """Newest first; ``key`` keeps one entity's entries (with ``entity``)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if key:
        stmt = stmt.where(AuditEntry.entity_key == key)
    return list(session.scalars(stmt))


def utc(value: datetime) -> datetime:
    """Times are UTC on both databases (SQLite hands back naive values)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def entry_record(entry: AuditEntry) -> dict[str, Any]:
    """One entry as listed (``omgw audit list --json``, the console)."""
    return {
        "id": entry.id,
        "at": utc(entry.at).isoformat(timespec="seconds"),
        "actor": entry.actor,
        "action": entry.action,
        "entity": entry.entity,
        "key": entry.entity_key,
        "before": None if entry.before_json is None else json.loads(entry.before_json),
        "after": None if entry.after_json is None else json.loads(entry.after_json),
    }
