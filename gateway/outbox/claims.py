"""Claims: which outbox rows are due, leased to one worker at a time.

Claiming is one short write transaction: ready rows (due, not leased or with an expired
lease) of enabled connectors whose circuit breaker lets calls through are leased to this
worker (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers on several machines share
one queue; SQLite's ``BEGIN IMMEDIATE`` runs claims one at a time). A worker that dies
mid-send leaves its lease to expire; the row is then claimed again, marked
``uncertain``, and sent with the same ``MessageID`` so the receiver can drop the copy.
A half-open breaker lets one probe through; a request whose order was revised before it
went out is discarded, not sent.

Business events (``BUSINESS_EVENT`` rows) and fulfillment requests go to a connector in
the order they were written, per order: a row is not claimed while an earlier row of its
kind for the same connector and order is still ``READY``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from connectors.connector_specs import RetryPolicy
from connectors.dispatch import Endpoint
from connectors.resilience import BreakerSettings, BreakerState, allow
from gateway.events.publisher import EVENT_KIND
from gateway.outbox.breaker_rows import breaker_state, store_breaker
from gateway.outbox.delivery import Claimed
from gateway.outbox.outcomes import breaker_changed
from gateway.persistence.models import (
    Connector,
    ConnectorHealth,
    FulfillmentRequest,
    OutboxMessage,
    utcnow,
)
from gateway.runtime import Runtime

__all__ = ["Claims"]

log = logging.getLogger(__name__)
#: the kinds a connector receives in the order they were written, per order
_SEQUENCED = (EVENT_KIND, "FULFILLMENT_REQUEST")
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]


class Claims:
    """Leases due rows to the worker named ``name`` and gives back those it did not send.

    :param runtime: the database sessions and settings
    :param name: the worker's name, written as each row's lease owner
    :param lease_seconds: the shortest lease (longer for a connector with a long timeout)
    :param breaker: the settings the connectors' breakers are judged by
    """

    def __init__(
        self, runtime: Runtime, name: str, lease_seconds: float, breaker: BreakerSettings
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.lease_seconds = lease_seconds
        self.breaker = breaker

    def take(self, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` due rows to this worker (one short transaction)."""
        if limit <= 0:
            return []
        now = utcnow()
        with self.runtime.sessions() as s, s.begin():
            self._discard_superseded(s, now)
            held, probes = self._breakers(s, now)
            earlier = aliased(OutboxMessage)
            stmt = (
                select(
                    OutboxMessage.id,
                    OutboxMessage.message_id,
                    OutboxMessage.payload,
                    OutboxMessage.soap_action,
                    OutboxMessage.invocation_mode,
                    OutboxMessage.attempts,
                    OutboxMessage.connector_id,
                    OutboxMessage.request_id,
                    OutboxMessage.kind,
                    OutboxMessage.recipients,
                    OutboxMessage.lease_owner,
                    Connector.name,
                    Connector.url,
                    Connector.timeout_seconds,
                    Connector.auth_style,
                    Connector.tls_verify,
                    Connector.tls_ca_bundle,
                    Connector.credential_map,
                    Connector.credential_key,
                    Connector.tls_client_certificate,
                    Connector.retry_max_attempts,
                    Connector.retry_base_delay,
                    Connector.retry_max_delay,
                )
                .select_from(OutboxMessage)
                .outerjoin(Connector, Connector.id == OutboxMessage.connector_id)
                .where(
                    OutboxMessage.status == "READY",
                    OutboxMessage.next_attempt_at <= now,
                    or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
                    or_(OutboxMessage.connector_id.is_(None), Connector.enabled.is_(True)),
                    or_(
                        OutboxMessage.request_id.is_(None),
                        ~OutboxMessage.request_id.in_(
                            select(FulfillmentRequest.id).where(
                                FulfillmentRequest.status == "SUPERSEDED"
                            )
                        ),
                    ),
                    # a connector gets one order's events, and its requests (a change
                    # after the request it changes), in the order they were written:
                    # none while an earlier one of its kind is still on its way
                    or_(
                        OutboxMessage.kind.not_in(_SEQUENCED),
                        ~exists().where(
                            earlier.kind == OutboxMessage.kind,
                            earlier.connector_id == OutboxMessage.connector_id,
                            earlier.order_number == OutboxMessage.order_number,
                            earlier.status == "READY",
                            earlier.id < OutboxMessage.id,
                        ),
                    ),
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit + len(probes) * limit)
            )
            if held:
                stmt = stmt.where(
                    or_(
                        OutboxMessage.connector_id.is_(None),
                        OutboxMessage.connector_id.not_in(held),
                    )
                )
            if s.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=OutboxMessage)
            taken: list[Claimed] = []
            # rows leased alike are leased in one statement
            leases: dict[tuple[datetime, str | None], list[int]] = {}
            probed: set[int] = set()
            for row in s.execute(stmt):
                if len(taken) >= limit:
                    break
                if row.connector_id in probes:
                    if row.connector_id in probed:
                        continue  # a half-open breaker lets one probe through
                    probed.add(row.connector_id)
                    store_breaker(probes[row.connector_id][0], probes[row.connector_id][1])
                    breaker_changed(row.name, "OPEN", "HALF_OPEN")
                timeout = (
                    row.timeout_seconds
                    if row.connector_id is not None
                    else self.runtime.settings.smtp_timeout * 3
                )
                until = now + timedelta(seconds=max(self.lease_seconds, timeout * 2 + 5))
                # its last worker died mid-send: the receiver may have it already
                stale = (
                    f"lease of {row.lease_owner} expired during a send"
                    if row.lease_owner is not None
                    else None
                )
                leases.setdefault((until, stale), []).append(row.id)
                taken.append(self._snapshot(row))
            for (until, stale), ids in leases.items():
                values: dict[str, Any] = {
                    "lease_owner": self.name,
                    "lease_until": until,
                    "attempts": _OUTBOX.c.attempts + 1,
                }
                if stale is not None:
                    values.update(uncertain=True, last_error=stale)
                s.execute(update(_OUTBOX).where(_OUTBOX.c.id.in_(ids)).values(values))
            return taken

    def _breakers(
        self, s: Session, now: datetime
    ) -> tuple[set[int], dict[int, tuple[ConnectorHealth, BreakerState]]]:
        """Connectors whose queue is held now, and those that may send one probe."""
        held: set[int] = set()
        probes: dict[int, tuple[ConnectorHealth, BreakerState]] = {}
        stmt = select(ConnectorHealth).where(ConnectorHealth.state != "CLOSED")
        if s.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        for row in s.scalars(stmt):
            ok, state = allow(breaker_state(row), self.breaker, now.timestamp())
            if ok:
                probes[row.connector_id] = (row, state)
            else:
                held.add(row.connector_id)
        return held, probes

    def _discard_superseded(self, s: Session, now: datetime) -> None:
        """A request whose order was revised before it went out is not sent."""
        superseded = select(FulfillmentRequest.id).where(FulfillmentRequest.status == "SUPERSEDED")
        s.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == "READY",
                OutboxMessage.request_id.in_(superseded),
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
            )
            .values(
                status="DISCARDED",
                last_error="the order was revised before this request was delivered",
                parked_at=now,
                lease_owner=None,
                lease_until=None,
            )
            .execution_options(synchronize_session=False)
        )

    @staticmethod
    def _snapshot(row: Any) -> Claimed:
        """A claimed row (the columns :meth:`take` selects), as the send needs it."""
        if row.connector_id is None:  # an e-mail: the SMTP settings apply
            return Claimed(
                id=row.id,
                message_id=row.message_id,
                payload=row.payload,
                soap_action=row.soap_action,
                invocation_mode=row.invocation_mode,
                attempt=row.attempts + 1,
                connector_id=None,
                connector_name="smtp",
                endpoint=None,
                credential_ref=None,
                retry=RetryPolicy(),
                request_id=None,
                kind=row.kind,
                recipients=tuple(a for a in (row.recipients or "").split(",") if a),
            )
        return Claimed(
            id=row.id,
            message_id=row.message_id,
            payload=row.payload,
            soap_action=row.soap_action,
            invocation_mode=row.invocation_mode,
            attempt=row.attempts + 1,
            connector_id=row.connector_id,
            connector_name=row.name,
            endpoint=Endpoint(
                url=row.url,
                timeout=row.timeout_seconds,
                auth_style=row.auth_style,
                tls_verify=row.tls_verify,
                tls_ca_bundle=row.tls_ca_bundle,
            ),
            credential_ref=(row.credential_map, row.credential_key) if row.credential_key else None,
            retry=RetryPolicy(row.retry_max_attempts, row.retry_base_delay, row.retry_max_delay),
            request_id=row.request_id,
            kind=row.kind,
            certificate_ref=(
                (row.credential_map, row.tls_client_certificate)
                if row.tls_client_certificate
                else None
            ),
        )

    def release(self, items: Sequence[Claimed]) -> None:
        """Give back claimed rows that were not sent: no lease, their attempt undone."""
        if not items:
            return
        try:
            with self.runtime.sessions() as s, s.begin():
                s.execute(
                    update(_OUTBOX)
                    .where(
                        _OUTBOX.c.id == bindparam("_id"),
                        _OUTBOX.c.lease_owner == self.name,
                        _OUTBOX.c.attempts == bindparam("_attempt"),
                        _OUTBOX.c.status == "READY",
                    )
                    .values(lease_owner=None, lease_until=None, attempts=_OUTBOX.c.attempts - 1),
                    [{"_id": i.id, "_attempt": i.attempt} for i in items],
                )
        except Exception:  # their leases run out instead
            log.exception("releasing %d claimed outbox rows failed", len(items))
