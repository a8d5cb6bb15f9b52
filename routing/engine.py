"""The compiled rule set of one published version: decide, decide naively, explain.

Compiling happens once per version. Each active rule gets a rank (priority descending,
then rule id) and is filed under one equality or ``in`` conjunct of its condition, on
the attribute whose rules spread over the most distinct values (the most
discriminating one); only the rest of its condition (the residual) is evaluated at
routing time. A decision looks up the line's value of each indexed attribute, walks
the few candidates in rank order and stops at the first whose window holds the
routing time and whose residual holds. Rules with no such conjunct (an ``or`` at the
top, only ranges) are candidates for every line.

:meth:`Engine.naive` evaluates every rule in rank order and must always agree with
:meth:`Engine.decide`; the property tests and ``bench/routing.py`` hold it to that.
"""

from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import product
from typing import Any

from routing.conditions import (
    And,
    Compare,
    IsNull,
    Node,
    Not,
    Or,
    compile_condition,
    parse,
    render,
    typed_literal,
)
from routing.rules import SCHEMA, Problem, Rule, RuleSet, RuleSetInvalid, check

__all__ = ["Decision", "Engine", "Explanation", "Verdict", "compile_rule_set"]

_NO_RANK = 1 << 62

Predicate = Callable[[Mapping[str, Any]], bool]
# rank, what is left to test (None: nothing), window start, window end, the decision
_Entry = tuple[int, Predicate | None, datetime | None, datetime | None, "Decision"]


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


def _conjuncts(node: Node) -> tuple[Node, ...]:
    return node.operands if isinstance(node, And) else (node,)


def _index_keys(node: Node) -> tuple[Any, ...] | None:
    """The typed values an equality or ``in`` conjunct accepts; ``None`` if not indexable."""
    if not isinstance(node, Compare) or node.op not in ("=", "in"):
        return None
    kind = SCHEMA[node.attribute]
    raw = node.value if isinstance(node.value, tuple) else (node.value,)
    typed = (typed_literal(v, kind, node) for v in raw)
    return tuple(sys.intern(v) if isinstance(v, str) else v for v in typed)


def _branches(node: Node) -> tuple[Node, ...]:
    return node.operands if isinstance(node, Or) else (node,)


def _choose(branch: Node, spread: Mapping[str, set[Any]]) -> _Key | None:
    """How to file ``branch``: under all its ``=``/``in`` conjuncts together (a composite
    key), or under its most discriminating ``starts with`` when that spreads wider; None
    when it has neither. Spread is how many distinct values rules name for an attribute.
    """
    parts = _conjuncts(branch)
    equal: dict[str, tuple[int, tuple[Any, ...]]] = {}
    for position, part in enumerate(parts):
        keys = _index_keys(part)
        if keys is not None:
            assert isinstance(part, Compare)
            if part.attribute not in equal or len(keys) < len(equal[part.attribute][1]):
                equal[part.attribute] = (position, keys)
    # the widest-spread attributes first; drop the narrowest while the product is too big
    names = sorted(equal, key=lambda n: (-len(spread[n]), n))
    while len(names) > 1 and _product_size([equal[n][1] for n in names]) > _MAX_KEYS:
        names.pop()
    equal_spread = 1
    for name in names:
        equal_spread *= len(spread[name])
    best_prefix: tuple[int, int, int] | None = None
    for position, part in enumerate(parts):
        prefix = _prefix(part)
        if prefix:
            assert isinstance(part, Compare)
            score = (len(spread[f"{part.attribute} ^"]), len(prefix), -position)
            if best_prefix is None or score > best_prefix:
                best_prefix = score
    names.sort()  # one table per attribute set, whatever order the rule wrote them in
    used = {equal[n][0] for n in names}
    keys = tuple(product(*(equal[n][1] for n in names)))
    if best_prefix is not None and best_prefix[0] > (equal_spread if names else 0):
        # the prefix first, then the equalities under it (a family for one task type)
        position = -best_prefix[2]
        part = parts[position]
        assert isinstance(part, Compare) and isinstance(part.value, str)
        used.add(position)
        rest = tuple(p for i, p in enumerate(parts) if i not in used)
        return _Key((part.attribute, *names), keys or ((),), part.value, rest)
    if not names:
        for position, part in enumerate(parts):
            if (
                isinstance(part, Compare)
                and part.op in _RANGES
                and not isinstance(part.value, tuple)
            ):
                bound = typed_literal(part.value, SCHEMA[part.attribute], part)
                rest = parts[:position] + parts[position + 1 :]
                return _Key((part.attribute,), (), None, rest, (part.op, bound))
        return None
    rest = tuple(p for i, p in enumerate(parts) if i not in used)
    return _Key(tuple(names), keys, None, rest)


def _nest(table: Mapping[Any, Any], depth: int) -> dict[Any, Any]:
    """``{(a, b): x}`` as ``{a: {b: x}}``; a depth of 1 is the table itself."""
    if depth == 1:
        return dict(table)
    nested: dict[Any, Any] = {}
    for key, value in table.items():
        node = nested
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = value
    return nested


def _product_size(lists: list[tuple[Any, ...]]) -> int:
    size = 1
    for values in lists:
        size *= len(values)
    return size


def _prefix(node: Node) -> str | None:
    if isinstance(node, Compare) and node.op == "starts with" and isinstance(node.value, str):
        return node.value
    return None


@dataclass(frozen=True)
class _Key:
    """Where a rule (or one ``or`` branch of it) is filed, and what is left to test.

    ``attributes`` with ``keys`` (tuples of values, one per attribute: the product of
    the ``=`` and ``in`` conjuncts), or one attribute with a ``prefix``.
    """

    attributes: tuple[str, ...]
    keys: tuple[tuple[Any, ...], ...]
    prefix: str | None
    rest: tuple[Node, ...]
    bound: tuple[str, Any] | None = None  # (op, value) of a range conjunct


#: a rule whose ``in`` lists multiply past this is filed under fewer attributes
_MAX_KEYS = 64
_RANGES = (">", ">=", "<", "<=")


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
        self._build_index(active)

    def _entry(self, rank: int, rule: Rule, test: Predicate | None) -> _Entry:
        return (rank, test, rule.active_from, rule.active_until, self._decisions[rule.rule_id])

    def _build_index(self, active: list[Rule]) -> None:
        spread: dict[str, set[Any]] = {}
        for rule in active:
            for branch in _branches(self._trees[rule.rule_id]):
                for part in _conjuncts(branch):
                    keys, prefix = _index_keys(part), _prefix(part)
                    if keys is not None or prefix:
                        assert isinstance(part, Compare)
                        name = part.attribute if keys is not None else f"{part.attribute} ^"
                        spread.setdefault(name, set()).update(keys or (prefix,))
        tables: dict[tuple[str, ...], dict[Any, list[_Entry]]] = {}
        prefixes: dict[tuple[str, ...], dict[tuple[Any, ...], list[_Entry]]] = {}
        ranges: dict[tuple[str, str], dict[Any, list[_Entry]]] = {}
        unindexed: list[_Entry] = []
        for rank, rule in enumerate(active):
            branches = _branches(self._trees[rule.rule_id])
            chosen = [_choose(branch, spread) for branch in branches]
            filed = [k for k in chosen if k is not None]
            if len(filed) < len(chosen):
                unindexed.append(self._entry(rank, rule, self._predicates[rule.rule_id]))
                continue
            for key in filed:
                if len(branches) > 1:  # an `or`: test the whole condition
                    test: Predicate | None = self._predicates[rule.rule_id]
                elif key.rest:
                    rest = key.rest[0] if len(key.rest) == 1 else And(key.rest)
                    test = compile_condition(rest, SCHEMA)
                else:
                    test = None  # finding it in the index is the whole test
                entry = self._entry(rank, rule, test)
                if key.bound is not None:
                    op, bound = key.bound
                    ranges.setdefault((key.attributes[0], op), {}).setdefault(bound, []).append(
                        entry
                    )
                    continue
                if key.prefix is not None:
                    table = prefixes.setdefault(key.attributes, {})
                    for value in dict.fromkeys(key.keys):
                        table.setdefault((key.prefix, *value), []).append(entry)
                    continue
                table = tables.setdefault(key.attributes, {})
                for value in dict.fromkeys(key.keys):
                    table.setdefault(value if len(value) > 1 else value[0], []).append(entry)
        # every list is in rank order already: rules were filed in rank order
        self._equal = tuple(
            (names, {k: tuple(v) for k, v in table.items()})
            for names, table in sorted(tables.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        )
        # composite keys as nested dicts: probing with interned strings never reads the
        # stored key, where a tuple key is a fresh object to hash and compare each time
        self._equal_keys = tuple(
            (names[0], names[1:], _nest(table, len(names))) for names, table in self._equal
        )
        self._prefixes = tuple(
            (
                names[0],
                names[1:],
                tuple(sorted({len(k[0]) for k in table})),
                _nest({k if len(k) > 1 else k[0]: tuple(v) for k, v in table.items()}, len(names)),
            )
            for names, table in sorted(prefixes.items())
        )
        # per (attribute, op): the bounds in order, and each bound's entries
        self._ranges = tuple(
            (name, op, tuple(sorted(table)), tuple(tuple(table[b]) for b in sorted(table)))
            for (name, op), table in sorted(ranges.items())
        )
        self._unindexed = tuple(unindexed)
        self._others = bool(self._prefixes or self._ranges or self._unindexed)
        self.stats = {
            "rules": len(self.ordered),
            "active": len(active),
            "indexes": [" + ".join(names) for names, _ in self._equal]
            + [" + ".join((f"{name} (prefix)", *more)) for name, more, *_ in self._prefixes]
            + [f"{name} {op} (range)" for name, op, *_ in self._ranges],
            "unindexed": len(unindexed),
        }

    def decide(self, values: Mapping[str, Any], at: datetime) -> Decision:
        """The decision for a line with typed ``values`` (see ``typed_values``) at ``at``.

        Each candidate list is in rank order, so a list is walked only until its first
        match or until it reaches the rank of the best match found so far. This is the
        hot path: the lookups and the walk are written out inline on purpose.
        """
        best: Decision | None = None
        best_rank = _NO_RANK
        get = values.get
        for first, more, table in self._equal_keys:
            hit = table.get(get(first))
            for name in more:
                if hit is None:
                    break
                hit = hit.get(get(name))
            if hit:
                for rank, test, start, end, decision in hit:
                    if rank >= best_rank:
                        break
                    if (
                        (start is None or at >= start)
                        and (end is None or at < end)
                        and (test is None or test(values))
                    ):
                        best, best_rank = decision, rank
                        break
        if self._others:
            for entries in self._other_candidates(values):
                for rank, test, start, end, decision in entries:
                    if rank >= best_rank:
                        break
                    if (
                        (start is None or at >= start)
                        and (end is None or at < end)
                        and (test is None or test(values))
                    ):
                        best, best_rank = decision, rank
                        break
        return best if best is not None else self._fallback(values)

    def _other_candidates(self, values: Mapping[str, Any]) -> list[tuple[_Entry, ...]]:
        """Candidates from the prefix and range indexes and the unindexed rules."""
        found: list[tuple[_Entry, ...]] = []
        get = values.get
        for name, more, lengths, prefixed in self._prefixes:
            value = get(name)
            if value is not None:
                for length in lengths:
                    hit = prefixed.get(value[:length])
                    for other in more:
                        if hit is None:
                            break
                        hit = hit.get(get(other))
                    if hit:
                        found.append(hit)
        for name, op, bounds, groups in self._ranges:
            value = get(name)
            if value is None:
                continue
            # the bounds `value op bound` holds for, as a slice of the sorted bounds;
            # a value of another type compares false, as in the condition itself
            try:
                if op == ">":  # bound < value
                    found.extend(groups[: bisect_left(bounds, value)])
                elif op == ">=":  # bound <= value
                    found.extend(groups[: bisect_right(bounds, value)])
                elif op == "<":  # bound > value
                    found.extend(groups[bisect_right(bounds, value) :])
                else:  # "<=": bound >= value
                    found.extend(groups[bisect_left(bounds, value) :])
            except TypeError:
                continue
        if self._unindexed:
            found.append(self._unindexed)
        return found

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
