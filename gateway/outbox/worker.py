"""The outbox worker: claims rows with a lease, sends them, and records what happened.

Claiming is one short write transaction: ready rows (due, not leased or with an expired
lease) of enabled connectors whose circuit breaker lets calls through are leased to this
worker (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers on several machines share
one queue; SQLite's ``BEGIN IMMEDIATE`` runs claims one at a time). A worker that dies
mid-send leaves its lease to expire; the row is then claimed again, marked
``uncertain``, and sent with the same ``MessageID`` so the receiver can drop the copy.

After a send, a second transaction records the attempt, the verdict
(:mod:`connectors.dispatch`) and the breaker's new state, and, for a synchronous call,
applies the ``headerTR`` answer in the same transaction, through the entry point of a
fulfillment system's acknowledgement and response
(:meth:`gateway.orders.responses.ResponseProcessor.answer`). Retries wait with
full-jitter backoff; a message that runs out of attempts, or that the endpoint refuses
as a client fault, is parked with the reason.
Nothing is ever deleted.

Business events (``BUSINESS_EVENT`` rows, one-way ``pushPayload``) go the same way, one
order's events to one connector in the order they were written: a row is not claimed
while an earlier event row for the same connector and order is still ``READY``. E-mail
rows (``EMAIL``, no connector) go to the configured SMTP server (:mod:`connectors.mail`).

Throughput: the loop (:meth:`OutboxWorker.run`) is a pipeline. Its own thread is the
only one that touches the database: it claims rows in chunks of up to 64, keeping about
a quarter second of sends waiting (at most 256 rows), reads each claim's wallet entries
once, and records finished sends in batches (up to 128, none waiting over 50 ms; a
failure at once), one transaction each: the breaker row of each connector is locked and
written once per batch, and the verdicts, the breaker's transitions and the attempts
are exactly those of one-by-one recording. ``concurrency`` sender threads take the
waiting rows and send them. A failed send pauses its connector in this worker until it
is recorded; if the breaker opens, the connector's waiting rows go back. A claimed row
that waited for a sender longer than :data:`QUEUE_SLACK_SECONDS` (its lease is then
that much shorter than a claim gives) goes back unsent; a row that goes back gets its
attempt back. If a batch cannot be recorded, each send is recorded on its own. On stop,
the waiting rows go back and the sends under way are finished and recorded.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, exists, or_, select, update
from sqlalchemy import insert as core_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from connectors.dispatch import DELIVERED, PARK, RETRY, Endpoint, Sender, SendResult
from connectors.mail import MailSender, SmtpEndpoint, build_message
from connectors.outbound import Answer
from connectors.registry import DEFAULT_CREDENTIAL_MAP, RetryPolicy
from connectors.resilience import (
    BreakerSettings,
    BreakerState,
    allow,
    next_delay,
    on_failure,
    on_success,
    should_retry,
)
from connectors.tls import ClientIdentity
from connectors.wallet import Credential, WalletError
from gateway.errors import GatewayError, ResponseRejected
from gateway.events.publisher import EMAIL_KIND, EVENT_KIND
from gateway.observe import metrics
from gateway.observe.beats import BEAT_SECONDS, record_beat
from gateway.observe.snapshot import EMAIL
from gateway.orders.commands import Acknowledgement, FulfillLineResponse, FulfillmentResponse
from gateway.orders.responses import ResponseProcessor
from gateway.outbox.replay import Scrubber
from gateway.persistence.models import (
    Connector,
    ConnectorHealth,
    DeliveryAttempt,
    FulfillmentRequest,
    OutboxMessage,
    utcnow,
)
from gateway.registry.wallet import credential_source
from gateway.runtime import Runtime

__all__ = ["QUEUE_SLACK_SECONDS", "Claimed", "OutboxWorker", "Pass", "worker_name"]

log = logging.getLogger(__name__)
_PARTLY = "delivered; its answer was applied in part: "
#: how long a claimed row may wait for a sender before it is released unsent (its lease
#: then still covers a send as long as the one a claim gives, less this)
QUEUE_SLACK_SECONDS = 1.0
#: how long the claimed rows waiting for a sender should last (at most _MAX_WAITING),
#: claimed at most _CLAIM_CHUNK at a time (a claim of many 30 kB rows takes a while:
#: the senders must not run dry meanwhile)
_QUEUE_SECONDS = 0.25
_MAX_WAITING = 256
_CLAIM_CHUNK = 64
#: finished sends are recorded in batches of up to this many, none waiting longer than
#: this (a failure is recorded at once)
_RECORD_BATCH = 128
_RECORD_SECONDS = 0.05
_OUTCOMES = {DELIVERED: "DELIVERED", RETRY: "RETRY", PARK: "PARKED"}
#: the kinds a connector receives in the order they were written, per order
_SEQUENCED = (EVENT_KIND, "FULFILLMENT_REQUEST")
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_ATTEMPTS: Table = DeliveryAttempt.__table__  # type: ignore[assignment]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def _epoch(at: datetime | None) -> float | None:
    if at is None:
        return None
    if at.tzinfo is None:  # SQLite hands back naive UTC
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


def _instant(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _breaker_changed(connector: str, old: str, new: str) -> None:
    """A breaker changed state: counted, and said at WARNING when it leaves or enters
    CLOSED. Observing never fails the recording it follows."""
    try:
        _say_breaker(connector, old, new)
    except Exception:
        log.exception("could not count or log a breaker change of %s", connector)


def _say_breaker(connector: str, old: str, new: str) -> None:
    metrics.BREAKER_CHANGES.labels(connector, new).inc()
    if new == "OPEN":
        what = "opened: its queue is held until a probe succeeds"
    elif new == "CLOSED":
        what = "closed again: its queue flows"
    else:
        what = f"is {new}"
    # a probe goes, and a failed one reopens it, every cool-down: said at INFO
    level = logging.WARNING if "CLOSED" in (old, new) else logging.INFO
    log.log(
        level,
        "connector %s: circuit breaker %s (was %s)",
        connector,
        what,
        old,
        extra={"connector": connector, "breaker": new, "previous": old},
    )


def _delivery_outcome(item: Claimed, verdict: str, result: SendResult) -> None:
    """One send's line (a park at WARNING: nothing sends it again without a person) and
    its count. Observing never fails the recording it follows: a failure here after the
    commit would have the batch recorded again."""
    try:
        _say_delivery(item, verdict, result)
    except Exception:
        log.exception("could not count or log the outcome of outbox %s", item.id)


def _say_delivery(item: Claimed, verdict: str, result: SendResult) -> None:
    outcome = _OUTCOMES[verdict]
    connector = item.connector_name if item.connector_id is not None else EMAIL
    metrics.DELIVERIES.labels(connector, item.kind, outcome.lower()).inc()
    log.log(
        logging.WARNING if verdict == PARK else logging.INFO,
        "outbox %s (%s) %s attempt %d to %s: %s%s",
        item.id,
        item.message_id,
        item.kind,
        item.attempt,
        item.connector_name,
        outcome,
        f" ({result.reason})" if result.reason else "",
        extra={
            "outbox_id": item.id,
            "message_id": item.message_id,
            "kind": item.kind,
            "attempt": item.attempt,
            "connector": item.connector_name,
            "outcome": outcome,
            "http_status": result.http_status,
        },
    )


def _breaker(row: ConnectorHealth | None) -> BreakerState:
    if row is None:
        return BreakerState()
    return BreakerState(row.state, row.failures, _epoch(row.opened_at), _epoch(row.probing_since))


def _store_breaker(row: ConnectorHealth, state: BreakerState, error: str | None = None) -> None:
    if state.state == "CLOSED":
        row.broken_since = None
    elif row.broken_since is None:
        row.broken_since = utcnow()
    row.state = state.state
    row.failures = state.failures
    row.opened_at = _instant(state.opened_at)
    row.probing_since = _instant(state.probing_since)
    if error is not None:
        row.last_error = error


def _health(s: Session, connector_id: int) -> ConnectorHealth:
    """The connector's breaker row, locked; created if missing, race-free (two workers
    recording their first outcome for one connector at once must not collide)."""
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    s.execute(
        insert(ConnectorHealth)
        .values(connector_id=connector_id, state="CLOSED", failures=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["connector_id"])
    )
    row = s.get(ConnectorHealth, connector_id, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


@dataclass(frozen=True)
class Claimed:
    """A leased row, detached from its session: everything one send needs."""

    id: int
    message_id: str
    payload: bytes
    soap_action: str
    invocation_mode: str
    attempt: int
    connector_id: int | None
    connector_name: str
    endpoint: Endpoint | None
    credential_ref: tuple[str, str] | None
    retry: RetryPolicy
    request_id: int | None
    kind: str = "FULFILLMENT_REQUEST"
    recipients: tuple[str, ...] = ()
    #: the wallet entry holding the client certificate the connector presents
    certificate_ref: tuple[str, str] | None = None


@dataclass(frozen=True)
class Pass:
    """What one :meth:`OutboxWorker.run_once` did."""

    delivered: int = 0
    retried: int = 0
    parked: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.retried + self.parked


@dataclass(frozen=True)
class _Sent:
    """One finished send, waiting to be recorded."""

    item: Claimed
    result: SendResult
    started: datetime
    ms: int
    seconds: float = 0.0


@dataclass(frozen=True)
class _Secrets:
    """What one send needs from the wallet (either may be absent)."""

    credential: Credential | None = None
    identity: ClientIdentity | None = None


#: a send's wallet lookup: its secrets, or why they could not be read
_Lookup = _Secrets | WalletError


def _secrets(
    found: dict[tuple[str, str], Credential | WalletError],
    credential_ref: tuple[str, str] | None,
    certificate_ref: tuple[str, str] | None,
) -> _Lookup:
    """One send's secrets from a batch's decrypted wallet entries."""
    credential = found[credential_ref] if credential_ref is not None else None
    if isinstance(credential, WalletError):
        return credential
    identity = None
    if certificate_ref is not None:
        holder = found[certificate_ref]
        if isinstance(holder, WalletError):
            return holder
        if not holder.client_certificate or not holder.client_key:
            return WalletError(
                f"wallet entry ({certificate_ref[0]}, {certificate_ref[1]}) holds no client "
                "certificate; store one with 'omgw wallet set … --client-certificate "
                "--client-key'"
            )
        identity = ClientIdentity(holder.client_certificate, holder.client_key)
    return _Secrets(credential, identity)


class OutboxWorker:
    """Delivers outbox rows with at most ``concurrency`` sends in flight."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        name: str | None = None,
        concurrency: int | None = None,
        lease_seconds: float | None = None,
        breaker: BreakerSettings | None = None,
        rng: random.Random | None = None,
        sender: Sender | None = None,
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.name = name or worker_name()
        self.concurrency = concurrency or settings.worker_concurrency
        self.lease_seconds = lease_seconds or settings.lease_seconds
        self.breaker = breaker or BreakerSettings(
            settings.breaker_failures, settings.breaker_cool_down
        )
        self._rng = rng or random.Random()
        self._sender = sender or Sender()
        self._mailer = MailSender()
        self._reply_to = settings.reply_to

    # -- claiming -------------------------------------------------------------------

    def claim(self, limit: int) -> list[Claimed]:
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
                    _store_breaker(probes[row.connector_id][0], probes[row.connector_id][1])
                    _breaker_changed(row.name, "OPEN", "HALF_OPEN")
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
            ok, state = allow(_breaker(row), self.breaker, now.timestamp())
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
        """A claimed row (the columns :meth:`claim` selects), as the send needs it."""
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

    # -- sending --------------------------------------------------------------------

    def _credential_ref(self, item: Claimed) -> tuple[str, str] | None:
        if item.kind == EMAIL_KIND and self.runtime.settings.smtp_credential_key:
            return (DEFAULT_CREDENTIAL_MAP, self.runtime.settings.smtp_credential_key)
        return item.credential_ref

    def _credential(self, item: Claimed) -> _Lookup:
        return self._credentials([item])[0]

    def _credentials(self, items: Sequence[Claimed]) -> list[_Lookup]:
        """Each item's credential and client certificate, each wallet entry read and
        decrypted once."""
        refs = {self._credential_ref(i) for i in items} | {i.certificate_ref for i in items}
        found: dict[tuple[str, str], Credential | WalletError] = {}
        if refs - {None}:
            with self.runtime.read_sessions() as s:
                source = credential_source(s, lambda: self.runtime.secret_box)
                for ref in refs:
                    if ref is None:
                        continue
                    try:
                        found[ref] = source.credential(*ref)
                    except WalletError as exc:
                        found[ref] = exc
        return [_secrets(found, self._credential_ref(i), i.certificate_ref) for i in items]

    def _mail(self, item: Claimed, credential: Credential | None) -> SendResult:
        """Send an e-mail row through the configured SMTP server."""
        settings = self.runtime.settings
        if not settings.smtp_host:
            return SendResult(
                PARK,
                "no SMTP server is configured; set OMGW_SMTP_HOST (and replay this message)",
                local=True,
            )
        text = json.loads(item.payload)
        message = build_message(
            sender=settings.smtp_sender,
            recipients=item.recipients,
            subject=text["subject"],
            body=text["body"],
            message_id=item.message_id,
        )
        endpoint = SmtpEndpoint(
            settings.smtp_host,
            settings.smtp_port,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout,
        )
        return self._mailer.send(
            message, settings.smtp_sender, item.recipients, endpoint, credential
        )

    def deliver(self, item: Claimed) -> str:
        """Send one claimed row and record the outcome; returns the verdict."""
        sent = self._send(item, self._credential(item))
        return self._record(sent.item, sent.result, sent.started, sent.ms)

    def _send(self, item: Claimed, secrets: _Lookup) -> _Sent:
        """Send one claimed row (no database work); never raises."""
        started = utcnow()
        clock = time.monotonic()
        credential = None
        if isinstance(secrets, WalletError):
            result = SendResult(
                PARK, f"cannot read the connector's wallet entry: {secrets}", local=True
            )
        else:
            credential = secrets.credential
            try:
                if item.kind == EMAIL_KIND:
                    result = self._mail(item, credential)
                else:
                    assert item.endpoint is not None
                    result = self._sender.send(
                        item.payload,
                        item.soap_action,
                        item.endpoint,
                        credential,
                        expect_answer=item.invocation_mode == "SYNC_SERVICE",
                        identity=secrets.identity,
                    )
            except Exception as exc:  # a bug or a bad setting, not the endpoint: a person looks
                log.exception("outbox %s: the send failed before reaching the endpoint", item.id)
                result = SendResult(PARK, f"the send failed: {type(exc).__name__}", local=True)
        if result.reason:
            # a receiver may echo what we sent (its fault text, say): never store our secret
            known = (
                [credential.password, f"{credential.username}:{credential.password}"]
                if credential is not None
                else []
            )
            scrub = Scrubber(known)
            result = replace(result, reason=scrub.text(result.reason))
        elapsed = time.monotonic() - clock
        return _Sent(item, result, started, int(elapsed * 1000), elapsed)

    def _record(self, item: Claimed, result: SendResult, started: datetime, ms: int) -> str:
        """Record one send in a transaction of its own; returns the verdict."""
        return self._record_many([_Sent(item, result, started, ms)])[0][0]

    def _record_many(self, batch: Sequence[_Sent]) -> tuple[list[str], set[int]]:
        """Record ``batch`` in one transaction, in order, as one-by-one recording would:
        each send's attempt, its verdict on the row (while the row is still ours) and
        its effect on the connector's breaker; for a synchronous call, its answer is
        applied. Returns the verdicts and the connectors whose breaker is not closed."""
        now = utcnow()
        verdicts: list[str] = []
        # rows changed alike are written in one statement
        changes: dict[tuple[tuple[str, Any], ...], list[int]] = {}
        attempts: list[dict[str, Any]] = []
        logged: list[tuple[_Sent, str, SendResult]] = []
        with self.runtime.sessions() as s, s.begin():
            owner = self._owners(s, batch)
            # each connector's breaker row, locked once (in id order: no deadlocks)
            health: dict[int, tuple[ConnectorHealth, BreakerState]] = {}
            for cid in sorted({b.item.connector_id for b in batch if b.item.connector_id}):
                row = _health(s, cid)
                health[cid] = (row, _breaker(row))
            before = {cid: state.state for cid, (_row, state) in health.items()}
            for sent in batch:
                item, result = sent.item, sent.result
                verdict = result.outcome
                if item.connector_id is not None:
                    hrow, state = health[item.connector_id]
                    if verdict == RETRY:
                        state = on_failure(state, self.breaker, now.timestamp())
                        _store_breaker(hrow, state, result.reason)
                    elif not result.local:  # it answered: it is up, even if it refused this
                        state = on_success(state)
                        _store_breaker(hrow, state)
                    health[item.connector_id] = (hrow, state)
                if owner.get(item.id) != item.attempt:
                    # our lease expired and another worker owns the row now: its outcome
                    # counts
                    attempts.append(self._attempt_values(sent, RETRY, result, "lease lost"))
                    verdicts.append(verdict)
                    continue
                del owner[item.id]  # ours once: a second send of it in the batch lost it
                row_values: dict[str, Any] = {
                    "lease_owner": None,
                    "lease_until": None,
                    "last_http_status": result.http_status,
                }
                if result.uncertain:
                    row_values["uncertain"] = True
                if verdict == DELIVERED:
                    problem = self._apply_answer(s, item, result.answer)
                    if problem is None or problem.startswith(_PARTLY):
                        # delivered; what the answer could not do is noted on the row
                        row_values.update(status="DELIVERED", delivered_at=now, last_error=problem)
                    else:
                        verdict = PARK
                        result = replace(result, reason=problem)
                if verdict == RETRY:
                    if should_retry(item.retry, item.attempt):
                        delay = next_delay(item.retry, item.attempt, self._rng)
                        row_values.update(
                            next_attempt_at=now + timedelta(seconds=delay),
                            last_error=result.reason,
                        )
                    else:
                        verdict = PARK
                        result = replace(
                            result,
                            reason=f"gave up after {item.attempt} attempts; last: {result.reason}",
                        )
                if verdict == PARK:
                    row_values.update(status="PARKED", parked_at=now, last_error=result.reason)
                changes.setdefault(tuple(sorted(row_values.items())), []).append(item.id)
                attempts.append(self._attempt_values(sent, verdict, result))
                logged.append((sent, verdict, result))
                verdicts.append(verdict)
            for values, ids in changes.items():
                s.execute(update(_OUTBOX).where(_OUTBOX.c.id.in_(ids)).values(dict(values)))
            s.execute(core_insert(_ATTEMPTS), attempts)
        names = {b.item.connector_id: b.item.connector_name for b in batch}
        for cid, (_row, state) in health.items():
            if state.state != before[cid]:
                _breaker_changed(names[cid], before[cid], state.state)
        for sent, verdict, result in logged:
            _delivery_outcome(sent.item, verdict, result)
        return verdicts, {cid for cid, (_row, st) in health.items() if st.state != "CLOSED"}

    def _owners(self, s: Session, batch: Sequence[_Sent]) -> dict[int, int]:
        """The rows of ``batch`` leased to this worker, each with its attempt number,
        locked until the transaction ends (SQLite: the write lock is the whole file's).
        One query reads the rows' leases; those that are not ours any more (their lease
        ran out and was taken) are left out.

        The statement is the same for every batch (an expanding ``IN``), so it is
        compiled once: the attempts used to be compared in SQL with a ``CASE`` of one
        ``WHEN`` per row, a new statement for every batch size, and SQLAlchemy's
        compiled cache (500 entries per engine) kept each one, ~240 kB apiece: the
        worker's memory grew with every batch size it had not seen yet."""
        expected = {b.item.id: b.item.attempt for b in batch}  # a row sent twice: the last
        c = _OUTBOX.c
        stmt = select(c.id, c.lease_owner, c.status, c.attempts).where(c.id.in_(sorted(expected)))
        if s.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        for row in s.execute(stmt):
            if (
                row.lease_owner != self.name
                or row.status != "READY"
                or row.attempts != expected[row.id]
            ):
                del expected[row.id]
        return expected

    def _attempt_values(
        self, sent: _Sent, outcome: str, result: SendResult, note: str | None = None
    ) -> dict[str, Any]:
        error = result.reason if note is None else f"{note}: {result.reason or 'no error'}"
        return {
            "outbox_id": sent.item.id,
            "attempt": sent.item.attempt,
            "worker": self.name[:100],
            "started_at": sent.started,
            "duration_ms": sent.ms,
            "outcome": _OUTCOMES[outcome],
            "http_status": result.http_status,
            "error": error,
        }

    def _apply_answer(self, s: Session, item: Claimed, answer: Answer | None) -> str | None:
        """Apply a synchronous ``headerTR`` as a fulfillment system's acknowledgement and
        response are applied; the reason it cannot be, if any."""
        if answer is None or item.request_id is None:
            return None
        if answer.request_id != item.request_id:
            return (
                f"the answer is for request {answer.request_id}, not {item.request_id}; "
                "nothing was applied"
            )
        system = answer.fulfillment_system or None
        ack = Acknowledgement(
            system,
            answer.request_id,
            "SUCCESS" if answer.status_code == "ACCEPTED" else "ERROR",
            answer.error_name,
            answer.error_text,
        )
        lines = tuple(
            FulfillLineResponse(
                ln.fulfill_line_id,
                ln.status_code,
                ln.shipped_qty,
                ln.shipped_uom,
                ln.actual_ship_date,
                ln.tracking_number,
                ln.billing_number,
            )
            for ln in answer.lines
        )
        try:
            errors = ResponseProcessor(s, self._reply_to).answer(
                ack, FulfillmentResponse(system, answer.response_identifier, None, lines)
            )
        except ResponseRejected as exc:
            return f"delivered, but its answer was rejected: {exc}"
        except GatewayError as exc:
            return f"delivered, but its answer could not be applied: {exc}"
        if errors:
            return _PARTLY + "; ".join(
                f"line {e.fulfill_line_id}: {e.code} {e.message}" for e in errors
            )
        return None

    # -- loops ----------------------------------------------------------------------

    def run_once(self, limit: int | None = None) -> Pass:
        """Claim what is due (up to ``limit``, default the concurrency), send it with the
        pool, record the outcomes, and return the verdicts; for tests and ``omgw worker
        --once``."""
        items = self.claim(limit or self.concurrency)
        if not items:
            return Pass()
        credentials = self._credentials(items)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="omgw-send") as pool:
            sent = list(pool.map(self._send, items, credentials))
        verdicts, _held = self._record_safely(sent)
        return Pass(verdicts.count(DELIVERED), verdicts.count(RETRY), verdicts.count(PARK))

    def drain(self, deadline_seconds: float = 60.0) -> Pass:
        """Run until nothing is due (or the deadline passes)."""
        total = Pass()
        end = time.monotonic() + deadline_seconds
        while time.monotonic() < end:
            done = self.run_once()
            if not done.total:
                break
            total = Pass(
                total.delivered + done.delivered,
                total.retried + done.retried,
                total.parked + done.parked,
            )
        return total

    def run(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        """Keep up to ``concurrency`` sends in flight until ``stop`` is set; then finish
        the sends under way (each bounded by its connector's timeout), record them,
        release the claimed rows not sent yet, and return."""
        loop = _Loop(self, poll_seconds)
        beat_due = time.monotonic()
        started = utcnow()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="omgw-send") as pool:
            for _ in range(self.concurrency):
                pool.submit(loop.sender)
            try:
                while not stop.is_set():
                    if time.monotonic() >= beat_due:
                        beat_due = time.monotonic() + BEAT_SECONDS
                        self.beat(started)
                    try:
                        loop.step(stop)
                    except Exception:  # nothing is lost: unrecorded leases run out
                        log.exception("outbox worker pass failed; going on in %s s", poll_seconds)
                        stop.wait(poll_seconds)
            finally:
                loop.finish()
        self._sender.close()

    def _record_safely(self, batch: Sequence[_Sent]) -> tuple[list[str], set[int]]:
        """Record ``batch`` in one transaction; if that fails, each send on its own. A send
        that cannot be recorded keeps its lease, which runs out: the row is sent again."""
        try:
            return self._record_many(batch)
        except Exception:
            if len(batch) == 1:
                log.exception("outbox %s: recording the send failed", batch[0].item.id)
                return [RETRY], set()
            log.warning("recording %d sends at once failed; recording each", len(batch))
        verdicts: list[str] = []
        held: set[int] = set()
        for sent in batch:
            one, closed = self._record_safely([sent])
            verdicts += one
            held |= closed
        return verdicts, held

    def _release(self, items: Sequence[Claimed]) -> None:
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

    def beat(self, started: datetime) -> None:
        """Say this worker is alive (``/readyz``, ``omgw status``); a failure is logged
        and the next beat tries again."""
        try:
            with self.runtime.sessions() as s, s.begin():
                record_beat(s, self.name, utcnow(), started)
        except Exception:
            log.exception("could not record that worker %s is alive", self.name)


class _Loop:
    """The state of :meth:`OutboxWorker.run`.

    The loop's thread is the only one that uses the database: it claims rows into
    ``waiting``, records finished sends in batches and gives back rows not sent. The
    ``concurrency`` sender threads take rows from ``waiting`` and send them. A send
    that fails (a ``RETRY`` verdict) pauses its connector here until the failure is
    recorded; if the breaker it feeds opens, the connector's waiting rows go back (the
    queue is held), so a failing endpoint gets no more sends than with one-by-one
    recording."""

    def __init__(self, worker: OutboxWorker, poll_seconds: float) -> None:
        self.w = worker
        self.poll = poll_seconds
        self.lock = threading.Condition()
        # under the lock: rows to send, connectors held by their breaker, failures
        # sent but not recorded yet (per connector), and whether to stop taking rows
        self.waiting: deque[tuple[Claimed, _Lookup, float]] = deque()
        self.held: set[int] = set()
        self.failing: dict[int, int] = {}
        self.stopping = False
        # the loop's own: what the senders hand back, rows claimed and not yet back
        self.back: queue.SimpleQueue[_Sent | Claimed | None] = queue.SimpleQueue()
        self.pending = 0
        self.unrecorded: list[_Sent] = []
        self.oldest = 0.0  # when the oldest unrecorded send finished
        self.send_seconds: float | None = None  # moving average of one send
        self.next_claim = 0.0  # when to look again after a claim that found less than asked
        self.claim_interval = min(poll_seconds, 0.05)

    # -- the senders' side ------------------------------------------------------------

    def _paused(self, connector_id: int | None) -> bool:
        return connector_id is not None and (
            connector_id in self.held or self.failing.get(connector_id, 0) > 0
        )

    def _take(self) -> tuple[Claimed, _Lookup, float] | None:
        """The first waiting row whose connector is not paused (under the lock)."""
        if not self.held and not self.failing:
            return self.waiting.popleft() if self.waiting else None
        for n, entry in enumerate(self.waiting):
            if not self._paused(entry[0].connector_id):
                del self.waiting[n]
                return entry
        return None

    def sender(self) -> None:
        """A sender thread: send waiting rows until the loop stops."""
        while True:
            with self.lock:
                entry = self._take()
                while entry is None:
                    if self.stopping:
                        return
                    self.lock.wait()
                    entry = self._take()
            item, credential, claimed_at = entry
            if time.monotonic() - claimed_at > QUEUE_SLACK_SECONDS:
                self.back.put(item)  # its lease is shorter than a claim gives: back
                continue
            try:
                sent: _Sent | None = self.w._send(item, credential)
            except BaseException:
                log.exception("outbox %s: the send failed unexpectedly", item.id)
                sent = None  # not recorded: its lease runs out, and it is sent again
            if sent is not None and sent.result.outcome == RETRY and item.connector_id:
                with self.lock:
                    self.failing[item.connector_id] = self.failing.get(item.connector_id, 0) + 1
            self.back.put(sent)

    # -- the loop's side --------------------------------------------------------------

    def _batch(self) -> int:
        """How many claimed rows to keep waiting: what the senders should finish in
        ``_QUEUE_SECONDS``."""
        low = 2 * self.w.concurrency
        if not self.send_seconds:
            return low
        ahead = int(_QUEUE_SECONDS * self.w.concurrency / self.send_seconds)
        return max(low, min(_MAX_WAITING, ahead))

    def _collect(self, timeout: float | None) -> None:
        """Take what the senders handed back (waiting up to ``timeout`` for the first)."""
        got: list[_Sent | Claimed | None] = []
        try:
            if timeout is not None:
                got.append(self.back.get(timeout=timeout))
            while True:
                got.append(self.back.get_nowait())
        except queue.Empty:
            pass
        self.pending -= len(got)
        late = [g for g in got if isinstance(g, Claimed)]
        self.w._release(late)
        for sent in got:
            if isinstance(sent, _Sent):
                if not self.unrecorded:
                    self.oldest = time.monotonic()
                self.unrecorded.append(sent)
                seconds = max(sent.seconds, 0.0001)
                avg = self.send_seconds
                self.send_seconds = seconds if avg is None else 0.8 * avg + 0.2 * seconds

    def _record(self, force: bool = False) -> None:
        """Record the finished sends: at once after a failure, when a batch is full or
        its oldest waited ``_RECORD_SECONDS``, or when nothing else is under way."""
        batch = self.unrecorded
        if not batch:
            return
        failures = [s.item.connector_id for s in batch if s.result.outcome == RETRY]
        if not (
            force
            or failures
            or len(batch) >= _RECORD_BATCH
            or len(batch) >= self.pending + len(batch)
            or time.monotonic() - self.oldest >= _RECORD_SECONDS
        ):
            return
        self.unrecorded = []
        _verdicts, held = self.w._record_safely(batch)
        with self.lock:
            for cid in failures:
                if cid is not None:
                    self.failing[cid] -= 1
                    if not self.failing[cid]:
                        del self.failing[cid]
            self.held |= held
            gone = [e[0] for e in self.waiting if e[0].connector_id in held]
            if gone:  # the breaker holds the connector's queue: here too
                self.waiting = deque(e for e in self.waiting if e[0].connector_id not in held)
            self.lock.notify_all()
        self.pending -= len(gone)
        self.w._release(gone)

    def _claim(self) -> int:
        now = time.monotonic()
        with self.lock:
            waiting = len(self.waiting)
        batch = self._batch()
        # claim again while half a batch still waits: the senders never run dry
        if waiting > max(self.w.concurrency, batch // 2) or now < self.next_claim:
            return 0
        want = min(_CLAIM_CHUNK, batch - waiting)
        try:
            items = self.w.claim(want)
        except Exception:
            log.exception("outbox claim failed; retrying in %s s", self.poll)
            self.next_claim = now + self.poll
            return 0
        self.next_claim = 0.0 if len(items) >= want else now + self.claim_interval
        if not items:
            return 0
        try:
            credentials = self.w._credentials(items)
        except Exception:
            log.exception("reading the wallet failed; the claimed rows go back")
            self.w._release(items)
            self.next_claim = now + self.poll
            return 0
        with self.lock:
            # the claim let them through: their breakers allow calls (or one probe)
            self.held -= {i.connector_id for i in items if i.connector_id is not None}
            self.waiting.extend((i, c, now) for i, c in zip(items, credentials, strict=True))
            self.lock.notify_all()
        self.pending += len(items)
        return len(items)

    def step(self, stop: threading.Event) -> None:
        """One pass: take what came back, record it (in batches), claim more when few
        rows are waiting, then wait for a send to finish (or ``poll`` seconds)."""
        self._collect(None)
        self._record()
        claimed = self._claim()
        if claimed:
            return
        if not self.pending:
            self._record(force=True)
            stop.wait(self.poll)
            return
        timeout = self.poll
        if self.unrecorded:
            timeout = max(0.0, min(timeout, self.oldest + _RECORD_SECONDS - time.monotonic()))
        self._collect(timeout)

    def finish(self) -> None:
        """On stop: give back the rows not sent, let the sends under way finish, record."""
        with self.lock:
            self.stopping = True
            unsent = [e[0] for e in self.waiting]
            self.waiting.clear()
            self.lock.notify_all()
        self.pending -= len(unsent)
        self.w._release(unsent)
        while self.pending > 0:
            self._collect(self.poll)
        self._record(force=True)
