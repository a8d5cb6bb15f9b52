"""Return lines: finding the line each returns, and never taking back more than shipped.

A return line is an order line with ``TransactionCategoryCode`` ``RETURN``. It names the
line it returns in a ``DocumentReference``, as Oracle's import documents:

* ``ORIGINAL_SALES_ORDER``: the source order (``DocumentIdentifier``, the source order id;
  ``DocumentAdditionalIdentifier``, its source system, this order's when left out) and
  its line (``DocumentLineIdentifier``, the source line id);
* ``ORIGINAL_ORCHESTRATION_ORDER``: the fulfillment line in omgw
  (``DocumentSubLineIdentifier``, as GetOrderDetails gives it), needed when the line
  was split.

The original must be of the same source system and of the same product, and what all
returns of it ask for (those not canceled) may not exceed what it shipped. The original
order is locked while this is checked, so two returns of one line arriving together are
counted one after the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import NotFoundError, StateError, ValidationError
from gateway.lifecycle import SHIPPED_OR_LATER
from gateway.orders.commands import LineInput, OrderInput
from gateway.orders.rows import ReturnReference
from gateway.persistence.models import FulfillLine, OrderHeader, OrderLine
from gateway.registry.snapshot import System

__all__ = ["ReturnReference", "is_return", "resolve_returns"]

SALES_ORDER = "ORIGINAL_SALES_ORDER"
ORCHESTRATION_ORDER = "ORIGINAL_ORCHESTRATION_ORDER"


def is_return(line: LineInput) -> bool:
    category = line.attributes.get("TransactionCategoryCode")
    return str(category or "").strip().upper() == "RETURN"


def _references(line: LineInput) -> list[Mapping[str, Any]]:
    given = line.attributes.get("DocumentReference") or []
    if isinstance(given, Mapping):
        given = [given]
    return [r for r in given if isinstance(r, Mapping)]


def _text(ref: Mapping[str, Any], name: str) -> str | None:
    value = ref.get(name)
    return None if value is None or not str(value).strip() else str(value).strip()


def resolve_returns(
    session: Session, order: OrderInput, system: System, revising: int | None = None
) -> dict[str, ReturnReference]:
    """The original line of each return line of ``order``, checked; by source line id.

    ``revising`` is the order's header id when ``order`` is a new revision of it: what
    that order's own return lines already ask for is counted from the revision."""
    found: dict[str, ReturnReference] = {}
    asked: dict[int, Decimal] = {}
    for line in order.lines:
        if not is_return(line):
            continue
        key = str(line.source_line_id).strip()
        where = f"return line {key} of order {order.source_order_id}"
        ref = _find(session, line, system, where)
        original = session.get(OrderLine, ref.line_id)
        assert original is not None
        if original.product_number != str(line.product_number).strip():
            raise ValidationError(
                "RETURN_PRODUCT_MISMATCH",
                f"{where} returns {line.product_number}, but the line it references was "
                f"ordered as {original.product_number}",
            )
        assert line.quantity is not None
        asked[ref.line_id] = asked.get(ref.line_id, Decimal(0)) + line.quantity
        _check_returnable(session, original, ref, asked[ref.line_id], where, revising)
        found[key] = ref
    return found


def _find(session: Session, line: LineInput, system: System, where: str) -> ReturnReference:
    refs = _references(line)
    by_type = {str(r.get("DocumentReferenceType") or "").strip().upper(): r for r in refs}
    if ORCHESTRATION_ORDER in by_type:
        fid = _text(by_type[ORCHESTRATION_ORDER], "DocumentSubLineIdentifier")
        if fid is None or not fid.isdigit():
            raise ValidationError(
                "RETURN_REFERENCE_MISSING",
                f"{where}: a DocumentReference of type {ORCHESTRATION_ORDER} needs "
                "DocumentSubLineIdentifier, the fulfillment line id GetOrderDetails gives",
            )
        fline = session.get(FulfillLine, int(fid))
        header = session.get(OrderHeader, fline.header_id) if fline is not None else None
        if fline is None or header is None or header.status == "DOO_REFERENCE":
            raise NotFoundError(
                "RETURN_REFERENCE_NOT_FOUND", f"{where}: fulfillment line {fid} does not exist"
            )
        _same_system(header, system, where)
        _lock(session, header.id)
        return ReturnReference(fline.order_line_id, fline.id)
    if SALES_ORDER in by_type:
        ref = by_type[SALES_ORDER]
        source_id = _text(ref, "DocumentIdentifier")
        source_line = _text(ref, "DocumentLineIdentifier")
        if source_id is None or source_line is None:
            raise ValidationError(
                "RETURN_REFERENCE_MISSING",
                f"{where}: a DocumentReference of type {SALES_ORDER} needs "
                "DocumentIdentifier (the original source order id) and "
                "DocumentLineIdentifier (its source line id)",
            )
        named = _text(ref, "DocumentAdditionalIdentifier") or system.code
        if named != system.code:
            raise NotFoundError(
                "RETURN_REFERENCE_NOT_FOUND",
                f"{where} references an order of source system {named}; a return "
                f"references an order of its own system, {system.code}",
            )
        header = session.scalar(
            select(OrderHeader).where(
                OrderHeader.source_system_id == system.id,
                OrderHeader.source_order_id == source_id,
                OrderHeader.status != "DOO_REFERENCE",
            )
        )
        found = None
        if header is not None:
            _lock(session, header.id)
            found = session.scalar(
                select(OrderLine).where(
                    OrderLine.header_id == header.id, OrderLine.source_line_id == source_line
                )
            )
        if found is None:
            raise NotFoundError(
                "RETURN_REFERENCE_NOT_FOUND",
                f"{where}: order {source_id} of {system.code} has no line {source_line}",
            )
        return ReturnReference(found.id, None)
    raise ValidationError(
        "RETURN_REFERENCE_MISSING",
        f"{where} has TransactionCategoryCode RETURN but no DocumentReference naming the "
        f"line it returns (type {SALES_ORDER} with DocumentIdentifier and "
        f"DocumentLineIdentifier, or {ORCHESTRATION_ORDER} with DocumentSubLineIdentifier)",
    )


def _same_system(header: OrderHeader, system: System, where: str) -> None:
    if header.source_system_id != system.id:
        raise NotFoundError(
            "RETURN_REFERENCE_NOT_FOUND",
            f"{where} references order {header.order_number} of another source system; a "
            f"return references an order of its own system, {system.code}",
        )


def _lock(session: Session, header_id: int) -> None:
    """The original order, locked: returns of it are counted one at a time (PostgreSQL;
    SQLite runs writers one at a time already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(OrderHeader.id).where(OrderHeader.id == header_id).with_for_update())


def _check_returnable(
    session: Session,
    original: OrderLine,
    ref: ReturnReference,
    asked: Decimal,
    where: str,
    revising: int | None,
) -> None:
    shipped_where = [FulfillLine.order_line_id == original.id]
    if ref.fline_id is not None:
        shipped_where = [FulfillLine.id == ref.fline_id]
    shipped = session.scalar(
        select(func.coalesce(func.sum(FulfillLine.quantity), 0)).where(
            *shipped_where, FulfillLine.status.in_(SHIPPED_OR_LATER)
        )
    )
    returned_where = [OrderLine.reference_line_id == original.id]
    if revising is not None:
        returned_where.append(OrderLine.header_id != revising)
    returned = session.scalar(
        select(func.coalesce(func.sum(FulfillLine.quantity), 0))
        .join(OrderLine, OrderLine.id == FulfillLine.order_line_id)
        .join(OrderHeader, OrderHeader.id == OrderLine.header_id)
        .where(
            *returned_where,
            OrderHeader.status != "DOO_REFERENCE",
            FulfillLine.status != "CANCELED",
        )
    )
    shipped, returned = Decimal(shipped or 0), Decimal(returned or 0)
    left = shipped - returned
    if asked > left:
        raise StateError(
            "RETURN_EXCEEDS_SHIPPED",
            f"{where} asks to return {asked.normalize()} of {original.product_number}, but "
            f"only {max(left, Decimal(0)).normalize()} can be: {shipped.normalize()} shipped on "
            f"line {original.source_line_id} of order {original.header.order_number} and "
            f"{returned.normalize()} returned or being returned already",
        )
