"""Scale-out on PostgreSQL: two ``omgw serve`` instances and two ``omgw worker`` processes
on one database, one of each killed mid-run (SIGKILL), and nothing lost or doubled.

Callers spread their orders over both instances and, when theirs dies, send what it did
not answer to the other, as middleware behind a load balancer would. Both instances give
the simulated warehouse one callback address (the balancer's: here a third, in-process
gateway on the same database), so a callback never depends on the instance that wrote
the request.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.persistence.models import DeliveryAttempt, OrderHeader, OutboxMessage
from tests.common.flow import Flow, flow
from tests.common.orders import order
from tests.common.processes import started, until
from tests.common.soap import client

pytestmark = pytest.mark.postgres

#: callers, and the orders each sends after the kill (they send until it, up to a bound
#: that keeps a failed wait from leaving them sending)
CALLERS, ORDERS_AFTER_KILL, MOST_ORDERS = 4, 4, 300


def test_two_gateways_and_two_workers_lose_and_double_nothing_when_one_of_each_dies(
    tmp_path: Path, unique: str, pg_database_url: str
):
    with flow(pg_database_url, tmp_path / "home") as f:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
        env.update(f.gw.runtime.settings.to_env())
        env.update(OMGW_PUBLIC_URL=f.gw.base, OMGW_LEASE_SECONDS="5", OMGW_LOG_LEVEL="WARNING")
        serve = [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--no-background"]
        workers = {
            name: subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "worker", "--name", name],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            for name in ("doomed", "survivor")
        }
        acked: dict[str, str] = {}
        answered_by: Counter[str] = Counter()
        failed_over: list[str] = []
        sent: Counter[int] = Counter()
        killed = threading.Event()
        lock = threading.Lock()
        try:
            with (
                started([*serve, "--workers", "1"], env, new_session=True) as doomed,
                started([*serve, "--workers", "1"], env, new_session=True) as survivor,
            ):

                def call(caller: int) -> None:
                    bases = [doomed.url, survivor.url] if caller % 2 else [survivor.url]
                    after = 0
                    # every caller is still sending when the instance dies: a caller of
                    # the doomed one then has a request refused, and sends it on
                    while after < ORDERS_AFTER_KILL and sent[caller] < MOST_ORDERS:
                        after += killed.is_set()
                        key = f"{unique}-{caller}-{sent[caller]}"
                        sent[caller] += 1
                        payload = {"Order": [order(key, [("AS54888", 2)])]}
                        while True:
                            try:
                                imports = client(bases[0], "OrderImportService")
                                (res,) = imports.service.createOrders(request=payload)
                                break
                            except Exception:
                                if len(bases) == 1:
                                    raise
                                bases.pop(0)  # its instance died: send it to the other
                                failed_over.append(key)
                        assert res.ReturnStatus == "SUCCESS", res
                        with lock:
                            acked[key] = str(res.OrderNumber)
                            answered_by[bases[0]] += 1

                callers = [threading.Thread(target=call, args=(i,)) for i in range(CALLERS)]
                for t in callers:
                    t.start()
                until(
                    lambda: len(acked) >= CALLERS * 3 and _attempts_by(f, "doomed") > 0,
                    "the first orders acknowledged and sent by the doomed worker",
                    60,
                )
                os.killpg(doomed.proc.pid, signal.SIGKILL)  # master and worker, mid-request
                killed.set()
                os.killpg(workers["doomed"].pid, signal.SIGKILL)  # mid-send, holding leases
                doomed.proc.wait(timeout=10)
                workers["doomed"].wait(timeout=10)
                for t in callers:
                    t.join(timeout=120)
                assert len(acked) == sum(sent.values()), "a caller gave up"
                # a request the killed worker sent may close its order before its lease
                # runs out; the survivor then sends it again, under the same message id
                until(
                    lambda: all(f.status(n) == "CLOSED" for n in acked.values()) and f.settled(),
                    "every order closed and every message delivered",
                    timeout=120,
                    step=0.5,
                )
        finally:
            for proc in workers.values():
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=30)

        # both instances answered, and callers of the killed one went to the other
        assert answered_by[doomed.url] > 0 and answered_by[survivor.url] > 0
        assert failed_over
        assert _attempts_by(f, "survivor") > 0
        with f.gw.runtime.read_sessions() as s:
            per_key = Counter(
                dict(
                    s.execute(
                        select(OrderHeader.source_order_id, func.count())
                        .where(OrderHeader.source_order_id.like(f"{unique}-%"))
                        .group_by(OrderHeader.source_order_id)
                    ).all()
                )
            )
            messages = s.scalars(select(OutboxMessage)).all()
        # every acknowledged order is there, once (a resend found it: ORDER_EXISTS)
        assert set(per_key) == set(acked) and set(per_key.values()) == {1}
        # one shipment and one invoice request per order, each delivered
        assert len(messages) == 2 * len(acked)
        assert {m.status for m in messages} == {"DELIVERED"}
        state = f.sim.state()
        ids = Counter(r["message_id"] for r in state["requests"])
        # the warehouse saw each request once or, sent again after the kill, under the
        # same message id: it applied each exactly once
        assert len(ids) == 2 * len(acked)
        assert all(r["applied"] for r in state["requests"])


def _attempts_by(f: Flow, worker: str) -> int:
    with f.gw.runtime.read_sessions() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(DeliveryAttempt)
                .where(DeliveryAttempt.worker == worker)
            )
            or 0
        )
