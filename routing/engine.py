"""The compiled rule set of one published version: decide, decide naively, explain.

Compiling happens once per version. Each active rule gets a rank (priority descending,
then rule id) and is filed under its ``=``/``in`` conjuncts together (a composite key:
``Item + TaskType``), or, when that spreads wider, a ``starts with`` prefix, or a
``<``/``>`` bound; each branch of a top-level ``or`` is filed on its own. Only what the
index does not settle (the residual) is evaluated at routing time. Rules nothing can
index are candidates for every line. Indexes that start at the same attribute merge,
so a line's value is looked up once.

The version then writes its own ``decide`` as Python source and compiles it: the
lookups and the rank-ordered walks of the candidate chains are inline, and common
residual shapes are inline expressions. Only schema attribute names (via ``repr``)
and generated names enter that source; every literal travels in a namespace. A walk
stops at the first candidate whose window holds the routing time and whose residual
holds, or at the rank of the best match found so far.

:meth:`Engine.naive` evaluates every rule in rank order and must always agree with
:meth:`Engine.decide`; the property tests and ``bench/routing.py`` hold it to that.
"""

from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import product
from typing import Any, cast

from routing.condition_compiler import (
    Shape,
    compile_condition,
    compile_shape,
    condition_source,
    typed_literal,
)
from routing.condition_syntax import And, Compare, IsNull, Node, Not, Or, attributes, parse, render
from routing.routing_errors import Problem, RuleSetInvalid
from routing.rule_attributes import SCHEMA
from routing.rule_set import Rule, RuleSet, check

__all__ = ["Decision", "Engine", "Explanation", "Verdict", "compile_rule_set"]

_NO_RANK = 1 << 62

Predicate = Callable[[Mapping[str, Any]], bool]
# rank, what is left to test (None: nothing), window start, window end, the decision
_Entry = tuple[int, Predicate | None, datetime | None, datetime | None, "Decision"]
# what decide walks: rank, window start, window end, the shape of what is left to test
# (None: nothing) and its literals, the decision; as a link, then the next candidate
_Candidate = tuple[int, datetime | None, datetime | None, Shape | None, Any, "Decision"]
_Link = tuple[int, datetime | None, datetime | None, Shape | None, Any, "Decision", Any]
# how a rule is filed: rank, rule, the conjuncts the index leaves to test
_Filing = tuple[int, Rule, tuple[Node, ...]]


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


#: a merged probe numbers its second attribute's values when there are at most this many
_ORDINALS = 8
#: a composite table with more first values than this has too many second-level dicts
#: to stay in cache: it is written as a merged probe, with numbered chains
_BIG = 64
#: a rule whose ``in`` lists multiply past this is filed under fewer attributes
_MAX_KEYS = 64
_RANGES = (">", ">=", "<", "<=")


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


def _guard(tables: Iterable[list[_Filing]]) -> tuple[Node, ...]:
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


def _size(node: Node) -> int:
    """How many comparisons and operators ``node`` has."""
    if isinstance(node, And | Or):
        return 1 + sum(_size(n) for n in node.operands)
    if isinstance(node, Not):
        return 1 + _size(node.operand)
    return 1


def _null_test(node: Node) -> bool:
    return isinstance(node, IsNull) or (isinstance(node, Not) and isinstance(node.operand, IsNull))


def _label(probe: _Probe) -> str:
    """How ``stats`` names an index."""
    if probe.kind == "range":
        return f"{probe.attributes[0]} {probe.op} (range)"
    if probe.kind == "prefix":
        return " + ".join((f"{probe.attributes[0]} (prefix)", *probe.attributes[1:]))
    if probe.kind == "merged":
        return " + ".join(probe.attributes) + " (merged)"
    return " + ".join(probe.attributes)


def _chain(candidates: list[_Candidate]) -> _Link | None:
    """Rank-ordered candidates as links ``(*candidate, next)``: a table's value is its
    first candidate itself, with no list object between them to fetch from memory."""
    link: _Link | None = None
    for candidate in reversed(candidates):
        link = (*candidate, link)
    return link


@dataclass(frozen=True)
class _Probe:
    """One lookup of the generated decide: ``equal`` (a key of ``attributes``),
    ``prefix`` (the first of them cut to each of ``lengths``), ``range`` (``table`` is
    the chains per sorted bound), ``all`` (``table`` is the one chain) or ``merged``
    (lookups that start at one attribute made one: see :func:`_merged`)."""

    kind: str
    attributes: tuple[str, ...]
    table: Any
    lengths: tuple[int, ...] = ()
    op: str = ""
    bounds: tuple[Any, ...] = ()
    #: conjuncts every candidate has: tested once per line, not once per candidate
    guard: tuple[Node, ...] = ()
    #: ``merged``: the prefix probes for values no equality names
    unknown: tuple[_Probe, ...] = ()
    #: ``merged`` under two attributes: the number of each second value, when few
    order: Mapping[Any, int] = field(default_factory=dict)

    def links(self) -> list[_Link]:
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


def _candidates(link: _Link | None) -> list[_Candidate]:
    found: list[_Candidate] = []
    while link is not None:
        found.append(link[:-1])
        link = link[-1]
    return found


def _merge(chains: Iterable[_Link | None]) -> _Link | None:
    """One rank-ordered chain of the candidates of ``chains``."""
    some = [chain for chain in chains if chain is not None]
    if len(some) < 2:
        return some[0] if some else None
    merged: list[_Candidate] = []
    for chain in some:
        merged += _candidates(chain)
    merged.sort(key=lambda candidate: candidate[0])
    return _chain([c for i, c in enumerate(merged) if i == 0 or c != merged[i - 1]])


def _merged(plan: list[_Probe]) -> list[_Probe]:
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
    groups: dict[tuple[str, tuple[Node, ...]], list[_Probe]] = {}
    for probe in plan:
        if probe.kind in ("equal", "prefix") and len(probe.attributes) <= 2:
            groups.setdefault((probe.attributes[0], probe.guard), []).append(probe)
    merged: dict[int, _Probe] = {}  # by the id of the group's first probe
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
            by_second: dict[Any, list[_Link | None]] = {}
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
        probe = _Probe("merged", attributes, table, guard=guard, unknown=(*prefixes,), order=order)
        merged[id(probes[0])] = probe
        dropped.update(id(probe) for probe in probes[1:])
    if not merged:
        return plan
    return [merged.get(id(p), p) for p in plan if id(p) not in dropped]


#: per range operator: the bound to compare with first (when ``value op bound`` fails
#: for it, it fails for all) and the slice of the sorted bounds it holds for
_RANGE_SLICES = {
    ">": (0, "[:bisect_left({bounds}, {value})]"),
    ">=": (0, "[:bisect_right({bounds}, {value})]"),
    "<": (-1, "[bisect_right({bounds}, {value}):]"),
    "<=": (-1, "[bisect_left({bounds}, {value}):]"),
}

#: a residual of at most this many comparisons and operators is written into the walk
_INLINE = 6

Decide = Callable[[Mapping[str, Any], datetime], "Decision"]


class _Writer:
    """Writes ``decide`` for one compiled version as Python source and compiles it.

    A loop over the indexes pays, per index and line, for fetching the same attribute
    again, unpacking table descriptions and branching on their kind; the generated
    function fetches each attribute once and runs straight through, and tests the
    commonest residual of each index in place instead of calling it. Only schema
    attribute names (as ``repr``) and generated names enter the source; tables, bounds
    and literals stay in its namespace.
    """

    def __init__(self, plan: list[_Probe], shapes: Mapping[Shape, Node]) -> None:
        self.plan = plan
        self.shapes = shapes
        names = dict.fromkeys(a for probe in plan for a in probe.attributes)
        names.update((a, None) for probe in plan for part in probe.guard for a in attributes(part))
        names["TaskType"] = None  # the fallback reads it
        self.local = {name: f"a{i}" for i, name in enumerate(names)}
        self.namespace: dict[str, Any] = {
            "__builtins__": {},
            "TypeError": TypeError,
            "NO_RANK": _NO_RANK,
            "bisect_left": bisect_left,
            "bisect_right": bisect_right,
        }
        self.lines: list[str] = []
        self.pad = "    "  # the indentation of the probe being written
        self.fresh = True  # nothing matched yet: the first walk needs no rank check

    def decide(self, fallback: Callable[[Mapping[str, Any]], Decision], misses: Any) -> Decide:
        self.namespace.update(fallback=fallback, misses=misses)
        self.lines += ["def decide(values, at):", "    get = values.get", "    best = None"]
        self.lines.append("    best_rank = NO_RANK")
        self.lines += [f"    {local} = get({name!r})" for name, local in self.local.items()]
        for number, probe in enumerate(self.plan):
            self.lines.append(f"    # {number}: {_label(probe)}")
            self.namespace[f"t{number}"] = probe.table
            self.pad = "    "
            if probe.guard:
                guard = And(probe.guard) if len(probe.guard) > 1 else probe.guard[0]
                expression, literals = condition_source(guard, SCHEMA, self._read, str)
                assert not literals, "a null test has no literal"
                self.lines.append(f"    if {expression}:")
                self.pad = "        "
            getattr(self, f"_{probe.kind}")(probe, f"t{number}")
        self.lines += [
            "    if best is not None:",
            "        return best",
            f"    known = misses.get({self.local['TaskType']})",
            "    if known is not None:",
            "        return known",
            "    return fallback(values)",
        ]
        source = "\n".join(self.lines) + "\n"
        exec(compile(source, "<decide>", "exec"), self.namespace)
        return cast(Decide, self.namespace["decide"])

    def _equal(self, probe: _Probe, table: str) -> None:
        first, *more = (self.local[a] for a in probe.attributes)
        self._line(f"entry = {table}.get({first})")
        self._deeper("", more)
        self._walk("", probe, table)

    def _merged(self, probe: _Probe, table: str) -> None:
        """The record of the first value; the prefix probes when no equality names it."""
        first, *more = (self.local[a] for a in probe.attributes)
        self._line(f"entry = {table}.get({first})")
        fresh, pad = self.fresh, self.pad
        if probe.unknown:
            self._line("if entry is None:")
            self.pad = pad + "    "
            for number, unknown in enumerate(probe.unknown):
                self.namespace[f"{table}_{number}"] = unknown.table
                self._prefix(unknown, f"{table}_{number}")
            self.pad = pad
            self.fresh = fresh
            self._line("else:")
            indent = "    "
        elif more:
            self._line("if entry is not None:")
            indent = "    "
        else:  # the record is the chain
            indent = ""
        if more and probe.order:
            self.namespace[f"{table}_order"] = probe.order
            other = len(probe.order)  # the chain for any other value comes last
            self._line(f"    entry = entry[{table}_order.get({more[0]}, {other})]")
        elif more:
            self._line(f"    entry = entry[0].get({more[0]}) or entry[1]")
        self.pad = pad + indent
        self._walk("", probe, table)
        self.pad = pad
        self.fresh = False

    def _deeper(self, indent: str, values: list[str]) -> None:
        """Down the nested tables, one attribute at a time."""
        for value in values:
            self._line(f"{indent}if entry is not None:")
            self._line(f"{indent}    entry = entry.get({value})")

    def _prefix(self, probe: _Probe, table: str) -> None:
        first, *more = (self.local[a] for a in probe.attributes)
        self._line(f"if {first} is not None:")
        for length in probe.lengths:
            self._line(f"    entry = {table}.get({first}[:{length}])")
            self._deeper("    ", more)
            self._walk("    ", probe, table)

    def _range(self, probe: _Probe, table: str) -> None:
        """The chains whose bound holds for the value; a value of another type compares
        false, as in the condition itself. Most values are outside every bound, which
        one comparison with the outermost bound tells."""
        value, bounds = self.local[probe.attributes[0]], f"{table}_bounds"
        self.namespace[bounds] = probe.bounds
        edge, cut = _RANGE_SLICES[probe.op]
        self.namespace[f"{table}_edge"] = probe.bounds[edge]
        self._line(f"if {value} is not None:")
        self._line("    try:")
        chains = f"{table}{cut.format(bounds=bounds, value=value)}"
        self._line(f"        chains = {chains} if {value} {probe.op} {table}_edge else ()")
        self._line("    except TypeError:")
        self._line("        chains = ()")
        self._line("    for entry in chains:")
        self.fresh = False  # one walk for every chain: the second must not undo the first
        self._walk("        ", probe, table)

    def _all(self, probe: _Probe, table: str) -> None:
        self._line(f"entry = {table}")
        self._walk("", probe, table)

    def _line(self, line: str) -> None:
        self.lines.append(self.pad + line)

    def _walk(self, indent: str, probe: _Probe, table: str) -> None:
        """Walk the chain in ``entry`` to its first match, or until it reaches the rank
        of the best match so far. Fields are read only when needed: at 10,000 rules
        each is a separate object, and reading one is as likely as not a cache miss."""
        links = probe.links()
        checks = []
        if any(link[1] is not None or link[2] is not None for link in links):
            checks.append("((start := entry[1]) is None or at >= start)")
            checks.append("((end := entry[2]) is None or at < end)")
        if any(link[3] is not None for link in links):
            checks.append(self._test(links, table))
        lines = ["while entry is not None:", "    rank = entry[0]"]
        if not self.fresh:
            lines += ["    if rank >= best_rank:", "        break"]
        self.fresh = False
        found = ["best = entry[5]", "best_rank = rank", "break"]
        if checks:
            lines.append(f"    if {' and '.join(checks)}:")
            lines += [f"        {line}" for line in found]
            lines.append("    entry = entry[6]")
        else:  # the first candidate in rank is the match
            lines += [f"    {line}" for line in found]
        for line in lines:
            self._line(indent + line)

    def _test(self, links: list[_Link], table: str) -> str:
        """The residual test: the commonest small shape in place, any other by a call."""
        counts: dict[Shape, int] = {}
        for link in links:
            if link[3] is not None:
                counts[link[3]] = counts.get(link[3], 0) + 1
        call = "shape(values, entry[4])"
        common = max(counts, key=counts.__getitem__)
        node = self.shapes.get(common)
        if node is None or _size(node) > _INLINE:
            return f"((shape := entry[3]) is None or {call})"
        expression, literals = condition_source(node, SCHEMA, self._read, lambda i: "entry[4]")
        if len(literals) > 1:  # the shape's literals come as a tuple
            expression, _ = condition_source(node, SCHEMA, self._read, "entry[4][{}]".format)
        self.namespace[f"{table}_shape"] = common
        inline = f"({expression} if shape is {table}_shape else {call})"
        return f"((shape := entry[3]) is None or {inline})"

    def _read(self, attribute: str) -> str:
        local = self.local.get(attribute)
        return local if local is not None else f"get({attribute!r})"


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
        self._plan = _merged(self._build_index(active))
        self._decide = _Writer(self._plan, self._shapes).decide(self._fallback, self._misses)
        # an instance attribute: calling it is one plain call, with no method to bind
        vars(self)["decide"] = self._decide

    def _entry(self, rank: int, rule: Rule, test: Predicate | None) -> _Entry:
        return (rank, test, rule.active_from, rule.active_until, self._decisions[rule.rule_id])

    def _candidate(self, filing: _Filing, guard: Collection[Node]) -> _Candidate:
        rank, rule, rest = filing
        left = tuple(part for part in rest if part not in guard)
        shape: Shape | None = None
        literals: Any = None
        if left:
            node = left[0] if len(left) == 1 else And(left)
            shape, literals = compile_shape(node, SCHEMA)
            self._shapes.setdefault(shape, node)
        decision = self._decisions[rule.rule_id]
        return (rank, rule.active_from, rule.active_until, shape, literals, decision)

    def _chains(self, table: Mapping[Any, list[_Filing]], guard: Collection[Node]) -> Any:
        """Each key's filings as a chain of candidates, less what ``guard`` tests."""
        return {k: _chain([self._candidate(f, guard) for f in v]) for k, v in table.items()}

    def _build_index(self, active: list[Rule]) -> list[_Probe]:
        """File every active rule; the lookups ``decide`` makes, in order."""
        spread: dict[str, set[Any]] = {}
        for rule in active:
            for branch in _branches(self._trees[rule.rule_id]):
                for part in _conjuncts(branch):
                    keys, prefix = _index_keys(part), _prefix(part)
                    if keys is not None or prefix:
                        assert isinstance(part, Compare)
                        name = part.attribute if keys is not None else f"{part.attribute} ^"
                        spread.setdefault(name, set()).update(keys or (prefix,))
        tables: dict[tuple[str, ...], dict[Any, list[_Filing]]] = {}
        prefixes: dict[tuple[str, ...], dict[Any, list[_Filing]]] = {}
        ranges: dict[tuple[str, str], dict[Any, list[_Filing]]] = {}
        unindexed: list[_Filing] = []
        for rank, rule in enumerate(active):
            tree = self._trees[rule.rule_id]
            chosen = [_choose(branch, spread) for branch in _branches(tree)]
            if None in chosen:
                unindexed.append((rank, rule, _conjuncts(tree)))
                continue
            # each branch of an `or` is filed with only its own rest to test: the rule
            # holds when one branch does, and every branch is filed
            for key in chosen:
                assert key is not None
                filing = (rank, rule, key.rest)
                if key.bound is not None:
                    op, bound = key.bound
                    by_bound = ranges.setdefault((key.attributes[0], op), {})
                    by_bound.setdefault(bound, []).append(filing)
                    continue
                if key.prefix is not None:
                    table = prefixes.setdefault(key.attributes, {})
                    for value in dict.fromkeys(key.keys):
                        table.setdefault((key.prefix, *value), []).append(filing)
                    continue
                table = tables.setdefault(key.attributes, {})
                for value in dict.fromkeys(key.keys):
                    table.setdefault(value, []).append(filing)
        # every list is in rank order already: rules were filed in rank order
        plan: list[_Probe] = []
        for names, table in sorted(tables.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            guard = _guard(table.values())
            chains = _nest(self._chains(table, guard))
            plan.append(_Probe("equal", names, chains, guard=guard))
        for names, table in sorted(prefixes.items()):
            guard = _guard(table.values())
            lengths = tuple(sorted({len(k[0]) for k in table}))
            chains = _nest(self._chains(table, guard))
            plan.append(_Probe("prefix", names, chains, lengths=lengths, guard=guard))
        for (name, op), table in sorted(ranges.items()):
            guard = _guard(table.values())
            bounds = tuple(sorted(table))
            chains = self._chains(table, guard)
            groups = tuple(chains[bound] for bound in bounds)
            plan.append(_Probe("range", (name,), groups, op=op, bounds=bounds, guard=guard))
        if unindexed:
            guard = _guard([unindexed])
            chain = self._chains({(): unindexed}, guard)[()]
            plan.append(_Probe("all", (), chain, guard=guard))
        self.stats = {
            "rules": len(self.ordered),
            "active": len(active),
            "indexes": [_label(probe) for probe in plan if probe.kind != "all"],
            "unindexed": len(unindexed),
        }
        return plan

    def decide(self, values: Mapping[str, Any], at: datetime) -> Decision:
        """The decision for a line with typed ``values`` (see ``typed_values``) at ``at``.

        Each instance replaces this method by the function :class:`_Writer` wrote for
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
