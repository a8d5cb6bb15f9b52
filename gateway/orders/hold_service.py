"""Holds: an order or one of its lines stopped where it is until the hold is released.

A held line does not progress: orchestration requests no new step for it (a new order
held at intake keeps its lines ``SCHEDULED``), and a fulfillment response for it is
refused with ``LINE_ON_HOLD`` so the fulfillment system sends it again after the
release. A request already queued before the hold still goes out; the fulfillment
system's answer then waits for the release. Releasing the last hold on a line lets it
go on: a line that never got its first request is requested then. Applying and
releasing both raise the ``HOLD`` business event.

:class:`HoldService` is the one way in for a hold after intake, whoever asks: ``omgw hold``
names the order by its number, ``OrderHoldService`` (SOAP) by its source system's keys
(:class:`HoldTarget` holds either). The CLI refuses a repeat; the service answers it as
done already, so a caller may send the same request again after a lost answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, NotFoundError, StateError, ValidationError
from gateway.events import recorder
from gateway.lifecycle import TERMINAL
from gateway.orders.active_holds import active_holds, hold_on
from gateway.orders.orchestration import Orchestrator
from gateway.orders.rows import HeaderRow, LineRow
from gateway.orders.status_writer import StatusWriter
from gateway.persistence.models import (
    FulfillLine,
    Hold,
    OrderHeader,
    OrderLine,
    SourceSystem,
    utcnow,
)

__all__ = ["HoldOutcome", "HoldService", "HoldTarget", "check_hold_code", "record_holds"]

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


def _check_reason(reason: str | None, where: str) -> str | None:
    reason = (reason or "").strip()
    if reason and not _CODE.match(reason):
        raise ValidationError(
            "INVALID_VALUE",
            f"{where}: release reason {reason[:40]!r} must be 1 to 30 letters, digits, _ . or -",
        )
    return reason or None


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


@dataclass(frozen=True)
class HoldTarget:
    """An order, or one of its lines, by omgw's numbers or by its source system's keys.

    The order is ``order_number``, else the current revision of ``source_order_id`` of
    ``source_system`` (``SourceTransactionIdentifier`` of ``SourceTransactionSystem``);
    the line, if any, is ``line_number`` or ``source_line_id``
    (``SourceTransactionLineIdentifier``).
    """

    order_number: str | None = None
    source_system: str | None = None
    source_order_id: str | None = None
    line_number: int | None = None
    source_line_id: str | None = None

    @property
    def names_line(self) -> bool:
        return self.line_number is not None or self.source_line_id is not None


@dataclass(frozen=True)
class HoldOutcome:
    """What a hold request did: ``changed`` is False when it was so already (the hold
    was on, or was released, before the request)."""

    hold: Hold
    changed: bool
    header: OrderHeader
    line: OrderLine | None
    #: the fulfillment lines requested because the release let them go on
    requested: tuple[FulfillLine, ...] = ()


def _where(header: OrderHeader, line: OrderLine | None) -> str:
    return f"order {header.order_number}" + (f" line {line.line_number}" if line else "")


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

    def _order(self, target: HoldTarget) -> OrderHeader:
        stmt = select(OrderHeader).where(OrderHeader.status != "DOO_REFERENCE")
        if target.order_number is not None:
            number = target.order_number.strip()
            stmt = stmt.where(OrderHeader.order_number == number)
            missing = f"there is no order {number!r}"
        elif target.source_system and target.source_order_id:
            system, key = target.source_system, target.source_order_id
            stmt = stmt.join(SourceSystem, SourceSystem.id == OrderHeader.source_system_id).where(
                SourceSystem.code == system, OrderHeader.source_order_id == key
            )
            missing = (
                f"source system {system} has no order with SourceTransactionIdentifier {key!r}"
            )
        else:
            raise ValidationError(
                "MISSING_KEY",
                "a hold names its order by SourceTransactionSystem and "
                "SourceTransactionIdentifier (both are required)",
            )
        header = self._s.scalar(
            stmt.order_by(OrderHeader.revision_seq.desc()).limit(1).with_for_update(of=OrderHeader)
        )
        if header is None:
            raise NotFoundError("ORDER_NOT_FOUND", missing)
        return header

    @staticmethod
    def _line(header: OrderHeader, target: HoldTarget) -> OrderLine | None:
        if target.line_number is not None:
            found = [ln for ln in header.lines if ln.line_number == target.line_number]
            named = f"line {target.line_number}"
        elif target.source_line_id is not None:
            found = [ln for ln in header.lines if ln.source_line_id == target.source_line_id]
            named = f"line with SourceTransactionLineIdentifier {target.source_line_id!r}"
        else:
            return None
        if not found:
            known = ", ".join(ln.source_line_id for ln in header.lines)
            raise NotFoundError(
                "LINE_NOT_FOUND",
                f"order {header.order_number} has no {named}"
                + (f" (its lines: {known})" if target.source_line_id is not None else ""),
            )
        return found[0]

    def apply(
        self,
        order_number: str,
        hold_code: str,
        comments: str | None = None,
        line_number: int | None = None,
    ) -> Hold:
        """Apply a hold to an order (or line) by number; a repeat is refused."""
        target = HoldTarget(order_number=order_number, line_number=line_number)
        return self.apply_to(target, hold_code, comments).hold

    def release(
        self,
        order_number: str,
        hold_code: str,
        comments: str | None = None,
        line_number: int | None = None,
    ) -> tuple[Hold, list[FulfillLine]]:
        """Release the hold; returns it and the lines that were requested because of it."""
        target = HoldTarget(order_number=order_number, line_number=line_number)
        outcome = self.release_from(target, hold_code, comments)
        return outcome.hold, list(outcome.requested)

    def apply_to(
        self,
        target: HoldTarget,
        hold_code: str | None,
        comments: str | None = None,
        *,
        repeat_ok: bool = False,
    ) -> HoldOutcome:
        """Apply hold ``hold_code`` to ``target``.

        :param repeat_ok: answer a hold that is on already as unchanged (else refuse it
            with ``ALREADY_EXISTS``).
        :raises StateError: ``ORDER_CLOSED`` when the order or line is closed or canceled.
        """
        header = self._order(target)
        line = self._line(header, target)
        where = _where(header, line)
        code = check_hold_code(hold_code, where)
        if header.status in TERMINAL or (line is not None and line.status in TERMINAL):
            status = line.status if line is not None else header.status
            raise StateError("ORDER_CLOSED", f"{where} is {status}; there is nothing to hold")
        line_id = line.id if line is not None else None
        for h in active_holds(self._s, header.id):
            if h.hold_code == code and h.order_line_id == line_id:
                if repeat_ok:
                    return HoldOutcome(h, False, header, line)
                raise ConflictError("ALREADY_EXISTS", f"hold {code} is already on {where}")
        row = Hold(
            header_id=header.id,
            order_line_id=line_id,
            hold_code=code,
            comments=_check_comments(comments, where),
            applied_by=self._actor,
        )
        self._s.add(row)
        self._s.flush()
        recorder.hold_changed(self._s, row, released=False)
        return HoldOutcome(row, True, header, line)

    def release_from(
        self,
        target: HoldTarget,
        hold_code: str | None,
        comments: str | None = None,
        *,
        reason: str | None = None,
        repeat_ok: bool = False,
    ) -> HoldOutcome:
        """Release hold ``hold_code`` from ``target``; what waited for it is requested.

        :param reason: the release reason code, kept before the comments.
        :param repeat_ok: answer a hold released already (and not applied again since)
            as unchanged (else refuse it with ``HOLD_NOT_FOUND``).
        :raises NotFoundError: ``HOLD_NOT_FOUND`` when the hold is not on ``target``.
        """
        header = self._order(target)
        line = self._line(header, target)
        where = _where(header, line)
        code = check_hold_code(hold_code, where)
        reason = _check_reason(reason, where)
        text = _check_comments(comments, where)
        line_id = line.id if line is not None else None
        holds = active_holds(self._s, header.id)
        row = next((h for h in holds if h.hold_code == code and h.order_line_id == line_id), None)
        if row is None:
            released = self._released(header.id, line_id, code) if repeat_ok else None
            if released is not None:
                return HoldOutcome(released, False, header, line)
            on = ", ".join(sorted({h.hold_code for h in holds})) or "none"
            raise NotFoundError(
                "HOLD_NOT_FOUND", f"hold {code} is not on {where} (active holds: {on})"
            )
        row.released_at = utcnow()
        row.released_by = self._actor
        row.release_comments = ": ".join(p for p in (reason, text) if p) or None
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
            by_task: dict[str, list[tuple[OrderLine, FulfillLine]]] = {}  # a return: received
            for pair in waiting:
                by_task.setdefault(pair[1].task_type or "Shipment", []).append(pair)
            for task, pairs in by_task.items():
                self._flow.request(header, pairs, task)
            self._status.rollup(header, f"hold {code} released")
        return HoldOutcome(row, True, header, line, tuple(f for _ln, f in waiting))

    def _released(self, header_id: int, line_id: int | None, code: str) -> Hold | None:
        """The latest released hold ``code`` on the order or line, if any."""
        stmt = select(Hold).where(
            Hold.header_id == header_id,
            Hold.hold_code == code,
            Hold.released_at.is_not(None),
            Hold.order_line_id.is_(None) if line_id is None else Hold.order_line_id == line_id,
        )
        return self._s.scalar(stmt.order_by(Hold.id.desc()).limit(1))
