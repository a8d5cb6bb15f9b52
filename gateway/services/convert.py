"""Small conversions shared by the services (wire values ↔ domain values)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from spyne import ComplexModelBase

from gateway.errors import ValidationError
from gateway.services.types import MeasureType

__all__ = ["as_utc", "make", "measure", "plain", "present", "required", "text"]

M = TypeVar("M", bound=ComplexModelBase)

#: per spyne class, its members' values when constructed with no arguments; None where
#: a member has a default factory (a fresh value each time), so the class is built as is
_BLANKS: dict[type, dict[str, Any] | None] = {}


def make(cls: type[M], **values: Any) -> M:
    """``cls(**values)`` without spyne's per-member ``__init__`` work.

    spyne's constructor looks up and initializes every member of the type each time, and a
    50-line fulfillment result builds 51 objects; here the members' blank values are
    computed once per class and copied.
    """
    blank = _BLANKS.get(cls, ...)
    if blank is ...:
        fti = cls.get_flat_type_info(cls)
        factories = any(t.Attributes.default_factory is not None for t in fti.values())
        read_only = any(t.Attributes.read_only for t in fti.values())
        blank = None if factories or read_only else dict(cls().__dict__)
        _BLANKS[cls] = blank
    if blank is None:
        return cls(**values)
    obj: M = object.__new__(cls)
    obj.__dict__.update(blank)
    obj.__dict__.update(values)
    return obj


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC datetimes everywhere; a naive value (SQLite, clients) is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def measure(value: Decimal | None, unit: str | None) -> MeasureType | None:
    if value is None:
        return None
    return MeasureType(value=plain(value), unitCode=unit)


def plain(value: Decimal) -> Decimal:
    """``value`` without trailing zeros and never in exponent form (``10.000000`` is
    ``10``, not ``1E+1``): stored quantities carry the column's scale."""
    return Decimal(format(value.normalize(), "f"))


def text(value: Any) -> str | None:
    """A stripped string, or None for absent/blank values."""
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def present(items: Any, name: str) -> list[Any]:
    """The items of a repeated element; a nil item (``xsi:nil="true"``) is a missing key."""
    out = list(items or ())
    if any(item is None for item in out):
        raise ValidationError("MISSING_KEY", f"a {name} element is nil; send its content")
    return out


def required(value: Any, name: str) -> Any:
    if value is None:
        raise ValidationError("MISSING_KEY", f"{name} is required and must not be nil")
    return value
