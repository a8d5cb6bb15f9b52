"""Applying a new revision of an order in place, and compensating at fulfillment systems.

The order keeps its header, lines and fulfillment lines, so the identifiers fulfillment
systems were sent stay valid; the revision it replaces is kept as a copy in
``DOO_REFERENCE`` (Oracle's reference order), for GetOrderDetails and the history.
What changes is decided by :mod:`gateway.orders.changes`; here it is written:

* a line no fulfillment system holds changes (or is canceled) at once;
* a line a system holds waits in ``CANCEL_PENDING`` or ``CHANGE_PENDING`` while an
  ``Update`` or ``Cancel`` request goes to that system through the line's connector, one
  request per connector and original request, in the same transaction (the outbox sends
  an order's requests to a connector in the order they were written, so the change
  never overtakes the request it changes); the system's answer is applied by
  :mod:`gateway.orders.compensation`. Those requests are written, and a request not
  yet sent that names a changed line is withdrawn, by
  :mod:`gateway.orders.revision_requests`;
* added lines (and added quantity with no open line to take it) are requested like a
  new order's.

Each attribute a fulfillment line changes (quantity, scheduled and requested ship date,
ship-to site, cancel flag) is noted for the ``OrderAttributeUpdate`` business event when
the change is made: here for a line no system holds, in compensation when the system
accepts; a change waiting for its answer, or refused, raises nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from gateway.events import recorder
from gateway.orchestration_model import DEFAULT_PROCESS, RETURN_PROCESS
from gateway.orders.active_holds import active_holds
from gateway.orders.changes import (
    AWAITING_SYSTEM,
    CurrentFline,
    CurrentLine,
    FlineChange,
    LineChange,
    plan_revision,
    ship_to,
)
from gateway.orders.hold_service import record_holds
from gateway.orders.message_values import LineInput, OrderInput
from gateway.orders.orchestration import Orchestrator
from gateway.orders.order_plan import DEFAULT_UOM, DEFAULT_WAREHOUSE
from gateway.orders.reference_copy import read_copy, write_copy
from gateway.orders.request_states import RequestStates, request_states
from gateway.orders.revision_requests import Compensations, send_changes, withdraw_unsent
from gateway.orders.rows import FlineRow, ReturnReference
from gateway.orders.status_writer import StatusWriter
from gateway.persistence.kept_attributes import from_column, to_column
from gateway.persistence.models import (
    FulfillLine,
    OrderHeader,
    OrderLine,
    as_utc,
    utcnow,
)

__all__ = ["Reviser", "apply_update", "restore_line", "stored_moves", "sync_quantities"]

#: the line moves that are times (kept as ISO text while their change waits)
_DATES = frozenset({"RequestShipDate"})

_FLINE_ROW = tuple(f.name for f in fields(FlineRow) if f.name not in ("sent_to", "sent_via"))


def restore_line(line: OrderLine, prior: Any) -> None:
    """``line`` back to the ship date and ship-to site it had before a refused change:
    the system ships to what it holds, so the order says that."""
    if not isinstance(prior, dict):
        return
    when = prior.get("requested_ship_date")
    line.requested_ship_date = datetime.fromisoformat(str(when)) if when else None
    attributes = from_column(line.attributes_json)
    if prior.get("ship_to") is None:
        attributes.pop("ShipToPartySiteIdentifier", None)
    else:
        attributes["ShipToPartySiteIdentifier"] = prior["ship_to"]
    line.attributes_json = to_column(attributes)


def sync_quantities(header: OrderHeader) -> None:
    """Each line's ordered quantity as its fulfillment lines now hold it (what shipped,
    what is still open or waiting, nothing of what was canceled)."""
    for line in header.lines:
        live = [f.quantity for f in line.fulfill_lines if f.status != "CANCELED"]
        line.ordered_quantity = sum(live, Decimal(0))


def _line_moves(line: OrderLine, change: LineChange) -> dict[str, tuple[object, object]]:
    """What ``change`` does to the line's own attributes, (old, new) by attribute name."""
    moves: dict[str, tuple[object, object]] = {}
    values = change.values
    if "requested_ship_date" in values:
        old, new = as_utc(line.requested_ship_date), as_utc(values["requested_ship_date"])
        if old != new:
            moves["RequestShipDate"] = (old, new)
    if "ship_to" in values:
        site = ship_to(from_column(line.attributes_json))
        if site != values["ship_to"]:
            moves["ShipToSiteUseId"] = (site, values["ship_to"])
    return moves


def _storable(moves: Mapping[str, tuple[object, object]]) -> dict[str, list[str | None]]:
    def text(value: object) -> str | None:
        if value is None:
            return None
        return value.isoformat() if isinstance(value, datetime) else str(value)

    return {name: [text(old), text(new)] for name, (old, new) in moves.items()}


def stored_moves(change: Mapping[str, Any]) -> dict[str, tuple[object, object]]:
    """The line's moves a waiting change keeps (``moves`` of its ``change_json``)."""
    out: dict[str, tuple[object, object]] = {}
    for name, (old, new) in (change.get("moves") or {}).items():
        if name in _DATES:
            old = datetime.fromisoformat(old) if old else None
            new = datetime.fromisoformat(new) if new else None
        out[name] = (old, new)
    return out


def apply_update(
    session: Session,
    fline: FulfillLine,
    quantity: Decimal | None,
    date: datetime | None,
    moves: Mapping[str, tuple[object, object]],
) -> None:
    """Give ``fline`` its new quantity and scheduled ship date (None: kept), and note
    each attribute that changed, with the line's ``moves``."""
    if quantity is not None:
        recorder.attribute_changed(session, fline, "OrderedQty", fline.quantity, quantity)
        fline.quantity = quantity
    if date is not None:
        old = as_utc(fline.scheduled_ship_date)
        recorder.attribute_changed(session, fline, "ScheduleShipDate", old, as_utc(date))
        fline.scheduled_ship_date = date
    for name, (old_value, new_value) in moves.items():
        recorder.attribute_changed(session, fline, name, old_value, new_value)


def _pending_quantity(fline: FulfillLine) -> Decimal | None:
    if fline.status == "CANCEL_PENDING":
        return Decimal(0)
    if fline.status == "CHANGE_PENDING":
        quantity = from_column(fline.change_json).get("quantity")
        return Decimal(str(quantity)) if quantity is not None else None
    return None


def _current(header: OrderHeader, requests: RequestStates) -> list[CurrentLine]:
    lines = []
    for line in header.lines:
        attributes = from_column(line.attributes_json)
        flines = tuple(
            CurrentFline(
                f.id,
                f.quantity,
                f.status,
                f.status in AWAITING_SYSTEM and f.request_id in requests.held,
                _pending_quantity(f),
            )
            for f in line.fulfill_lines
        )
        lines.append(
            CurrentLine(
                line.id,
                line.source_line_id,
                line.product_number,
                line.uom_code,
                line.requested_ship_date,
                ship_to(attributes),
                flines,
            )
        )
    return lines


def _proposed(fline: FulfillLine, **changes: Any) -> FlineRow:
    """``fline`` as a change request describes it (its new values, not yet its own)."""
    row = FlineRow(**{name: getattr(fline, name) for name in _FLINE_ROW})
    return replace(row, **changes)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


class Reviser:
    """Applies one revision inside the caller's transaction (the order is locked)."""

    def __init__(self, session: Session, flow: Orchestrator, reply_to: str | None) -> None:
        self._s = session
        self._flow = flow
        self._status = StatusWriter(session)
        self._reply_to = reply_to

    def revise(
        self,
        header: OrderHeader,
        order: OrderInput,
        header_values: dict[str, Any],
        returns: dict[str, ReturnReference],
    ) -> OrderHeader:
        requests = request_states(self._s, header)
        plan = plan_revision(_current(header, requests), order)
        before = read_copy(self._s, header)
        for name, value in header_values.items():
            setattr(header, name, value)
        self._s.flush()  # the copy keeps the old revision, which the header has left
        write_copy(self._s, before, header.id)
        why = f"revision {header.revision}"
        lines = {line.id: line for line in header.lines}
        sent = {str(li.source_line_id).strip(): li for li in order.lines}
        compensations: Compensations = {}
        added: list[tuple[OrderLine, FulfillLine]] = []
        for change in plan.changes:
            line = lines[change.line_id]
            moves = _line_moves(line, change)
            # what the line asks for until a system holding it agrees to the change
            prior = {
                "requested_ship_date": _iso(line.requested_ship_date),
                "ship_to": from_column(line.attributes_json).get("ShipToPartySiteIdentifier"),
            }
            self._line_values(line, change, sent.get(change.source_line_id))
            for fc in change.flines:
                self._fline(line, fc, moves, why, compensations, added, prior)
        for li in order.lines:  # every line sent keeps what it was sent with
            kept = next((ln for ln in header.lines if ln.source_line_id == li.source_line_id), None)
            if kept is not None and li.attributes:
                kept.attributes_json = to_column(li.attributes)
        self._s.flush()
        for li in plan.added:
            added.append(self._add_line(header, li, returns.get(str(li.source_line_id).strip())))
        self._hold(header, order)
        again = withdraw_unsent(self._s, header, plan, requests.unsent, why)
        if again:
            self._request(header, again, why)
        self._request(header, added, why)
        send_changes(self._s, self._flow.registry, self._reply_to, header, compensations, plan)
        sync_quantities(header)
        self._status.rollup(header, why)
        return header

    # -- lines ------------------------------------------------------------------------

    @staticmethod
    def _line_values(line: OrderLine, change: LineChange, sent: LineInput | None) -> None:
        values = change.values
        if "requested_ship_date" in values:
            line.requested_ship_date = values["requested_ship_date"]
        if sent is not None:
            line.product_description = sent.product_description or line.product_description

    def _fline(
        self,
        line: OrderLine,
        fc: FlineChange,
        moves: Mapping[str, tuple[object, object]],
        why: str,
        compensations: Compensations,
        added: list[tuple[OrderLine, FulfillLine]],
        prior: dict[str, Any],
    ) -> None:
        if fc.kind == "ADD":
            assert fc.quantity is not None
            added.append((line, self._new_fline(line, fc.quantity, why)))
            return
        fline = next(f for f in line.fulfill_lines if f.id == fc.fline_id)
        date = line.requested_ship_date
        if not fc.compensate:
            if fc.kind == "CANCEL":
                self._status.fline(fline, "CANCELED", f"canceled by {why}")
                fline.task_type = None
                recorder.attribute_changed(self._s, fline, "CancelFlag", "N", "Y")
            else:
                assert fc.quantity is not None
                apply_update(self._s, fline, fc.quantity, date, moves)
            fline.change_error = None
            return
        request = fline.request
        assert request is not None and request.connector_id is not None
        kind = "Cancel" if fc.kind == "CANCEL" else "Update"
        pending = "CANCEL_PENDING" if kind == "Cancel" else "CHANGE_PENDING"
        change: dict[str, Any] = {"kind": kind, "prior": fline.status, "line": prior}
        proposed: dict[str, Any] = {"status": pending}
        if kind == "Update":
            assert fc.quantity is not None
            change.update(quantity=str(fc.quantity), scheduled_ship_date=_iso(date))
            if moves:
                change["moves"] = _storable(moves)
            proposed.update(quantity=fc.quantity, scheduled_ship_date=date)
        fline.change_json = to_column(change)
        fline.change_error = None
        reason = f"{kind.lower()} requested from {request.fulfillment_system} by {why}"
        self._status.fline(fline, pending, reason)
        key = (request.id, kind)
        compensations.setdefault(key, []).append((line, _proposed(fline, **proposed)))

    def _new_fline(self, line: OrderLine, quantity: Decimal, why: str) -> FulfillLine:
        siblings = line.fulfill_lines
        model = siblings[-1] if siblings else None
        fline = FulfillLine(
            header_id=line.header_id,
            order_line_id=line.id,
            fulfill_line_number=max((f.fulfill_line_number for f in siblings), default=0) + 1,
            quantity=quantity,
            status="CREATED",
            task_type="Return" if line.category == "RETURN" else "Shipment",
            scheduled_ship_date=line.requested_ship_date or utcnow(),
            process_id=model.process_id if model is not None else None,
            warehouse=model.warehouse if model is not None else line.requested_fulfillment_org,
        )
        line.fulfill_lines.append(fline)
        self._s.flush()
        self._status.new_fline(fline, f"added by {why}")
        return fline

    def _add_line(
        self, header: OrderHeader, sent: LineInput, reference: ReturnReference | None
    ) -> tuple[OrderLine, FulfillLine]:
        """A line the revision adds, with one fulfillment line, ready to request."""
        number = max((ln.line_number for ln in header.lines), default=0) + 1
        assert sent.quantity is not None
        line = OrderLine(
            header_id=header.id,
            line_number=number,
            source_line_id=str(sent.source_line_id).strip(),
            source_line_number=(sent.source_line_number or str(number)).strip(),
            product_number=str(sent.product_number).strip(),
            product_description=sent.product_description,
            ordered_quantity=sent.quantity,
            uom_code=(sent.uom_code or DEFAULT_UOM).strip(),
            ship_set_name=sent.ship_set_name,
            requested_fulfillment_org=sent.requested_fulfillment_org,
            requested_ship_date=sent.requested_ship_date or header.requested_ship_date,
            status="CREATED",
            attributes_json=to_column(sent.attributes),
            category="RETURN" if reference is not None else "ORDER",
            reference_line_id=reference.line_id if reference is not None else None,
            reference_fline_id=reference.fline_id if reference is not None else None,
        )
        header.lines.append(line)
        self._s.flush()
        self._status.new_line(line, f"added by revision {header.revision}")
        builtin = RETURN_PROCESS if reference is not None else DEFAULT_PROCESS
        process = self._flow.registry.newest.get(builtin.name)
        fline = self._new_fline(line, sent.quantity, f"revision {header.revision}")
        fline.process_id = process.id if process is not None else None
        fline.warehouse = line.requested_fulfillment_org or DEFAULT_WAREHOUSE
        return line, fline

    # -- requests ---------------------------------------------------------------------

    def _request(
        self, header: OrderHeader, pairs: list[tuple[OrderLine, FulfillLine]], why: str
    ) -> None:
        by_task: dict[str, list[tuple[OrderLine, FulfillLine]]] = {}
        for line, fline in pairs:
            by_task.setdefault(fline.task_type or "Shipment", []).append((line, fline))
        for task, group in by_task.items():
            for _, fline in group:
                if fline.status == "CREATED" and task == "Shipment":
                    self._status.fline(fline, "SCHEDULED", f"scheduled: {why}")
            self._flow.request(header, group, task)

    def _hold(self, header: OrderHeader, order: OrderInput) -> None:
        """The holds the revision gives that are not on already (a hold it leaves out
        stays: it is released by a release, not by silence); before any line of it is
        requested, so a newly held line waits."""
        active = {(h.order_line_id, h.hold_code) for h in active_holds(self._s, header.id)}
        by_source = {line.source_line_id: line for line in header.lines}
        given: list[tuple[OrderLine | None, str | None, str | None]] = []
        for h in order.holds:
            given.append((None, h.hold_code, h.comments))
        for li in order.lines:
            line = by_source.get(str(li.source_line_id).strip())
            given.extend((line, h.hold_code, h.comments) for h in li.holds)
        new = [
            (line, code, text)
            for line, code, text in given
            if (line.id if line is not None else None, (code or "").strip()) not in active
        ]
        if new:
            record_holds(self._s, header, new, f"revision {header.revision}")
