"""Putting outbox messages back in the queue (``omgw messages replay``): :class:`Replayer`.

Replay puts the rows a :class:`~gateway.outbox.message_filter.MessageFilter` selects back
in the queue: ``READY``, due now, a fresh retry budget (``attempts = 0``), no lease,
``replays + 1``, one audit entry per row. The stored envelope and its ``MessageID`` are
never changed, so the receiver sees the same message again and can drop a copy it
already has. Rows are locked while judged (``FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` serialises writers), so two admins replaying at once cannot both
count the same row.

A row that may already have done its work is refused without ``force``: one that was
``DELIVERED``, and an ``uncertain`` one (an attempt may have reached the receiver) of a
Shipment or Invoice request, which could create a second shipment or invoice. Business
events and e-mails are notifications: they are replayed without ``force``, whatever their
status. ``READY`` rows are already queued, ``DISCARDED`` ones and requests of a
superseded order revision are never sent again. Each row's verdict is a
:class:`~gateway.outbox.replay_verdicts.ReplayItem`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import ValidationError
from gateway.outbox.message_filter import (
    MessageFilter,
    connector_name,
    find_message,
    message_id_forms,
    message_query,
)
from gateway.outbox.replay_verdicts import (
    ONCE_ONLY,
    REFUSED,
    REPLAYED,
    SKIPPED,
    ReplayItem,
    ReplayResult,
)
from gateway.persistence import audit_trail
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import (
    ConnectorHealth,
    FulfillmentRequest,
    OutboxMessage,
    utcnow,
)

__all__ = ["Replayer", "superseded_requests"]

#: notifications: sending one again does no harm beyond a repeated notice
_NOTIFICATIONS = {
    "BUSINESS_EVENT": "the receiver gets the event again",
    "EMAIL": "the recipients get the e-mail again",
}


def superseded_requests(session: Session, request_ids: set[int]) -> set[int]:
    """Those of ``request_ids`` whose order was revised since (``SUPERSEDED``): the worker
    discards their rows instead of sending them."""
    if not request_ids:
        return set()
    return set(
        session.scalars(
            select(FulfillmentRequest.id).where(
                FulfillmentRequest.id.in_(request_ids),
                FulfillmentRequest.status == "SUPERSEDED",
            )
        )
    )


class Replayer:
    """Puts outbox rows back in the queue, in the caller's transaction."""

    def __init__(self, session: Session, actor: str = "system") -> None:
        self._s = session
        self._actor = actor

    def replay(
        self,
        f: MessageFilter,
        *,
        force: bool = False,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> ReplayResult:
        if not f.selects:
            raise ValidationError(
                "MISSING_KEY",
                "say which messages to replay: --id, --message-id, --connector, --order, "
                "--since or --until (or --kind)",
            )
        now = now or utcnow()
        stmt = message_query(self._s, f).order_by(OutboxMessage.id)
        if not dry_run:
            stmt = stmt.with_for_update(of=OutboxMessage)
        rows = list(self._s.scalars(stmt))
        superseded = superseded_requests(
            self._s, {r.request_id for r in rows if r.request_id is not None}
        )
        items = self._not_selected(f, rows)
        for row in rows:
            was = row.status
            verdict, reason, forced = self._judge(row, force, superseded)
            if verdict == REPLAYED:
                wait = self._held(row)
                reason = "; ".join(r for r in (reason, wait) if r) or None
                if not dry_run:
                    self._requeue(row, now, forced)
            items.append(ReplayItem.of(row, verdict, reason, was))
        return ReplayResult(tuple(items), dry_run, force)

    def _held(self, row: OutboxMessage) -> str | None:
        """Why a replayed row will not go out at once, if it will not."""
        if row.connector is None:
            return None  # an e-mail: only the SMTP server's settings hold it
        name = row.connector.name
        if not row.connector.enabled:
            return f"connector {name} is disabled: it waits until the connector is enabled"
        health = self._s.get(ConnectorHealth, row.connector_id)
        if health is not None and health.state != "CLOSED":
            return (
                f"connector {name}'s circuit breaker is {health.state}: it waits for the "
                "breaker to let calls through"
            )
        return None

    def _not_selected(self, f: MessageFilter, rows: Sequence[OutboxMessage]) -> list[ReplayItem]:
        """Rows named by id or message id that the selection does not hold, and why."""
        found_ids = {r.id for r in rows}
        found_mids = {r.message_id for r in rows}
        out: list[ReplayItem] = []
        others = f.criteria.describe()
        for id_ in f.ids:
            if id_ in found_ids:
                continue
            row = self._s.get(OutboxMessage, id_)
            out.append(self._missing(row, str(id_), others))
        for mid in f.message_ids:
            if found_mids.intersection(message_id_forms(mid)):
                continue
            out.append(self._missing(find_message(self._s, mid), mid, others))
        return out

    @staticmethod
    def _missing(row: OutboxMessage | None, key: str, others: str) -> ReplayItem:
        if row is None:
            return ReplayItem(SKIPPED, None, key, reason=f"no outbox message {key}")
        return ReplayItem.of(row, SKIPPED, f"not selected: it does not match {others}", row.status)

    @staticmethod
    def _judge(
        row: OutboxMessage, force: bool, superseded: set[int]
    ) -> tuple[str, str | None, bool]:
        """(verdict, reason, whether only ``force`` lets it through)."""
        if row.status == "READY":
            sending = f"; {row.lease_owner} is sending it now" if row.lease_owner else ""
            return SKIPPED, f"already queued (READY){sending}; the worker sends it when due", False
        if row.status == "DISCARDED":
            why = f" ({row.last_error})" if row.last_error else ""
            return SKIPPED, f"DISCARDED{why}: it is never sent again", False
        if row.request_id in superseded:
            return (
                SKIPPED,
                f"its order was revised since: fulfillment request {row.request_id} is "
                "SUPERSEDED, so the worker would discard it",
                False,
            )
        notice = _NOTIFICATIONS.get(row.kind)
        if notice is not None:  # a notification: no --force needed
            if row.status == "DELIVERED":
                return REPLAYED, f"it was DELIVERED: {notice}", False
            return REPLAYED, None, False
        what = ONCE_ONLY.get(row.task_type or "")
        danger: str | None = None
        if row.status == "DELIVERED":
            effect = f"may create a second {what}" if what else "may make it act twice"
            danger = f"it was DELIVERED: the receiver has it already, and sending it again {effect}"
        elif row.uncertain and what:
            danger = (
                "an earlier attempt may have reached the receiver (uncertain), and sending "
                f"it again may create a second {what}"
            )
        if danger is None:
            return REPLAYED, None, False
        if not force:
            return REFUSED, f"{danger}; --force sends it anyway", False
        return REPLAYED, f"forced: {danger}", True

    def _requeue(self, row: OutboxMessage, now: datetime, forced: bool) -> None:
        before = {
            "status": row.status,
            "attempts": row.attempts,
            "replays": row.replays,
            "uncertain": row.uncertain,
        }
        row.status = "READY"
        row.next_attempt_at = now
        row.attempts = 0
        row.lease_owner = None
        row.lease_until = None
        row.replays += 1
        after = {
            "status": row.status,
            "attempts": 0,
            "replays": row.replays,
            "forced": forced,
            "id": row.id,
            "connector": connector_name(row),
            "order_number": row.order_number,
        }
        audit_trail.record(
            self._s, self._actor, Change("replay", "outbox", row.message_id, before, after)
        )
