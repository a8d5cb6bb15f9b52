"""The batched outbox worker loop (``OutboxWorker.run``) keeps every delivery guarantee.

The loop claims rows in batches, sends them from ``concurrency`` threads and records the
outcomes in batches. These tests run the real loop against a small HTTP endpoint on
127.0.0.1 that records what it receives, on SQLite and PostgreSQL, and check the rows,
the attempts and the breaker afterwards: everything delivered exactly once; a failing
endpoint gets no more sends than one-by-one recording would give it and its waiting rows
go back with their attempt undone; a stop gives back what was not sent; a row that waited
too long is not sent on a short lease; a lost lease is recorded as such; one business
event at a time per connector and order, in order; a batch that cannot be recorded is
recorded one by one.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from connectors.connector_specs import ConnectorSpec, RetryPolicy, SourceSystemSpec
from connectors.outbound import RequestLine, build_envelope
from connectors.resilience import BreakerSettings
from connectors.secret_box import Credential
from connectors.verdicts import DELIVERED, SendResult
from gateway.events.publisher import EVENT_KIND
from gateway.outbox import pipeline
from gateway.outbox.delivery import Sent
from gateway.outbox.worker import OutboxWorker
from gateway.persistence.models import (
    Connector,
    ConnectorHealth,
    DeliveryAttempt,
    OutboxMessage,
    utcnow,
)
from gateway.registry.store import Registry
from gateway.registry.wallet_store import Wallet
from gateway.runtime import Runtime
from gateway.startup import prepare
from tests.common.fulfillment_request import request_document
from tests.common.processes import until
from tests.conftest import make_settings

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases

USER, PASSWORD = "wms", "wms-Pa55word-7"
_MESSAGE_ID = re.compile(rb"MessageID[^>]*>([^<]+)<")


@dataclass
class Endpoint:
    """What the fake fulfillment system received, and how it answers."""

    status: int = 202
    delay: float = 0.0
    received: list[str] = field(default_factory=list)
    secured: list[bool] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def endpoint() -> Iterator[tuple[str, Endpoint]]:
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            found = _MESSAGE_ID.search(body)
            with state.lock:
                state.received.append(found.group(1).decode() if found else "?")
                state.secured.append(b"<wsse:Password" in body and PASSWORD.encode() in body)
            if state.delay:
                time.sleep(state.delay)
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/wms", state
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def home_with_connector(database_url: str, home: Path, url: str) -> Iterator[Runtime]:
    settings = make_settings(home, database_url)
    prepare(settings)
    runtime = Runtime(settings)
    with runtime.sessions() as s, s.begin():
        registry = Registry(s, "tests")
        registry.put_source_system(SourceSystemSpec("WMS01", "WMS01", fulfillment=True))
        Wallet(s, lambda: runtime.secret_box, "tests").set(
            "oracle.wsm.security", "WMS_KEY", Credential(USER, PASSWORD)
        )
        registry.put_connector(
            ConnectorSpec(
                "WMS",
                "WMS01",
                url,
                credential_key="WMS_KEY",
                timeout=5.0,
                retry=RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.02),
            )
        )
    try:
        yield runtime
    finally:
        runtime.close()


def enqueue(runtime: Runtime, count: int, kind: str = "FULFILLMENT_REQUEST", order: str = "") -> list[str]:  # fmt: skip
    """``count`` outbox rows for the connector (envelopes as the writer builds them)."""
    ids = []
    with runtime.sessions() as s, s.begin():
        connector = s.scalar(select(Connector).where(Connector.name == "WMS"))
        assert connector is not None
        for i in range(count):
            message_id = f"urn:uuid:test-{kind}-{order}-{i}-{time.monotonic_ns()}"
            doc = request_document(
                request_id=i + 1,
                order_number=order or f"O{i}",
                source_order_id=f"S{i}",
                source_order_number=f"SO{i}",
                currency_code=None,
                lines=(
                    RequestLine(
                        1, 1, "L1", "1", 1, 1, "AS54888", None, Decimal(2), "Ea", "M1",
                        None, None, datetime(2026, 1, 1, tzinfo=UTC), "AWAIT_SHIP",
                    ),
                ),
            )  # fmt: skip
            s.add(
                OutboxMessage(
                    message_id=message_id,
                    kind=kind,
                    connector_id=connector.id,
                    order_number=order or f"O{i}",
                    invocation_mode="ASYNC_SERVICE",
                    operation="processFulfillmentRequest",
                    soap_action="process",
                    payload=build_envelope(
                        doc,
                        "processFulfillmentRequest",
                        message_id=message_id,
                        to=connector.url,
                        reply_to="http://127.0.0.1:8080/reply",
                    ),
                    status="READY",
                    attempts=0,
                    uncertain=False,
                    replays=0,
                )
            )
            ids.append(message_id)
    return ids


def rows(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.read_sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def attempts(runtime: Runtime) -> list[DeliveryAttempt]:
    with runtime.read_sessions() as s:
        return list(s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)))


@contextmanager
def running(worker: OutboxWorker, poll: float = 0.05) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, poll))
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=60)
        assert not thread.is_alive()


def breaker_state(rt: Runtime) -> str | None:
    with rt.read_sessions() as s:
        return s.scalar(select(ConnectorHealth.state))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_the_loop_delivers_a_large_queue_exactly_once(fresh_database_url, home):
    with endpoint() as (url, wms), home_with_connector(fresh_database_url, home, url) as rt:
        sent = enqueue(rt, 300)
        worker = OutboxWorker(rt, concurrency=4)
        with running(worker):
            until(
                lambda: all(m.status == "DELIVERED" for m in rows(rt)),
                "every message delivered",
                30,
            )
        assert sorted(wms.received) == sorted(sent)  # each once
        assert all(wms.secured)  # a UsernameToken on every send
        final = rows(rt)
        assert {(m.attempts, m.lease_owner, m.lease_until, m.uncertain) for m in final} == {
            (1, None, None, False)
        }
        assert all(m.delivered_at is not None and m.last_http_status == 202 for m in final)
        tried = attempts(rt)
        assert len(tried) == 300 and {(a.outcome, a.attempt) for a in tried} == {("DELIVERED", 1)}
        assert {a.outbox_id for a in tried} == {m.id for m in final}
        with rt.read_sessions() as s:
            assert s.scalar(select(ConnectorHealth.state)) == "CLOSED"


def test_a_failing_endpoint_gets_no_more_sends_than_the_breaker_allows(fresh_database_url, home):
    threshold, concurrency = 3, 4
    with endpoint() as (url, wms), home_with_connector(fresh_database_url, home, url) as rt:
        wms.status = 503
        enqueue(rt, 200)
        worker = OutboxWorker(
            rt,
            concurrency=concurrency,
            breaker=BreakerSettings(failure_threshold=threshold, cool_down=60),
        )
        with running(worker):
            until(lambda: breaker_state(rt) == "OPEN", "the breaker recorded open", 30)
            # a window in which a breaker that did not hold would let more sends through
            time.sleep(0.5)
        # each failure pauses the connector until it is recorded: one-by-one recording
        # would let at most the sends under way through after the breaker opened
        assert threshold <= len(wms.received) <= threshold + concurrency
        with rt.read_sessions() as s:
            assert s.scalar(select(ConnectorHealth.state)) == "OPEN"
        final = rows(rt)
        tried = attempts(rt)
        assert len(tried) == len(wms.received)
        assert {a.outcome for a in tried} == {"RETRY"}
        # the rows that were claimed but not sent went back, their attempt undone
        assert {m.status for m in final} == {"READY"} and {m.lease_owner for m in final} == {None}
        assert sum(m.attempts for m in final) == len(wms.received)
        assert sum(1 for m in final if m.attempts) == len(wms.received)


def test_stop_finishes_the_sends_under_way_and_gives_back_the_rest(fresh_database_url, home):
    with endpoint() as (url, wms), home_with_connector(fresh_database_url, home, url) as rt:
        wms.delay = 0.3
        enqueue(rt, 40)
        worker = OutboxWorker(rt, concurrency=2)
        with running(worker):
            until(lambda: len(wms.received) >= 2, "two requests received", 30)
        final = rows(rt)
        delivered = [m for m in final if m.status == "DELIVERED"]
        assert len(delivered) == len(wms.received) >= 2
        assert {m.message_id for m in delivered} == set(wms.received)
        rest = [m for m in final if m.status != "DELIVERED"]
        assert rest and {(m.status, m.attempts, m.lease_owner) for m in rest} == {
            ("READY", 0, None)
        }


def test_a_row_that_waited_too_long_for_a_sender_is_not_sent_on_a_short_lease(
    fresh_database_url, home, monkeypatch
):
    monkeypatch.setattr(pipeline, "QUEUE_SLACK_SECONDS", 0.1)
    with endpoint() as (url, wms), home_with_connector(fresh_database_url, home, url) as rt:
        wms.delay = 0.25  # the second row of each claim waits longer than the slack
        sent = enqueue(rt, 4)
        worker = OutboxWorker(rt, concurrency=1)
        with running(worker, poll=0.02):
            until(
                lambda: all(m.status == "DELIVERED" for m in rows(rt)),
                "every message delivered",
                30,
            )
        assert sorted(wms.received) == sorted(sent)  # released rows were sent later, once
        assert {m.attempts for m in rows(rt)} == {1}  # a release gives the attempt back
        assert len(attempts(rt)) == 4


def test_a_send_whose_lease_was_taken_is_recorded_as_lost(fresh_database_url, home):
    with endpoint() as (url, _wms), home_with_connector(fresh_database_url, home, url) as rt:
        enqueue(rt, 3)
        worker = OutboxWorker(rt, name="w1")
        items = worker.claim(3)
        with rt.sessions() as s, s.begin():  # the lease of the second ran out; w2 took it
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == items[1].id)
                .values(lease_owner="w2", attempts=2)
            )
        now = utcnow()
        batch = [Sent(i, SendResult(DELIVERED, None, 202), now, 1) for i in items]
        verdicts, held = worker.recorder.record_many(batch)
        assert verdicts == [DELIVERED] * 3 and held == set()
        final = rows(rt)
        assert [(m.status, m.lease_owner) for m in final] == [
            ("DELIVERED", None),
            ("READY", "w2"),  # untouched: w2's send counts
            ("DELIVERED", None),
        ]
        tried = {a.outbox_id: a for a in attempts(rt)}
        assert tried[items[1].id].outcome == "RETRY"
        assert (tried[items[1].id].error or "").startswith("lease lost")


def test_business_events_go_one_at_a_time_per_connector_and_order(fresh_database_url, home):
    with endpoint() as (url, wms), home_with_connector(fresh_database_url, home, url) as rt:
        orders = {o: enqueue(rt, 5, EVENT_KIND, o) for o in ("A1", "B2", "C3")}
        worker = OutboxWorker(rt, concurrency=4)
        with running(worker):
            until(
                lambda: all(m.status == "DELIVERED" for m in rows(rt)),
                "every message delivered",
                30,
            )
        for ids in orders.values():
            assert [m for m in wms.received if m in ids] == ids


def test_a_batch_that_cannot_be_recorded_is_recorded_one_by_one(fresh_database_url, home):
    with endpoint() as (url, _wms), home_with_connector(fresh_database_url, home, url) as rt:
        enqueue(rt, 3)
        worker = OutboxWorker(rt, name="w1")
        items = worker.claim(3)
        original = worker.recorder.apply_answer

        def broken(s: Any, item: Any, answer: Any) -> str | None:
            if item.id == items[1].id:
                raise RuntimeError("a bug in applying an answer")
            return original(s, item, answer)

        worker.recorder.apply_answer = broken  # type: ignore[method-assign]
        now = utcnow()
        batch = [Sent(i, SendResult(DELIVERED, None, 202), now, 1) for i in items]
        verdicts, _held = worker.recorder.record_safely(batch)
        assert verdicts[0] == verdicts[2] == DELIVERED
        final = rows(rt)
        assert [m.status for m in final] == ["DELIVERED", "READY", "DELIVERED"]
        assert final[1].lease_owner == "w1"  # its lease runs out; it is sent again
        assert len(attempts(rt)) == 2
