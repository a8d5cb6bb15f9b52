"""A fulfillment system's answer to an Update or Cancel request, applied to its lines.

The answer is the request's acknowledgement (``processAcknowledgement``, or the
``headerTR`` of a synchronous call): ``SUCCESS`` makes the change (a cancel cancels the
line; an update gives it the quantity and date the request carried), ``ERROR`` refuses
it (``ALREADY_SHIPPED``: the goods left first; anything else: the system said no), and
the line goes back to where it was, with the reason kept for GetOrderDetails, and its
order line goes back to the ship date and ship-to site the system still holds. A change
made notes each attribute it changed (the ``OrderAttributeUpdate`` business event); a
refused one notes nothing.

Only lines still waiting on this request change. A shipment reported while a line
waited has decided the line already (:mod:`gateway.orders.response_decision` refuses
the change then), so an answer arriving after it changes nothing: each line ends in
exactly one outcome whichever comes first. The order is locked first, as a fulfillment
response locks it, so the two are applied one after the other.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.events import recorder
from gateway.lifecycle import PENDING_CHANGE
from gateway.orders.revision import apply_update, restore_line, stored_moves, sync_quantities
from gateway.orders.status_writer import StatusWriter
from gateway.persistence.kept_attributes import from_column
from gateway.persistence.models import FulfillLine, FulfillmentRequest, OrderHeader

__all__ = ["CHANGE_OPERATIONS", "apply_change_answer", "refusal"]

#: the operations of a request that changes lines an earlier request asked for
CHANGE_OPERATIONS = frozenset({"Update", "Cancel"})


def refusal(system: str | None, kind: str, name: str | None, text: str | None) -> str:
    """Why a change was not made, as GetOrderDetails shows it."""
    what = "cancel" if kind == "Cancel" else "change"
    detail = ": ".join(p for p in (name, text) if p) or "no reason given"
    return f"{system or 'the fulfillment system'} refused the {what} ({detail})"[:1000]


def apply_change_answer(
    session: Session,
    request: FulfillmentRequest,
    accepted: bool,
    error_name: str | None,
    error_text: str | None,
) -> list[FulfillLine]:
    """Apply the answer to ``request`` (an Update or Cancel) to the lines still waiting
    on it; the lines changed."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(OrderHeader.id).where(OrderHeader.id == request.header_id).with_for_update()
        )
    waiting = session.scalars(
        select(FulfillLine)
        .where(
            FulfillLine.change_request_id == request.id,
            FulfillLine.status.in_(PENDING_CHANGE),
        )
        .order_by(FulfillLine.id)
        .execution_options(populate_existing=True)
    ).all()
    if not waiting:
        return []
    status = StatusWriter(session)
    system = request.fulfillment_system
    for fline in waiting:
        change = from_column(fline.change_json)
        kind = str(change.get("kind") or request.operation or "Update")
        prior = str(change.get("prior") or "AWAIT_SHIP")
        if accepted and kind == "Cancel":
            status.fline(fline, "CANCELED", f"cancel accepted by {system}")
            fline.task_type = None
            recorder.attribute_changed(session, fline, "CancelFlag", "N", "Y")
        elif accepted:
            quantity = change.get("quantity")
            when = change.get("scheduled_ship_date")
            apply_update(
                session,
                fline,
                Decimal(str(quantity)) if quantity is not None else None,
                datetime.fromisoformat(str(when)) if when else None,
                stored_moves(change),
            )
            status.fline(fline, prior, f"change accepted by {system}")
        else:
            fline.change_error = refusal(system, kind, error_name, error_text)
            status.fline(fline, prior, fline.change_error[:240])
            restore_line(fline.order_line, change.get("line"))
        fline.change_request_id = None
        fline.change_json = None
    header = session.get(OrderHeader, request.header_id)
    assert header is not None
    sync_quantities(header)
    status.rollup(header, f"answer of {system} to {request.operation} request {request.id}")
    return list(waiting)
