"""Conditions compiled: a parsed tree checked against the attribute schema, made a predicate.

:func:`compile_condition` checks a tree (unknown attributes, a value of the wrong type,
an operator the type lacks) and returns a predicate; this is what publishing a rule set
runs, so nothing is discovered at routing time. :func:`compile_shape` compiles the form
a condition shares with others once, and :func:`condition_source` writes a tree as a
Python expression, which the engine's generated ``decide`` inlines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from types import FunctionType
from typing import Any, cast

from routing.condition_syntax import And, Compare, IsNull, Node, Not, Or, depth
from routing.routing_errors import ConditionError

__all__ = [
    "TYPES",
    "Predicate",
    "Shape",
    "compile_condition",
    "compile_shape",
    "condition_source",
    "typed_literal",
]

#: attribute types and the operators each allows
TYPES: dict[str, frozenset[str]] = {
    "string": frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "not in", "contains",
                         "starts with"}),
    "number": frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "not in"}),
    "date": frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "not in"}),
}  # fmt: skip
#: how a date literal is written
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Predicate = Callable[[Mapping[str, Any]], bool]


def typed_literal(value: str | Decimal, kind: str, node: Compare) -> Any:
    """``value`` as the attribute's type, or a positioned error."""
    name = node.attribute
    if kind == "number":
        try:
            number = value if isinstance(value, Decimal) else Decimal(value)
        except InvalidOperation:
            number = None
        # NaN and infinities would break ordering and hashing in the engine
        if number is None or not number.is_finite():
            raise ConditionError(
                f'{name} is a number; "{value}" is not one', node.line, node.column
            )
        return number
    if kind == "date":
        text = str(value)
        try:
            if not _DATE.fullmatch(text):
                raise ValueError(text)
            return date.fromisoformat(text)
        except ValueError:
            raise ConditionError(
                f'{name} is a date; write it as "YYYY-MM-DD", not {text}', node.line, node.column
            ) from None
    if isinstance(value, Decimal):
        raise ConditionError(
            f'{name} is a string; quote the value: "{value}"', node.line, node.column
        )
    return value


def compile_condition(node: Node, schema: Mapping[str, str]) -> Predicate:
    """A predicate over attribute values, checked against ``schema`` (name → type).

    Missing or ``None`` attribute values make every comparison false (SQL's rule), so
    ``X != "a"`` does not match a line without X; ``is null`` asks for that case.
    """
    if depth(node) > _MAX_DEPTH:
        return _composed(node, schema)
    expression, count, literals = _source(node, schema)
    shape = _shape(expression, count)
    # the shape's code with this condition's literals as the default of ``c``
    return FunctionType(shape.__code__, shape.__globals__, "condition", (literals,))


#: a condition's form without its literals, called as ``shape(values, literals)``
Shape = Callable[[Mapping[str, Any], Any], bool]


def compile_shape(node: Node, schema: Mapping[str, str]) -> tuple[Shape, Any]:
    """``node`` as a function shared by every condition of its shape, and the literals
    to call it with (one value, or a tuple of several).

    A rule set repeats a few shapes (``Item = … and TaskType = …``) with different
    literals, so each shape is compiled to Python once, as one flat expression rather
    than a chain of closures, and a rule keeps only its literals: at routing time that
    is one call and no closure cells to fetch from memory.
    """
    if depth(node) > _MAX_DEPTH:
        return _apply, _composed(node, schema)
    expression, count, literals = _source(node, schema)
    return _shape(expression, count), literals


#: deeper trees are composed from closures: Python's parser and compiler limit how
#: deeply one generated expression may nest
_MAX_DEPTH = 40


def _apply(values: Mapping[str, Any], predicate: Predicate) -> bool:
    """The shape of a tree too deep to generate: its predicate is its literal."""
    return predicate(values)


def _checked_kind(node: Compare | IsNull, schema: Mapping[str, str]) -> str:
    """The attribute's type, once the attribute and the operator are known to fit."""
    kind = schema.get(node.attribute)
    if kind is None:
        known = ", ".join(sorted(schema))
        raise ConditionError(
            f"unknown attribute {node.attribute!r}; known: {known}", node.line, node.column
        )
    if isinstance(node, Compare) and node.op not in TYPES[kind]:
        raise ConditionError(
            f"{node.attribute} is a {kind}; '{node.op}' applies to strings only",
            node.line,
            node.column,
        )
    return kind


def _source(node: Node, schema: Mapping[str, str]) -> tuple[str, int, Any]:
    """The expression of ``node``'s shape, how many literals it names, and the literals
    packed as a shape takes them: the one value, or a tuple of them."""
    expression, literals = condition_source(node, schema, _read, _literal_name)
    packed = literals[0] if len(literals) == 1 else tuple(literals)
    return expression, len(literals), packed


def _read(attribute: str) -> str:
    return f"get({attribute!r})"


def _literal_name(index: int) -> str:
    return f"c{index}"


#: the test of each operator but ``=`` and ``in``, on a value ``v`` known not to be None
_TESTS = {
    "!=": "{v} != {c}",
    "<": "{v} < {c}",
    "<=": "{v} <= {c}",
    ">": "{v} > {c}",
    ">=": "{v} >= {c}",
    "contains": "{c} in {v}",
    "starts with": "{v}.startswith({c})",
    "not in": "{v} not in {c}",
}


def condition_source(
    node: Node,
    schema: Mapping[str, str],
    value: Callable[[str], str],
    literal: Callable[[int], str],
) -> tuple[str, list[Any]]:
    """A Python expression for ``node``, checked against ``schema``, and its literals.

    ``value(attribute)`` is the source that reads an attribute of the line and
    ``literal(i)`` the source that names the i-th literal; temporaries are ``v0``,
    ``v1``…. Nothing else enters the source: no literal and no text from the rule but
    the schema's attribute names, which ``value`` is to quote with ``repr``.
    """
    literals: list[Any] = []
    return _expression(node, schema, literals, value, literal), literals


def _expression(
    node: Node,
    schema: Mapping[str, str],
    literals: list[Any],
    value: Callable[[str], str],
    literal: Callable[[int], str],
) -> str:
    if isinstance(node, And | Or):
        word = " and " if isinstance(node, And) else " or "
        parts = (_expression(n, schema, literals, value, literal) for n in node.operands)
        return f"({word.join(parts)})"
    if isinstance(node, Not):
        return f"(not {_expression(node.operand, schema, literals, value, literal)})"
    kind = _checked_kind(node, schema)
    read = value(node.attribute)
    if isinstance(node, IsNull):
        return f"({read} is {'not ' if node.negated else ''}None)"
    index = len(literals)
    if isinstance(node.value, tuple):
        literals.append(frozenset(typed_literal(v, kind, node) for v in node.value))
    else:
        literals.append(typed_literal(node.value, kind, node))
    if node.op in ("=", "in"):
        # None never equals a literal nor is a member: a missing value needs no test
        return f"({read} {'==' if node.op == '=' else 'in'} {literal(index)})"
    test = _TESTS[node.op].format(v=f"v{index}", c=literal(index))
    return f"((v{index} := {read}) is not None and {test})"


@lru_cache(maxsize=1024)
def _shape(expression: str, count: int) -> FunctionType:
    """The function for one shape, compiled once (a rule set repeats a few shapes)."""
    names = ", ".join(f"c{i}" for i in range(count))
    unpack = "" if count == 0 else f"    {names} = c\n" if count == 1 else f"    {names}, = c\n"
    source = f"def shape(values, c):\n{unpack}    get = values.get\n    return {expression}\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<condition>", "exec"), {"__builtins__": {}}, namespace)
    return cast(FunctionType, namespace["shape"])


def _composed(node: Node, schema: Mapping[str, str]) -> Predicate:
    """``node`` as a chain of closures, for a tree too deep to generate."""
    if isinstance(node, And | Or):
        parts = [_composed(n, schema) for n in node.operands]
        return _all(parts) if isinstance(node, And) else _any(parts)
    if isinstance(node, Not):
        inner = _composed(node.operand, schema)
        return lambda values: not inner(values)
    kind = _checked_kind(node, schema)
    name = node.attribute
    if isinstance(node, IsNull):
        negated = node.negated
        return lambda values: (values.get(name) is None) != negated
    if isinstance(node.value, tuple):
        members = frozenset(typed_literal(v, kind, node) for v in node.value)
        if node.op == "in":
            # None is never a member, so a missing value is simply not in the list
            return lambda values: values.get(name) in members
        return lambda values: (v := values.get(name)) is not None and v not in members
    target = typed_literal(node.value, kind, node)
    if node.op == "=":
        return lambda values: values.get(name) == target
    return _comparison(name, node.op, target)


def _all(parts: list[Predicate]) -> Predicate:
    # two operands are the common case; a plain closure beats all() over a generator
    if len(parts) == 2:
        first, second = parts
        return lambda values: first(values) and second(values)
    if len(parts) > 2:
        head, rest = parts[0], _all(parts[1:])
        return lambda values: head(values) and rest(values)
    return parts[0]


def _any(parts: list[Predicate]) -> Predicate:
    if len(parts) == 2:
        first, second = parts
        return lambda values: first(values) or second(values)
    if len(parts) > 2:
        head, rest = parts[0], _any(parts[1:])
        return lambda values: head(values) or rest(values)
    return parts[0]


def _comparison(name: str, op: str, target: Any) -> Predicate:
    # one closure per operator: routing evaluates these on every decision
    if op == "!=":
        return lambda values: (v := values.get(name)) is not None and v != target
    if op == "<":
        return lambda values: (v := values.get(name)) is not None and v < target
    if op == "<=":
        return lambda values: (v := values.get(name)) is not None and v <= target
    if op == ">":
        return lambda values: (v := values.get(name)) is not None and v > target
    if op == ">=":
        return lambda values: (v := values.get(name)) is not None and v >= target
    if op == "contains":
        return lambda values: (v := values.get(name)) is not None and target in v
    if op == "starts with":
        return lambda values: (v := values.get(name)) is not None and v.startswith(target)
    raise AssertionError(f"no comparison for {op!r}")  # pragma: no cover - parser's ops
