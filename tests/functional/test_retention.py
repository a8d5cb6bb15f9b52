"""Retention: old message-log rows and delivered messages of finished orders are pruned in
short, bounded transactions; recent rows and anything an open order needs are kept
(README "What is stored and logged"), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from gateway.background import run_loop
from gateway.config import Settings
from gateway.persistence.message_log_writer import write_log
from gateway.persistence.models import (
    DeliveryAttempt,
    MessageLog,
    OrderHeader,
    OutboxMessage,
    SourceSystem,
    utcnow,
)
from gateway.persistence.retention import prune, prune_message_log
from gateway.runtime import Runtime
from tests.common.processes import until
from tests.conftest import Admin, make_settings, seeded

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases


@pytest.fixture
def runtime(fresh_database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with seeded(make_settings(tmp_path / "home", fresh_database_url)) as running:
        yield running


def _log_rows(runtime: Runtime, ages_days: list[float], tag: str, size: int = 4) -> None:
    now = utcnow()
    with runtime.sessions() as s, s.begin():
        for age in ages_days:
            write_log(
                s,
                dict(
                    received_at=now - timedelta(days=age),
                    service="OrderInformationService",
                    operation=tag,
                    outcome="FAULT",
                    fault_code="AUTH_REQUIRED",
                    http_status=500,
                    duration_ms=1,
                    payload="x" * size,
                ),
            )


def _ages(runtime: Runtime, tag: str) -> list[int]:
    now = utcnow()
    with runtime.read_sessions() as s:
        got = s.scalars(select(MessageLog.received_at).where(MessageLog.operation == tag))
        return sorted((now - (at if at.tzinfo else at.replace(tzinfo=UTC))).days for at in got)


class _Deletes:
    """The DELETE statements run on an engine and the transactions they ran in."""

    def __init__(self, runtime: Runtime, table: str) -> None:
        self.events: list[tuple[str, int]] = []
        self._table = table
        engine = runtime.engine
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine, "commit", self._committed)

    def _executed(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(f"DELETE FROM {self._table.upper()}"):
            self.events.append(("delete", cursor.rowcount))

    def _committed(self, conn: Any) -> None:
        if self.events and self.events[-1][0] == "delete":
            self.events.append(("commit", 0))


def test_old_message_log_rows_go_in_bounded_batches_and_recent_ones_stay(runtime):
    _log_rows(runtime, [40] * 25 + [29, 1, 0], "retention")
    deletes = _Deletes(runtime, "message_log")
    before = utcnow() - timedelta(days=30)

    assert prune_message_log(
        runtime.read_sessions, runtime.sessions, before, batch_size=10, max_batches=1
    ) == (10, True)
    assert prune_message_log(runtime.read_sessions, runtime.sessions, before, batch_size=10) == (
        15,
        False,
    )

    # one transaction per batch, none larger than the batch
    assert deletes.events == [("delete", 10), ("commit", 0)] * 2 + [("delete", 5), ("commit", 0)]
    assert _ages(runtime, "retention") == [0, 1, 29]


def test_a_batch_holds_a_bounded_number_of_payload_bytes(runtime):
    _log_rows(runtime, [40] * 4, "bytes", size=1000)
    _log_rows(runtime, [40], "bytes", size=9000)  # larger than a batch: alone
    _log_rows(runtime, [40] * 2, "bytes", size=1000)
    deletes = _Deletes(runtime, "message_log")
    before = utcnow() - timedelta(days=30)

    got = prune_message_log(runtime.read_sessions, runtime.sessions, before, batch_bytes=2500)

    assert got == (7, False)
    assert [n for kind, n in deletes.events if kind == "delete"] == [2, 2, 1, 2]
    assert _ages(runtime, "bytes") == []


def test_zero_days_keeps_everything(runtime):
    _log_rows(runtime, [4000, 40], "forever")
    pruned = prune(
        runtime.read_sessions, runtime.sessions, utcnow(), message_log_days=0, outbox_days=0
    )
    assert (pruned.message_log, pruned.outbox) == (0, 0)
    assert _ages(runtime, "forever") == [40, 4000]


def _order(s: Any, number: str, status: str, revision: str = "1") -> OrderHeader:
    system = s.scalar(select(SourceSystem).where(SourceSystem.code == "LEGACY"))
    header = OrderHeader(
        order_number=number,
        source_system_id=system.id,
        source_order_id=number,
        source_order_number=number,
        revision=revision,
        revision_seq=int(revision),
        status=status,
    )
    s.add(header)
    s.flush()
    return header


def _sent(s: Any, tag: str, header: OrderHeader | None, status: str, age_days: float) -> int:
    at = utcnow() - timedelta(days=age_days)
    row = OutboxMessage(
        message_id=f"urn:uuid:{tag}",
        kind="FULFILLMENT_REQUEST" if header is not None else "EMAIL",
        header_id=header.id if header is not None else None,
        order_number=header.order_number if header is not None else None,
        invocation_mode="ASYNC_SERVICE",
        operation="processFulfillmentRequest",
        soap_action="x",
        payload=b"<x/>",
        status=status,
        attempts=1,
        created_at=at,
        next_attempt_at=at,
        delivered_at=at if status == "DELIVERED" else None,
        parked_at=at if status == "PARKED" else None,
    )
    s.add(row)
    s.flush()
    s.add(DeliveryAttempt(outbox_id=row.id, attempt=1, worker="w", duration_ms=3, outcome=status))
    return row.id


def test_delivered_messages_of_finished_orders_go_and_an_open_order_keeps_all(runtime, unique):
    with runtime.sessions() as s, s.begin():
        closed = _order(s, f"C{unique}", "CLOSED")
        canceled = _order(s, f"X{unique}", "CANCELED")
        _order(s, f"R{unique}", "DOO_REFERENCE", "1")  # a superseded revision ...
        reopened = _order(s, f"R{unique}", "OPEN", "2")  # ... of an order still open
        open_ = _order(s, f"O{unique}", "OPEN")
        gone = {
            _sent(s, f"a-{unique}", closed, "DELIVERED", 100),
            _sent(s, f"b-{unique}", canceled, "DELIVERED", 100),
            _sent(s, f"c-{unique}", None, "DELIVERED", 100),  # an e-mail, no order
        }
        kept = {
            _sent(s, f"d-{unique}", open_, "DELIVERED", 100),
            _sent(s, f"e-{unique}", reopened, "DELIVERED", 100),
            _sent(s, f"f-{unique}", closed, "DELIVERED", 10),  # recent
            _sent(s, f"g-{unique}", closed, "PARKED", 100),  # parked: an admin decides
            _sent(s, f"h-{unique}", open_, "READY", 100),
        }
    deletes = _Deletes(runtime, "outbox")

    pruned = prune(
        runtime.read_sessions,
        runtime.sessions,
        utcnow(),
        message_log_days=0,
        outbox_days=90,
        batch_size=2,
    )

    assert (pruned.outbox, pruned.delivery_attempts, pruned.more) == (3, 3, False)
    assert [n for kind, n in deletes.events if kind == "delete"] == [2, 1]
    with runtime.read_sessions() as s:
        left = set(s.scalars(select(OutboxMessage.id)))
        attempts = set(s.scalars(select(DeliveryAttempt.outbox_id)))
    assert not gone & left and kept <= left
    assert not gone & attempts and kept <= attempts


def test_the_background_loop_prunes(runtime):
    _log_rows(runtime, [45] * 30 + [2], "loop")
    stop = threading.Event()
    loop = threading.Thread(target=run_loop, args=(runtime, stop, lambda: 0), daemon=True)
    loop.start()
    try:
        until(lambda: _ages(runtime, "loop") == [2], "the loop to prune", timeout=20)
    finally:
        stop.set()
        loop.join(timeout=20)


def test_omgw_messages_prune_uses_the_settings_or_its_options(admin: Admin):
    settings_env = {**admin.env, "OMGW_MESSAGE_LOG_RETENTION_DAYS": "10"}
    runtime = Runtime(Settings.from_env({k: v for k, v in settings_env.items() if v}))
    try:
        _log_rows(runtime, [400, 40, 5], "cli")
    finally:
        runtime.close()
    admin.env = settings_env
    assert admin.json("messages", "prune", "--message-log-days", "100") == {
        "message_log": 1,
        "outbox": 0,
        "delivery_attempts": 0,
    }
    out = admin.ok("messages", "prune", "--batch", "1")
    assert "1 message-log rows" in out
    runtime = Runtime(Settings.from_env({k: v for k, v in settings_env.items() if v}))
    try:
        assert _ages(runtime, "cli") == [5]
        with runtime.read_sessions() as s:
            assert s.scalar(select(func.count()).select_from(MessageLog)) == 1
    finally:
        runtime.close()
