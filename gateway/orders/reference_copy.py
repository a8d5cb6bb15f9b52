"""The ``DOO_REFERENCE`` copy a revision leaves of the order as it was.

A revision changes the order in place (its identifiers stay valid at the fulfillment
systems); what it replaced is kept as a copy, Oracle's reference order, for
GetOrderDetails of that revision and the order's history. The copy asks no system for
anything: its fulfillment lines name no request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gateway.persistence.models import FulfillLine, OrderHeader, OrderLine, table_of

__all__ = ["Copy", "read_copy", "write_copy"]

_H, _L, _F = table_of(OrderHeader), table_of(OrderLine), table_of(FulfillLine)


@dataclass(frozen=True)
class Copy:
    header: dict[str, Any]
    lines: list[dict[str, Any]]
    flines: list[dict[str, Any]]


def read_copy(session: Session, header: OrderHeader) -> Copy:
    """The order's revision, lines and fulfillment lines as they stand."""
    session.flush()
    conn = session.connection()
    return Copy(
        dict(conn.execute(select(_H).where(_H.c.id == header.id)).mappings().one()),
        [dict(r) for r in conn.execute(select(_L).where(_L.c.header_id == header.id)).mappings()],
        [dict(r) for r in conn.execute(select(_F).where(_F.c.header_id == header.id)).mappings()],
    )


def write_copy(session: Session, copy: Copy, superseded_by: int) -> int:
    """``copy`` written as a ``DOO_REFERENCE`` order superseded by ``superseded_by``."""
    conn = session.connection()
    values = {k: v for k, v in copy.header.items() if k != "id"}
    values.update(status="DOO_REFERENCE", superseded_by_id=superseded_by)
    copy_id = conn.execute(insert(_H).returning(_H.c.id), values).scalar_one()
    lines: dict[int, int] = {}
    for line in copy.lines:
        values = {k: v for k, v in line.items() if k != "id"}
        values["header_id"] = copy_id
        lines[line["id"]] = conn.execute(insert(_L).returning(_L.c.id), values).scalar_one()
    for fline in copy.flines:
        values = {k: v for k, v in fline.items() if k != "id"}
        values.update(  # a reference copy asks no system for anything
            header_id=copy_id,
            order_line_id=lines[fline["order_line_id"]],
            split_from_id=None,
            request_id=None,
            change_request_id=None,
        )
        conn.execute(insert(_F), values)
    return int(copy_id)
