"""Small conversions shared by the services (wire values ↔ domain values)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gateway.errors import ValidationError
from gateway.services.types import MeasureType

__all__ = ["as_utc", "measure", "present", "required", "text"]


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
    return MeasureType(
        value=value.normalize() if value == value.to_integral() else value, unitCode=unit
    )


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
