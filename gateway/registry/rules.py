"""Routing rules on SQLAlchemy: a draft admins edit, and immutable published versions.

Edits change the draft only. :meth:`RuleStore.publish` checks the whole draft (every
condition against the attribute schema, every connector and task type against the
registry) and writes it as the next version in the same transaction; routing always
uses the highest version. :meth:`RuleStore.rollback` re-publishes an older version as
a new one and makes it the draft again, so the next publish does not bring back what
was rolled back. Every change is audited in the caller's transaction.

Compiled engines are cached per process by (database, version, publish time), so a
version is compiled once however many lines it routes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, NotFoundError, ValidationError, translate
from gateway.persistence import audit_trail
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import (
    Connector,
    RoutingDefault,
    RoutingRule,
    RuleSetVersion,
    SourceSystem,
    TaskType,
)
from gateway.persistence.unless_changed import unless_changed
from routing.engine import Engine, compile_rule_set
from routing.routing_errors import Problem, RuleSetInvalid
from routing.rule_set import Rule, RuleSet, check, rule_from_mapping

__all__ = ["PublishedVersion", "RuleStore", "build_rule", "rule_row", "rules_error"]

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


def _unreachable(connector: str, system: str) -> str:
    return (
        f"connector {connector!r} reaches {system}, which is not enabled for fulfillment "
        "(its responses would be refused)"
    )


def rules_error(
    exc: RuleSetInvalid, what: str = "rules", outcome: str = "cannot be published"
) -> ValidationError:
    """One admin error listing every problem, one per line."""
    return translate(exc, f"{what} {outcome}")


def build_rule(base: Mapping[str, Any], values: Mapping[str, Any]) -> Rule:
    """``base`` (a rule's fields) with the ``values`` given (not None); "" clears an
    optional field."""
    data = {**base}
    for key, value in values.items():
        if value is not None:
            data[key] = None if value == "" else value
    try:
        return rule_from_mapping(data)
    except RuleSetInvalid as exc:
        raise rules_error(exc, f"rule {data.get('id')}", "is not valid") from None


def rule_row(rule: Rule) -> dict[str, Any]:
    """A rule as listed: its fields and its window in words."""
    data = rule.to_dict()
    start, end = data["active_from"] or "…", data["active_until"] or "…"
    data["window"] = "always" if start == end == "…" else f"{start} – {end}"
    return data


def _diff_item(
    kind: str, key: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> dict[str, Any]:
    change = "added" if before is None else "removed" if after is None else "changed"
    fields = sorted(
        k
        for k in set(before or {}) | set(after or {})
        if (before or {}).get(k) != (after or {}).get(k)
    )
    return {"kind": kind, "key": key, "change": change, "fields": fields,
            "before": before, "after": after}  # fmt: skip


class RuleStore:
    """The routing draft and versions, inside the caller's session and transaction."""

    def __init__(self, session: Session, actor: str = "system") -> None:
        self._s = session
        self.actor = actor

    # -- the draft -------------------------------------------------------------------

    def _row(self, rule_id: str) -> RoutingRule | None:
        return self._s.scalar(select(RoutingRule).where(RoutingRule.rule_id == rule_id))

    @staticmethod
    def _rule(row: RoutingRule) -> Rule:
        return rule_from_mapping(json.loads(row.rule_json))

    def rule(self, rule_id: str) -> Rule:
        row = self._row(rule_id)
        if row is None:
            raise NotFoundError("RULE_UNKNOWN", f"the draft has no rule {rule_id!r}")
        return self._rule(row)

    def draft(self) -> RuleSet:
        rules = tuple(self._rule(r) for r in self._s.scalars(select(RoutingRule)))
        defaults = {d.task_type: d.connector for d in self._s.scalars(select(RoutingDefault))}
        return RuleSet(rules, defaults)

    def put_rule(self, rule: Rule, mode: str = "upsert") -> Change | None:
        """``mode``: ``create`` (must be new), ``update`` (must exist) or ``upsert``.

        The condition and the connector's existence are checked here, so a typo shows
        at once; only publishing (which also refuses disabled connectors) makes it live.
        """
        row = self._row(rule.rule_id)
        if mode == "create" and row is not None:
            raise ConflictError(
                "ALREADY_EXISTS", f"rule {rule.rule_id} already exists; use 'update' to change it"
            )
        if mode == "update" and row is None:
            raise NotFoundError("RULE_UNKNOWN", f"the draft has no rule {rule.rule_id!r}")
        problems = check(RuleSet((rule,)), self._known_connectors())
        if problems:
            raise rules_error(RuleSetInvalid(problems), f"rule {rule.rule_id}", "is not valid")
        return self._put_unchecked(rule)

    def remove_rule(self, rule_id: str) -> Change:
        row = self._row(rule_id)
        if row is None:
            raise NotFoundError("RULE_UNKNOWN", f"the draft has no rule {rule_id!r}")
        before = self._rule(row).to_dict()
        self._s.delete(row)
        self._s.flush()
        return self._audit(Change("delete", "routing_rule", rule_id, before, None))

    def set_default(self, task_type: str, connector: str | None) -> Change | None:
        """Set (or with ``None`` clear) the draft's default connector for a task type."""
        row = self._s.get(RoutingDefault, task_type)
        before = None if row is None else {"connector": row.connector}
        if connector is None:
            if row is None:
                return None
            self._s.delete(row)
            self._s.flush()
            return self._audit(Change("delete", "routing_default", task_type, before, None))
        problems = check(
            RuleSet((), {task_type: connector}), self._known_connectors(), self._types()
        )
        if problems:
            raise rules_error(
                RuleSetInvalid(problems), f"the default for {task_type}", "is not valid"
            )
        return self._set_default_unchecked(task_type, connector)

    def replace_draft(self, rule_set: RuleSet) -> list[Change]:
        """Make the draft exactly ``rule_set`` (rules and defaults), change by change."""
        changes: list[Change | None] = []
        wanted = {r.rule_id for r in rule_set.rules}
        for rule_id in list(self._s.scalars(select(RoutingRule.rule_id))):
            if rule_id not in wanted:
                changes.append(self.remove_rule(rule_id))
        changes += [self._put_unchecked(rule) for rule in rule_set.rules]
        for task_type in list(self._s.scalars(select(RoutingDefault.task_type))):
            if task_type not in rule_set.defaults:
                changes.append(self.set_default(task_type, None))
        for task_type, connector in rule_set.defaults.items():
            changes.append(self._set_default_unchecked(task_type, connector))
        return [c for c in changes if c is not None]

    def _put_unchecked(self, rule: Rule) -> Change | None:
        row = self._row(rule.rule_id)
        before = None if row is None else self._rule(row)
        if before == rule:
            return None
        if row is None:
            row = RoutingRule(rule_id=rule.rule_id)
            self._s.add(row)
        row.connector = rule.connector
        row.rule_json = json.dumps(rule.to_dict(), sort_keys=True)
        self._s.flush()
        old = None if before is None else before.to_dict()
        return self._audit(Change.put("routing_rule", rule.rule_id, old, rule.to_dict()))

    def _set_default_unchecked(self, task_type: str, connector: str) -> Change | None:
        row = self._s.get(RoutingDefault, task_type)
        if row is not None and row.connector == connector:
            return None
        before = None if row is None else {"connector": row.connector}
        if row is None:
            row = RoutingDefault(task_type=task_type)
            self._s.add(row)
        row.connector = connector
        self._s.flush()
        change = Change.put("routing_default", task_type, before, {"connector": connector})
        return self._audit(change)

    def draft_diff(self) -> list[dict[str, Any]]:
        """What publishing the draft would change against the version in use: one item
        per rule or default added, removed or changed, with its fields before and after."""
        current = self.current()
        published = RuleSet((), {}) if current is None else current[1]
        draft = self.draft()
        out: list[dict[str, Any]] = []
        old = {r.rule_id: r.to_dict() for r in published.rules}
        new = {r.rule_id: r.to_dict() for r in draft.rules}
        for rule_id in sorted(set(old) | set(new)):
            if old.get(rule_id) != new.get(rule_id):
                out.append(_diff_item("rule", rule_id, old.get(rule_id), new.get(rule_id)))
        for task_type in sorted(set(published.defaults) | set(draft.defaults)):
            before, after = published.defaults.get(task_type), draft.defaults.get(task_type)
            if before != after:
                out.append(
                    _diff_item(
                        "default",
                        task_type,
                        None if before is None else {"connector": before},
                        None if after is None else {"connector": after},
                    )
                )
        return out

    # -- versions --------------------------------------------------------------------

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

    def publish(self) -> PublishedVersion | None:
        """Check the draft and publish it as the next version; ``None`` when the draft is
        what the newest version already holds (nothing to publish)."""
        self._serialize()
        return self._publish(self.draft(), source=None)

    def rollback(
        self, number: int, discard_draft: bool = False
    ) -> tuple[PublishedVersion, list[Change]]:
        """Re-publish version ``number`` as the newest and make it the draft again.

        Unpublished draft edits would be lost, so they are refused unless
        ``discard_draft``; the changes made to the draft are returned either way.
        """
        self._serialize()
        _, rule_set = self.version(number)
        current = self.current()
        if current is not None and current[0].version == number:
            raise ConflictError(
                "ALREADY_EXISTS", f"version {number} is already the one routing uses"
            )
        draft = self.draft()
        if not discard_draft and (current is None or draft != current[1]):
            raise ConflictError(
                "DRAFT_UNPUBLISHED",
                "the draft holds edits that were never published; publish them, or roll back "
                "with --discard-draft to drop them (omgw rule list shows the draft)",
            )
        dropped = self.replace_draft(rule_set)
        published = self._publish(rule_set, source=number)
        assert published is not None
        return published, dropped

    def _serialize(self) -> None:
        """One publish at a time (PostgreSQL; SQLite writers are serial already), so two
        publishers never both read version N and race to write N+1."""
        if self._s.get_bind().dialect.name == "postgresql":
            self._s.execute(select(func.pg_advisory_xact_lock(func.hashtext("omgw-routing"))))

    def _publish(self, rule_set: RuleSet, source: int | None) -> PublishedVersion | None:
        current = self.current()
        if current is not None and current[1] == rule_set and source is None:
            return None  # before any check: an unchanged draft is not a new version
        problems = check(rule_set, self._connectors(), self._types())
        problems += self._unreachable(rule_set)
        if problems:
            raise rules_error(RuleSetInvalid(problems))
        number = 1 if current is None else current[0].version + 1
        try:  # what routing will build must build now, not when an order arrives
            compile_rule_set(rule_set, number)
        except (RuleSetInvalid, ValueError, TypeError, ArithmeticError) as exc:
            raise ValidationError("RULES_INVALID", f"rules cannot be published: {exc}") from None
        row = RuleSetVersion(
            version=number,
            published_by=self.actor,
            source_version=source,
            rule_count=len(rule_set.rules),
            content_json=rule_set.to_json(),
        )
        self._s.add(row)
        self._s.flush()
        after = {"rules": len(rule_set.rules), "defaults": dict(rule_set.defaults)}
        if source is not None:
            after["rollback_of"] = source
        self._audit(Change("create", "rule_set_version", str(number), None, after))
        return self._info(row)

    def _unreachable(self, rule_set: RuleSet) -> list[Problem]:
        """Active rules and defaults whose connector reaches a system that is not enabled
        for fulfillment: its answers would be refused, so the line could never move."""
        systems = dict(
            self._s.execute(
                select(Connector.name, SourceSystem.code)
                .join(SourceSystem, Connector.target_system_id == SourceSystem.id)
                .where(SourceSystem.fulfillment.is_(False))
            ).all()
        )
        problems = [
            Problem(r.rule_id, "connector", _unreachable(r.connector, systems[r.connector]))
            for r in rule_set.rules
            if r.active and r.connector in systems
        ]
        problems += [
            Problem(None, f"default for {t}", _unreachable(c, systems[c]))
            for t, c in rule_set.defaults.items()
            if c in systems
        ]
        return problems

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

    # -- references ------------------------------------------------------------------

    def connector_referrers(self, name: str) -> list[str]:
        """What routing would lose if connector ``name`` went: draft rules and defaults,
        and the rules and defaults of the version routing uses."""
        found = [
            f"draft rule {r}"
            for r in self._s.scalars(
                select(RoutingRule.rule_id).where(RoutingRule.connector == name)
            )
        ]
        found += [
            f"draft default for {t}"
            for t in self._s.scalars(
                select(RoutingDefault.task_type).where(RoutingDefault.connector == name)
            )
        ]
        current = self.current()
        if current is not None:
            info, rule_set = current
            found += [
                f"rule {r.rule_id} of routing version {info.version}"
                for r in rule_set.rules
                if r.connector == name
            ]
            found += [
                f"default for {t} of routing version {info.version}"
                for t, c in rule_set.defaults.items()
                if c == name
            ]
        return sorted(found)

    def task_type_referrers(self, code: str) -> list[str]:
        """Routing defaults naming task type ``code``, in the draft or the version in use."""
        found = ["the draft's default"] if self._s.get(RoutingDefault, code) is not None else []
        current = self.current()
        if current is not None and code in current[1].defaults:
            found.append(f"the default of routing version {current[0].version}")
        return found

    def _connectors(self) -> dict[str, bool]:
        return {
            name: enabled
            for name, enabled in self._s.execute(select(Connector.name, Connector.enabled))
        }

    def _known_connectors(self) -> dict[str, bool]:
        """Every connector as if enabled: a draft may name a connector that is off for
        now (publishing refuses it while it is), but not one that does not exist."""
        return dict.fromkeys(self._connectors(), True)

    def _types(self) -> set[str]:
        return set(self._s.scalars(select(TaskType.code)))

    def _audit(self, change: Change) -> Change:
        audit_trail.record(self._s, self.actor, change)
        return change
