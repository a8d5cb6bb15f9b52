"""What the fulfillment simulator remembers of a request, and how it decides each line.

A :class:`RequestRecord` is one request as first received and what came of it; its
:class:`ReportedLine` values are what the warehouse reports of each line. Deciding an
outcome (:func:`decide_lines`) is pure: a generator seeded by the request alone, so a line's fate
does not depend on the order requests arrive in. :mod:`simulators.fulfillment_replies` says
these records to the gateway.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from simulators import change_answers
from simulators.callbacks import redact
from simulators.fulfillment_options import SimulatorOptions
from simulators.request_reading import Request

__all__ = [
    "ReportedLine",
    "RequestRecord",
    "decide_lines",
    "quantity_text",
    "reported",
    "response_identifier",
]


def quantity_text(value: Decimal) -> str:
    """A quantity as the warehouse writes it: plain digits, no exponent."""
    return format(value, "f")


@dataclass(frozen=True)
class ReportedLine:
    """The outcome of one fulfillment line, decided once per request."""

    fulfill_line_id: int
    status: str
    shipped_qty: Decimal | None = None
    uom: str | None = None
    ship_date: datetime | None = None
    tracking_number: str | None = None
    billing_number: str | None = None
    receipt_number: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "fulfill_line_id": self.fulfill_line_id,
            "status": self.status,
            "shipped_qty": None if self.shipped_qty is None else quantity_text(self.shipped_qty),
            "uom": self.uom,
            "tracking_number": self.tracking_number,
            "billing_number": self.billing_number,
            "receipt_number": self.receipt_number,
        }


@dataclass
class RequestRecord:
    """One fulfillment request as first received, and what came of it."""

    message_id: str | None
    request_id: int
    task_type: str
    header_id: int
    mode: str
    response_identifier: str
    lines: tuple[ReportedLine, ...]
    callback_url: str | None
    operation: str = "Create"
    original_request_id: int | None = None
    #: the answer to a compensation request (Update, Cancel)
    change: change_answers.ChangeAnswer | None = None
    times_received: int = 1
    applied: bool = True
    #: none (synchronous), pending, sent, or error (a callback failed for good)
    callback_status: str = "none"
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    #: when its callbacks go out (``time.monotonic()``), set as it is accepted
    due: float = 0.0

    def public(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "request_id": self.request_id,
            "task_type": self.task_type,
            "operation": self.operation,
            "original_request_id": self.original_request_id,
            "change": None if self.change is None else self.change.public(),
            "header_id": self.header_id,
            "mode": self.mode,
            "times_received": self.times_received,
            "applied": self.applied,
            "response_identifier": self.response_identifier,
            "callback_url": redact(self.callback_url),
            "callback_status": self.callback_status,
            "callbacks": [dict(c) for c in self.callbacks],
            "lines": [ln.public() for ln in self.lines],
        }


def reported(line: change_answers.LineState) -> ReportedLine:
    """A ledger line as a callback or a headerTR reports it."""
    if line.shipped_qty is None:
        return ReportedLine(line.fulfill_line_id, "BACKORDERED")
    return ReportedLine(
        line.fulfill_line_id,
        "SHIPPED",
        shipped_qty=line.shipped_qty,
        uom=line.uom,
        ship_date=line.ship_date,
        tracking_number=line.tracking_number,
    )


def response_identifier(system: str, request_id: int, task: str) -> str:
    """``<system>-<request id>-<task>``, shortened to HeaderTR's 50 characters if need be."""
    rid = f"{system}-{request_id}-{task}"
    if len(rid) <= 50:
        return rid
    digest = hashlib.sha256(task.encode()).hexdigest()[:8]
    return f"{system[:20]}-{request_id}-{digest}"[:50]


def decide_lines(
    request: Request, options: SimulatorOptions, returned: set[int], today: datetime
) -> tuple[ReportedLine, ...]:
    """Each line's outcome, from a generator seeded by the request alone; the invoice
    of a returned line is a credit memo."""
    rng = random.Random(f"{options.seed}:{request.request_id}:{request.task_type}")
    rid = request.request_id
    lines = []
    for ln in request.lines:
        # Two draws per line whatever the rates, so one rate does not shift the other.
        backordered = rng.random() < options.backorder_rate
        partial = rng.random() < options.partial_rate
        fid = ln.fulfill_line_id
        if request.task_type == "Shipment":
            if backordered:
                lines.append(ReportedLine(fid, "BACKORDERED"))
                continue
            lines.append(
                ReportedLine(
                    fid,
                    "SHIPPED",
                    shipped_qty=change_answers.ship_quantity(ln.ordered_qty, partial),
                    uom=ln.uom,
                    ship_date=today,
                    tracking_number=f"TRK-{rid}-{fid}",
                )
            )
        elif request.task_type == "Return":  # the whole line comes back
            lines.append(
                ReportedLine(
                    fid,
                    "RECEIVED",
                    shipped_qty=ln.ordered_qty,
                    uom=ln.uom,
                    ship_date=today,
                    receipt_number=f"RCV-{rid}-{fid}",
                )
            )
        elif request.task_type == "Invoice":
            prefix = "CM" if fid in returned else "INV"
            lines.append(ReportedLine(fid, "BILLED", billing_number=f"{prefix}-{rid}-{fid}"))
    return tuple(lines)
