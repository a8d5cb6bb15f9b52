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

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import NotFoundError, StateError, ValidationError
from gateway.lifecycle import SHIPPED_OR_LATER
from gateway.orders.message_values import LineInput, OrderInput
from gateway.orders.rows import ReturnReference
from gateway.persistence.models import FulfillLine, OrderHeader, OrderLine
from gateway.registry.registry_snapshot import System

__all__ = ["is_return", "resolve_returns"]

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

    ``revising`` is the order's header id when ``order`` is a new revision of it: a line
    it already holds as a return stays one (what the revision sends for it is what it
    now asks), and its return lines the revision leaves out still count."""
    stored: dict[str, OrderLine] = {}
    if revising is not None:
        stored = {
            ln.source_line_id: ln
            for ln in session.scalars(
                select(OrderLine).where(
                    OrderLine.header_id == revising, OrderLine.category == "RETURN"
                )
            )
        }
    sent = {str(line.source_line_id).strip() for line in order.lines}
    recounted = {ln.id for key, ln in stored.items() if key in sent}
    found: dict[str, ReturnReference] = {}
    asked: dict[tuple[str, int], Decimal] = {}
    for line in order.lines:
        key = str(line.source_line_id).strip()
        where = f"return line {key} of order {order.source_order_id}"
        if key in stored:
            ref = ReturnReference(
                int(stored[key].reference_line_id or 0), stored[key].reference_fline_id
            )
        elif is_return(line):
            ref = _find(session, line, system, where)
        else:
            continue
        original = session.get(OrderLine, ref.line_id)
        assert original is not None
        if original.product_number != str(line.product_number).strip():
            raise ValidationError(
                "RETURN_PRODUCT_MISMATCH",
                f"{where} returns {line.product_number}, but the line it references was "
                f"ordered as {original.product_number}",
            )
        assert line.quantity is not None
        scopes = [("line", ref.line_id)]
        if ref.fline_id is not None:
            scopes.append(("fline", ref.fline_id))
        for scope in scopes:
            asked[scope] = asked.get(scope, Decimal(0)) + line.quantity
        _check_returnable(session, original, ref, asked, where, recounted)
        found[key] = ref
    return found


def _find(session: Session, line: LineInput, system: System, where: str) -> ReturnReference:
    refs = _references(line)
    by_type = {str(r.get("DocumentReferenceType") or "").strip().upper(): r for r in refs}
    if ORCHESTRATION_ORDER in by_type:
        fid = _text(by_type[ORCHESTRATION_ORDER], "DocumentSubLineIdentifier")
        if fid is None or not re.fullmatch(r"[0-9]{1,18}", fid):
            raise ValidationError(
                "RETURN_REFERENCE_MISSING",
                f"{where}: a DocumentReference of type {ORCHESTRATION_ORDER} needs "
                "DocumentSubLineIdentifier, the fulfillment line id GetOrderDetails gives",
            )
        fline = session.get(FulfillLine, int(fid))
        header = session.get(OrderHeader, fline.header_id) if fline is not None else None
        if (
            fline is None
            or header is None
            or header.status == "DOO_REFERENCE"
            or header.source_system_id != system.id  # of another system: not to be told
        ):
            raise NotFoundError(
                "RETURN_REFERENCE_NOT_FOUND", f"{where}: fulfillment line {fid} does not exist"
            )
        _lock(session, header.id)
        _not_a_return(fline.order_line, where)
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
        _not_a_return(found, where)
        return ReturnReference(found.id, None)
    raise ValidationError(
        "RETURN_REFERENCE_MISSING",
        f"{where} has TransactionCategoryCode RETURN but no DocumentReference naming the "
        f"line it returns (type {SALES_ORDER} with DocumentIdentifier and "
        f"DocumentLineIdentifier, or {ORCHESTRATION_ORDER} with DocumentSubLineIdentifier)",
    )


def _not_a_return(line: OrderLine, where: str) -> None:
    if line.category == "RETURN":
        raise NotFoundError(
            "RETURN_REFERENCE_NOT_FOUND",
            f"{where} references line {line.source_line_id} of order "
            f"{line.header.order_number}, itself a return: reference the line that was sold",
        )


def _lock(session: Session, header_id: int) -> None:
    """The original order, locked: returns of it are counted one at a time (PostgreSQL;
    SQLite runs writers one at a time already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(OrderHeader.id).where(OrderHeader.id == header_id).with_for_update())


def _returned(session: Session, *where: Any) -> Decimal:
    """What the return lines matching ``where`` take back (those not canceled)."""
    total = session.scalar(
        select(func.coalesce(func.sum(FulfillLine.quantity), 0))
        .join(OrderLine, OrderLine.id == FulfillLine.order_line_id)
        .join(OrderHeader, OrderHeader.id == OrderLine.header_id)
        .where(*where, OrderHeader.status != "DOO_REFERENCE", FulfillLine.status != "CANCELED")
    )
    return Decimal(total or 0)


def _shipped(session: Session, *where: Any) -> Decimal:
    total = session.scalar(
        select(func.coalesce(func.sum(FulfillLine.quantity), 0)).where(
            *where, FulfillLine.status.in_(SHIPPED_OR_LATER)
        )
    )
    return Decimal(total or 0)


def _check_returnable(
    session: Session,
    original: OrderLine,
    ref: ReturnReference,
    asked: dict[tuple[str, int], Decimal],
    where: str,
    recounted: set[int],
) -> None:
    """Refuse what would take back more than shipped: of the original line, and of its
    fulfillment line when the return names one (the other returns of either counted,
    except the lines this revision sends again)."""
    others = OrderLine.id.not_in(recounted) if recounted else OrderLine.id.is_not(None)
    scopes = [
        (
            ("line", original.id),
            _shipped(session, FulfillLine.order_line_id == original.id),
            _returned(session, OrderLine.reference_line_id == original.id, others),
            f"line {original.source_line_id} of order {original.header.order_number}",
        )
    ]
    if ref.fline_id is not None:
        scopes.append(
            (
                ("fline", ref.fline_id),
                _shipped(session, FulfillLine.id == ref.fline_id),
                _returned(session, OrderLine.reference_fline_id == ref.fline_id, others),
                f"fulfillment line {ref.fline_id} of order {original.header.order_number}",
            )
        )
    for scope, shipped, returned, what in scopes:
        left = shipped - returned
        if asked[scope] > left:
            raise StateError(
                "RETURN_EXCEEDS_SHIPPED",
                f"{where} asks to return {asked[scope].normalize()} of "
                f"{original.product_number}, but only {max(left, Decimal(0)).normalize()} can "
                f"be: {shipped.normalize()} shipped on {what} and {returned.normalize()} "
                "returned or being returned already",
            )
