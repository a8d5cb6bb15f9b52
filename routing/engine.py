"""The compiled rule set of one published version: decide, decide naively, explain.

Compiling happens once per version. Each active rule gets a rank (priority descending,
then rule id) and is filed under what indexes it (:mod:`routing.rule_filing`); the
filings become the lookups and candidate chains of a plan, and indexes that start at the
same attribute merge, so a line's value is looked up once (:mod:`routing.index_plan`).
Only what the index does not settle (the residual) is evaluated at routing time. The
version then writes its own ``decide`` as Python source and compiles it
(:mod:`routing.decide_writer`).

:meth:`Engine.naive` evaluates every rule in rank order and must always agree with
:meth:`Engine.decide`; the property tests and ``bench/routing.py`` hold it to that.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from routing.condition_compiler import Predicate, Shape, compile_condition
from routing.condition_syntax import And, Compare, IsNull, Node, Not, Or, parse, render
from routing.decide_writer import DecideWriter
from routing.decision import Decision, Explanation, Verdict
from routing.index_plan import Probe, build_plan, merged_plan, probe_label
from routing.routing_errors import Problem, RuleSetInvalid
from routing.rule_attributes import SCHEMA
from routing.rule_filing import file_rules
from routing.rule_set import Rule, RuleSet, check

__all__ = ["Engine", "compile_rule_set"]

# rank, what is left to test (None: nothing), window start, window end, the decision
_Entry = tuple[int, Predicate | None, datetime | None, datetime | None, Decision]


def compile_rule_set(
    rule_set: RuleSet,
    version: int = 0,
    connectors: Mapping[str, bool] | None = None,
    task_types: Collection[str] | None = None,
) -> Engine:
    """The engine for ``rule_set``; :class:`RuleSetInvalid` lists every problem."""
    problems: list[Problem] = check(rule_set, connectors, task_types)
    if problems:
        raise RuleSetInvalid(problems)
    return Engine(rule_set, version)


class Engine:
    """One published version, compiled; safe to share between threads (read-only)."""

    def __init__(self, rule_set: RuleSet, version: int = 0) -> None:
        self.version = version
        self.rule_set = rule_set
        self.defaults = dict(rule_set.defaults)
        ordered = sorted(rule_set.rules, key=lambda r: (-r.priority, r.rule_id))
        #: every rule in rank order, inactive ones included (explain shows them)
        self.ordered: tuple[Rule, ...] = tuple(ordered)
        self._trees = {r.rule_id: parse(r.condition) for r in ordered}
        self._predicates = {
            rule_id: compile_condition(tree, SCHEMA) for rule_id, tree in self._trees.items()
        }
        active = [r for r in ordered if r.active]
        # a rule's decision never changes within a version: make each once
        self._decisions = {r.rule_id: Decision(version, r.connector, r) for r in active}
        self._naive = tuple(
            self._entry(rank, r, self._predicates[r.rule_id]) for rank, r in enumerate(active)
        )
        self._misses: dict[object, Decision] = {}
        self._shapes: dict[Shape, Node] = {}  # a residual of each shape, to write it out
        self._plan = merged_plan(self._build_index(active))
        self._decide = DecideWriter(self._plan, self._shapes).decide(self._fallback, self._misses)
        # an instance attribute: calling it is one plain call, with no method to bind
        vars(self)["decide"] = self._decide

    def _entry(self, rank: int, rule: Rule, test: Predicate | None) -> _Entry:
        return (rank, test, rule.active_from, rule.active_until, self._decisions[rule.rule_id])

    def _build_index(self, active: list[Rule]) -> list[Probe]:
        """File every active rule; the lookups ``decide`` makes, in order."""
        filed = file_rules(active, self._trees)
        plan = build_plan(filed, self._decisions, self._shapes)
        self.stats = {
            "rules": len(self.ordered),
            "active": len(active),
            "indexes": [probe_label(probe) for probe in plan if probe.kind != "all"],
            "unindexed": len(filed.unindexed),
        }
        return plan

    def decide(self, values: Mapping[str, Any], at: datetime) -> Decision:
        """The decision for a line with typed ``values`` (see ``typed_values``) at ``at``.

        Each instance replaces this method by the function :class:`DecideWriter` wrote for
        its indexes; this is the same call, for code that reaches it through the class.
        """
        return self._decide(values, at)

    def naive(self, values: Mapping[str, Any], at: datetime) -> Decision:
        """The same decision, by evaluating every active rule in rank order."""
        for _, test, start, end, decision in self._naive:
            if start is not None and at < start:
                continue
            if end is not None and at >= end:
                continue
            if test is not None and test(values):
                return decision
        return self._fallback(values)

    def _fallback(self, values: Mapping[str, Any]) -> Decision:
        task_type = values.get("TaskType")
        known = self._misses.get(task_type)
        if known is not None:
            return known
        decision = self._miss(task_type)
        if isinstance(task_type, str) and len(self._misses) < 1000:
            self._misses[task_type] = decision
        return decision

    def _miss(self, task_type: object) -> Decision:
        default = self.defaults.get(task_type) if isinstance(task_type, str) else None
        if default is not None:
            return Decision(self.version, default, by_default=True)
        which = f"task type {task_type}" if task_type else "a line without a task type"
        active = len(self._naive)
        reason = (
            f"no rule of routing version {self.version} matches "
            f"({active} active rule{'s' if active != 1 else ''}) and {which} has no default"
            " connector"
        )
        return Decision(self.version, None, reason=reason)

    def explain(self, values: Mapping[str, Any], at: datetime) -> Explanation:
        """Every rule in rank order with what happened to it, and the decision."""
        verdicts: list[Verdict] = []
        winner: Rule | None = None
        for rule in self.ordered:
            if not rule.active:
                verdicts.append(Verdict(rule, "inactive", "the rule is not active"))
                continue
            if rule.active_from is not None and at < rule.active_from:
                detail = f"active from {rule.active_from.isoformat()}"
                verdicts.append(Verdict(rule, "not yet active", detail))
                continue
            if rule.active_until is not None and at >= rule.active_until:
                detail = f"active until {rule.active_until.isoformat()}"
                verdicts.append(Verdict(rule, "expired", detail))
                continue
            if not self._predicates[rule.rule_id](values):
                failing = _failing(self._trees[rule.rule_id], values)
                verdicts.append(Verdict(rule, "no match", failing))
                continue
            if winner is None:
                winner = rule
                verdicts.append(Verdict(rule, "winner", f"routes to {rule.connector}"))
            else:
                detail = f"matches, but {winner.rule_id} ranks higher"
                verdicts.append(Verdict(rule, "matches", detail))
        decision = self.decide(values, at)
        assert decision.rule == winner, "the index disagrees with the rules"
        return Explanation(tuple(verdicts), decision)


def _holds(node: Node, values: Mapping[str, Any]) -> bool:
    return compile_condition(node, SCHEMA)(values)


def _failing(node: Node, values: Mapping[str, Any]) -> str:
    """The smallest part of a false condition that makes it false, with the line's value."""
    if isinstance(node, And):
        for part in node.operands:
            if not _holds(part, values):
                return _failing(part, values)
    if isinstance(node, Compare | IsNull):
        value = values.get(node.attribute)
        shown = "null" if value is None else repr(str(value))
        return f"{render(node)} is false ({node.attribute} is {shown})"
    if isinstance(node, Not | Or):
        return f"{render(node)} is false"
    return f"{render(node)} is false"  # pragma: no cover - every node kind is handled
