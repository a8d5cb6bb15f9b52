"""Routing's one exception tree: every error this package raises derives from
:class:`RoutingError`, so gateway can translate the whole family in one place.

::

    RoutingError                    rules or a condition that cannot be used
    ├── ConditionError              a condition that does not parse or does not fit the
    │                               schema; ``message``, ``line``, ``column``
    └── RuleSetInvalid              a rule or rule set that cannot be published;
                                    ``problems`` lists every :class:`Problem`

Both are also ValueErrors, because callers catch them as such beside other bad input.
Importers take each class from here, whichever module raises it.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ConditionError", "Problem", "RoutingError", "RuleSetInvalid"]


class RoutingError(Exception):
    """Base of every error routing raises."""


class ConditionError(RoutingError, ValueError):
    """A condition that does not parse or does not fit the schema, with its position."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column


class Problem(NamedTuple):
    """One thing wrong with a rule set: the rule (``None`` for the set), field and why."""

    rule: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"rule {self.rule}" if self.rule is not None else "rule set"
        return f"{where}, {self.field}: {self.message}"


class RuleSetInvalid(RoutingError, ValueError):  # noqa: N818 (reads as the outcome it is)
    """A rule or rule set that cannot be published; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
