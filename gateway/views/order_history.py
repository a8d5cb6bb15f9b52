"""An order's whole story, for ``omgw orders list|show``: plain dicts, no click.

:func:`list_orders` summarises orders newest first (superseded revisions left out unless
asked for). :func:`order_history` tells one order: the current revision's header, each
order line with its fulfillment lines (where routing sent them and why), the fulfillment
requests, the status history, and every message about it in time order: inbound SOAP
messages from the message log and outbound ones from the outbox. A request is shown
with what became of its delivery (:func:`shown_request_status`).

An inbound message is placed at the moment it arrived (the log row is written when the
answer is ready, ``duration_ms`` later), so an order's ``createOrders`` comes before the
requests it caused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, case, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from gateway.errors import NotFoundError
from gateway.lifecycle import TERMINAL
from gateway.outbox.message_filter import iso
from gateway.outbox.secret_scrubber import Keys, Scrubber, scrubber_for
from gateway.persistence.kept_attributes import from_column
from gateway.persistence.models import (
    Connector,
    FulfillLine,
    FulfillmentRequest,
    Hold,
    MessageLog,
    OrderHeader,
    OrderLine,
    OutboxMessage,
    SourceSystem,
    StatusHistory,
)
from gateway.views.inbound_messages import names_order
from gateway.views.order_lookup import OrderKey

__all__ = ["list_orders", "order_history", "shown_request_status"]

#: :func:`list_orders`' query: each order, its source system's code, and its counts of
#: order lines, fulfillment lines and closed fulfillment lines
_OrdersQuery = Select[OrderHeader, str, Any, Any, Any]


def _qty(value: Decimal | None) -> str | None:
    """A quantity as written (``10``, ``2.5``), without the column's trailing zeros."""
    return None if value is None else format(value.normalize(), "f")


def shown_request_status(status: str, delivery: str | None) -> str:
    """A fulfillment request's status as shown. ``SENT`` is stored when the request is
    handed to the outbox; while its message (``delivery``, the latest outbox row's
    status) is parked, the fulfillment system has not got it, and it shows ``PARKED``."""
    if status == "SENT" and delivery == "PARKED":
        return "PARKED"
    return status


def _deliveries(session: Session, request_ids: list[int]) -> dict[int, str]:
    """Each request's latest outbox message status."""
    rows = session.execute(
        select(OutboxMessage.request_id, OutboxMessage.status)
        .where(OutboxMessage.request_id.in_(request_ids))
        .order_by(OutboxMessage.id)
    )
    return {rid: status for rid, status in rows if rid is not None}


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def list_orders(
    session: Session,
    *,
    status: str | None = None,
    key: OrderKey | None = None,
    line_status: str | None = None,
    limit: int = 50,
    all_revisions: bool = False,
    number: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Orders newest first, with their line counts; a revision that a newer one
    superseded (``DOO_REFERENCE``) only with ``all_revisions`` or when asked for by
    status.

    ``status`` is the order's own (header) status; ``key`` narrows by source system,
    source number and PO number (each revision by its own values); ``line_status``
    keeps orders with an order line or a fulfillment line in that status, so a
    ``ROUTING_ERROR`` line under an ``OPEN`` order is found; ``number`` keeps one order
    number's revisions, ``since`` and ``until`` those created in that window."""
    stmt = _orders_with_counts(limit)
    if key is not None:
        stmt = stmt.where(*key.conditions(session))
    stmt = _narrowed(stmt, status, number, since, until)
    if line_status:
        stmt = stmt.where(_has_line_in(line_status.upper()))
    if not all_revisions and (status or "").upper() != "DOO_REFERENCE":
        stmt = stmt.where(OrderHeader.status != "DOO_REFERENCE")
    return [
        _order_summary(h, code, n_lines, total, closed)
        for h, code, n_lines, total, closed in session.execute(stmt)
    ]


def _orders_with_counts(limit: int) -> _OrdersQuery:
    """The newest ``limit`` orders with their source system's code and how many order
    lines, fulfillment lines and closed fulfillment lines each has."""
    lines = (
        select(OrderLine.header_id, func.count().label("n"))
        .group_by(OrderLine.header_id)
        .subquery()
    )
    flines = (
        select(
            FulfillLine.header_id,
            func.count().label("total"),
            func.sum(case((FulfillLine.status.in_(TERMINAL), 1), else_=0)).label("closed"),
        )
        .group_by(FulfillLine.header_id)
        .subquery()
    )
    return (
        select(
            OrderHeader,
            SourceSystem.code,
            func.coalesce(lines.c.n, 0),
            func.coalesce(flines.c.total, 0),
            func.coalesce(flines.c.closed, 0),
        )
        .join(SourceSystem, SourceSystem.id == OrderHeader.source_system_id)
        .outerjoin(lines, lines.c.header_id == OrderHeader.id)
        .outerjoin(flines, flines.c.header_id == OrderHeader.id)
        .order_by(
            OrderHeader.created_at.desc(), OrderHeader.revision_seq.desc(), OrderHeader.id.desc()
        )
        .limit(limit)
    )


def _narrowed(
    stmt: _OrdersQuery,
    status: str | None,
    number: str | None,
    since: datetime | None,
    until: datetime | None,
) -> _OrdersQuery:
    """``stmt`` kept to the orders in ``status``, of order ``number``, created in
    ``[since, until)``; each left out when not given."""
    if status:
        stmt = stmt.where(OrderHeader.status == status.upper())
    if number:
        stmt = stmt.where(OrderHeader.order_number == number.strip())
    if since is not None:
        stmt = stmt.where(OrderHeader.created_at >= _utc(since))
    if until is not None:
        stmt = stmt.where(OrderHeader.created_at < _utc(until))
    return stmt


def _has_line_in(status: str) -> ColumnElement[bool]:
    """An order has an order line or a fulfillment line in ``status``."""
    return or_(
        exists().where(OrderLine.header_id == OrderHeader.id, OrderLine.status == status),
        exists().where(FulfillLine.header_id == OrderHeader.id, FulfillLine.status == status),
    )


def _order_summary(
    h: OrderHeader, code: str, n_lines: int, total: int, closed: int
) -> dict[str, Any]:
    """One order of the list; a fulfillment line is open until its status is terminal."""
    return {
        "order_number": h.order_number,
        "source_system": code,
        "source_order_id": h.source_order_id,
        "source_order_number": h.source_order_number,
        "revision": h.revision,
        "status": h.status,
        "lines": int(n_lines),
        "fulfill_lines_open": int(total) - int(closed),
        "fulfill_lines_closed": int(closed),
        "created": iso(h.created_at),
    }


def _fline(fl: FulfillLine, connectors: dict[int, str]) -> dict[str, Any]:
    request = fl.request
    return {
        "id": fl.id,
        "number": fl.fulfill_line_number,
        "quantity": _qty(fl.quantity),
        "shipped_quantity": _qty(fl.shipped_quantity),
        "status": fl.status,
        "task_type": fl.task_type,
        "warehouse": fl.warehouse,
        "scheduled_ship_date": iso(fl.scheduled_ship_date),
        "request_id": fl.request_id,
        "fulfillment_system": request.fulfillment_system if request else None,
        "connector": connectors.get(request.connector_id or 0) if request else None,
        "routing_version": fl.rule_set_version,
        "routing_rule": fl.routing_rule_id,
        "routing_error": fl.routing_error,
        "tracking_number": fl.tracking_number,
        "billing_number": fl.billing_number,
        "split_from": fl.split_from_id,
        # the Update or Cancel request the line waits on, and why its last change was
        # not made (GetOrderDetails gives the same text as the line's Comments)
        "change_request_id": fl.change_request_id,
        "change_error": fl.change_error,
        "planned_completion": iso(fl.planned_completion_at),
        "jeopardy_priority": fl.jeopardy_priority,
        "jeopardy_delay_minutes": fl.jeopardy_delay_minutes,
        "attributes": from_column(fl.attributes_json),
    }


def _inbound(session: Session, order_number: str) -> list[tuple[datetime, dict[str, Any]]]:
    """Message-log rows that name the order (one message may name several orders)."""
    rows = session.scalars(
        select(MessageLog).where(names_order(order_number)).order_by(MessageLog.id)
    )
    out = []
    for m in rows:
        arrived = _utc(m.received_at) - timedelta(milliseconds=m.duration_ms or 0)
        out.append(
            (
                arrived,
                {
                    "at": iso(arrived),
                    "direction": "IN",
                    "log_id": m.id,
                    "message_id": m.message_id,
                    "user": m.principal,
                    "service": m.service,
                    "operation": m.operation,
                    "outcome": m.outcome,
                    "fault_code": m.fault_code,
                },
            )
        )
    return out


def order_history(
    session: Session, order_number: str, *, keys: Keys | None = None
) -> dict[str, Any]:
    """Everything about one order number; its current revision's lines.

    ``keys`` opens the wallet so that the connectors' own secrets are masked in the
    outbound messages' errors (see :class:`gateway.outbox.secret_scrubber.Scrubber`)."""
    headers = _revisions(session, order_number)
    current = next((h for h in reversed(headers) if h.status != "DOO_REFERENCE"), headers[-1])
    revision_of = {h.id: h.revision for h in headers}
    connectors = {cid: name for cid, name in session.execute(select(Connector.id, Connector.name))}
    requests = session.scalars(
        select(FulfillmentRequest)
        .where(FulfillmentRequest.header_id.in_(revision_of))
        .order_by(FulfillmentRequest.id)
    ).all()
    deliveries = _deliveries(session, [r.id for r in requests])
    history = session.scalars(
        select(StatusHistory)
        .where(StatusHistory.header_id.in_(revision_of))
        .order_by(StatusHistory.id)
    ).all()
    messages = _messages(session, order_number, keys)
    return {
        **_header(current, headers),
        "lines": [_line(line, connectors) for line in current.lines],
        "holds": _holds(session, current),
        "requests": [
            _request(r, revision_of[r.header_id], connectors, deliveries.get(r.id))
            for r in requests
        ],
        "status_history": [_status_change(e, revision_of[e.header_id]) for e in history],
        "messages": messages,
    }


def _revisions(session: Session, order_number: str) -> list[OrderHeader]:
    """Every revision of the order, oldest first, with its lines and fulfillment lines.

    :raises NotFoundError: ``ORDER_NOT_FOUND`` when no order has the number.
    """
    headers = list(
        session.scalars(
            select(OrderHeader)
            .where(OrderHeader.order_number == order_number)
            .options(selectinload(OrderHeader.lines).selectinload(OrderLine.fulfill_lines))
            .order_by(OrderHeader.revision_seq, OrderHeader.id)
        )
    )
    if not headers:
        raise NotFoundError(
            "ORDER_NOT_FOUND", f"no order {order_number} (omgw orders list shows the numbers)"
        )
    return headers


def _messages(session: Session, order_number: str, keys: Keys | None) -> list[dict[str, Any]]:
    """Inbound and outbound messages about the order, in the time order they happened;
    the connectors' secrets masked in the outbound ones' errors."""
    outbound = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.order_number == order_number)
        .order_by(OutboxMessage.id)
    ).all()
    scrub = scrubber_for(
        session, {o.connector_id for o in outbound if o.connector_id is not None}, keys
    )
    messages = _inbound(session, order_number) + [
        (_utc(o.created_at), _outbound(o, scrub)) for o in outbound
    ]
    messages.sort(key=lambda pair: pair[0])
    return [entry for _at, entry in messages]


def _outbound(o: OutboxMessage, scrub: Scrubber) -> dict[str, Any]:
    return {
        "at": iso(o.created_at),
        "direction": "OUT",
        "outbox_id": o.id,
        "message_id": o.message_id,
        "connector": o.connector.name if o.connector is not None else "smtp",
        "operation": o.operation,
        "task_type": o.task_type,
        "event_code": o.event_code,
        "status": o.status,
        "attempts": o.attempts,
        "uncertain": o.uncertain,
        "last_error": scrub.text(o.last_error),
    }


def _header(h: OrderHeader, headers: list[OrderHeader]) -> dict[str, Any]:
    """The current revision's own fields, and every revision's number and status."""
    return {
        "order_number": h.order_number,
        "header_id": h.id,
        "status": h.status,
        "source_system": h.source_system.code,
        "source_order_id": h.source_order_id,
        "source_order_number": h.source_order_number,
        "revision": h.revision,
        "revisions": [
            {"revision": r.revision, "header_id": r.id, "status": r.status} for r in headers
        ],
        "customer": {
            "name": h.buying_party_name,
            "number": h.buying_party_number,
            "po_number": h.customer_po_number,
        },
        "currency": h.currency_code,
        "business_unit": h.business_unit_name,
        "ordered_on": iso(h.transaction_on),
        "created": iso(h.created_at),
        "updated": iso(h.updated_at),
        "attributes": from_column(h.attributes_json),
    }


def _line(line: OrderLine, connectors: dict[int, str]) -> dict[str, Any]:
    return {
        "line_number": line.line_number,
        "source_line_id": line.source_line_id,
        "source_line_number": line.source_line_number,
        "item": line.product_number,
        "description": line.product_description,
        "quantity": _qty(line.ordered_quantity),
        "uom": line.uom_code,
        "ship_set": line.ship_set_name,
        "requested_fulfillment_org": line.requested_fulfillment_org,
        "status": line.status,
        "attributes": from_column(line.attributes_json),
        "fulfill_lines": [_fline(fl, connectors) for fl in line.fulfill_lines],
    }


def _holds(session: Session, h: OrderHeader) -> list[dict[str, Any]]:
    """The holds on the current revision, oldest first; ``line`` is the order line's
    number for a line hold, None for one on the whole order."""
    return [
        {
            "hold": hd.hold_code,
            "line": next((ln.line_number for ln in h.lines if ln.id == hd.order_line_id), None),
            "comments": hd.comments,
            "applied_by": hd.applied_by,
            "applied_at": iso(hd.applied_at),
            "released_at": iso(hd.released_at),
            "released_by": hd.released_by,
        }
        for hd in session.scalars(select(Hold).where(Hold.header_id == h.id).order_by(Hold.id))
    ]


def _request(
    r: FulfillmentRequest, revision: str, connectors: dict[int, str], delivery: str | None
) -> dict[str, Any]:
    """A fulfillment request, shown with what became of its delivery (its latest outbox
    message's status)."""
    return {
        "id": r.id,
        "revision": revision,
        "task_type": r.task_type,
        "fulfillment_system": r.fulfillment_system,
        "connector": connectors.get(r.connector_id or 0),
        "operation": r.operation,
        "status": shown_request_status(r.status, delivery),
        "delivery": delivery,
        "created": iso(r.created_at),
        "acknowledged": iso(r.acknowledged_at),
        "ack_error": ": ".join(e for e in (r.ack_error_name, r.ack_error_text) if e) or None,
    }


def _status_change(e: StatusHistory, revision: str) -> dict[str, Any]:
    return {
        "at": iso(e.changed_at),
        "revision": revision,
        "entity": e.entity,
        "entity_id": e.entity_id,
        "old_status": e.old_status,
        "new_status": e.new_status,
        "reason": e.reason,
    }
