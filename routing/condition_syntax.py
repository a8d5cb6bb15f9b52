"""The condition language of routing rules: its tree, text to tree, and tree to text.

::

    Item = "CM5008" and TaskType = "Invoice"
    OrderedQuantity >= 10 and not (BuyingPartyNumber in ("1006", "1007") or ShipSetName is null)
    ProductNumber starts with "AS" and RequestedShipDate < "2027-01-01"

Operators: ``=  !=  <  <=  >  >=  in  not in  contains  starts with  is null
is not null``, combined with ``and`` (binds tighter), ``or``, ``not`` and parentheses.
Keywords are case-insensitive; attribute names are not. Values are strings (double
quotes, ``\\"`` and ``\\\\`` escapes), numbers, or lists of them in parentheses.

:func:`parse` turns text into a tree and reports a syntax error with its line, column
and what was expected; :func:`render` writes a tree back as text. What a tree means
against the attribute schema is :mod:`routing.condition_compiler`'s to say.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from routing.routing_errors import ConditionError

__all__ = [
    "MAX_NESTING",
    "And",
    "Compare",
    "IsNull",
    "Node",
    "Not",
    "Or",
    "attributes",
    "depth",
    "parse",
    "render",
    "size",
]


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


def attributes(node: Node) -> Sequence[str]:
    """Every attribute a condition reads, in order of appearance."""
    if isinstance(node, And | Or):
        return [a for n in node.operands for a in attributes(n)]
    if isinstance(node, Not):
        return attributes(node.operand)
    return [node.attribute]


def depth(node: Node) -> int:
    """How deeply ``node`` nests: 1 for a comparison, one more per operator around it."""
    return _measure(node, max)


def size(node: Node) -> int:
    """How many comparisons and operators ``node`` has."""
    return _measure(node, sum)


def _measure(node: Node, combine: Callable[[Iterable[int]], int]) -> int:
    """1 for a comparison; for an operator, 1 and ``combine`` of its operands' measures."""
    if isinstance(node, And | Or):
        return 1 + combine(_measure(n, combine) for n in node.operands)
    if isinstance(node, Not):
        return 1 + _measure(node.operand, combine)
    return 1


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
