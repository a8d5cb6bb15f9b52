"""Writing a new order: its header first, then its plan, set-based.

The header is inserted on its own (:func:`insert_header`): its id numbers a new order,
and routing may test the order number. The plan (:mod:`gateway.orders.order_plan`) is
then written with one statement per row kind (``INSERT … RETURNING`` for requests,
lines and fulfillment lines; one ``UPDATE`` for the header's number and final status),
its history rows and the holds it was given go to the event recorder in the order they
happened, and each request's outbox row is written. Everything goes through the
session's connection, not the unit of work; the holds, which are rare, are ORM rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session

from gateway.events import recorder
from gateway.orders.hold_service import record_holds
from gateway.orders.order_plan import PlannedOrder
from gateway.orders.outgoing import OutboxWriter
from gateway.orders.rows import FlineRow, HeaderRow, LineRow, column_names, request_values
from gateway.persistence.keyed_inserts import insert_keyed
from gateway.persistence.models import (
    FulfillLine,
    FulfillmentRequest,
    OrderHeader,
    OrderLine,
    table_of,
)
from gateway.registry.registry_snapshot import Snapshot

__all__ = ["PlacedLine", "PlacedOrder", "insert_header", "write_order"]

_ORDER_NUMBER_BASE = 100000


_H, _L, _F, _R = (table_of(m) for m in (OrderHeader, OrderLine, FulfillLine, FulfillmentRequest))
_FLINE_COLUMNS = column_names(FlineRow, without=("id", "sent_to", "sent_via"))
_NEW_HEADER = insert(_H).returning(_H.c.id)
_NEW_REQUEST = insert(_R).returning(_R.c.id)
_HEADER_DONE = (
    update(_H)
    .where(_H.c.id == bindparam("v_id"))
    .values(order_number=bindparam("v_number"), status=bindparam("v_status"))
)


@dataclass(frozen=True, slots=True)
class PlacedLine(LineRow):
    """An order line as its order was written, with its fulfillment lines."""

    fulfill_lines: tuple[FlineRow, ...] = ()


@dataclass(frozen=True, slots=True)
class PlacedOrder(HeaderRow):
    """An order as it was written, with its lines (what ``createOrders`` answers)."""

    lines: tuple[PlacedLine, ...] = ()


def insert_header(session: Session, values: dict[str, Any]) -> HeaderRow:
    """Insert the new header (``values`` from :func:`order_plan.header_values`); a new
    order is numbered from its id."""
    header_id = session.connection().execute(_NEW_HEADER, values).scalar_one()
    names = HeaderRow.__dataclass_fields__
    row = {k: v for k, v in values.items() if k in names}
    row["order_number"] = values["order_number"] or str(_ORDER_NUMBER_BASE + header_id)
    return HeaderRow(id=header_id, **row)


def write_order(
    session: Session,
    plan: PlannedOrder,
    registry: Snapshot,
    reply_to: str | None,
    actor: str,
) -> PlacedOrder:
    """Write ``plan`` under its inserted header; the order as written."""
    conn = session.connection()
    ids: dict[int, int] = {}

    # an order's requests are few (one per connector): one INSERT each
    for r in plan.requests:
        ids[r.id] = conn.execute(_NEW_REQUEST, request_values(r)).scalar_one()
    # the lines' values, not their rows: those leave out what only the order keeps
    got = insert_keyed(conn, _L, plan.line_values, ("line_number",))
    ids.update(zip((ln.id for ln in plan.lines), got, strict=True))
    flines = [
        replace(
            f,
            order_line_id=ids[f.order_line_id],
            request_id=ids.get(f.request_id) if f.request_id is not None else None,
        )
        for f in plan.flines
    ]
    rows = [{name: getattr(f, name) for name in _FLINE_COLUMNS} for f in flines]
    got = insert_keyed(conn, _F, rows, ("order_line_id",))  # one per line, in a new order
    ids.update(zip((f.id for f in flines), got, strict=True))
    header = plan.header
    conn.execute(
        _HEADER_DONE,
        {"v_id": header.id, "v_number": header.order_number, "v_status": header.status},
    )
    lines = [replace(ln, id=ids[ln.id]) for ln in plan.lines]
    flines = [replace(f, id=ids[f.id]) for f in flines]
    history = [
        replace(h, entity_id=ids.get(h.entity_id, h.entity_id)) if h.entity_id < 0 else h
        for h in plan.history
    ]
    for record in history[: plan.created_rows]:
        recorder.status_changed(session, record)
    if plan.holds:  # before the rest, as a held line waits instead of being requested
        by_key = {key.id: line for key, line in zip(plan.lines, lines, strict=True)}
        given = [(by_key[k] if k is not None else None, code, text) for k, code, text in plan.holds]
        record_holds(session, header, given, actor)
    for record in history[plan.created_rows :]:
        recorder.status_changed(session, record)
    outbox = OutboxWriter(session, registry, reply_to)
    for request in plan.requests:
        sent = replace(request, id=ids[request.id])
        pairs = [
            (line, f) for line, f in zip(lines, flines, strict=True) if f.request_id == sent.id
        ]
        outbox.request(sent, header, pairs)
    return PlacedOrder(
        **{name: getattr(header, name) for name in HeaderRow.__dataclass_fields__},
        lines=tuple(
            PlacedLine(
                **{name: getattr(line, name) for name in LineRow.__dataclass_fields__},
                fulfill_lines=(f,),
            )
            for line, f in zip(lines, flines, strict=True)
        ),
    )
