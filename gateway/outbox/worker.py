"""The outbox worker: claims rows with a lease, sends them, and records what happened.

Claiming is one short write transaction: ready rows (due, not leased or with an expired
lease) of enabled connectors whose circuit breaker lets calls through are leased to this
worker (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers on several machines share
one queue; SQLite's ``BEGIN IMMEDIATE`` runs claims one at a time). A worker that dies
mid-send leaves its lease to expire; the row is then claimed again, marked
``uncertain``, and sent with the same ``MessageID`` so the receiver can drop the copy.

After a send, a second transaction records the attempt, the verdict
(:mod:`connectors.dispatch`) and the breaker's new state, and, for a synchronous call,
applies the ``headerTR`` answer (acknowledgement, then the line statuses) in the same
transaction. Retries wait with full-jitter backoff; a message that runs out of
attempts, or that the endpoint refuses as a client fault, is parked with the reason.
Nothing is ever deleted.

Business events (``BUSINESS_EVENT`` rows, one-way ``pushPayload``) go the same way, one
order's events to one connector in the order they were written: a row is not claimed
while an earlier event row for the same connector and order is still ``READY``. E-mail
rows (``EMAIL``, no connector) go to the configured SMTP server (:mod:`connectors.mail`).
The worker's loop also runs the jeopardy check every ``OMGW_JEOPARDY_INTERVAL_SECONDS``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased, lazyload

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
from connectors.wallet import Credential, WalletError
from gateway.errors import GatewayError, ResponseRejected
from gateway.events.publisher import EMAIL_KIND, EVENT_KIND
from gateway.orders.commands import Acknowledgement, FulfillLineResponse, FulfillmentResponse
from gateway.orders.jeopardy import JeopardyCheck
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

__all__ = ["Claimed", "OutboxWorker", "Pass", "worker_name"]

log = logging.getLogger(__name__)
_PARTLY = "delivered; its answer was applied in part: "


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


def _breaker(row: ConnectorHealth | None) -> BreakerState:
    if row is None:
        return BreakerState()
    return BreakerState(row.state, row.failures, _epoch(row.opened_at), _epoch(row.probing_since))


def _store_breaker(row: ConnectorHealth, state: BreakerState, error: str | None = None) -> None:
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


@dataclass(frozen=True)
class Pass:
    """What one :meth:`OutboxWorker.run_once` did."""

    delivered: int = 0
    retried: int = 0
    parked: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.retried + self.parked


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
                select(OutboxMessage)
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
                    # a connector gets one order's events in the order they happened:
                    # none while an earlier one for it is still on its way
                    or_(
                        OutboxMessage.kind != EVENT_KIND,
                        ~exists().where(
                            earlier.kind == EVENT_KIND,
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
            probed: set[int] = set()
            for row in s.scalars(stmt):
                if len(taken) >= limit:
                    break
                if row.connector_id in probes:
                    if row.connector_id in probed:
                        continue  # a half-open breaker lets one probe through
                    probed.add(row.connector_id)
                    _store_breaker(probes[row.connector_id][0], probes[row.connector_id][1])
                if row.lease_owner is not None:
                    # its last worker died mid-send: the receiver may have it already
                    row.uncertain = True
                    row.last_error = f"lease of {row.lease_owner} expired during a send"
                row.lease_owner = self.name
                timeout = (
                    row.connector.timeout_seconds
                    if row.connector is not None
                    else self.runtime.settings.smtp_timeout * 3
                )
                row.lease_until = now + timedelta(seconds=max(self.lease_seconds, timeout * 2 + 5))
                row.attempts += 1
                taken.append(self._snapshot(row))
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
    def _snapshot(row: OutboxMessage) -> Claimed:
        c = row.connector
        if c is None:  # an e-mail: the SMTP settings apply
            return Claimed(
                id=row.id,
                message_id=row.message_id,
                payload=row.payload,
                soap_action=row.soap_action,
                invocation_mode=row.invocation_mode,
                attempt=row.attempts,
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
            attempt=row.attempts,
            connector_id=c.id,
            connector_name=c.name,
            endpoint=Endpoint(
                url=c.url,
                timeout=c.timeout_seconds,
                auth_style=c.auth_style,
                tls_verify=c.tls_verify,
                tls_ca_bundle=c.tls_ca_bundle,
            ),
            credential_ref=(c.credential_map, c.credential_key) if c.credential_key else None,
            retry=RetryPolicy(c.retry_max_attempts, c.retry_base_delay, c.retry_max_delay),
            request_id=row.request_id,
            kind=row.kind,
        )

    # -- sending --------------------------------------------------------------------

    def _credential(self, item: Claimed) -> Credential | None:
        ref = item.credential_ref
        if item.kind == EMAIL_KIND and self.runtime.settings.smtp_credential_key:
            ref = (DEFAULT_CREDENTIAL_MAP, self.runtime.settings.smtp_credential_key)
        if ref is None:
            return None
        with self.runtime.read_sessions() as s:
            return credential_source(s, lambda: self.runtime.secret_box).credential(*ref)

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
        started = utcnow()
        clock = time.monotonic()
        credential: Credential | None = None
        try:
            credential = self._credential(item)
        except WalletError as exc:
            result = SendResult(
                PARK, f"cannot read the connector's wallet entry: {exc}", local=True
            )
        else:
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
                    )
            except Exception as exc:  # a bug or a bad setting, not the endpoint: a person looks
                log.exception("outbox %s: the send failed before reaching the endpoint", item.id)
                result = SendResult(PARK, f"the send failed: {type(exc).__name__}", local=True)
        if result.reason:
            # a receiver may echo what we sent (its fault text, say): never store our secret
            secrets = (
                [credential.password, f"{credential.username}:{credential.password}"]
                if credential is not None
                else []
            )
            scrub = Scrubber(secrets)
            result = replace(result, reason=scrub.text(result.reason))
        elapsed = int((time.monotonic() - clock) * 1000)
        return self._record(item, result, started, elapsed)

    def _record(self, item: Claimed, result: SendResult, started: datetime, ms: int) -> str:
        now = utcnow()
        verdict = result.outcome
        with self.runtime.sessions() as s, s.begin():
            row = s.scalar(
                select(OutboxMessage)
                .where(OutboxMessage.id == item.id)
                .options(lazyload(OutboxMessage.connector))
                .with_for_update(of=OutboxMessage)
            )
            assert row is not None
            ours = (
                row.lease_owner == self.name
                and row.attempts == item.attempt
                and row.status == "READY"
            )
            if item.connector_id is not None:
                health = _health(s, item.connector_id)
                state = _breaker(health)
                if verdict == RETRY:
                    _store_breaker(
                        health, on_failure(state, self.breaker, now.timestamp()), result.reason
                    )
                elif not result.local:  # it answered: it is up, even if it refused this one
                    _store_breaker(health, on_success(state))
            if not ours:
                # our lease expired and another worker owns the row now: its outcome counts
                s.add(self._attempt(item, result, started, ms, "RETRY", "lease lost"))
                return verdict
            row.lease_owner = None
            row.lease_until = None
            row.last_http_status = result.http_status
            row.uncertain = row.uncertain or result.uncertain
            if verdict == DELIVERED:
                problem = self._apply_answer(s, item, result.answer)
                if problem is None or problem.startswith(_PARTLY):
                    # delivered; what the answer could not do is noted on the row
                    row.status = "DELIVERED"
                    row.delivered_at = now
                    row.last_error = problem
                else:
                    verdict = PARK
                    result = replace(result, reason=problem)
            if verdict == RETRY:
                if should_retry(item.retry, item.attempt):
                    delay = next_delay(item.retry, item.attempt, self._rng)
                    row.next_attempt_at = now + timedelta(seconds=delay)
                    row.last_error = result.reason
                else:
                    verdict = PARK
                    result = replace(
                        result,
                        reason=f"gave up after {item.attempt} attempts; last: {result.reason}",
                    )
            if verdict == PARK:
                row.status = "PARKED"
                row.parked_at = now
                row.last_error = result.reason
            s.add(self._attempt(item, result, started, ms, verdict))
        log.info(
            "outbox %s (%s) attempt %d to %s: %s%s",
            item.id,
            item.message_id,
            item.attempt,
            item.connector_name,
            verdict,
            f" ({result.reason})" if result.reason else "",
        )
        return verdict

    def _attempt(
        self, item: Claimed, result: SendResult, started: datetime, ms: int, outcome: str,
        note: str | None = None,
    ) -> DeliveryAttempt:  # fmt: skip
        error = result.reason if note is None else f"{note}: {result.reason or 'no error'}"
        return DeliveryAttempt(
            outbox_id=item.id,
            attempt=item.attempt,
            worker=self.name[:100],
            started_at=started,
            duration_ms=ms,
            outcome={DELIVERED: "DELIVERED", RETRY: "RETRY", PARK: "PARKED"}[outcome],
            http_status=result.http_status,
            error=error,
        )

    def _apply_answer(self, s: Session, item: Claimed, answer: Answer | None) -> str | None:
        """Apply a synchronous ``headerTR``; the reason it cannot be applied, if any."""
        if answer is None or item.request_id is None:
            return None
        request = s.get(FulfillmentRequest, item.request_id)
        assert request is not None
        if answer.request_id != request.id:
            return (
                f"the answer is for request {answer.request_id}, not {request.id}; "
                "nothing was applied"
            )
        system = answer.fulfillment_system or request.fulfillment_system
        processor = ResponseProcessor(s, self._reply_to)
        try:
            if request.status == "SENT":
                # its own savepoint: a rejected line must not undo the acknowledgement
                with s.begin_nested():
                    processor.acknowledge(
                        Acknowledgement(
                            system,
                            request.id,
                            "SUCCESS" if answer.status_code == "ACCEPTED" else "ERROR",
                            answer.error_name,
                            answer.error_text,
                        )
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
                if ln.status_code not in ("ACCEPTED", "AWAIT_SHIP", "AWAIT_BILLING")
            )
            if answer.status_code == "ACCEPTED" and lines:
                with s.begin_nested():
                    result = processor.process(
                        FulfillmentResponse(
                            system, answer.response_identifier, request.task_type, lines
                        )
                    )
                errors = [e for o in result.lines for e in o.errors]
                if errors:
                    return _PARTLY + "; ".join(
                        f"line {e.fulfill_line_id}: {e.code} {e.message}" for e in errors
                    )
        except ResponseRejected as exc:
            return f"delivered, but its answer was rejected: {exc}"
        except GatewayError as exc:
            return f"delivered, but its answer could not be applied: {exc}"
        return None

    # -- loops ----------------------------------------------------------------------

    def run_once(self, limit: int | None = None) -> Pass:
        """Claim what is due (up to ``limit``, default the concurrency), send it with the
        pool, and return the verdicts; for tests and ``omgw worker --once``."""
        items = self.claim(limit or self.concurrency)
        counts = {DELIVERED: 0, RETRY: 0, PARK: 0}
        if not items:
            return Pass()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="omgw-send") as pool:
            for verdict in pool.map(self.deliver, items):
                counts[verdict] += 1
        return Pass(counts[DELIVERED], counts[RETRY], counts[PARK])

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
        the sends under way (each bounded by its connector's timeout) and return."""
        inflight: set[Future[str]] = set()
        jeopardy_due = time.monotonic()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="omgw-send") as pool:
            while not stop.is_set():
                if time.monotonic() >= jeopardy_due:
                    jeopardy_due = (
                        time.monotonic() + self.runtime.settings.jeopardy_interval_seconds
                    )
                    self.check_jeopardy()
                try:
                    items = self.claim(self.concurrency - len(inflight))
                except Exception:
                    log.exception("outbox claim failed; retrying in %s s", poll_seconds)
                    items = []
                for item in items:
                    inflight.add(pool.submit(self._deliver_logged, item))
                if not inflight:
                    stop.wait(poll_seconds)
                    continue
                done, inflight = wait(inflight, timeout=poll_seconds, return_when=FIRST_COMPLETED)
                if not done and not items:
                    continue
            wait(inflight)
        self._sender.close()

    def check_jeopardy(self) -> int:
        """Run the jeopardy check once (:mod:`gateway.orders.jeopardy`); returns the lines
        whose priority rose. A failure is logged and tried again at the next interval."""
        try:
            with self.runtime.sessions() as s, s.begin():
                report = JeopardyCheck(s).run()
        except Exception:
            log.exception("jeopardy check failed; it runs again at the next interval")
            return 0
        if report.raised:
            log.info("jeopardy: %d line(s) rose in priority", len(report.raised))
        return len(report.raised)

    def _deliver_logged(self, item: Claimed) -> str:
        try:
            return self.deliver(item)
        except Exception:
            # the lease will expire and the row be tried again: nothing is lost
            log.exception("outbox %s: delivery failed unexpectedly", item.id)
            return RETRY
