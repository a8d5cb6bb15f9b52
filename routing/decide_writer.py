"""The ``decide`` of one compiled version, written as Python source and compiled.

Each probe of the plan (:mod:`routing.index_plan`) becomes inline code: the lookup, the
rank-ordered walk of the chain it finds, and the commonest residual shape of its
candidates as an inline expression. Only schema attribute names (via ``repr``) and
generated names enter that source; every table, bound and literal travels in its
namespace. A walk stops at the first candidate whose window holds the routing time and
whose residual holds, or at the rank of the best match found so far.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from routing.condition_compiler import Shape, condition_source
from routing.condition_syntax import And, Node, attributes, size
from routing.decision import Decision
from routing.index_plan import Link, Probe, probe_label
from routing.rule_attributes import SCHEMA

__all__ = ["Decide", "DecideWriter"]

#: the best rank before anything matches: worse than every real one
_NO_RANK = 1 << 62

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

Decide = Callable[[Mapping[str, Any], datetime], Decision]


class DecideWriter:
    """Writes ``decide`` for one compiled version as Python source and compiles it.

    A loop over the indexes pays, per index and line, for fetching the same attribute
    again, unpacking table descriptions and branching on their kind; the generated
    function fetches each attribute once and runs straight through, and tests the
    commonest residual of each index in place instead of calling it. Only schema
    attribute names (as ``repr``) and generated names enter the source; tables, bounds
    and literals stay in its namespace.
    """

    def __init__(self, plan: list[Probe], shapes: Mapping[Shape, Node]) -> None:
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
            self.lines.append(f"    # {number}: {probe_label(probe)}")
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

    def _equal(self, probe: Probe, table: str) -> None:
        first, *more = (self.local[a] for a in probe.attributes)
        self._line(f"entry = {table}.get({first})")
        self._deeper("", more)
        self._walk("", probe, table)

    def _merged(self, probe: Probe, table: str) -> None:
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

    def _prefix(self, probe: Probe, table: str) -> None:
        first, *more = (self.local[a] for a in probe.attributes)
        self._line(f"if {first} is not None:")
        for length in probe.lengths:
            self._line(f"    entry = {table}.get({first}[:{length}])")
            self._deeper("    ", more)
            self._walk("    ", probe, table)

    def _range(self, probe: Probe, table: str) -> None:
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

    def _all(self, probe: Probe, table: str) -> None:
        self._line(f"entry = {table}")
        self._walk("", probe, table)

    def _line(self, line: str) -> None:
        self.lines.append(self.pad + line)

    def _walk(self, indent: str, probe: Probe, table: str) -> None:
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

    def _test(self, links: list[Link], table: str) -> str:
        """The residual test: the commonest small shape in place, any other by a call."""
        counts: dict[Shape, int] = {}
        for link in links:
            if link[3] is not None:
                counts[link[3]] = counts.get(link[3], 0) + 1
        call = "shape(values, entry[4])"
        common = max(counts, key=counts.__getitem__)
        node = self.shapes.get(common)
        if node is None or size(node) > _INLINE:
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
