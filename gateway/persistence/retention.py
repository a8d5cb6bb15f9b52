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

Each batch is one short transaction of at most :data:`BATCH_SIZE` rows and
:data:`BATCH_BYTES` bytes of payload, its ids and sizes read beforehand outside any
write transaction, so on SQLite other writers get their turn between batches instead of
waiting behind one long delete.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.persistence.models import DeliveryAttempt, MessageLog, OrderHeader, OutboxMessage

__all__ = [
    "BATCH_BYTES",
    "BATCH_SIZE",
    "Pruned",
    "batches",
    "cutoff",
    "prune",
    "prune_message_log",
    "prune_outbox",
]

#: rows deleted per transaction at most
BATCH_SIZE = 200
#: payload bytes deleted per transaction at most (a larger row goes alone): on SQLite the
#: time a delete holds the writer grows with the pages it frees, ~25 ms per MB here
BATCH_BYTES = 4 * 1024 * 1024
#: header statuses after which an order changes no more (gateway.lifecycle)
_FINISHED = ("CLOSED", "CANCELED", "DOO_REFERENCE")

#: deletes the rows of these ids and what hangs on them; returns (rows, dependants) deleted,
#: fewer than asked when another process pruned some first
Remove = Callable[[Session, list[int]], tuple[int, int]]


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


def batches(sized: Sequence[tuple[int, int]], max_rows: int, max_bytes: int) -> list[list[int]]:
    """Split (id, size) pairs, in order, into runs of at most ``max_rows`` rows and
    ``max_bytes`` bytes; a row larger than ``max_bytes`` makes a run of its own."""
    runs: list[list[int]] = []
    run: list[int] = []
    held = 0
    for row_id, size in sized:
        if run and (len(run) >= max_rows or held + size > max_bytes):
            runs.append(run)
            run, held = [], 0
        run.append(row_id)
        held += size
    if run:
        runs.append(run)
    return runs


@dataclass(frozen=True)
class _Limits:
    batch_size: int
    batch_bytes: int
    max_batches: int | None


def _count(result: Any) -> int:
    """The rows a DELETE removed."""
    return int(getattr(result, "rowcount", 0) or 0)


def _prune_in_batches(
    read_sessions: sessionmaker[Session],
    sessions: sessionmaker[Session],
    pick: Select[Any],
    remove: Remove,
    limits: _Limits,
) -> tuple[int, int, bool]:
    """Delete the rows ``pick`` selects (id, payload size), one batch per transaction;
    the sizes are read outside any write transaction. (rows, dependants, more left)."""
    rows = dependants = done = 0
    while True:
        with read_sessions() as s:
            found = s.execute(pick.limit(limits.batch_size)).all()
        sized = [(int(row[0]), int(row[1] or 0)) for row in found]
        for ids in batches(sized, limits.batch_size, limits.batch_bytes):
            if limits.max_batches is not None and done >= limits.max_batches:
                return rows, dependants, True
            with sessions() as s, s.begin():
                gone, hanging = remove(s, ids)
            rows, dependants, done = rows + gone, dependants + hanging, done + 1
        if len(sized) < limits.batch_size:
            return rows, dependants, False


def prune_message_log(
    read_sessions: sessionmaker[Session],
    sessions: sessionmaker[Session],
    before: datetime,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
    batch_bytes: int = BATCH_BYTES,
) -> tuple[int, bool]:
    """Delete message-log rows received before ``before``; (rows deleted, more left)."""
    pick = (
        select(MessageLog.id, func.length(MessageLog.payload))
        .where(MessageLog.received_at < before)
        .order_by(MessageLog.id)
    )

    def remove(s: Session, ids: list[int]) -> tuple[int, int]:
        return _count(s.execute(delete(MessageLog).where(MessageLog.id.in_(ids)))), 0

    limits = _Limits(batch_size, batch_bytes, max_batches)
    rows, _, more = _prune_in_batches(read_sessions, sessions, pick, remove, limits)
    return rows, more


def prune_outbox(
    read_sessions: sessionmaker[Session],
    sessions: sessionmaker[Session],
    before: datetime,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
    batch_bytes: int = BATCH_BYTES,
) -> tuple[int, int, bool]:
    """Delete outbox rows delivered before ``before`` whose order is finished (or that
    have none), with their delivery attempts; (rows, attempts deleted, more left)."""
    still_open = exists().where(
        OrderHeader.order_number == OutboxMessage.order_number,
        OrderHeader.status.not_in(_FINISHED),
    )
    pick = (
        select(OutboxMessage.id, func.length(OutboxMessage.payload))
        .where(
            OutboxMessage.status == "DELIVERED",
            OutboxMessage.delivered_at < before,
            or_(OutboxMessage.order_number.is_(None), ~still_open),
        )
        .order_by(OutboxMessage.id)
    )

    def remove(s: Session, ids: list[int]) -> tuple[int, int]:
        attempts = s.execute(delete(DeliveryAttempt).where(DeliveryAttempt.outbox_id.in_(ids)))
        sent = s.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
        return _count(sent), _count(attempts)

    limits = _Limits(batch_size, batch_bytes, max_batches)
    return _prune_in_batches(read_sessions, sessions, pick, remove, limits)


def prune(
    read_sessions: sessionmaker[Session],
    sessions: sessionmaker[Session],
    now: datetime,
    message_log_days: float,
    outbox_days: float,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
) -> Pruned:
    """Prune every table with a retention (0 days: kept forever), each at most
    ``max_batches`` transactions of ``batch_size`` rows and :data:`BATCH_BYTES` bytes."""
    logged = sent = attempts = 0
    more = False
    before = cutoff(now, message_log_days)
    if before is not None:
        logged, more = prune_message_log(read_sessions, sessions, before, batch_size, max_batches)
    before = cutoff(now, outbox_days)
    if before is not None:
        sent, attempts, more_sent = prune_outbox(
            read_sessions, sessions, before, batch_size, max_batches
        )
        more = more or more_sent
    return Pruned(logged, sent, attempts, more)
