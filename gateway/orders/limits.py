"""Limits on incoming values, so that nothing the database would refuse (or round)
reaches it: a precise fault instead of an internal error on PostgreSQL, or a silent
truncation on SQLite. And limits on how many orders and lines one request carries, so
that no single call holds the writer (or builds an answer) for long.

Text limits are read off the model columns, so the schema stays the one source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.errors import ValidationError

__all__ = [
    "MAX_INTEGER_DIGITS",
    "MAX_REVISION",
    "MAX_SCALE",
    "SizeLimits",
    "check_answer_lines",
    "check_length",
    "check_line_counts",
    "check_order_count",
    "check_quantity",
    "check_request_lines",
    "max_length",
]

#: Quantities are stored as NUMERIC(18, 4).
MAX_SCALE = 4
MAX_INTEGER_DIGITS = 14
#: Revisions are compared as numbers stored in a 32-bit column.
MAX_REVISION = 2**31 - 1


def max_length(column: Any) -> int:
    """The declared length of a mapped string column (``OrderHeader.revision`` …)."""
    return int(column.property.columns[0].type.length)


def check_length(value: str | None, name: str, column: Any, where: str) -> None:
    if value is None:
        return
    limit = max_length(column)
    if len(value) > limit:
        raise ValidationError(
            "INVALID_VALUE", f"{name} on {where} is {len(value)} characters; at most {limit}"
        )


def _decimals(value: Decimal) -> int:
    """How many decimals a finite ``value`` has once trailing zeros are dropped
    (``2.50`` → 1, ``1E+1`` → 0), counted on its digits: ``normalize()`` would first
    round to the context's 28 digits, and ``1.000…0001`` would pass as ``1``."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite: checked by the caller
    significant = "".join(map(str, digits)).rstrip("0")
    if not significant:
        return 0
    return max(0, -(exponent + len(digits) - len(significant)))


def check_quantity(quantity: Decimal, what: str) -> None:
    """Greater than zero, at most 4 decimals and 14 integer digits (NUMERIC(18, 4))."""
    try:
        positive = quantity.is_finite() and quantity > 0
    except InvalidOperation:
        positive = False
    if not positive:
        raise ValidationError(
            "QUANTITY_INVALID", f"{what} must be greater than zero, got {quantity}"
        )
    if _decimals(quantity) > MAX_SCALE:
        raise ValidationError(
            "QUANTITY_INVALID", f"{what} has more than {MAX_SCALE} decimals: {quantity}"
        )
    if quantity.adjusted() + 1 > MAX_INTEGER_DIGITS:
        raise ValidationError(
            "QUANTITY_INVALID", f"{what} has more than {MAX_INTEGER_DIGITS} integer digits"
        )


@dataclass(frozen=True)
class SizeLimits:
    """How many orders and lines one request may carry (``Settings`` sets them)."""

    orders_per_request: int = 1_000
    lines_per_order: int = 10_000
    lines_per_request: int = 10_000


def check_order_count(orders: int, limits: SizeLimits) -> None:
    if orders > limits.orders_per_request:
        raise ValidationError(
            "TOO_MANY_ORDERS",
            f"the request holds {orders} orders; at most {limits.orders_per_request}: "
            "send them in several requests",
        )


def check_line_counts(lines_per_order: Sequence[int], limits: SizeLimits) -> None:
    """Each order's lines, then the request's: ``ORDER_TOO_LARGE`` names the order (by
    position), ``REQUEST_TOO_MANY_LINES`` the total."""
    for position, lines in enumerate(lines_per_order, start=1):
        if lines > limits.lines_per_order:
            raise ValidationError(
                "ORDER_TOO_LARGE",
                f"order {position} of the request has {lines} lines; at most "
                f"{limits.lines_per_order} lines per order",
            )
    check_request_lines(sum(lines_per_order), limits)


def check_answer_lines(total: int, limits: SizeLimits) -> None:
    """An inquiry's answer holds no more lines than a request may."""
    if total > limits.lines_per_request:
        raise ValidationError(
            "REQUEST_TOO_MANY_LINES",
            f"the answer would hold {total} lines; at most {limits.lines_per_request}: ask "
            "for fewer orders, or name the lines wanted",
        )


def check_request_lines(total: int, limits: SizeLimits) -> None:
    if total > limits.lines_per_request:
        raise ValidationError(
            "REQUEST_TOO_MANY_LINES",
            f"the request holds {total} lines; at most {limits.lines_per_request}: send "
            "them in several requests",
        )
