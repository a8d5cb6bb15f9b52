"""What a routing version answers: the decision for a line, and explain's account of it.

A :class:`Decision` names the connector a line goes to and why (a rule, a task type's
default), or says why none does; an :class:`Explanation` is explain's verdict on every
rule beside the decision. The engine makes them; gateway records and shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.rule_set import Rule

__all__ = ["Decision", "Explanation", "Verdict"]


@dataclass(frozen=True)
class Decision:
    """Where a line goes: a rule's connector, a task type's default, or nowhere and why."""

    version: int
    connector: str | None
    rule: Rule | None = None
    by_default: bool = False
    reason: str | None = None

    @property
    def rule_id(self) -> str | None:
        return self.rule.rule_id if self.rule is not None else None


@dataclass(frozen=True)
class Verdict:
    """What explain says about one rule."""

    rule: Rule
    outcome: str  # winner | matches | no match | inactive | not yet active | expired
    detail: str


@dataclass(frozen=True)
class Explanation:
    verdicts: tuple[Verdict, ...]
    decision: Decision
