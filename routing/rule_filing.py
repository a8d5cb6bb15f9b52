"""Where each active rule is filed in the indexes of one compiled version (pure).

A rule is filed under its ``=``/``in`` conjuncts together (a composite key:
``Item + TaskType``), or, when that spreads wider, a ``starts with`` prefix, or a
``<``/``>`` bound; each branch of a top-level ``or`` is filed on its own, with only its
own rest to test. A rule nothing can index is filed as a candidate for every line.
:func:`file_rules` does this for a whole version; :mod:`routing.index_plan` turns what
it files into the lookups ``decide`` makes.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from routing.condition_compiler import typed_literal
from routing.condition_syntax import And, Compare, Node, Or
from routing.rule_attributes import SCHEMA
from routing.rule_set import Rule

__all__ = ["FiledRules", "Filing", "file_rules"]

# how a rule is filed: rank, rule, the conjuncts the index leaves to test
Filing = tuple[int, Rule, tuple[Node, ...]]


@dataclass
class FiledRules:
    """Every active rule of a version, filed; each list is in rank order."""

    #: by the attributes of a composite key, then by its values
    tables: dict[tuple[str, ...], dict[Any, list[Filing]]] = field(default_factory=dict)
    #: by the prefix attribute and the equality attributes, then by the prefix and values
    prefixes: dict[tuple[str, ...], dict[Any, list[Filing]]] = field(default_factory=dict)
    #: by attribute and range operator, then by bound
    ranges: dict[tuple[str, str], dict[Any, list[Filing]]] = field(default_factory=dict)
    #: the rules no index holds: candidates for every line
    unindexed: list[Filing] = field(default_factory=list)


def file_rules(active: Sequence[Rule], trees: Mapping[str, Node]) -> FiledRules:
    """File every rule of ``active`` (in rank order) by its parsed condition in ``trees``."""
    spread: dict[str, set[Any]] = {}
    for rule in active:
        for branch in _branches(trees[rule.rule_id]):
            for part in _conjuncts(branch):
                keys, prefix = _index_keys(part), _prefix(part)
                if keys is not None or prefix:
                    assert isinstance(part, Compare)
                    name = part.attribute if keys is not None else f"{part.attribute} ^"
                    spread.setdefault(name, set()).update(keys or (prefix,))
    filed = FiledRules()
    tables, prefixes, ranges = filed.tables, filed.prefixes, filed.ranges
    for rank, rule in enumerate(active):
        tree = trees[rule.rule_id]
        chosen = [_choose(branch, spread) for branch in _branches(tree)]
        if None in chosen:
            filed.unindexed.append((rank, rule, _conjuncts(tree)))
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
    return filed


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


#: a rule whose ``in`` lists multiply past this is filed under fewer attributes
_MAX_KEYS = 64
_RANGES = (">", ">=", "<", "<=")
