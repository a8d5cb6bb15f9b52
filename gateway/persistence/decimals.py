"""Decimals that read back exactly on every database omgw supports.

SQLite has no exact decimal type: a ``NUMERIC`` column stores a fractional value as an
8-byte float, which holds 15 to 17 significant digits, so ``12345678901234.5678`` read
back as ``12345678901234.5684`` and ``99999999999999.9999`` as ``1E+14``. There a
:class:`ScaledDecimal` of scale 4 is stored as the integer ``value × 10**4``
(``1.0001`` → ``10001``); SQLite's integers are exact up to 2**63 − 1, which holds any
18 digits, so ``NUMERIC(18, 4)``'s whole range fits. PostgreSQL keeps ``NUMERIC(18, 4)``,
which is exact already.

Integers keep SQL comparison, ordering, ``+``, ``-`` and ``SUM`` meaningful on SQLite: a
bound operand is scaled like the column, and a ``SUM`` comes back through this type.
``*``, ``/``, ``%`` and ``//`` would scale twice, so they are refused on every database
(do that arithmetic in Python, on the ``Decimal`` values). ``SUM`` of scaled values
beyond 2**63 − 1 (more than nine lines at the largest quantity) fails with SQLite's
``integer overflow``; it is never rounded.

A value the column cannot hold exactly (more decimals or more digits) raises
``ValueError`` rather than being rounded: callers' input is checked first
(``gateway/orders/limits.py``) and refused with a Client fault, so reaching this is a bug.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["ScaledDecimal", "from_scaled", "to_scaled"]

#: operators whose result would carry the scale twice (or none) on scaled integers
_SCALING = frozenset({operators.mul, operators.truediv, operators.floordiv, operators.mod})


def to_scaled(value: Decimal | int, precision: int, scale: int) -> int:
    """``value × 10**scale`` as an integer, computed exactly.

    :raises ValueError: ``value`` has more than ``scale`` decimals or more than
        ``precision - scale`` integer digits, or is not finite.
    :raises TypeError: ``value`` is a float (already inexact) or not a number.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"an exact decimal needs a Decimal or an int, not {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{value} is not a finite number")
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    coefficient = int("".join(map(str, digits)))
    if coefficient == 0:
        return 0
    if number.adjusted() >= precision - scale:
        raise ValueError(f"{value} has more than {precision - scale} integer digits")
    shift = exponent + scale
    if shift >= 0:
        scaled = coefficient * 10**shift
    else:
        scaled, dropped = divmod(coefficient, 10**-shift)
        if dropped:
            raise ValueError(f"{value} has more than {scale} decimals")
    return -scaled if sign else scaled


def from_scaled(scaled: int, scale: int) -> Decimal:
    """The decimal an integer from :func:`to_scaled` stands for, with ``scale`` decimals
    (``20000`` → ``Decimal("2.0000")``, as ``NUMERIC(18, 4)`` reads back)."""
    if isinstance(scaled, bool) or not isinstance(scaled, int):
        raise TypeError(f"a scaled decimal is stored as an integer, not {scaled!r}")
    return Decimal(f"{scaled}E-{scale}")  # parsed, not computed: never rounded


class ScaledDecimal(TypeDecorator[Decimal]):
    """``NUMERIC(precision, scale)`` on PostgreSQL, an integer scaled by ``10**scale`` on
    SQLite; values are ``Decimal`` both ways, with exactly ``scale`` decimals when read."""

    impl = Numeric
    cache_ok = True

    class Comparator(TypeDecorator.Comparator[Decimal]):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            _check_operator(op)
            return super().operate(op, *other, **kwargs)

        def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
            _check_operator(op)
            return super().reverse_operate(op, other, **kwargs)

    comparator_factory = Comparator

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision, scale, asdecimal=True)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        scaled = to_scaled(value, self.precision, self.scale)
        if dialect.name == "sqlite":
            return scaled
        return from_scaled(scaled, self.scale)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return from_scaled(value, self.scale)
        return Decimal(value)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


def _check_operator(op: Any) -> None:
    if op in _SCALING:
        raise NotImplementedError(
            f"{op.__name__} on a ScaledDecimal column would scale its result twice on "
            "SQLite; compute it in Python on the Decimal values"
        )
