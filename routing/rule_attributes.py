"""The attributes a routing condition may read, and a line's values typed for them.

:data:`ATTRIBUTES` names them by where they come from (the order header, the line, the
process step) with their types; :data:`SCHEMA` is the same by name alone, which
conditions are checked against. :func:`typed_values` turns a line's raw values into what
the engine compares: numbers as ``Decimal``, dates as ``date``, text stripped.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["ALIASES", "ATTRIBUTES", "SCHEMA", "typed_values"]

#: the attributes a condition may read, by where they come from, with their types
ATTRIBUTES: dict[str, dict[str, str]] = {
    "header": {
        "SourceTransactionSystem": "string",
        "SourceTransactionNumber": "string",
        "OrderNumber": "string",
        "BuyingPartyNumber": "string",
        "BuyingPartyName": "string",
        "TransactionTypeCode": "string",
        "TransactionalCurrencyCode": "string",
        "BusinessUnitName": "string",
        "CustomerPONumber": "string",
        "TransactionOn": "date",
    },
    "line": {
        "ProductNumber": "string",
        "Item": "string",
        "OrderedQuantity": "number",
        "OrderedUOM": "string",
        "RequestedFulfillmentOrganizationCode": "string",
        "ShipSetName": "string",
        "RequestedShipDate": "date",
        "ScheduledShipDate": "date",
    },
    "process": {
        "ProcessName": "string",
        "StepName": "string",
        "TaskType": "string",
        "Task": "string",
        "Service": "string",
    },
}
SCHEMA: dict[str, str] = {
    name: kind for group in ATTRIBUTES.values() for name, kind in group.items()
}
#: Oracle's rule editor says "Item" where the line carries ProductNumber; both work
ALIASES: dict[str, str] = {"Item": "ProductNumber"}


def typed_values(raw: Mapping[str, object]) -> dict[str, Any]:
    """Attribute values as the engine compares them: numbers as ``Decimal``, dates as
    ``date``, text stripped; blanks become ``None``. Unknown names and bad values raise
    ``ValueError`` naming the attribute, so an explain typo is not silently a miss."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        kind = SCHEMA.get(name)
        if kind is None:
            raise ValueError(f"unknown attribute {name!r}; known: {', '.join(sorted(SCHEMA))}")
        out[name] = _typed(name, kind, value)
    for alias, target in ALIASES.items():
        if out.get(alias) is None and out.get(target) is not None:
            out[alias] = out[target]
        elif out.get(target) is None and out.get(alias) is not None:
            out[target] = out[alias]
    return out


def _typed(name: str, kind: str, value: object) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind == "number":
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{name} is a number; {value!r} is not one") from None
        if not number.is_finite() or isinstance(value, bool):
            raise ValueError(f"{name} is a number; {value!r} is not one")
        return number
    if kind == "date":
        if isinstance(value, datetime):
            # an instant's date in UTC, whatever zone the database handed it back in
            return (value.astimezone(UTC) if value.tzinfo else value).date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise ValueError(f"{name} is a date (YYYY-MM-DD); {value!r} is not one") from None
    # interned: the engine's index holds interned keys, and a dict probe that finds the
    # very same object never has to read the stored key (a cache miss at 10,000 rules)
    return sys.intern(str(value).strip())
