"""Which holds are active on an order, and whether one stops a given line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.orders.rows import HoldRow
from gateway.persistence.models import Hold
from gateway.persistence.unless_changed import unless_changed

__all__ = ["active_holds", "hold_on"]


_ACTIVE = (
    select(Hold)
    .where(Hold.header_id == bindparam("header_id"), Hold.released_at.is_(None))
    .order_by(Hold.id)
)


def active_holds(session: Session, header_id: int) -> list[Hold]:
    with unless_changed(session, Hold):
        return list(session.scalars(_ACTIVE, {"header_id": header_id}))


#: an active hold as the ORM holds it or as a plain row
H = TypeVar("H", Hold, HoldRow)


def hold_on(holds: Sequence[H], line_id: int) -> H | None:
    """The first active hold that stops order line ``line_id`` (an order hold stops all)."""
    return next((h for h in holds if h.order_line_id in (None, line_id)), None)
