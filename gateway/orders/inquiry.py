"""Order inquiry (``GetOrderDetails``): find orders by Oracle's keys or our order number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from gateway.errors import NotFoundError, ValidationError
from gateway.persistence.models import FulfillLine, OrderHeader, OrderLine, SourceSystem

__all__ = ["OrderQuery", "count_answer_lines", "find_orders"]


@dataclass(frozen=True)
class OrderQuery:
    """One ``OrderRequest``: which order(s), and optionally which of their lines."""

    source_order_id: str | None = None
    source_system: str | None = None
    source_order_number: str | None = None
    revision: str | None = None
    order_number: str | None = None
    line_ids: tuple[str, ...] = ()
    #: the source systems whose orders the caller may see (None: every system)
    systems: frozenset[str] | None = None

    def describe(self) -> str:
        parts = [
            f"{name}={value}"
            for name, value in (
                ("OrderNumber", self.order_number),
                ("SourceTransactionSystem", self.source_system),
                ("SourceTransactionIdentifier", self.source_order_id),
                ("SourceTransactionNumber", self.source_order_number),
                ("SourceTransactionRevision", self.revision),
            )
            if value
        ]
        return ", ".join(parts)


def _matching(stmt: Select[Any], q: OrderQuery) -> Select[Any]:
    """``stmt`` (which selects from ``OrderHeader``) narrowed to the orders ``q`` names."""
    if q.order_number:
        stmt = stmt.where(OrderHeader.order_number == q.order_number)
    if q.source_system or q.systems is not None:
        stmt = stmt.join(SourceSystem, OrderHeader.source_system_id == SourceSystem.id)
    if q.source_system:
        stmt = stmt.where(SourceSystem.code == q.source_system)
    if q.systems is not None:
        stmt = stmt.where(SourceSystem.code.in_(sorted(q.systems)))
    if q.source_order_id:
        stmt = stmt.where(OrderHeader.source_order_id == q.source_order_id)
    if q.source_order_number:
        stmt = stmt.where(OrderHeader.source_order_number == q.source_order_number)
    if q.revision:
        stmt = stmt.where(OrderHeader.revision == q.revision)
    else:
        # Without a revision, the current one: the reference copies are history.
        stmt = stmt.where(OrderHeader.status != "DOO_REFERENCE")
    return stmt


def _statement(q: OrderQuery) -> Select[OrderHeader]:
    stmt = select(OrderHeader).options(
        selectinload(OrderHeader.lines).selectinload(OrderLine.fulfill_lines)
    )
    return _matching(stmt, q).order_by(OrderHeader.id)


def count_answer_lines(session: Session, q: OrderQuery) -> int:
    """How many fulfillment lines the answer to ``q`` would hold, counted by the database
    before any is loaded (0 for a query that names no order)."""
    if not (q.order_number or q.source_order_id or q.source_order_number):
        return 0
    stmt = (
        select(func.count(FulfillLine.id))
        .select_from(OrderHeader)
        .join(FulfillLine, FulfillLine.header_id == OrderHeader.id)
    )
    if q.line_ids:
        stmt = stmt.join(OrderLine, FulfillLine.order_line_id == OrderLine.id).where(
            OrderLine.source_line_id.in_(q.line_ids)
        )
    return int(session.scalar(_matching(stmt, q)) or 0)


def find_orders(session: Session, q: OrderQuery) -> list[OrderHeader]:
    """The matching orders; a query that names nothing, or finds nothing, raises."""
    if not (q.order_number or q.source_order_id or q.source_order_number):
        raise ValidationError(
            "MISSING_KEY",
            "OrderRequest needs SourceTransactionNumber, SourceTransactionIdentifier "
            "(with SourceTransactionSystem) or OrderNumber",
        )
    headers = list(session.scalars(_statement(q)).unique())
    if not headers:
        raise NotFoundError("ORDER_NOT_FOUND", f"no order matches {q.describe()}")
    if q.line_ids:
        wanted = set(q.line_ids)
        for header in headers:
            known = {ln.source_line_id for ln in header.lines}
            missing = sorted(wanted - known)
            if missing:
                raise NotFoundError(
                    "LINE_NOT_FOUND",
                    f"order {header.order_number} has no line with "
                    f"SourceTransactionLineIdentifier {', '.join(missing)}",
                )
    return headers
