"""The lookups a compiled version's ``decide`` makes, and the candidates each reaches.

What :mod:`routing.rule_filing` files becomes a plan of probes: one per composite key,
prefix, range operator and the rules no index holds, in the order ``decide`` makes
them. A probe's table leads to chains of candidates in rank order, each with what is
left to test as a shared shape and its literals; null tests every candidate of a probe
has become the probe's guard, tested once per line. :func:`merged_plan` then makes the
probes that start at one attribute one, so a line's value is looked up once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from routing.condition_compiler import Shape, compile_shape
from routing.condition_syntax import And, IsNull, Node, Not
from routing.decision import Decision
from routing.rule_attributes import SCHEMA
from routing.rule_filing import FiledRules, Filing

__all__ = ["Candidate", "Link", "Probe", "build_plan", "merged_plan", "probe_label"]

# what decide walks: rank, window start, window end, the shape of what is left to test
# (None: nothing) and its literals, the decision; as a link, then the next candidate
Candidate = tuple[int, datetime | None, datetime | None, Shape | None, Any, Decision]
Link = tuple[int, datetime | None, datetime | None, Shape | None, Any, Decision, Any]

#: a merged probe numbers its second attribute's values when there are at most this many
_ORDINALS = 8
#: a composite table with more first values than this has too many second-level dicts
#: to stay in cache: it is written as a merged probe, with numbered chains
_BIG = 64


def build_plan(
    filed: FiledRules, decisions: Mapping[str, Decision], shapes: dict[Shape, Node]
) -> list[Probe]:
    """The probes of ``filed``, in the order ``decide`` makes them.

    ``decisions`` holds each active rule's decision by rule id; ``shapes`` gains a
    residual of each shape a candidate tests, for the writer to write it out.
    """

    def chains(table: Mapping[Any, list[Filing]], guard: Collection[Node]) -> Any:
        """Each key's filings as a chain of candidates, less what ``guard`` tests."""
        return {
            k: _chain([_candidate(f, guard, decisions, shapes) for f in v])
            for k, v in table.items()
        }

    plan: list[Probe] = []
    for names, table in sorted(filed.tables.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        guard = _guard(table.values())
        nested = _nest(chains(table, guard))
        plan.append(Probe("equal", names, nested, guard=guard))
    for names, table in sorted(filed.prefixes.items()):
        guard = _guard(table.values())
        lengths = tuple(sorted({len(k[0]) for k in table}))
        nested = _nest(chains(table, guard))
        plan.append(Probe("prefix", names, nested, lengths=lengths, guard=guard))
    for (name, op), table in sorted(filed.ranges.items()):
        guard = _guard(table.values())
        bounds = tuple(sorted(table))
        by_bound = chains(table, guard)
        groups = tuple(by_bound[bound] for bound in bounds)
        plan.append(Probe("range", (name,), groups, op=op, bounds=bounds, guard=guard))
    if filed.unindexed:
        guard = _guard([filed.unindexed])
        chain = chains({(): filed.unindexed}, guard)[()]
        plan.append(Probe("all", (), chain, guard=guard))
    return plan


def _candidate(
    filing: Filing,
    guard: Collection[Node],
    decisions: Mapping[str, Decision],
    shapes: dict[Shape, Node],
) -> Candidate:
    rank, rule, rest = filing
    left = tuple(part for part in rest if part not in guard)
    shape: Shape | None = None
    literals: Any = None
    if left:
        node = left[0] if len(left) == 1 else And(left)
        shape, literals = compile_shape(node, SCHEMA)
        shapes.setdefault(shape, node)
    decision = decisions[rule.rule_id]
    return (rank, rule.active_from, rule.active_until, shape, literals, decision)


def _nest(table: Mapping[tuple[Any, ...], Any]) -> dict[Any, Any]:
    """``{(a, b): x}`` as ``{a: {b: x}}``, ``{(a,): x}`` as ``{a: x}``.

    Nested dicts rather than tuple keys: a probe builds and hashes no tuple, most
    probes miss at the first level, and an interned string found there is never read
    back to compare (a tuple key is, on every hit).
    """
    nested: dict[Any, Any] = {}
    for key, value in table.items():
        node = nested
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = value
    return nested


def _guard(tables: Iterable[list[Filing]]) -> tuple[Node, ...]:
    """The null tests every filing of an index has left to test.

    The rules of one family often share one (``… and ShipSetName is not null``): it is
    tested once per line, before the lookup, which it skips when false, rather than
    once per candidate. A null test costs less than the lookup; other shared conjuncts
    stay with the candidates, tested only when the lookup finds them.
    """
    common: dict[Node, None] | None = None
    for filings in tables:
        for _, _, rest in filings:
            if common is None:
                common = {part: None for part in rest if _null_test(part)}
            else:
                common = {part: None for part in common if part in rest}
    return tuple(common or ())


def _null_test(node: Node) -> bool:
    return isinstance(node, IsNull) or (isinstance(node, Not) and isinstance(node.operand, IsNull))


def probe_label(probe: Probe) -> str:
    """How ``stats`` names an index."""
    if probe.kind == "range":
        return f"{probe.attributes[0]} {probe.op} (range)"
    if probe.kind == "prefix":
        return " + ".join((f"{probe.attributes[0]} (prefix)", *probe.attributes[1:]))
    if probe.kind == "merged":
        return " + ".join(probe.attributes) + " (merged)"
    return " + ".join(probe.attributes)


def _chain(candidates: list[Candidate]) -> Link | None:
    """Rank-ordered candidates as links ``(*candidate, next)``: a table's value is its
    first candidate itself, with no list object between them to fetch from memory."""
    link: Link | None = None
    for candidate in reversed(candidates):
        link = (*candidate, link)
    return link


@dataclass(frozen=True)
class Probe:
    """One lookup of the generated decide: ``equal`` (a key of ``attributes``),
    ``prefix`` (the first of them cut to each of ``lengths``), ``range`` (``table`` is
    the chains per sorted bound), ``all`` (``table`` is the one chain) or ``merged``
    (lookups that start at one attribute made one: see :func:`merged_plan`)."""

    kind: str
    attributes: tuple[str, ...]
    table: Any
    lengths: tuple[int, ...] = ()
    op: str = ""
    bounds: tuple[Any, ...] = ()
    #: conjuncts every candidate has: tested once per line, not once per candidate
    guard: tuple[Node, ...] = ()
    #: ``merged``: the prefix probes for values no equality names
    unknown: tuple[Probe, ...] = ()
    #: ``merged`` under two attributes: the number of each second value, when few
    order: Mapping[Any, int] = field(default_factory=dict)

    def links(self) -> list[Link]:
        """Every candidate the probe can reach."""
        heads: list[Any]
        if self.kind == "all":
            heads = [self.table]
        elif self.kind == "range":
            heads = list(self.table)
        elif self.kind == "merged":
            heads = list(self.table.values())
            if self.order:
                heads = [chain for record in heads for chain in record]
            elif len(self.attributes) > 1:
                heads = [h for sub, alone in heads for h in (*sub.values(), alone)]
        else:
            heads = list(self.table.values())
            for _ in range(len(self.attributes) - 1):
                heads = [chain for nested in heads for chain in nested.values()]
        found = []
        for link in heads:
            while link is not None:
                found.append(link)
                link = link[-1]
        return found


def _candidates(link: Link | None) -> list[Candidate]:
    found: list[Candidate] = []
    while link is not None:
        found.append(link[:-1])
        link = link[-1]
    return found


def _merge(chains: Iterable[Link | None]) -> Link | None:
    """One rank-ordered chain of the candidates of ``chains``."""
    some = [chain for chain in chains if chain is not None]
    if len(some) < 2:
        return some[0] if some else None
    merged: list[Candidate] = []
    for chain in some:
        merged += _candidates(chain)
    merged.sort(key=lambda candidate: candidate[0])
    return _chain([c for i, c in enumerate(merged) if i == 0 or c != merged[i - 1]])


def merged_plan(plan: list[Probe]) -> list[Probe]:
    """``plan`` with the lookups that start at the same attribute made one.

    A 10,000-rule set files rules under ``Item + TaskType``, ``Item`` (the branches of
    an ``or``) and ``Item (prefix) + TaskType``: three probes of one value, each a
    cache miss into its own big table, and three walks. Merged, each item value that
    an equality names leads to one record: per value of the second attribute, every
    candidate of the three in one rank-ordered chain (the prefix entries of the item
    found at compile time, so the line's value is not cut), and the candidates for any
    other second value. Only a value no equality names still takes the prefix probes.
    Probes merge when they have the same guard. A big composite table alone is made
    the same record, for its record's numbered chains (see ``_ORDINALS``); a plan
    with nothing to merge is returned as is.
    """
    groups: dict[tuple[str, tuple[Node, ...]], list[Probe]] = {}
    for probe in plan:
        if probe.kind in ("equal", "prefix") and len(probe.attributes) <= 2:
            groups.setdefault((probe.attributes[0], probe.guard), []).append(probe)
    merged: dict[int, Probe] = {}  # by the id of the group's first probe
    dropped: set[int] = set()  # the ids of the others
    for (name, guard), probes in groups.items():
        equal = {len(p.attributes): p.table for p in probes if p.kind == "equal"}
        prefixes = [p for p in probes if p.kind == "prefix"]
        seconds = {p.attributes[1] for p in probes if len(p.attributes) > 1}
        big = len(equal) == 1 and len(equal.get(2, ())) > _BIG
        if (len(probes) < 2 and not big) or not equal or len(seconds) > 1:
            continue
        alone: dict[Any, Any] = equal.get(1, {})
        paired: dict[Any, Any] = equal.get(2, {})
        if prefixes and not all(isinstance(k, str) for k in (*alone, *paired)):
            continue
        table: dict[Any, Any] = {}
        for key in dict.fromkeys((*paired, *alone)):
            anywhere = [alone.get(key)]  # chains whatever the second value
            by_second: dict[Any, list[Link | None]] = {}
            for probe in prefixes:
                for length in probe.lengths:
                    found = probe.table.get(key[:length])
                    if found is None:
                        continue
                    if len(probe.attributes) == 1:
                        anywhere.append(found)
                    else:
                        for second, chain in found.items():
                            by_second.setdefault(second, []).append(chain)
            for second, chain in paired.get(key, {}).items():
                by_second.setdefault(second, []).append(chain)
            everywhere = _merge(anywhere)
            if not seconds:
                table[key] = everywhere
                continue
            sub = {k: _merge([*chains, everywhere]) for k, chains in by_second.items()}
            table[key] = (sub, everywhere)
        order: dict[Any, int] = {}
        for record in table.values() if seconds else ():
            order.update((second, 0) for second in record[0])
        if 0 < len(order) <= _ORDINALS:
            # the few second values numbered once per line: a record is then a tuple
            # with one chain per number, one object read rather than a dict's two
            order = {second: number for number, second in enumerate(order)}
            for key, (sub, everywhere) in table.items():
                table[key] = (*(sub.get(second, everywhere) for second in order), everywhere)
        else:
            order = {}
        attributes = (name, *seconds)
        probe = Probe("merged", attributes, table, guard=guard, unknown=(*prefixes,), order=order)
        merged[id(probes[0])] = probe
        dropped.update(id(probe) for probe in probes[1:])
    if not merged:
        return plan
    return [merged.get(id(p), p) for p in plan if id(p) not in dropped]
