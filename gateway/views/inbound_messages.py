"""The inbound message log, for ``omgw messages list|show --inbound``: pure reads.

Every SOAP request omgw answered has one ``message_log`` row, refusals included: a call
refused before its caller was known (``AUTH_FAILED``, ``SCHEMA_INVALID`` …) names no
user and no order, and is listed all the same unless the listing asks for an order. The
payload is stored with its secrets already blanked (``gateway.security``), so it is
shown as stored.

A row's ``order_number`` holds every order the message named, comma-separated
(``100001,100002``); :func:`names_order` matches one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, defer

from gateway.outbox.message_filter import iso
from gateway.persistence.models import MessageLog

__all__ = [
    "InboundDetail",
    "InboundEntry",
    "InboundFilter",
    "inbound_detail",
    "list_inbound",
    "names_order",
]


def names_order(order_number: str) -> ColumnElement[bool]:
    """Whether a row names ``order_number`` (alone or in its comma-separated list)."""
    escaped = order_number.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    col = MessageLog.order_number
    return or_(
        col == order_number,
        col.like(f"{escaped},%", escape="\\"),
        col.like(f"%,{escaped}", escape="\\"),
        col.like(f"%,{escaped},%", escape="\\"),
    )


def _fault_code(code: str) -> str:
    """A fault code as stored: ``AUTH_FAILED`` for ``OMGW-AUTH_FAILED`` or ``auth_failed``."""
    code = code.strip().upper()
    return code.removeprefix("OMGW-")


def _utc(at: datetime) -> datetime:
    # SQLite stores the wall time without its offset: compare in UTC on both databases
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class InboundFilter:
    """Which message-log rows: every criterion given must hold.

    :param operation: the SOAP operation (``createOrders``), in any case.
    :param user: the authenticated caller (rows refused before sign-in have none).
    :param fault_code: one fault code, with or without its ``OMGW-`` prefix.
    :param faults: only calls answered with a fault.
    :param order_number: only calls that named this order.
    :param message_ids: only these WS-Addressing MessageIDs, as the caller sent them.
    :param since: logged at or after this instant.
    :param until: logged before this instant.
    """

    operation: str | None = None
    user: str | None = None
    fault_code: str | None = None
    faults: bool = False
    order_number: str | None = None
    message_ids: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.operation:
            where.append(func.lower(MessageLog.operation) == self.operation.strip().lower())
        if self.user:
            where.append(MessageLog.principal == self.user)
        if self.fault_code:
            where.append(MessageLog.fault_code == _fault_code(self.fault_code))
        if self.faults:
            where.append(MessageLog.outcome == "FAULT")
        if self.order_number:
            where.append(names_order(self.order_number.strip()))
        if self.message_ids:
            where.append(MessageLog.message_id.in_([m.strip() for m in self.message_ids]))
        if self.since is not None:
            where.append(MessageLog.received_at >= _utc(self.since))
        if self.until is not None:
            where.append(MessageLog.received_at < _utc(self.until))
        return where


@dataclass(frozen=True)
class InboundEntry:
    """One logged call. ``received_at`` is when its answer was ready and the row written,
    ``duration_ms`` after the request arrived."""

    id: int
    received_at: datetime
    service: str
    operation: str | None
    principal: str | None
    message_id: str | None
    order_numbers: tuple[str, ...]
    outcome: str
    fault_code: str | None
    http_status: int
    duration_ms: int
    #: the caller's address as the server saw it
    client: str | None = None

    @classmethod
    def of(cls, row: MessageLog) -> InboundEntry:
        return cls(
            id=row.id,
            received_at=_utc(row.received_at),
            service=row.service,
            operation=row.operation,
            principal=row.principal,
            message_id=row.message_id,
            order_numbers=tuple(n for n in (row.order_number or "").split(",") if n),
            outcome=row.outcome,
            fault_code=row.fault_code,
            http_status=row.http_status,
            duration_ms=row.duration_ms,
            client=row.client_address,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received": iso(self.received_at),
            "service": self.service,
            "operation": self.operation,
            "user": self.principal,
            "message_id": self.message_id,
            "order_numbers": list(self.order_numbers),
            "outcome": self.outcome,
            "fault_code": self.fault_code,
            "http_status": self.http_status,
            "duration_ms": self.duration_ms,
            "client": self.client,
        }


@dataclass(frozen=True)
class InboundDetail:
    """One logged call with its correlation ids and its payload as stored (secrets
    blanked; ``None`` when payloads are not kept, ``OMGW_LOG_PAYLOADS=0``)."""

    entry: InboundEntry
    correlation_key: str | None
    payload: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.entry.to_json(),
            "correlation_key": self.correlation_key,
            "payload": self.payload,
        }


def list_inbound(session: Session, f: InboundFilter, *, limit: int = 50) -> list[InboundEntry]:
    """The matching rows, newest first."""
    rows = session.scalars(
        select(MessageLog)
        .options(defer(MessageLog.payload))  # up to the body limit each; the list omits it
        .where(*f.conditions())
        .order_by(MessageLog.received_at.desc(), MessageLog.id.desc())
        .limit(limit)
    )
    return [InboundEntry.of(r) for r in rows]


def inbound_detail(session: Session, id_: int) -> InboundDetail | None:
    """The row with id ``id_``, or ``None``."""
    row = session.get(MessageLog, id_)
    if row is None:
        return None
    return InboundDetail(InboundEntry.of(row), row.correlation_key, row.payload)
