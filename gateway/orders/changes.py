"""Deciding what a new revision of a released order changes, line by line: no I/O here.

A revision is the whole order as the source system now wants it (Oracle's createOrders
with a higher ``SourceTransactionRevision``). Each of its lines is matched to the stored
line with the same ``SourceTransactionLineIdentifier``; a stored line the revision
leaves out is kept as it is, and a line the order never had is added.

For each matched line the new ``OrderedQuantity`` is set against what has happened:

* it can never drop below what has shipped (``QUANTITY_BELOW_SHIPPED``); a quantity equal
  to the shipped quantity cancels what is still open (Oracle's way to cancel a
  backorder), and ``0`` cancels the line, which needs a ``CancelReasonCode`` or
  ``CancelReason`` on the line or the order;
* a decrease is taken from the open fulfillment lines, newest first: a line reduced to
  nothing is canceled, another is updated to its new quantity;
* an increase is added to the newest open fulfillment line, or, when none is open, a new
  fulfillment line for the difference is added and requested;
* a new requested ship date or ship-to site updates every open fulfillment line.

A fulfillment line no fulfillment system holds yet changes at once. One a system holds
(it was requested) changes only when that system agrees: the plan marks it
``compensate``, and the line waits for the answer (``CANCEL_PENDING``/``CHANGE_PENDING``).
A line still waiting for an earlier answer cannot change again (``CHANGE_IN_PROGRESS``).
A header ``CancelReasonCode`` or ``CancelReason`` cancels the whole order, which Oracle
allows only while nothing has shipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.errors import StateError, ValidationError
from gateway.lifecycle import PENDING_CHANGE, SHIPPED_OR_LATER
from gateway.orders.message_values import LineInput, OrderInput

__all__ = [
    "AWAITING_SYSTEM",
    "CurrentFline",
    "CurrentLine",
    "FlineChange",
    "LineChange",
    "RevisionPlan",
    "cancel_reason",
    "plan_revision",
]

#: statuses in which a fulfillment system holds the line (it was requested, not done)
AWAITING_SYSTEM = frozenset({"AWAIT_SHIP", "BACKORDERED", "AWAIT_RECEIVING"})
#: statuses of a line still open: not done, not canceled, not waiting for an answer
_OPEN = frozenset({"CREATED", "SCHEDULED", "ROUTING_ERROR"}) | AWAITING_SYSTEM


@dataclass(frozen=True)
class CurrentFline:
    id: int
    quantity: Decimal
    status: str
    #: a fulfillment system holds it: its request reached the system, which did not
    #: refuse it
    requested: bool
    #: the quantity a waiting change will leave it (0 for a cancel), if one waits
    pending_quantity: Decimal | None = None


@dataclass(frozen=True)
class CurrentLine:
    id: int
    source_line_id: str
    product_number: str
    uom_code: str
    requested_ship_date: datetime | None
    ship_to: str | None
    flines: tuple[CurrentFline, ...]


@dataclass(frozen=True)
class FlineChange:
    """One fulfillment line's change: ``CANCEL``, ``UPDATE`` (to ``quantity`` and the
    line's new date and ship-to), or ``ADD`` (a new line of ``quantity``)."""

    kind: str
    fline_id: int | None
    quantity: Decimal | None
    #: a fulfillment system holds the line: it changes when the system agrees
    compensate: bool = False


@dataclass
class LineChange:
    line_id: int
    source_line_id: str
    #: the line's new values (the columns that change)
    values: dict[str, Any] = field(default_factory=dict)
    flines: list[FlineChange] = field(default_factory=list)


@dataclass
class RevisionPlan:
    changes: list[LineChange] = field(default_factory=list)
    added: list[LineInput] = field(default_factory=list)
    #: the revision cancels the whole order
    cancel_order: bool = False
    reason_code: str | None = None
    reason: str | None = None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def cancel_reason(attributes: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The ``CancelReasonCode`` and ``CancelReason`` an order or line was sent with."""
    return _text(attributes.get("CancelReasonCode")), _text(attributes.get("CancelReason"))


def ship_to(attributes: Mapping[str, Any]) -> str | None:
    return _text(attributes.get("ShipToPartySiteIdentifier"))


def plan_revision(current: Sequence[CurrentLine], order: OrderInput) -> RevisionPlan:
    """What revision ``order`` (checked) changes on the order's ``current`` lines."""
    code, reason = cancel_reason(order.attributes)
    plan = RevisionPlan(reason_code=code, reason=reason)
    by_source = {line.source_line_id: line for line in current}
    if code or reason:
        added = [str(li.source_line_id).strip() for li in order.lines
                 if str(li.source_line_id).strip() not in by_source]  # fmt: skip
        if added:
            raise ValidationError(
                "INVALID_VALUE",
                f"the revision cancels the order (CancelReasonCode or CancelReason on it) "
                f"and adds line {added[0]}; send the new line in a revision of its own",
            )
        plan.cancel_order = True
        for held in current:
            change = _cancel_line(held, "the order", header_cancel=True)
            if change.flines:
                plan.changes.append(change)
        return plan
    for sent in order.lines:
        key = str(sent.source_line_id).strip()
        line = by_source.get(key)
        if line is None:
            if sent.quantity is not None and sent.quantity == 0:
                raise ValidationError(
                    "QUANTITY_INVALID",
                    f"line {key} is new in this revision and has OrderedQuantity 0; a new "
                    "line needs a quantity greater than zero",
                )
            plan.added.append(sent)
            continue
        change = _change_line(line, sent, order)
        if change.values or change.flines:
            plan.changes.append(change)
    return plan


def _shipped(line: CurrentLine) -> Decimal:
    return sum((f.quantity for f in line.flines if f.status in SHIPPED_OR_LATER), Decimal(0))


def _open(line: CurrentLine) -> list[CurrentFline]:
    """The line's open fulfillment lines, newest first."""
    return sorted((f for f in line.flines if f.status in _OPEN), key=lambda f: -f.id)


def _effective(line: CurrentLine) -> Decimal:
    """The line's quantity once the changes it waits for are made (what a revision that
    restates them asks for)."""
    total = Decimal(0)
    for f in line.flines:
        if f.status == "CANCELED":
            continue
        waits = f.status in PENDING_CHANGE and f.pending_quantity is not None
        total += f.pending_quantity if waits and f.pending_quantity is not None else f.quantity
    return total


def _refuse_pending(line: CurrentLine) -> None:
    pending = [f.id for f in line.flines if f.status in PENDING_CHANGE]
    if pending:
        raise StateError(
            "CHANGE_IN_PROGRESS",
            f"line {line.source_line_id} is waiting for its fulfillment system to answer an "
            f"earlier change (fulfillment line {pending[0]}); send this revision again "
            "once GetOrderDetails shows the line out of CANCEL_PENDING/CHANGE_PENDING",
        )


def _cancel_line(line: CurrentLine, where: str, *, header_cancel: bool = False) -> LineChange:
    change = LineChange(line.id, line.source_line_id)
    shipped = _shipped(line)
    if _effective(line) == 0:
        return change  # canceled already, or waiting for that very cancel
    _refuse_pending(line)
    if shipped and header_cancel:
        raise StateError(
            "ORDER_PARTLY_SHIPPED",
            f"{where} cannot be canceled whole: line {line.source_line_id} has shipped "
            f"{shipped.normalize()}; cancel what is still open line by line (OrderedQuantity "
            "equal to the shipped quantity cancels the rest)",
        )
    if shipped:
        raise StateError(
            "QUANTITY_BELOW_SHIPPED",
            f"line {line.source_line_id} cannot be canceled: {shipped.normalize()} has "
            f"shipped; send OrderedQuantity {shipped.normalize()} to cancel what is still open",
        )
    change.flines = [FlineChange("CANCEL", f.id, None, f.requested) for f in _open(line)]
    return change


def _change_line(line: CurrentLine, sent: LineInput, order: OrderInput) -> LineChange:
    where = f"line {line.source_line_id}"
    product = str(sent.product_number).strip()
    if product != line.product_number:
        raise StateError(
            "LINE_CHANGE_NOT_ALLOWED",
            f"{where} was ordered as {line.product_number}; its product cannot change to "
            f"{product}: cancel the line (OrderedQuantity 0) and add a new one",
        )
    uom = (sent.uom_code or line.uom_code).strip()
    if uom != line.uom_code:
        raise StateError(
            "LINE_CHANGE_NOT_ALLOWED",
            f"{where} is ordered in {line.uom_code}; its unit cannot change to {uom}",
        )
    quantity = sent.quantity
    assert quantity is not None  # validated
    if quantity == 0:
        code, reason = cancel_reason(sent.attributes)
        if not (code or reason or any(cancel_reason(order.attributes))):
            raise ValidationError(
                "MISSING_KEY",
                f"{where} has OrderedQuantity 0, which cancels it; a cancellation needs a "
                "CancelReasonCode or CancelReason on the line",
            )
        return _cancel_line(line, where)
    change = LineChange(line.id, line.source_line_id)
    new_date = sent.requested_ship_date or order.requested_ship_date or line.requested_ship_date
    new_site = ship_to(sent.attributes) or line.ship_to
    moved = new_date != line.requested_ship_date or new_site != line.ship_to
    if quantity == _effective(line) and not moved:
        return change  # as it is, or as the changes it waits for will leave it
    _refuse_pending(line)
    if moved:
        change.values.update(requested_ship_date=new_date, ship_to=new_site)
    shipped = _shipped(line)
    if quantity < shipped:
        raise StateError(
            "QUANTITY_BELOW_SHIPPED",
            f"{where} cannot be reduced to {quantity.normalize()}: {shipped.normalize()} has "
            "shipped already",
        )
    open_ = _open(line)
    target = quantity - shipped
    have = sum((f.quantity for f in open_), Decimal(0))
    updated: dict[int, Decimal] = {f.id: f.quantity for f in open_}
    if target > have:
        if open_:
            updated[open_[0].id] += target - have
        else:
            change.flines.append(FlineChange("ADD", None, target - have))
    elif target < have:
        cut = have - target
        for f in open_:
            if cut <= 0:
                break
            taken = min(cut, f.quantity)
            updated[f.id] = f.quantity - taken
            cut -= taken
    for f in open_:
        new = updated[f.id]
        if new == 0:
            change.flines.append(FlineChange("CANCEL", f.id, None, f.requested))
        elif new != f.quantity or moved:
            change.flines.append(FlineChange("UPDATE", f.id, new, f.requested))
    return change
