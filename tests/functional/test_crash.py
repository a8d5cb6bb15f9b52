"""Kill the gateway (SIGKILL, all processes) under load: every order it acknowledged is
there in full, no order is half-applied, and resending everything creates no duplicate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from sqlalchemy import func, select

from gateway.persistence.models import FulfillLine, OrderHeader, OrderLine
from tests.common.orders import order
from tests.common.soap import client
from tests.functional.test_cli import free_port

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases


def start_server(settings, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env.update(settings.to_env())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--no-background",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail("the gateway did not start")


def test_sigkill_under_load_loses_and_duplicates_nothing(gateway, unique):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(gateway.runtime.settings, port)
    acked: set[str] = set()
    sent: set[str] = set()
    stop = threading.Event()
    lock = threading.Lock()

    def load(worker: int) -> None:
        c = client(base, "OrderImportService")
        n = 0
        while not stop.is_set() and n < 500:
            key = f"{unique}-{worker}-{n}"
            n += 1
            with lock:
                sent.add(key)
            try:
                res = c.service.createOrders(request={"Order": [order(key, [("A", 3), ("B", 4)])]})
            except Exception:
                return  # the server died under us
            assert res[0].ReturnStatus == "SUCCESS" and res[0].MessageName is None
            with lock:
                acked.add(key)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # master and workers, mid-request
    proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) >= 40, "the load never got going"

    with gateway.runtime.sessions() as s:
        rows = s.execute(
            select(
                OrderHeader.source_order_id,
                select(func.count()).where(OrderLine.header_id == OrderHeader.id).scalar_subquery(),
                select(func.count())
                .where(FulfillLine.header_id == OrderHeader.id)
                .scalar_subquery(),
                OrderHeader.status,
            ).where(OrderHeader.source_order_id.like(f"{unique}-%"))
        ).all()
    stored = {r[0] for r in rows}
    assert acked <= stored  # nothing acknowledged was lost
    assert all((r[1], r[2], r[3]) == (2, 2, "OPEN") for r in rows)  # nothing half-applied

    # After a restart, resending everything (as middleware would) duplicates nothing.
    proc = start_server(gateway.runtime.settings, port)
    try:
        c = client(base, "OrderImportService")
        for key in sorted(sent):
            (res,) = c.service.createOrders(request={"Order": [order(key, [("A", 3), ("B", 4)])]})
            assert res.MessageName == ("OMGW-ORDER_EXISTS" if key in stored else None)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    with gateway.runtime.sessions() as s:
        count = s.scalar(
            select(func.count())
            .select_from(OrderHeader)
            .where(OrderHeader.source_order_id.like(f"{unique}-%"))
        )
    assert count == len(sent)
