"""Showing outbox rows to an admin: a page of them, or one in detail.

:func:`list_messages` summarises the rows a :class:`~gateway.outbox.message_filter.MessageFilter`
selects, newest first; :func:`message_detail` shows one row with its delivery attempts
and, when asked, its envelope or e-mail text. Whatever is shown has its secrets masked
(:mod:`gateway.outbox.secret_scrubber`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.outbox.message_filter import (
    MessageFilter,
    connector_name,
    find_message,
    iso,
    message_query,
)
from gateway.outbox.secret_scrubber import Keys, Scrubber, scrubber_for
from gateway.persistence.models import DeliveryAttempt, OutboxMessage

__all__ = ["EMAIL_TARGET", "list_messages", "message_detail"]

#: what is shown as the target system of an e-mail
EMAIL_TARGET = "(e-mail)"


def _recipients(row: OutboxMessage) -> list[str]:
    return [a for a in (row.recipients or "").split(",") if a]


def _summary(row: OutboxMessage, scrub: Scrubber) -> dict[str, Any]:
    return {
        "id": row.id,
        "message_id": row.message_id,
        "created": iso(row.created_at),
        "kind": row.kind,
        "connector": connector_name(row),
        "order_number": row.order_number,
        "task_type": row.task_type,
        "event_code": row.event_code,
        "operation": row.operation,
        "status": row.status,
        "attempts": row.attempts,
        "uncertain": row.uncertain,
        "replays": row.replays,
        "last_error": scrub.text(row.last_error),
    }


def list_messages(
    session: Session, f: MessageFilter, *, limit: int = 50, keys: Keys | None = None
) -> list[dict[str, Any]]:
    """The matching rows, newest first."""
    rows = list(
        session.scalars(
            message_query(session, f)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )
    scrub = scrubber_for(session, {r.connector_id for r in rows}, keys)
    return [_summary(r, scrub) for r in rows]


def message_detail(
    session: Session, key: str, *, payload: bool = False, keys: Keys | None = None
) -> dict[str, Any] | None:
    """One row, its delivery attempts in order and, with ``payload``, its envelope;
    ``None`` when nothing has that id or message id."""
    row = find_message(session, key)
    if row is None:
        return None
    scrub = scrubber_for(session, [row.connector_id], keys)
    attempts = session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.outbox_id == row.id)
        .order_by(DeliveryAttempt.started_at, DeliveryAttempt.id)
    )
    record = _summary(row, scrub)
    record.update(
        target_system=EMAIL_TARGET if row.connector is None else row.connector.target_system.code,
        invocation_mode=row.invocation_mode,
        soap_action=row.soap_action,
        request_id=row.request_id,
        header_id=row.header_id,
        next_attempt_at=iso(row.next_attempt_at) if row.status == "READY" else None,
        lease_owner=row.lease_owner,
        lease_until=iso(row.lease_until),
        last_http_status=row.last_http_status,
        delivered_at=iso(row.delivered_at),
        parked_at=iso(row.parked_at),
        delivery_attempts=[
            {
                "attempt": a.attempt,
                "started": iso(a.started_at),
                "worker": a.worker,
                "duration_ms": a.duration_ms,
                "outcome": a.outcome,
                "http_status": a.http_status,
                "error": scrub.text(a.error),
            }
            for a in attempts
        ],
    )
    if row.kind == "EMAIL":
        record["recipients"] = _recipients(row)
    if payload:
        record["payload"] = (
            _mail_text(row.payload, scrub) if row.kind == "EMAIL" else scrub.envelope(row.payload)
        )
    return record


def _mail_text(payload: bytes, scrub: Scrubber) -> str:
    """An e-mail row's stored subject and text, as a person reads them."""
    try:
        stored = json.loads(payload)
        text = f"Subject: {stored['subject']}\n\n{stored['body']}"
    except (ValueError, TypeError, KeyError):
        return "(the stored e-mail is not readable; it is not shown)"
    return scrub.text(text) or ""
