"""Publishing the routing draft, and rolling back to an older version.

:meth:`RuleStore.publish` checks the whole draft (every condition against the attribute
schema, every connector and task type against the registry) and writes it as the next
version in the same transaction; routing always uses the highest version.
:meth:`RuleStore.rollback` re-publishes an older version as a new one and makes it the
draft again, so the next publish does not bring back what was rolled back. Every change
is audited in the caller's transaction.

:class:`RuleStore` is the one door to routing's tables: it edits the draft as
:class:`~gateway.registry.rule_draft.RuleDraft` does and reads versions as
:class:`~gateway.registry.rule_versions.RuleVersions` does.
"""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.errors import ConflictError, ValidationError
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import Connector, RuleSetVersion, SourceSystem
from gateway.registry.rule_draft import RuleDraft, rules_error
from gateway.registry.rule_versions import PublishedVersion
from routing.engine import compile_rule_set
from routing.routing_errors import Problem, RuleSetInvalid
from routing.rule_set import RuleSet, check

__all__ = ["RuleStore"]


def _unreachable(connector: str, system: str) -> str:
    return (
        f"connector {connector!r} reaches {system}, which is not enabled for fulfillment "
        "(its responses would be refused)"
    )


class RuleStore(RuleDraft):
    """The routing draft and versions, published and rolled back inside the caller's
    session and transaction."""

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
