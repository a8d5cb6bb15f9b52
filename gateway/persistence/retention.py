"""Forgetting what has outlived its use, a bounded batch per transaction.

What grows with every message and is pruned once older than its retention:

- ``message_log``: one row per inbound message, whoever sent it (``OMGW_MESSAGE_LOG_
  RETENTION_DAYS``, by ``received_at``);
- ``outbox`` rows ``DELIVERED`` before ``OMGW_OUTBOX_RETENTION_DAYS``, with their
  ``delivery_attempts``, once their order is finished (every revision ``CLOSED``,
  ``CANCELED`` or superseded) or when they belong to no order. An open order keeps all
  its messages: a replay may need them.

Kept for good: orders, their lines and status history (``GetOrderDetails`` answers
from them), the audit log, applied-response and staged-response keys (they make a
repeated response a duplicate), staged orders, ``READY`` and ``PARKED`` outbox rows.
``used_nonces`` is purged by the authenticator once past the replay window.

Each batch is one short transaction (select the ids, delete them), so on SQLite other
writers get their turn between batches instead of waiting behind one long delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.persistence.models import DeliveryAttempt, MessageLog, OrderHeader, OutboxMessage

__all__ = ["BATCH_SIZE", "Pruned", "cutoff", "prune", "prune_message_log", "prune_outbox"]

#: rows deleted per transaction
BATCH_SIZE = 500
#: header statuses after which an order changes no more (gateway.orders.lifecycle)
_FINISHED = ("CLOSED", "CANCELED", "DOO_REFERENCE")


@dataclass(frozen=True)
class Pruned:
    """Rows deleted by one :func:`prune`; ``more`` when a limit stopped it early."""

    message_log: int = 0
    outbox: int = 0
    delivery_attempts: int = 0
    more: bool = False


def cutoff(now: datetime, days: float) -> datetime | None:
    """The instant before which rows kept ``days`` days are old; None keeps them forever."""
    return None if days <= 0 else now - timedelta(days=days)


def prune_message_log(
    sessions: sessionmaker[Session],
    before: datetime,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
) -> tuple[int, bool]:
    """Delete message-log rows received before ``before``; (rows deleted, more left)."""
    pick = (
        select(MessageLog.id)
        .where(MessageLog.received_at < before)
        .order_by(MessageLog.id)
        .limit(batch_size)
    )
    deleted = batches = 0
    while max_batches is None or batches < max_batches:
        with sessions() as s, s.begin():
            ids = list(s.scalars(pick))
            if ids:
                s.execute(delete(MessageLog).where(MessageLog.id.in_(ids)))
        deleted, batches = deleted + len(ids), batches + 1
        if len(ids) < batch_size:
            return deleted, False
    return deleted, True


def prune_outbox(
    sessions: sessionmaker[Session],
    before: datetime,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
) -> tuple[int, int, bool]:
    """Delete outbox rows delivered before ``before`` whose order is finished (or that
    have none), with their delivery attempts; (rows, attempts deleted, more left)."""
    still_open = exists().where(
        OrderHeader.order_number == OutboxMessage.order_number,
        OrderHeader.status.not_in(_FINISHED),
    )
    pick = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == "DELIVERED",
            OutboxMessage.delivered_at < before,
            or_(OutboxMessage.order_number.is_(None), ~still_open),
        )
        .order_by(OutboxMessage.id)
        .limit(batch_size)
    )
    rows = attempts = batches = 0
    while max_batches is None or batches < max_batches:
        with sessions() as s, s.begin():
            ids: Sequence[int] = list(s.scalars(pick))
            if ids:
                gone = s.execute(delete(DeliveryAttempt).where(DeliveryAttempt.outbox_id.in_(ids)))
                attempts += int(getattr(gone, "rowcount", 0) or 0)
                s.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
        rows, batches = rows + len(ids), batches + 1
        if len(ids) < batch_size:
            return rows, attempts, False
    return rows, attempts, True


def prune(
    sessions: sessionmaker[Session],
    now: datetime,
    message_log_days: float,
    outbox_days: float,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
) -> Pruned:
    """Prune every table with a retention (0 days: kept forever), each at most
    ``max_batches`` batches of ``batch_size`` rows."""
    logged = sent = attempts = 0
    more = False
    before = cutoff(now, message_log_days)
    if before is not None:
        logged, more = prune_message_log(sessions, before, batch_size, max_batches)
    before = cutoff(now, outbox_days)
    if before is not None:
        sent, attempts, more_sent = prune_outbox(sessions, before, batch_size, max_batches)
        more = more or more_sent
    return Pruned(logged, sent, attempts, more)
