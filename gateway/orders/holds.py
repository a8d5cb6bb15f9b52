"""Holds: an order or one of its lines stopped where it is until the hold is released.

A held line does not progress: orchestration requests no new step for it (a new order
held at intake keeps its lines ``SCHEDULED``), and a fulfillment response for it is
refused with ``LINE_ON_HOLD`` so the fulfillment system sends it again after the
release. A request already queued before the hold still goes out; the fulfillment
system's answer then waits for the release. Releasing the last hold on a line lets it
go on: a line that never got its first request is requested then. Applying and
releasing both raise the ``HOLD`` business event.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, NotFoundError, StateError, ValidationError
from gateway.events import recorder
from gateway.lifecycle import TERMINAL
from gateway.orders.held import active_holds, hold_on
from gateway.orders.orchestration import Orchestrator
from gateway.orders.rows import HeaderRow, LineRow
from gateway.orders.state import StatusWriter
from gateway.persistence.models import FulfillLine, Hold, OrderHeader, OrderLine, utcnow

__all__ = ["HoldService", "active_holds", "check_hold_code", "hold_on", "record_holds"]

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,29}\Z")
_MAX_COMMENTS = 2000


def check_hold_code(code: str | None, where: str) -> str:
    code = (code or "").strip()
    if not code:
        raise ValidationError("MISSING_KEY", f"{where}: HoldCode is required")
    if not _CODE.match(code):
        raise ValidationError(
            "INVALID_VALUE",
            f"{where}: hold code {code[:40]!r} must be 1 to 30 letters, digits, _ . or -",
        )
    return code


def _check_comments(comments: str | None, where: str) -> str | None:
    if comments is None:
        return None
    comments = comments.strip()
    if len(comments) > _MAX_COMMENTS:
        raise ValidationError(
            "INVALID_VALUE", f"{where}: hold comments are longer than {_MAX_COMMENTS} characters"
        )
    return comments or None


def record_holds(
    session: Session,
    header: OrderHeader | HeaderRow,
    holds: Sequence[tuple[OrderLine | LineRow | None, str | None, str | None]],
    actor: str,
) -> list[Hold]:
    """Apply holds given with a new order (before its lines are orchestrated)."""
    rows: list[Hold] = []
    for line, code, comments in holds:
        where = f"line {line.source_line_id}" if line is not None else "the order"
        row = Hold(
            header_id=header.id,
            order_line_id=line.id if line is not None else None,
            hold_code=check_hold_code(code, where),
            comments=_check_comments(comments, where),
            applied_by=actor[:100],
        )
        if any(r.order_line_id == row.order_line_id and r.hold_code == row.hold_code for r in rows):
            raise ValidationError("DUPLICATE_LINE", f"{where}: hold {row.hold_code} is given twice")
        session.add(row)
        rows.append(row)
    session.flush()
    for row in rows:
        recorder.hold_changed(session, row, released=False)
    return rows


class HoldService:
    """Applies and releases holds inside the caller's transaction."""

    def __init__(
        self,
        session: Session,
        actor: str = "system",
        default_fulfillment_system: str | None = None,
        reply_to: str | None = None,
    ) -> None:
        self._s = session
        self._actor = actor[:100]
        self._flow = Orchestrator(session, default_fulfillment_system, reply_to)
        self._status = StatusWriter(session)

    def _order(self, order_number: str) -> OrderHeader:
        header = self._s.scalar(
            select(OrderHeader)
            .where(
                OrderHeader.order_number == order_number.strip(),
                OrderHeader.status != "DOO_REFERENCE",
            )
            .order_by(OrderHeader.revision_seq.desc())
            .limit(1)
            .with_for_update(of=OrderHeader)
        )
        if header is None:
            raise NotFoundError("ORDER_NOT_FOUND", f"there is no order {order_number!r}")
        return header

    @staticmethod
    def _line(header: OrderHeader, line_number: int | None) -> OrderLine | None:
        if line_number is None:
            return None
        for line in header.lines:
            if line.line_number == line_number:
                return line
        raise NotFoundError(
            "LINE_NOT_FOUND", f"order {header.order_number} has no line {line_number}"
        )

    def apply(
        self,
        order_number: str,
        hold_code: str,
        comments: str | None = None,
        line_number: int | None = None,
    ) -> Hold:
        header = self._order(order_number)
        line = self._line(header, line_number)
        where = f"order {header.order_number}" + (f" line {line_number}" if line else "")
        code = check_hold_code(hold_code, where)
        if header.status in TERMINAL or (line is not None and line.status in TERMINAL):
            status = line.status if line is not None else header.status
            raise StateError("ILLEGAL_TRANSITION", f"{where} is {status}; there is nothing to hold")
        for h in active_holds(self._s, header.id):
            if h.hold_code == code and h.order_line_id == (line.id if line else None):
                raise ConflictError("ALREADY_EXISTS", f"hold {code} is already on {where}")
        row = Hold(
            header_id=header.id,
            order_line_id=line.id if line is not None else None,
            hold_code=code,
            comments=_check_comments(comments, where),
            applied_by=self._actor,
        )
        self._s.add(row)
        self._s.flush()
        recorder.hold_changed(self._s, row, released=False)
        return row

    def release(
        self,
        order_number: str,
        hold_code: str,
        comments: str | None = None,
        line_number: int | None = None,
    ) -> tuple[Hold, list[FulfillLine]]:
        """Release the hold; returns it and the lines that were requested because of it."""
        header = self._order(order_number)
        line = self._line(header, line_number)
        where = f"order {header.order_number}" + (f" line {line_number}" if line else "")
        code = check_hold_code(hold_code, where)
        holds = active_holds(self._s, header.id)
        row = next(
            (
                h
                for h in holds
                if h.hold_code == code and h.order_line_id == (line.id if line else None)
            ),
            None,
        )
        if row is None:
            on = ", ".join(sorted({h.hold_code for h in holds})) or "none"
            raise NotFoundError(
                "HOLD_NOT_FOUND", f"hold {code} is not on {where} (active holds: {on})"
            )
        row.released_at = utcnow()
        row.released_by = self._actor
        row.release_comments = _check_comments(comments, where)
        recorder.hold_changed(self._s, row, released=True)
        still = [h for h in holds if h is not row]
        waiting = [
            (ln, f)
            for ln in header.lines
            if hold_on(still, ln.id) is None
            for f in ln.fulfill_lines
            if f.request_id is None and f.status in ("CREATED", "SCHEDULED")
        ]
        if waiting:
            self._flow.request(header, waiting, "Shipment")
            self._status.rollup(header, f"hold {code} released")
        return row, [f for _ln, f in waiting]
