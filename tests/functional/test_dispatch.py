"""Dispatch end to end: a real gateway, the real outbox worker, the simulated fulfillment
system on 127.0.0.1, SQLite and PostgreSQL. Orders go in through createOrders; the
worker sends each request (sync or async) and the answers close the order. Faults are
injected by the simulator; every test asserts the final state of each order and message:
nothing lost, nothing applied twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.connector_specs import RetryPolicy
from gateway.persistence.models import (
    ConnectorHealth,
    DeliveryAttempt,
    FulfillLine,
    FulfillmentRequest,
)
from tests.common.flow import flow, run_until
from tests.common.processes import until

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.mark.parametrize("mode", ["ASYNC_SERVICE", "SYNC_SERVICE"])
def test_an_order_is_shipped_billed_and_closed_through_the_connector(
    fresh_database_url, home, unique, mode
):
    with flow(fresh_database_url, home, mode) as f:
        number = f.submit(f"D{unique}", [("AS54888", 4), ("CM5008", 2)])
        assert f.status(number) == "OPEN"
        run_until(f, lambda: f.status(number) == "CLOSED")

        flines = f.flines(number)
        assert [fl.status for fl in flines] == ["CLOSED", "CLOSED"]
        assert all(fl.tracking_number and fl.billing_number for fl in flines)
        assert {fl.warehouse for fl in flines} == {"M1"}  # the Reservation step decided
        # one shipment and one invoice request, both through the connector, both delivered
        sent = f.outbox()
        assert [(m.task_type, m.status, m.attempts, m.uncertain) for m in sent] == [
            ("Shipment", "DELIVERED", 1, False),
            ("Invoice", "DELIVERED", 1, False),
        ]
        expected_op = (
            "processFulfillmentRequestSync"
            if mode == "SYNC_SERVICE"
            else "processFulfillmentRequest"
        )
        assert {m.operation for m in sent} == {expected_op}
        with f.gw.runtime.read_sessions() as s:
            requests = s.scalars(
                select(FulfillmentRequest).where(
                    FulfillmentRequest.id.in_([m.request_id for m in sent])
                )
            ).all()
            assert {r.status for r in requests} == {"ACCEPTED"}
        state = f.sim.state()
        # the simulator saw each request once, authenticated with the wallet's entry
        assert [r["message_id"] for r in state["requests"]] == [m.message_id for m in sent]
        assert state["counters"]["duplicates"] == 0
        assert state["counters"]["callbacks_sent"] == (0 if mode == "SYNC_SERVICE" else 4)


def test_an_endpoint_that_is_down_opens_the_breaker_and_everything_is_delivered_when_it_is_back(
    fresh_database_url, home, unique
):
    retry = RetryPolicy(max_attempts=50, base_delay=0.01, max_delay=0.02)
    with flow(fresh_database_url, home, retry=retry, failure_rate=1.0) as f:
        f.cool_down = 3.0  # long enough to see the queue held; the probe comes after
        numbers = [f.submit(f"B{unique}{i}", [("AS54888", 1)]) for i in range(3)]
        worker = f.worker()
        for _ in range(12):
            worker.run_once()
            time.sleep(0.02)
        with f.gw.runtime.read_sessions() as s:
            health = s.get(ConnectorHealth, f.outbox()[0].connector_id)
            assert health is not None and health.state in ("OPEN", "HALF_OPEN")
            assert "503" in (health.last_error or "")
        held = f.sim.state()["counters"]["failures"]
        # while open, the queue is held: nothing is sent, nothing fails for good
        assert worker.run_once().total == 0
        assert f.sim.state()["counters"]["failures"] == held
        assert {m.status for m in f.outbox()} == {"READY"}

        f.sim.control(failure_rate=0.0)
        run_until(f, lambda: all(f.status(n) == "CLOSED" for n in numbers))
        with f.gw.runtime.read_sessions() as s:
            health = s.get(ConnectorHealth, f.outbox()[0].connector_id)
            assert health is not None and (health.state, health.failures) == ("CLOSED", 0)
            retries = s.scalar(
                select(func.count())
                .select_from(DeliveryAttempt)
                .where(DeliveryAttempt.outcome == "RETRY")
            )
        assert retries >= 3
        assert {m.status for m in f.outbox()} == {"DELIVERED"}
        assert f.sim.state()["counters"]["duplicates"] == 0


def test_a_soap_client_fault_is_parked_at_once_with_the_reason_and_nothing_is_applied(
    fresh_database_url, home, unique
):
    with flow(fresh_database_url, home, fault_rate=1.0) as f:
        number = f.submit(f"F{unique}", [("AS54888", 1)])
        assert f.worker().run_once().parked == 1
        (msg,) = f.outbox()
        assert (msg.status, msg.attempts, msg.last_http_status) == ("PARKED", 1, 500)
        assert msg.last_error.startswith("SOAP fault Client: simulated fault")
        assert [fl.status for fl in f.flines(number)] == ["AWAIT_SHIP"]
        # a parked message is not sent again by itself
        assert f.worker().run_once().total == 0
        # the breaker stays closed: the endpoint answered
        with f.gw.runtime.read_sessions() as s:
            health = s.get(ConnectorHealth, msg.connector_id)
            assert health is not None and health.state == "CLOSED"


def test_a_timeout_is_retried_with_the_same_message_id_and_applied_once(
    fresh_database_url, home, unique
):
    with flow(fresh_database_url, home, timeout=0.5, slow=1.5) as f:
        number = f.submit(f"T{unique}", [("AS54888", 3)])
        result = f.worker().run_once()
        assert result.retried == 1
        # the simulator did receive it, and may already have answered (the invoice
        # request then follows): the shipment request stays queued, marked uncertain
        msg = f.outbox()[0]
        assert (msg.task_type, msg.status, msg.uncertain) == ("Shipment", "READY", True)
        assert "no answer within 0.5 s" in msg.last_error
        f.sim.control(slow=0.0)
        run_until(f, lambda: f.status(number) == "CLOSED" and f.settled())
        state = f.sim.state()
        first = state["requests"][0]
        assert first["message_id"] == msg.message_id
        assert first["times_received"] == 2 and first["applied"] is True
        assert state["counters"]["duplicates"] == 1
        # shipped once: one fulfillment line, its full quantity
        (fline,) = f.flines(number)
        assert (fline.status, fline.shipped_quantity) == ("CLOSED", 3)


def test_duplicate_callbacks_are_applied_once(fresh_database_url, home, unique):
    with flow(fresh_database_url, home, duplicate_callbacks=True) as f:
        number = f.submit(f"C{unique}", [("AS54888", 5)])
        run_until(f, lambda: f.status(number) == "CLOSED")
        until(lambda: f.sim.state()["counters"]["callbacks_sent"] >= 8, "8 callbacks sent", 20)
        (fline,) = f.flines(number)
        assert (fline.status, fline.shipped_quantity) == ("CLOSED", 5)
        with f.gw.runtime.read_sessions() as s:
            assert s.scalar(select(func.count()).select_from(FulfillLine)) == 1


def test_a_partial_shipment_splits_the_line_and_the_remainder_awaits_shipment(
    fresh_database_url, home, unique
):
    with flow(fresh_database_url, home, partial_rate=1.0) as f:
        number = f.submit(f"P{unique}", [("AS54888", 4)])
        run_until(f, lambda: len(f.flines(number)) == 2 and f.flines(number)[0].status == "CLOSED")
        first, rest = f.flines(number)
        assert (first.quantity, first.shipped_quantity, rest.quantity) == (2, 2, 2)
        assert rest.status == "AWAIT_SHIP" and rest.split_from_id == first.id
        assert f.status(number) == "OPEN"


def test_a_worker_killed_mid_send_leaves_the_message_to_another_which_sends_it_again(
    fresh_database_url, home, unique
):
    """SIGKILL during a send: the lease expires, a second worker sends the same
    message id, the simulator applies it once, and the order closes."""
    with flow(fresh_database_url, home, timeout=1.0, slow=4.0) as f:
        number = f.submit(f"K{unique}", [("AS54888", 2)])
        env = {**os.environ, **f.gw.runtime.settings.to_env(), "OMGW_LEASE_SECONDS": "5"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker", "--name", "doomed"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            until(lambda: f.sim.state()["counters"]["received"] >= 1, "a request received", 30)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        msg = f.outbox()[0]
        assert (msg.status, msg.lease_owner, msg.attempts) == ("READY", "doomed", 1)
        f.sim.control(slow=0.0)
        # the lease (5 s, at least the connector timeout + 5) must run out first
        assert msg.lease_until is not None
        assert msg.lease_until.replace(tzinfo=UTC) > datetime.now(UTC)
        # the simulator had the request before the kill, so its answer may close the
        # order first; the shipment request is sent again all the same (same id)
        run_until(f, lambda: f.status(number) == "CLOSED" and f.settled(), seconds=40)
        (msg, _invoice) = f.outbox()
        assert (msg.status, msg.attempts, msg.uncertain) == ("DELIVERED", 2, True)
        state = f.sim.state()
        assert state["requests"][0]["times_received"] == 2
        assert state["requests"][0]["applied"] is True
        (fline,) = f.flines(number)
        assert (fline.status, fline.shipped_quantity) == ("CLOSED", 2)


@pytest.mark.postgres
def test_two_workers_share_one_queue_on_postgres_and_send_each_message_once(home, unique, request):
    url = request.getfixturevalue("pg_database_url")
    with flow(url, home) as f:
        numbers = [f.submit(f"W{unique}{i}", [("AS54888", 1), ("CM5008", 1)]) for i in range(8)]
        stop = threading.Event()
        workers = [f.worker(name=f"w{i}", concurrency=3) for i in range(2)]
        threads = [threading.Thread(target=w.run, args=(stop, 0.05)) for w in workers]
        for t in threads:
            t.start()
        try:
            until(lambda: all(f.status(n) == "CLOSED" for n in numbers), "every order closed", 60)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        sent = f.outbox()
        assert len(sent) == 16 and {m.status for m in sent} == {"DELIVERED"}
        assert {m.attempts for m in sent} == {1}
        state = f.sim.state()
        assert state["counters"]["duplicates"] == 0
        assert len(state["requests"]) == 16
        with f.gw.runtime.read_sessions() as s:
            by_worker = dict(
                s.execute(
                    select(DeliveryAttempt.worker, func.count()).group_by(DeliveryAttempt.worker)
                ).all()
            )
        assert sum(by_worker.values()) == 16


def test_sigterm_lets_the_worker_finish_its_send_and_release_nothing_half_done(
    fresh_database_url, home, unique
):
    with flow(fresh_database_url, home, timeout=10.0, slow=2.0) as f:
        f.submit(f"G{unique}", [("AS54888", 1)])
        env = {**os.environ, **f.gw.runtime.settings.to_env()}
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker", "--name", "graceful"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            until(lambda: f.sim.state()["counters"]["received"] >= 1, "a request received", 30)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err
        msg = f.outbox()[0]
        # the send under way was finished and recorded, not abandoned to its lease
        assert (msg.status, msg.lease_owner, msg.attempts) == ("DELIVERED", None, 1)
        assert "graceful" in out
