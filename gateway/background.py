"""Background processing: staged orders, staged fulfillment responses, nonce purging,
pruning what has outlived its retention (gateway.persistence.retention), the jeopardy
check (gateway.orders.jeopardy) and the monitor that raises alerts
(gateway.observe.alerts). This loop is the one that runs domain jobs; the outbox worker
only delivers.

Each staged row is claimed and processed in its own transaction, so several
processes can share the work: PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``;
SQLite's ``BEGIN IMMEDIATE`` serialises writers. A row that fails is marked ``ERROR``
with the reason in a second transaction; nothing is dropped.

The jeopardy check runs at start and every ``OMGW_JEOPARDY_INTERVAL_SECONDS``, a batch of
open lines per transaction (:func:`gateway.orders.jeopardy.check_in_batches`), and its
run is kept in ``job_runs`` for ``omgw status``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import GatewayError
from gateway.observe.alerts import run_monitor
from gateway.observe.beats import record_job
from gateway.observe.ops_snapshot import JOB_JEOPARDY
from gateway.orders.intake import OrderIntake
from gateway.orders.jeopardy import check_in_batches
from gateway.orders.message_values import FulfillmentResponse, OrderInput
from gateway.orders.responses import ResponseProcessor
from gateway.persistence.models import StagedOrder, StagedResponse, utcnow
from gateway.persistence.retention import Pruned, prune
from gateway.runtime import Runtime

__all__ = [
    "PRUNE_INTERVAL_SECONDS",
    "Counts",
    "check_jeopardy",
    "import_staged_orders",
    "process_staged_responses",
    "prune_expired",
    "run_loop",
]

log = logging.getLogger(__name__)
#: how often the loop prunes; a pass deletes at most _PRUNE_BATCHES batches per table, and
#: the next pass (one background interval later) goes on when more were left
PRUNE_INTERVAL_SECONDS = 60.0
_PRUNE_BATCHES = 20
Row = TypeVar("Row", StagedOrder, StagedResponse)


@dataclass(frozen=True)
class Counts:
    done: int = 0
    failed: int = 0


def _claim(session: Session, model: type[Row]) -> Row | None:
    stmt = select(model).where(model.status == "STAGED").order_by(model.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.scalar(stmt)


def _drain(
    runtime: Runtime, model: type[Row], handle: Callable[[Session, Row], None], limit: int
) -> Counts:
    done = failed = 0
    for _ in range(limit):
        error: GatewayError | None = None
        row_id = None
        with runtime.sessions() as s:
            try:
                with s.begin():
                    row = _claim(s, model)
                    if row is None:
                        break
                    row_id = row.id
                    handle(s, row)
                    row.status = "IMPORTED" if model is StagedOrder else "PROCESSED"
                    row.processed_at = utcnow()
                done += 1
                continue
            except GatewayError as exc:
                error = exc
            except Exception as exc:
                log.exception("staged %s %s failed unexpectedly", model.__tablename__, row_id)
                error = GatewayError("INTERNAL_ERROR", f"{type(exc).__name__}: see the server log")
        failed += 1
        if row_id is None:  # the claim itself failed: nothing to mark; try next pass
            break
        with runtime.sessions() as s, s.begin():
            row = s.get(model, row_id)
            if row is not None:
                row.status = "ERROR"
                row.error_code = error.code
                row.error_message = error.message
                row.processed_at = utcnow()
    return Counts(done, failed)


def import_staged_orders(runtime: Runtime, limit: int = 500) -> Counts:
    def handle(session: Session, row: StagedOrder) -> None:
        intake = OrderIntake(
            session, runtime.settings.default_fulfillment_system, runtime.settings.reply_to
        )
        outcome = intake.create(OrderInput.from_json(row.payload_json), row.batch_name)
        session.flush()
        row.header_id = outcome.header.id

    return _drain(runtime, StagedOrder, handle, limit)


def process_staged_responses(runtime: Runtime, limit: int = 500) -> Counts:
    def handle(session: Session, row: StagedResponse) -> None:
        ResponseProcessor(session, runtime.settings.reply_to).process(
            FulfillmentResponse.from_json(row.payload_json)
        )

    return _drain(runtime, StagedResponse, handle, limit)


def prune_expired(runtime: Runtime, max_batches: int | None = _PRUNE_BATCHES) -> Pruned:
    """Prune every table past its retention (``OMGW_*_RETENTION_DAYS``)."""
    settings = runtime.settings
    pruned = prune(
        runtime.read_sessions,
        runtime.sessions,
        utcnow(),
        settings.message_log_retention_days,
        settings.outbox_retention_days,
        max_batches=max_batches,
    )
    if pruned.message_log or pruned.outbox:
        log.info(
            "pruned %d message-log rows, %d delivered outbox messages (%d attempts)",
            pruned.message_log,
            pruned.outbox,
            pruned.delivery_attempts,
        )
    return pruned


def check_jeopardy(runtime: Runtime) -> int:
    """Run the jeopardy check once (:mod:`gateway.orders.jeopardy`), a batch of lines
    per transaction, and note the run for ``omgw status``; returns the lines whose
    priority rose. A failure is logged and tried again at the next interval (the
    batches already committed stay)."""

    @contextmanager
    def transaction() -> Iterator[Session]:
        with runtime.sessions() as s, s.begin():
            yield s

    try:
        report = check_in_batches(transaction)
        with runtime.sessions() as s, s.begin():
            record_job(s, JOB_JEOPARDY, utcnow(), f"{len(report.raised)} line(s) raised")
    except Exception:
        log.exception("jeopardy check failed; it runs again at the next interval")
        return 0
    if report.raised:
        log.info("jeopardy: %d line(s) rose in priority", len(report.raised))
    return len(report.raised)


def run_loop(runtime: Runtime, stop: threading.Event, purge: Callable[[], int]) -> None:
    """Work until ``stop`` is set, sleeping between passes that found nothing."""
    interval = runtime.settings.background_interval_seconds
    next_prune = next_jeopardy = 0.0
    # not at once: the outbox workers starting beside this loop say they are alive first
    next_monitor = time.monotonic() + runtime.settings.monitor_interval_seconds
    while not stop.is_set():
        if time.monotonic() >= next_monitor:
            # first and on its own: whatever fails below, alerts are still looked for
            next_monitor = time.monotonic() + runtime.settings.monitor_interval_seconds
            try:
                run_monitor(runtime)
            except Exception:
                log.exception("the monitor pass failed; it runs again in %s s", interval)
        if time.monotonic() >= next_jeopardy:
            next_jeopardy = time.monotonic() + runtime.settings.jeopardy_interval_seconds
            check_jeopardy(runtime)
        try:
            orders = import_staged_orders(runtime)
            responses = process_staged_responses(runtime)
            purge()
            if time.monotonic() >= next_prune:
                more = prune_expired(runtime).more
                next_prune = time.monotonic() + (0.0 if more else PRUNE_INTERVAL_SECONDS)
            if orders.done or orders.failed or responses.done or responses.failed:
                log.info(
                    "background: orders %d imported / %d failed; responses %d / %d",
                    orders.done,
                    orders.failed,
                    responses.done,
                    responses.failed,
                )
                continue
        except Exception:
            log.exception("background pass failed; retrying after %s s", interval)
        stop.wait(interval)
