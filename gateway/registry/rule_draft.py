"""The routing draft admins edit: rules and each task type's default connector.

A rule or default is checked as it is written (its condition, and that its connector
and task type exist), so a typo shows at once; only publishing (:mod:`rule_store`)
makes the draft live. Every change is audited in the caller's transaction. The draft
also answers what publishing it would change, and which rules and defaults name a
connector or a task type. :func:`build_rule` and :func:`rule_row` turn an admin's
values into a rule and a rule into a listed row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, NotFoundError, ValidationError, translate
from gateway.persistence import audit_trail
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import Connector, RoutingDefault, RoutingRule, TaskType
from gateway.registry.rule_versions import RuleVersions
from routing.routing_errors import RuleSetInvalid
from routing.rule_set import Rule, RuleSet, check, rule_from_mapping

__all__ = ["RuleDraft", "build_rule", "rule_row", "rules_error"]


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


class RuleDraft(RuleVersions):
    """The routing draft, inside the caller's session and transaction; the published
    versions are read as :class:`RuleVersions` reads them."""

    def __init__(self, session: Session, actor: str = "system") -> None:
        super().__init__(session)
        self.actor = actor

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
