"""Kill the gateway (SIGKILL, all processes) under load: every order it acknowledged is
there in full, no order is half-applied, and resending everything creates no duplicate."""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import AbstractContextManager

import pytest
from sqlalchemy import func, select

from gateway.persistence.models import FulfillLine, OrderHeader, OrderLine
from tests.common.orders import order
from tests.common.processes import Started, started, until
from tests.common.soap import client

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases


def start_server(settings) -> AbstractContextManager[Started]:
    """``omgw serve`` on a free port, in a process group of its own (master and workers)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env.update(settings.to_env())
    args = [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--workers", "2"]
    return started([*args, "--no-background"], env, new_session=True)


def test_sigkill_under_load_loses_and_duplicates_nothing(gateway, unique):
    acked: set[str] = set()
    sent: set[str] = set()
    stop = threading.Event()
    lock = threading.Lock()

    def load(base: str, worker: int) -> None:
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

    with start_server(gateway.runtime.settings) as server:
        threads = [threading.Thread(target=load, args=(server.url, i)) for i in range(4)]
        for t in threads:
            t.start()
        until(lambda: len(acked) >= 40, "40 orders acknowledged", timeout=20, step=0.01)
        os.killpg(server.proc.pid, signal.SIGKILL)  # master and workers, mid-request
        server.proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=30)

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
    with start_server(gateway.runtime.settings) as server:
        c = client(server.url, "OrderImportService")
        for key in sorted(sent):
            (res,) = c.service.createOrders(request={"Order": [order(key, [("A", 3), ("B", 4)])]})
            assert res.MessageName == ("OMGW-ORDER_EXISTS" if key in stored else None)
    with gateway.runtime.sessions() as s:
        count = s.scalar(
            select(func.count())
            .select_from(OrderHeader)
            .where(OrderHeader.source_order_id.like(f"{unique}-%"))
        )
    assert count == len(sent)
