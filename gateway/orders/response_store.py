"""Reading the orders a fulfillment response touches, and writing its decision.

Both sides are set-based and go through the session's connection, not the unit of
work: four reads give whole orders as plain rows (:mod:`gateway.orders.rows`), and a
decision is written with one statement per row kind (an ``INSERT … RETURNING`` for new
requests and for split lines, an ``UPDATE`` executemany per set of changed columns).
History rows and the split notes go to the event recorder, which writes them with the
commit and publishes what trigger points ask for. ORM objects the session already holds
for changed rows are expired, so a caller sharing the session reads what was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from gateway.events import recorder
from gateway.orders.decision_draft import Decision
from gateway.orders.outgoing import OutboxWriter
from gateway.orders.revision import restore_line
from gateway.orders.rows import (
    FlineRow,
    HeaderRow,
    HoldRow,
    LineRow,
    OrderSet,
    column_names,
    request_values,
)
from gateway.persistence.keyed_inserts import insert_keyed
from gateway.persistence.models import (
    FulfillLine,
    FulfillmentRequest,
    Hold,
    OrderHeader,
    OrderLine,
    table_of,
)
from gateway.registry.registry_snapshot import Snapshot

__all__ = ["read_orders", "write_decision"]


_H, _L, _F = table_of(OrderHeader), table_of(OrderLine), table_of(FulfillLine)
_R, _HOLD = table_of(FulfillmentRequest), table_of(Hold)
_FLINE_COLUMNS = column_names(FlineRow, without=("sent_to", "sent_via"))

# Built once: a statement built per call costs more CPU than SQLite spends running it.
#: the orders the fulfillment lines ``ids`` belong to
_TOUCHED = (
    select(_F.c.header_id).where(_F.c.id.in_(bindparam("ids", expanding=True))).scalar_subquery()
)
_HEADERS = select(*(_H.c[n] for n in column_names(HeaderRow))).where(_H.c.id.in_(_TOUCHED))
_LINES = (
    select(*(_L.c[n] for n in column_names(LineRow)))
    .where(_L.c.header_id.in_(_TOUCHED))
    .order_by(_L.c.header_id, _L.c.line_number)
)
_FLINES = (
    select(*(_F.c[n] for n in _FLINE_COLUMNS), _R.c.fulfillment_system, _R.c.connector_id)
    .select_from(_F.outerjoin(_R, _R.c.id == _F.c.request_id))
    .where(_F.c.header_id.in_(_TOUCHED))
    .order_by(_F.c.order_line_id, _F.c.fulfill_line_number)
)
_HOLDS = (
    select(*(_HOLD.c[n] for n in column_names(HoldRow)))
    .where(_HOLD.c.header_id.in_(bindparam("headers", expanding=True)))
    .where(_HOLD.c.released_at.is_(None))
    .order_by(_HOLD.c.id)
)
_NEW_REQUEST = insert(_R).returning(_R.c.id)
_LINE_STATUS = update(_L).where(_L.c.id == bindparam("v_id")).values(status=bindparam("v_status"))
_HEADER_STATUS = update(_H).where(_H.c.id == bindparam("v_id")).values(status=bindparam("v_status"))
_FLINE_UPDATES: dict[tuple[str, ...], Any] = {}


def _fline_update(columns: tuple[str, ...]) -> Any:
    """The UPDATE of ``columns`` of a fulfillment line by id, built once per column set
    (``updated_at`` is set by the column's own ``onupdate``)."""
    statement = _FLINE_UPDATES.get(columns)
    if statement is None:
        values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in columns}
        statement = _FLINE_UPDATES[columns] = (
            update(_F).where(_F.c.id == bindparam("v_id")).values(values)
        )
    return statement


def read_orders(session: Session, fline_ids: Sequence[int]) -> OrderSet:
    """Every order one of ``fline_ids`` belongs to, whole, with its active holds."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # what the caller changed through the ORM is read back here
    conn = session.connection()

    def rows(statement: Any, params: dict[str, Any]) -> list[Any]:
        return list(conn.execute(statement, params))

    params = {"ids": list(fline_ids)}
    headers = {r.id: HeaderRow(*r) for r in rows(_HEADERS, params)}
    lines = {r.id: LineRow(*r) for r in rows(_LINES, params)}
    flines = {r.id: FlineRow(*r) for r in rows(_FLINES, params)}
    holds: dict[int, list[HoldRow]] = {}
    if headers:
        for r in rows(_HOLDS, {"headers": list(headers)}):
            holds.setdefault(r.header_id, []).append(HoldRow(*r))
    return OrderSet(headers, lines, flines, {h: tuple(rows) for h, rows in holds.items()})


def write_decision(
    session: Session,
    decision: Decision,
    orders: OrderSet,
    registry: Snapshot,
    reply_to: str | None,
) -> dict[int, int]:
    """Write ``decision`` on ``orders``; returns the ids new lines and requests got,
    by the negative ids the decision gave them."""
    conn = session.connection()
    ids: dict[int, int] = {}
    # a response's requests are few (one per connector): one INSERT each
    for r in decision.requests:
        ids[r.id] = conn.execute(_NEW_REQUEST, request_values(r)).scalar_one()

    def real(key: int | None) -> int | None:
        return ids.get(key, key) if key is not None else None

    new = [f for f in decision.flines.values() if f.id < 0]
    if new:
        rows = [_fline_values(f, real) for f in new]
        got = insert_keyed(conn, _F, rows, ("order_line_id", "fulfill_line_number"))
        ids.update(zip((f.id for f in new), got, strict=True))
    _update_flines(session, decision, orders, real)
    if decision.lines:
        conn.execute(_LINE_STATUS, [{"v_id": i, "v_status": s} for i, s in decision.lines.items()])
        _expire(session, OrderLine, decision.lines)
    if decision.headers:
        conn.execute(
            _HEADER_STATUS, [{"v_id": i, "v_status": s} for i, s in decision.headers.items()]
        )
        _expire(session, OrderHeader, decision.headers)
    for record in decision.history:
        if record.entity_id < 0:
            record = replace(record, entity_id=ids[record.entity_id])
        recorder.status_changed(session, record)
    for split in decision.splits:
        recorder.line_split(session, split.original_id, ids[split.rest_id], split.pre_split)
    for line_id, prior in decision.restored.items():  # rare: ORM rows are enough
        line = session.get(OrderLine, line_id)
        if line is not None:
            restore_line(line, prior)
    _send_requests(session, decision, orders, registry, reply_to, ids)
    return ids


def _fline_values(fline: FlineRow, real: Any) -> dict[str, Any]:
    values = {name: getattr(fline, name) for name in _FLINE_COLUMNS if name != "id"}
    values["request_id"] = real(fline.request_id)
    return values


def _update_flines(session: Session, decision: Decision, orders: OrderSet, real: Any) -> None:
    """One UPDATE executemany per set of changed columns of the existing lines."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for fline in decision.flines.values():
        if fline.id < 0:
            continue
        before = orders.flines[fline.id]
        changed = tuple(
            name
            for name in _FLINE_COLUMNS
            if name != "id" and getattr(fline, name) != getattr(before, name)
        )
        if not changed:
            continue
        row = {f"v_{name}": getattr(fline, name) for name in changed}
        if "request_id" in changed:
            row["v_request_id"] = real(fline.request_id)
        row["v_id"] = fline.id
        groups.setdefault(changed, []).append(row)
    conn = session.connection()
    for columns, rows in groups.items():
        conn.execute(_fline_update(columns), rows)
    _expire(session, FulfillLine, [f.id for f in decision.flines.values() if f.id > 0])


def _expire(session: Session, model: type, row_ids: Any) -> None:
    """Expire what the session holds of ``model``'s rows ``row_ids`` (usually nothing:
    a SOAP call's session reads no ORM object of them)."""
    if not session.identity_map:
        return
    for row_id in row_ids:
        held = session.identity_map.get(session.identity_key(model, row_id))
        if held is not None:
            session.expire(held)


def _send_requests(
    session: Session,
    decision: Decision,
    orders: OrderSet,
    registry: Snapshot,
    reply_to: str | None,
    ids: dict[int, int],
) -> None:
    """The outbox row of each new request, its lines as the decision leaves them."""
    requests = decision.requests
    if not requests:
        return
    outbox = OutboxWriter(session, registry, reply_to)
    for request in requests:
        sent = replace(request, id=ids[request.id])
        header = orders.headers[request.header_id]
        pairs = [
            (orders.lines[f.order_line_id], replace(f, request_id=sent.id))
            for f in (decision.flines[i] for i in request.fline_ids)
        ]
        outbox.request(sent, header, pairs)
