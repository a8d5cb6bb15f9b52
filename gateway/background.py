"""Background processing: staged orders, staged fulfillment responses, nonce purging.

Each staged row is claimed and processed in its own transaction, so several
processes can share the work: PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``;
SQLite's ``BEGIN IMMEDIATE`` serialises writers. A row that fails is marked ``ERROR``
with the reason in a second transaction; nothing is dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import GatewayError
from gateway.orders.commands import FulfillmentResponse, OrderInput
from gateway.orders.intake import OrderIntake
from gateway.orders.responses import ResponseProcessor
from gateway.persistence.models import StagedOrder, StagedResponse, utcnow
from gateway.runtime import Runtime

__all__ = ["Counts", "import_staged_orders", "process_staged_responses", "run_loop"]

log = logging.getLogger(__name__)
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


def run_loop(runtime: Runtime, stop: threading.Event, purge: Callable[[], int]) -> None:
    """Work until ``stop`` is set, sleeping between passes that found nothing."""
    interval = runtime.settings.background_interval_seconds
    while not stop.is_set():
        try:
            orders = import_staged_orders(runtime)
            responses = process_staged_responses(runtime)
            purge()
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
