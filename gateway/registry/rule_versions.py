"""Published routing versions, read: the list, one version, the one in use, and the
compiled engine of the newest.

A published version never changes, so its compiled engine is cached per process by
(database, version, publish time): a version is compiled once however many lines it
routes. Writing versions (publish, rollback) is :mod:`rule_store`'s; the draft is
:mod:`rule_draft`'s.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import NotFoundError
from gateway.persistence.models import RuleSetVersion
from gateway.persistence.unless_changed import unless_changed
from routing.engine import Engine, compile_rule_set
from routing.rule_set import RuleSet

__all__ = ["PublishedVersion", "RuleVersions"]

_CACHE: dict[tuple[str, int, datetime], Engine] = {}
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class PublishedVersion:
    version: int
    published_at: datetime
    published_by: str
    source_version: int | None
    rule_count: int

    def to_mapping(self) -> dict[str, object]:
        return {
            "version": self.version,
            "published_at": self.published_at.isoformat(),
            "published_by": self.published_by,
            "rollback_of": self.source_version,
            "rules": self.rule_count,
        }


class RuleVersions:
    """The published routing versions, read inside the caller's session."""

    def __init__(self, session: Session) -> None:
        self._s = session

    @staticmethod
    def _info(row: RuleSetVersion) -> PublishedVersion:
        at = row.published_at
        if at.tzinfo is None:  # SQLite keeps no offset; every stored time is UTC
            at = at.replace(tzinfo=UTC)
        return PublishedVersion(
            row.version, at, row.published_by, row.source_version, row.rule_count
        )

    def versions(self) -> list[PublishedVersion]:
        rows = self._s.scalars(select(RuleSetVersion).order_by(RuleSetVersion.version))
        return [self._info(r) for r in rows]

    def version(self, number: int) -> tuple[PublishedVersion, RuleSet]:
        row = self._s.get(RuleSetVersion, number)
        if row is None:
            raise NotFoundError(
                "RULE_SET_VERSION_UNKNOWN", f"there is no published routing version {number}"
            )
        return self._info(row), RuleSet.from_json(row.content_json)

    def current(self) -> tuple[PublishedVersion, RuleSet] | None:
        number = self._s.scalar(select(func.max(RuleSetVersion.version)))
        return None if number is None else self.version(number)

    def engine(self) -> Engine | None:
        """The compiled newest version, or ``None`` before anything is published."""
        with unless_changed(self._s, RuleSetVersion):
            head = self._s.execute(
                select(RuleSetVersion.version, RuleSetVersion.published_at)
                .order_by(RuleSetVersion.version.desc())
                .limit(1)
            ).first()
        if head is None:
            return None
        url = self._s.get_bind().engine.url.render_as_string(hide_password=True)
        key = (url, head[0], head[1])
        engine = _CACHE.get(key)
        if engine is None:
            _, rule_set = self.version(head[0])
            engine = compile_rule_set(rule_set, head[0])  # checked when it was published
            with _CACHE_LOCK:
                # keep the newest few: old versions are rarely routed with again
                while len(_CACHE) >= 8:
                    _CACHE.pop(next(iter(_CACHE)))
                _CACHE[key] = engine
        return engine
