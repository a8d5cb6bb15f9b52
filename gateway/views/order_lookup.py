"""Finding orders by the ids people outside omgw have, for ``omgw orders list|show``.

Besides omgw's own order number, an order is known by the number its source system gave
it (``SourceTransactionNumber``: unique only within that system, and not even there,
since omgw keys an order by its ``SourceTransactionIdentifier``) and by its customer's
purchase order number (``CustomerPONumber``, which any number of orders may share).
:class:`OrderKey` holds those; :func:`find_order_number` turns one into the single order
number it names, or says which orders it could mean.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from gateway.errors import NotFoundError, ValidationError
from gateway.persistence.models import OrderHeader, SourceSystem

__all__ = ["Candidate", "OrderKey", "find_order_number"]

#: the most orders an ambiguity error names
_NAMED = 10


@dataclass(frozen=True)
class OrderKey:
    """Business ids of an order; every one given must hold.

    :param source_number: the source system's number (``SourceTransactionNumber``).
    :param source_system: the source system's code (``SourceTransactionSystem``).
    :param po_number: the customer's purchase order number (``CustomerPONumber``).
    """

    source_number: str | None = None
    source_system: str | None = None
    po_number: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.source_number or self.source_system or self.po_number)

    def describe(self) -> str:
        """The key in words: ``source number SO-77 of LEGACY, PO PO-9``."""
        parts = []
        if self.source_number:
            of = f" of {self.source_system}" if self.source_system else ""
            parts.append(f"source number {self.source_number}{of}")
        elif self.source_system:
            parts.append(f"source system {self.source_system}")
        if self.po_number:
            parts.append(f"PO {self.po_number}")
        return ", ".join(parts)

    def conditions(self, session: Session) -> list[ColumnElement[bool]]:
        """WHERE conditions on :class:`OrderHeader` joined to its :class:`SourceSystem`.

        :raises NotFoundError: ``SOURCE_SYSTEM_UNKNOWN`` for a source system that is not
            registered (a typo would otherwise match nothing, silently).
        """
        where: list[ColumnElement[bool]] = []
        if self.source_system:
            known = session.scalar(
                select(SourceSystem.id).where(SourceSystem.code == self.source_system)
            )
            if known is None:
                raise NotFoundError(
                    "SOURCE_SYSTEM_UNKNOWN", f"no source system {self.source_system}"
                )
            where.append(SourceSystem.code == self.source_system)
        if self.source_number:
            where.append(OrderHeader.source_order_number == self.source_number)
        if self.po_number:
            where.append(OrderHeader.customer_po_number == self.po_number)
        return where


@dataclass(frozen=True)
class Candidate:
    """An order a key matched: its number, source system and source number."""

    order_number: str
    source_system: str
    source_number: str

    def describe(self) -> str:
        return f"{self.order_number} ({self.source_system} {self.source_number})"


def _candidates(session: Session, key: OrderKey) -> list[Candidate]:
    """The orders ``key`` matches in any revision (a number a later revision changed
    still finds its order), by order number; at most one more than :data:`_NAMED`."""
    rows = session.execute(
        select(OrderHeader.order_number, SourceSystem.code, OrderHeader.source_order_number)
        .join(SourceSystem, SourceSystem.id == OrderHeader.source_system_id)
        .where(*key.conditions(session))
        .distinct()
        .order_by(OrderHeader.order_number)
        .limit(4 * (_NAMED + 1))  # revisions may repeat an order with another source number
    )
    found: dict[str, Candidate] = {}
    for number, system, source_number in rows:
        found.setdefault(number, Candidate(number, system, source_number))
    return list(found.values())[: _NAMED + 1]


def _named(candidates: list[Candidate]) -> str:
    shown = ", ".join(c.describe() for c in candidates[:_NAMED])
    return shown + (", …" if len(candidates) > _NAMED else "")


def find_order_number(session: Session, key: OrderKey) -> str:
    """The one order number ``key`` names.

    :raises NotFoundError: ``ORDER_NOT_FOUND`` when no order matches (and
        ``SOURCE_SYSTEM_UNKNOWN`` for an unknown source system).
    :raises ValidationError: ``ORDER_AMBIGUOUS`` when several orders match; the message
        lists their source systems when those differ and none was given, else the orders.
    """
    if not (key.source_number or key.po_number):
        raise ValueError("an order key needs a source number or a PO number")
    candidates = _candidates(session, key)
    if not candidates:
        raise NotFoundError("ORDER_NOT_FOUND", f"no order with {key.describe()}")
    if len(candidates) == 1:
        return candidates[0].order_number
    systems = sorted({c.source_system for c in candidates})
    if len(systems) > 1 and not key.source_system:
        per_system = "; ".join(
            f"{system}: "
            + ", ".join(c.order_number for c in candidates if c.source_system == system)
            for system in systems
        )
        raise ValidationError(
            "ORDER_AMBIGUOUS",
            f"{key.describe()} names orders of {len(systems)} source systems "
            f"({per_system}); say which with --source-system",
        )
    raise ValidationError(
        "ORDER_AMBIGUOUS",
        f"{key.describe()} names {'more than ' if len(candidates) > _NAMED else ''}"
        f"{min(len(candidates), _NAMED)} orders: {_named(candidates)}; "
        "show one by its order number",
    )
