"""Recording: what each send did, written in one transaction per batch of sends.

A batch's transaction records each send's attempt, its verdict on the row (while the
row is still this worker's: a send whose lease ran out and was taken counts as lost) and
its effect on the connector's circuit breaker (:mod:`connectors.resilience`: a failure
counts towards opening it, an answer closes it). A retry waits with full-jitter backoff;
a message that runs out of attempts, or that the endpoint refuses as a client fault, is
parked with the reason. Nothing is ever deleted.

For a synchronous call, the ``headerTR`` answer is applied in the same transaction,
through the entry point of a fulfillment system's acknowledgement and response
(:meth:`gateway.orders.responses.ResponseProcessor.answer`).

The breaker row of each connector is locked and written once per batch, and the
verdicts, the breaker's transitions and the attempts are exactly those of one-by-one
recording. If a batch cannot be recorded, each send is recorded on its own.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from connectors.outbound import Answer
from connectors.resilience import (
    BreakerSettings,
    BreakerState,
    next_delay,
    on_failure,
    on_success,
    should_retry,
)
from connectors.verdicts import DELIVERED, PARK, RETRY, SendResult
from gateway.errors import GatewayError, ResponseRejected
from gateway.orders.message_values import Acknowledgement, FulfillLineResponse, FulfillmentResponse
from gateway.orders.responses import ResponseProcessor
from gateway.outbox.breaker_rows import breaker_state, locked_health, store_breaker
from gateway.outbox.delivery import Claimed, Sent
from gateway.outbox.outcomes import OUTCOMES, breaker_changed, delivery_outcome
from gateway.persistence.models import ConnectorHealth, DeliveryAttempt, OutboxMessage, utcnow
from gateway.runtime import Runtime

__all__ = ["Recorder"]

log = logging.getLogger(__name__)
_PARTLY = "delivered; its answer was applied in part: "
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_ATTEMPTS: Table = DeliveryAttempt.__table__  # type: ignore[assignment]


class Recorder:
    """Records finished sends for the worker named ``name``.

    :param runtime: the database sessions and settings
    :param name: the worker's name: only rows leased to it are changed
    :param breaker: the settings the connectors' breakers are judged by
    :param rng: the randomness of the retry backoff
    """

    def __init__(
        self,
        runtime: Runtime,
        name: str,
        breaker: BreakerSettings,
        rng: random.Random | None = None,
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.breaker = breaker
        self._rng = rng or random.Random()
        self._reply_to = runtime.settings.reply_to

    def record_safely(self, batch: Sequence[Sent]) -> tuple[list[str], set[int]]:
        """Record ``batch`` in one transaction; if that fails, each send on its own. A send
        that cannot be recorded keeps its lease, which runs out: the row is sent again."""
        try:
            return self.record_many(batch)
        except Exception:
            if len(batch) == 1:
                log.exception("outbox %s: recording the send failed", batch[0].item.id)
                return [RETRY], set()
            log.warning("recording %d sends at once failed; recording each", len(batch))
        verdicts: list[str] = []
        held: set[int] = set()
        for sent in batch:
            one, closed = self.record_safely([sent])
            verdicts += one
            held |= closed
        return verdicts, held

    def record_many(self, batch: Sequence[Sent]) -> tuple[list[str], set[int]]:
        """Record ``batch`` in one transaction, in order, as one-by-one recording would:
        each send's attempt, its verdict on the row (while the row is still ours) and
        its effect on the connector's breaker; for a synchronous call, its answer is
        applied. Returns the verdicts and the connectors whose breaker is not closed."""
        now = utcnow()
        verdicts: list[str] = []
        # rows changed alike are written in one statement
        changes: dict[tuple[tuple[str, Any], ...], list[int]] = {}
        attempts: list[dict[str, Any]] = []
        logged: list[tuple[Sent, str, SendResult]] = []
        with self.runtime.sessions() as s, s.begin():
            owner = self.owners(s, batch)
            # each connector's breaker row, locked once (in id order: no deadlocks)
            health: dict[int, tuple[ConnectorHealth, BreakerState]] = {}
            for cid in sorted({b.item.connector_id for b in batch if b.item.connector_id}):
                row = locked_health(s, cid)
                health[cid] = (row, breaker_state(row))
            before = {cid: state.state for cid, (_row, state) in health.items()}
            for sent in batch:
                item, result = sent.item, sent.result
                verdict = result.outcome
                if item.connector_id is not None:
                    hrow, state = health[item.connector_id]
                    if verdict == RETRY:
                        state = on_failure(state, self.breaker, now.timestamp())
                        store_breaker(hrow, state, result.reason)
                    elif not result.local:  # it answered: it is up, even if it refused this
                        state = on_success(state)
                        store_breaker(hrow, state)
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
                    problem = self.apply_answer(s, item, result.answer)
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
            s.execute(insert(_ATTEMPTS), attempts)
        names = {b.item.connector_id: b.item.connector_name for b in batch}
        for cid, (_row, state) in health.items():
            if state.state != before[cid]:
                breaker_changed(names[cid], before[cid], state.state)
        for sent, verdict, result in logged:
            delivery_outcome(sent.item, verdict, result)
        return verdicts, {cid for cid, (_row, st) in health.items() if st.state != "CLOSED"}

    def owners(self, s: Session, batch: Sequence[Sent]) -> dict[int, int]:
        """The rows of ``batch`` leased to this worker, each with its attempt number,
        locked until the transaction ends (SQLite: the write lock is the whole file's).
        One query reads the rows' leases; those that are not ours any more (their lease
        ran out and was taken) are left out.

        The statement is the same for every batch (an expanding ``IN``) and the attempts
        are compared here, not in SQL, so it is compiled once: a statement per batch
        size would each stay in SQLAlchemy's compiled cache (500 entries per engine),
        and the worker's memory would grow with every batch size it meets."""
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
        self, sent: Sent, outcome: str, result: SendResult, note: str | None = None
    ) -> dict[str, Any]:
        error = result.reason if note is None else f"{note}: {result.reason or 'no error'}"
        return {
            "outbox_id": sent.item.id,
            "attempt": sent.item.attempt,
            "worker": self.name[:100],
            "started_at": sent.started,
            "duration_ms": sent.ms,
            "outcome": OUTCOMES[outcome],
            "http_status": result.http_status,
            "error": error,
        }

    def apply_answer(self, s: Session, item: Claimed, answer: Answer | None) -> str | None:
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
