"""What a response changes (:class:`Decision`), and the :class:`Draft` that builds it.

A draft holds the orders as the decision leaves them, built up change by change by
:mod:`gateway.orders.response_effects`: status changes checked against the lifecycle and
noted as history rows, split lines added under new (negative) ids until written.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway import lifecycle
from gateway.errors import LineError
from gateway.events.recorder import StatusRecord
from gateway.orders.message_values import LineOutcome
from gateway.orders.rows import FlineRow, NewRequest, OrderSet

__all__ = ["Decision", "Draft", "Split"]


@dataclass(frozen=True)
class Split:
    """``original_id`` kept its shipped quantity of ``pre_split``; ``rest_id`` took the rest."""

    original_id: int
    rest_id: int
    pre_split: Decimal


@dataclass
class Decision:
    """What a response changes; ``flines`` holds each changed or added line as it ends."""

    errors: list[LineError] = field(default_factory=list)
    outcomes: list[LineOutcome] = field(default_factory=list)
    flines: dict[int, FlineRow] = field(default_factory=dict)
    lines: dict[int, str] = field(default_factory=dict)
    headers: dict[int, str] = field(default_factory=dict)
    history: list[StatusRecord] = field(default_factory=list)
    requests: list[NewRequest] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    #: order lines to put back to what their fulfillment system holds (a change of them
    #: was refused by a shipment): the ship date and site as kept with the change
    restored: dict[int, Any] = field(default_factory=dict)


#: a fulfillment line's fields, for the working copies of changed lines
_FIELDS = tuple(f.name for f in fields(FlineRow))


class Draft:
    """The orders as the decision leaves them, built up change by change. A changed
    line is worked on as a dict of its values (one row is made of it at the end: a
    frozen row replaced per change costs more than the rest of the decision)."""

    def __init__(self, orders: OrderSet, now: datetime) -> None:
        self.orders = orders
        self.now = now
        self.decision = Decision()
        self.work: dict[int, dict[str, Any]] = {}
        self.of_line: dict[int, list[int]] = {line_id: [] for line_id in orders.lines}
        for fline in orders.flines.values():
            self.of_line[fline.order_line_id].append(fline.id)
        self._keys = 0

    def key(self) -> int:
        """A new row's id until it is written: negative, unique within the decision."""
        self._keys -= 1
        return self._keys

    def get(self, fline_id: int, name: str) -> Any:
        values = self.work.get(fline_id)
        if values is None:
            return getattr(self.orders.flines[fline_id], name)
        return values[name]

    def row(self, fline_id: int) -> FlineRow:
        values = self.work.get(fline_id)
        return self.orders.flines[fline_id] if values is None else FlineRow(**values)

    def set(self, fline_id: int, **changes: Any) -> None:
        values = self.work.get(fline_id)
        if values is None:
            row = self.orders.flines[fline_id]
            values = self.work[fline_id] = {name: getattr(row, name) for name in _FIELDS}
        values.update(changes)

    def note(self, header_id: int, entity: str, entity_id: int, old: str | None, new: str,
             reason: str) -> None:  # fmt: skip
        self.decision.history.append(
            StatusRecord(header_id, entity, entity_id, old, new, reason[:240], self.now)
        )

    def status(self, fline_id: int, new: str, reason: str) -> None:
        old = self.get(fline_id, "status")
        lifecycle.check_fline(old, new)
        self.note(self.get(fline_id, "header_id"), "FULFILL_LINE", fline_id, old, new, reason)
        self.set(fline_id, status=new)

    def add(self, fline: FlineRow, reason: str) -> None:
        self.work[fline.id] = {name: getattr(fline, name) for name in _FIELDS}
        self.of_line[fline.order_line_id].append(fline.id)
        self.note(fline.header_id, "FULFILL_LINE", fline.id, None, fline.status, reason)

    def finish(self) -> Decision:
        self.decision.flines = {i: FlineRow(**values) for i, values in self.work.items()}
        return self.decision
