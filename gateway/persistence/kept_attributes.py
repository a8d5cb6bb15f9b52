"""The stored form of attributes kept as sent (``attributes_json`` columns).

Orders, order lines and fulfillment lines keep, as JSON, what they were sent with beyond
omgw's own columns (``gateway.services.attributes`` says what the JSON holds). This is
the one place that writes and reads that column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["from_column", "merged", "to_column"]


def to_column(attributes: Mapping[str, Any]) -> str | None:
    """``attributes`` as stored; none at all is NULL."""
    if not attributes:
        return None
    return json.dumps(attributes, separators=(",", ":"), ensure_ascii=False)


def from_column(stored: str | None) -> dict[str, Any]:
    """The attributes a column holds (NULL: none)."""
    return json.loads(stored) if stored else {}


def merged(stored: str | None, sent: Mapping[str, Any]) -> str | None:
    """What a column holds, with more attributes sent: repeated ones (details, lots and
    serials, charges) accumulate, single ones are the latest."""
    kept = from_column(stored)
    for name, value in sent.items():
        if isinstance(value, list):
            kept[name] = [*kept.get(name, ()), *value]
        else:
            kept[name] = value
    return to_column(kept)
