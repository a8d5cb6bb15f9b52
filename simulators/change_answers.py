"""What the simulated warehouse knows of each fulfillment line, and how it answers changes.

A warehouse that has been sent a line may later be asked to change it (an ``Update`` request)
or not to ship it (a ``Cancel`` request): compensation requests, answered under their own
``FulfillmentRequestIdentifier`` (``connectors/wsdl/outbound/README.md``). Whether it can
depends on whether the goods have left, so the simulator keeps a :class:`Ledger` of every
line it received in a ``Shipment`` request: waiting to ship, shipped, backordered or
cancelled, and whether the shipment has been reported to the gateway. It also remembers the
lines that came back in a ``Return`` request, so that their later ``Invoice`` is a credit.

Every method here is called with the simulator's lock held; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Protocol

__all__ = [
    "ALREADY_SHIPPED",
    "CHANGE_ANSWERS",
    "CHANGE_OPERATIONS",
    "CHANGE_REJECTED",
    "ChangeAnswer",
    "ChangeLine",
    "Ledger",
    "LineState",
    "ship_quantity",
]

#: how the simulator answers compensation requests (``SimulatorOptions.change_answer``):
#: ``auto`` as a warehouse would, by whether the lines have shipped; the others always
CHANGE_ANSWERS = ("auto", "accept", "reject", "shipped")
#: the ``Operation`` values of a compensation request
CHANGE_OPERATIONS = frozenset({"Update", "Cancel"})
#: ``ErrorMessageName`` of a change that came too late: the goods have left
ALREADY_SHIPPED = "ALREADY_SHIPPED"
#: ``ErrorMessageName`` of a change refused for another reason (``ErrorMessageText`` says why)
CHANGE_REJECTED = "CHANGE_REJECTED"

PENDING, SHIPPED, BACKORDERED, CANCELLED = "pending", "shipped", "backordered", "cancelled"


class _Answering(Protocol):
    """The options a change is answered by (:class:`~simulators.SimulatorOptions`)."""

    @property
    def system(self) -> str: ...
    @property
    def change_answer(self) -> str: ...


def ship_quantity(ordered: Decimal, partial: bool) -> Decimal:
    """What ships of ``ordered``: all of it, or half (rounded down, at least 1)."""
    if partial and ordered >= 2:
        return max(Decimal(1), (ordered / 2).to_integral_value(rounding=ROUND_FLOOR))
    return ordered


@dataclass
class LineState:
    """One fulfillment line as the warehouse holds it.

    ``outcome`` (``SHIPPED`` or ``BACKORDERED``) and ``partial`` are drawn when the line is
    received; an asynchronous line stays ``pending`` until its request's callback goes out,
    when it ships its ``ordered_qty`` as it stands then. ``awaiting`` says that callback has
    not yet gone out (it will report the line), ``reported`` that the gateway has been told
    how the line ended.
    """

    fulfill_line_id: int
    request_id: int
    outcome: str
    partial: bool
    ordered_qty: Decimal
    uom: str
    state: str
    awaiting: bool
    reported: bool
    shipped_qty: Decimal | None = None
    ship_date: datetime | None = None
    tracking_number: str | None = None
    requested_ship_date: str | None = None
    ship_to_site: str | None = None
    #: the compensation requests applied to it, in order
    changed_by: list[int] = field(default_factory=list)

    @classmethod
    def received(
        cls,
        request_id: int,
        fulfill_line_id: int,
        outcome: str,
        ordered_qty: Decimal,
        shipped_qty: Decimal | None,
        uom: str,
        *,
        at_once: datetime | None,
    ) -> LineState:
        """A line just received: shipped or backordered ``at_once`` (a synchronous request,
        answered with the outcome), or else pending until its request's callback."""
        line = cls(
            fulfill_line_id,
            request_id,
            outcome,
            partial=shipped_qty is not None and shipped_qty != ordered_qty,
            ordered_qty=ordered_qty,
            uom=uom,
            state=PENDING,
            awaiting=at_once is None,
            reported=at_once is not None,
        )
        if at_once is not None:
            if outcome == "SHIPPED" and shipped_qty is not None:
                line.ship(shipped_qty, at_once)
            else:
                line.state = BACKORDERED
        return line

    def ship(self, qty: Decimal, when: datetime) -> None:
        self.state = SHIPPED
        self.shipped_qty = qty
        self.ship_date = when
        self.tracking_number = f"TRK-{self.request_id}-{self.fulfill_line_id}"

    def public(self) -> dict[str, Any]:
        return {
            "fulfill_line_id": self.fulfill_line_id,
            "request_id": self.request_id,
            "state": self.state,
            "ordered_qty": format(self.ordered_qty, "f"),
            "shipped_qty": None if self.shipped_qty is None else format(self.shipped_qty, "f"),
            "reported": self.reported,
            "requested_ship_date": self.requested_ship_date,
            "ship_to_site": self.ship_to_site,
            "changed_by": list(self.changed_by),
        }


@dataclass(frozen=True)
class ChangeLine:
    """A line of a compensation request: which line, and (Update) its new values."""

    fulfill_line_id: int
    ordered_qty: Decimal
    requested_ship_date: str | None = None
    ship_to_site: str | None = None


@dataclass(frozen=True)
class ChangeAnswer:
    """The answer to a compensation request.

    ``status`` is ``SUCCESS`` (the change was made) or ``ERROR`` with ``error_name``
    :data:`ALREADY_SHIPPED` or :data:`CHANGE_REJECTED`; ``shipped`` names the lines that had
    shipped (:data:`ALREADY_SHIPPED` only), in the request's order.
    """

    status: str
    error_name: str | None = None
    error_text: str | None = None
    shipped: tuple[int, ...] = ()

    @property
    def counter(self) -> str:
        """The simulator's counter of answers like this one."""
        return _COUNTERS[self.error_name or self.status]

    def public(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error_name": self.error_name,
            "error_text": self.error_text,
            "shipped": list(self.shipped),
        }


_COUNTERS = {
    "SUCCESS": "changes_accepted",
    ALREADY_SHIPPED: "changes_already_shipped",
    CHANGE_REJECTED: "changes_rejected",
}


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in ids)


class Ledger:
    """Every line the warehouse was sent to ship, and the lines that came back."""

    def __init__(self) -> None:
        self.lines: dict[int, LineState] = {}
        self.returned: set[int] = set()

    def receive(self, lines: Iterable[LineState]) -> None:
        """Hold the lines of a new ``Shipment`` request (a line sent again is held anew)."""
        for line in lines:
            self.lines[line.fulfill_line_id] = line

    def settle(
        self, request_id: int, fulfill_line_ids: Iterable[int], now: datetime
    ) -> dict[int, LineState | None]:
        """At the callback of request ``request_id``: ship its pending lines and take those
        not yet reported. ``None`` for a line not cancelled that the ledger holds under
        another request (it was sent again): the callback reports it as first decided; a
        cancelled line, or one already reported, is left out."""
        report: dict[int, LineState | None] = {}
        for fid in fulfill_line_ids:
            line = self.lines.get(fid)
            if line is None or line.request_id != request_id:
                report[fid] = None
                continue
            line.awaiting = False
            if line.state == PENDING:
                if line.outcome == "SHIPPED":
                    line.ship(ship_quantity(line.ordered_qty, line.partial), now)
                else:
                    line.state = BACKORDERED
            if line.state != CANCELLED and not line.reported:
                line.reported = True
                report[fid] = line
        return report

    def unreported(self, fulfill_line_ids: Iterable[int]) -> list[LineState]:
        """Lines shipped by a compensation request that no request's callback will report;
        they count as reported from now on."""
        found = []
        for fid in fulfill_line_ids:
            line = self.lines.get(fid)
            if line and line.state == SHIPPED and not line.reported and not line.awaiting:
                line.reported = True
                found.append(line)
        return found

    def change(
        self,
        request_id: int,
        operation: str,
        task_type: str,
        lines: Sequence[ChangeLine],
        options: _Answering,
        now: datetime,
    ) -> ChangeAnswer:
        """Answer the compensation request ``request_id`` and apply it if it succeeds.

        ``options.change_answer`` is one of :data:`CHANGE_ANSWERS`. A request is applied
        whole or not at all: one unknown or shipped line refuses all of it.
        """
        answer = options.change_answer
        if answer == "reject":
            return ChangeAnswer(
                "ERROR", CHANGE_REJECTED, f"{options.system} refuses every change at present"
            )
        known = [ln for ln in lines if ln.fulfill_line_id in self.lines]
        if answer == "shipped":
            for ln in known:
                held = self.lines[ln.fulfill_line_id]
                if held.state != SHIPPED:
                    held.ship(held.ordered_qty, now)  # whole, as it stood before this request
                    held.reported = False
            return self._already_shipped(known)
        if answer == "auto":
            refused = self._refusal(operation, task_type, lines, options.system)
            if refused is not None:
                return refused
            shipped = [ln for ln in lines if self.lines[ln.fulfill_line_id].state == SHIPPED]
            if shipped:
                return self._already_shipped(shipped)
        for ln in known:
            held = self.lines[ln.fulfill_line_id]
            held.changed_by.append(request_id)
            if operation == "Cancel":
                held.state = CANCELLED
                continue
            held.ordered_qty = ln.ordered_qty
            held.requested_ship_date = ln.requested_ship_date or held.requested_ship_date
            held.ship_to_site = ln.ship_to_site or held.ship_to_site
        return ChangeAnswer("SUCCESS")

    def _refusal(
        self, operation: str, task_type: str, lines: Sequence[ChangeLine], system: str
    ) -> ChangeAnswer | None:
        if task_type != "Shipment":
            return ChangeAnswer(
                "ERROR",
                CHANGE_REJECTED,
                f"only Shipment requests can be changed, not {task_type}",
            )
        unknown = [ln.fulfill_line_id for ln in lines if ln.fulfill_line_id not in self.lines]
        if unknown:
            return ChangeAnswer(
                "ERROR",
                CHANGE_REJECTED,
                f"fulfillment line(s) {_ids(unknown)} were never sent to {system} to ship",
            )
        if operation == "Update":
            gone = [
                ln.fulfill_line_id
                for ln in lines
                if self.lines[ln.fulfill_line_id].state == CANCELLED
            ]
            if gone:
                return ChangeAnswer(
                    "ERROR",
                    CHANGE_REJECTED,
                    f"fulfillment line(s) {_ids(gone)} were cancelled and cannot be updated",
                )
        return None

    def _already_shipped(self, lines: Sequence[ChangeLine]) -> ChangeAnswer:
        ids = tuple(ln.fulfill_line_id for ln in lines)
        what = f"fulfillment line(s) {_ids(ids)}" if ids else "the goods"
        return ChangeAnswer(
            "ERROR", ALREADY_SHIPPED, f"{what} shipped before the change arrived", ids
        )

    def public(self) -> list[dict[str, Any]]:
        return [line.public() for line in self.lines.values()]
