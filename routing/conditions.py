"""The condition language of routing rules, pure and typed.

::

    Item = "CM5008" and TaskType = "Invoice"
    OrderedQuantity >= 10 and not (BuyingPartyNumber in ("1006", "1007") or ShipSetName is null)
    ProductNumber starts with "AS" and RequestedShipDate < "2027-01-01"

Operators: ``=  !=  <  <=  >  >=  in  not in  contains  starts with  is null
is not null``, combined with ``and`` (binds tighter), ``or``, ``not`` and parentheses.
Keywords are case-insensitive; attribute names are not. Values are strings (double
quotes, ``\\"`` and ``\\\\`` escapes), numbers, or lists of them in parentheses.

:func:`parse` turns text into a tree and reports a syntax error with its line, column
and what was expected. :func:`compile_condition` checks the tree against the attribute
schema (unknown attributes, a value of the wrong type, an operator the type lacks) and
returns a predicate; this is what publishing a rule set runs, so nothing is discovered
at routing time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from types import FunctionType
from typing import Any, cast

from routing.routing_errors import ConditionError

__all__ = [
    "TYPES",
    "And",
    "Compare",
    "ConditionError",
    "IsNull",
    "Node",
    "Not",
    "Or",
    "attributes",
    "compile_condition",
    "parse",
    "render",
    "typed_literal",
]

#: attribute types and the operators each allows
TYPES: dict[str, frozenset[str]] = {
    "string": frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "not in", "contains",
                         "starts with"}),
    "number": frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "not in"}),
    "date": frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "not in"}),
}  # fmt: skip


@dataclass(frozen=True)
class Compare:
    attribute: str
    op: str
    value: str | Decimal | tuple[str | Decimal, ...]
    line: int = field(default=1, compare=False)
    column: int = field(default=1, compare=False)


@dataclass(frozen=True)
class IsNull:
    attribute: str
    negated: bool
    line: int = field(default=1, compare=False)
    column: int = field(default=1, compare=False)


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Compare | IsNull | Not | And | Or

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<string>"(?:[^"\\\n]|\\["\\])*")
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<op><=|>=|!=|=|<|>|\(|\)|,)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "contains", "starts", "with", "is", "null"}


@dataclass(frozen=True)
class _Token:
    kind: str  # string | number | op | word | keyword | end
    text: str
    line: int
    column: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        column = pos - line_start + 1
        if match is None:
            snippet = text[pos : pos + 10].split("\n")[0]
            if text[pos] == '"':
                raise ConditionError(
                    "a string is not closed before the end of its line", line, column
                )
            raise ConditionError(f"unexpected {snippet!r}", line, column)
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "word" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        if kind != "ws":
            out.append(_Token(kind, value, line, column))
        newlines = value.count("\n")
        if newlines:
            line += newlines
            line_start = match.start() + value.rindex("\n") + 1
        pos = match.end()
    out.append(_Token("end", "", line, pos - line_start + 1))
    return out


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: nesting of parentheses and ``not`` a condition may use (the parser recurses)
MAX_NESTING = 32


class _Parser:
    """``or`` < ``and`` < ``not`` < comparison, by recursive descent."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.pos += 1
        return token

    def is_keyword(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind == "keyword" and token.text == word

    def fail(self, expected: str) -> ConditionError:
        token = self.peek()
        found = "the end" if token.kind == "end" else repr(token.text)
        return ConditionError(f"expected {expected}, found {found}", token.line, token.column)

    def parse(self) -> Node:
        node = self.disjunction()
        if self.peek().kind != "end":
            raise self.fail("'and', 'or' or the end of the condition")
        return node

    def disjunction(self) -> Node:
        operands = [self.conjunction()]
        while self.is_keyword("or"):
            self.take()
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def conjunction(self) -> Node:
        operands = [self.negation()]
        while self.is_keyword("and"):
            self.take()
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def negation(self) -> Node:
        if self.is_keyword("not") or (self.peek().text == "(" and self.peek().kind == "op"):
            self.depth += 1
            if self.depth > MAX_NESTING:
                token = self.peek()
                raise ConditionError(
                    f"nested more than {MAX_NESTING} deep; simplify the condition",
                    token.line,
                    token.column,
                )
            node = self._nested()
            self.depth -= 1
            return node
        return self.comparison()

    def _nested(self) -> Node:
        if self.is_keyword("not"):
            self.take()
            return Not(self.negation())
        self.take()
        node = self.disjunction()
        if self.peek().text != ")":
            raise self.fail("')'")
        self.take()
        return node

    def comparison(self) -> Node:
        attribute = self.peek()
        if attribute.kind != "word":
            raise self.fail("an attribute name, 'not' or '('")
        self.take()
        line, column = attribute.line, attribute.column
        token = self.peek()
        if token.kind == "op" and token.text in ("=", "!=", "<", "<=", ">", ">="):
            self.take()
            return Compare(attribute.text, token.text, self.scalar(), line, column)
        if self.is_keyword("in") or (self.is_keyword("not") and self.is_keyword("in", 1)):
            op = "in" if self.take().text == "in" else "not in"
            if op == "not in":
                self.take()
            return Compare(attribute.text, op, self.value_list(), line, column)
        if self.is_keyword("contains"):
            self.take()
            return Compare(attribute.text, "contains", self.scalar(), line, column)
        if self.is_keyword("starts"):
            self.take()
            if not self.is_keyword("with"):
                raise self.fail("'with' after 'starts'")
            self.take()
            return Compare(attribute.text, "starts with", self.scalar(), line, column)
        if self.is_keyword("is"):
            self.take()
            negated = self.is_keyword("not")
            if negated:
                self.take()
            if not self.is_keyword("null"):
                raise self.fail("'null'")
            self.take()
            return IsNull(attribute.text, negated, line, column)
        raise self.fail(
            "an operator (=, !=, <, <=, >, >=, in, not in, contains, starts with, is null)"
        )

    def scalar(self) -> str | Decimal:
        token = self.peek()
        if token.kind == "string":
            self.take()
            return re.sub(r"\\([\"\\])", r"\1", token.text[1:-1])
        if token.kind == "number":
            self.take()
            return Decimal(token.text)
        raise self.fail('a value (a "string" or a number)')

    def value_list(self) -> tuple[str | Decimal, ...]:
        if self.peek().text != "(":
            raise self.fail("'(' and a list of values")
        self.take()
        values = [self.scalar()]
        while self.peek().text == ",":
            self.take()
            values.append(self.scalar())
        if self.peek().text != ")":
            raise self.fail("',' or ')'")
        self.take()
        return tuple(values)


def parse(text: str) -> Node:
    """The tree of ``text``; :class:`ConditionError` names where it stops making sense."""
    if not text.strip():
        raise ConditionError("the condition is empty", 1, 1)
    return _Parser(text).parse()


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
    if _depth(node) > _MAX_DEPTH:
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
    if _depth(node) > _MAX_DEPTH:
        return _apply, _composed(node, schema)
    expression, count, literals = _source(node, schema)
    return _shape(expression, count), literals


#: deeper trees are composed from closures: Python's parser and compiler limit how
#: deeply one generated expression may nest
_MAX_DEPTH = 40


def _apply(values: Mapping[str, Any], predicate: Predicate) -> bool:
    """The shape of a tree too deep to generate: its predicate is its literal."""
    return predicate(values)


def _depth(node: Node) -> int:
    if isinstance(node, And | Or):
        return 1 + max(_depth(n) for n in node.operands)
    if isinstance(node, Not):
        return 1 + _depth(node.operand)
    return 1


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


def attributes(node: Node) -> Sequence[str]:
    """Every attribute a condition reads, in order of appearance."""
    if isinstance(node, And | Or):
        return [a for n in node.operands for a in attributes(n)]
    if isinstance(node, Not):
        return attributes(node.operand)
    return [node.attribute]


def _literal(value: str | Decimal) -> str:
    if isinstance(value, Decimal):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(node: Node) -> str:
    """``node`` as condition text that parses back to the same tree."""
    if isinstance(node, And | Or):
        word = " and " if isinstance(node, And) else " or "
        parts = []
        for operand in node.operands:
            text = render(operand)
            # an `or` inside an `and` needs its parentheses back
            parts.append(f"({text})" if isinstance(node, And) and isinstance(operand, Or) else text)
        return word.join(parts)
    if isinstance(node, Not):
        inner = render(node.operand)
        return f"not ({inner})" if isinstance(node.operand, And | Or) else f"not {inner}"
    if isinstance(node, IsNull):
        return f"{node.attribute} is {'not ' if node.negated else ''}null"
    if isinstance(node.value, tuple):
        values = ", ".join(_literal(v) for v in node.value)
        return f"{node.attribute} {node.op} ({values})"
    return f"{node.attribute} {node.op} {_literal(node.value)}"
