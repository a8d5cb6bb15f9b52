"""``omgw demo`` on a fresh home: every order closes through both simulated warehouses,
its orders changed after release (a cancel, an update, returns) end as the warehouses
answered, and a second run in the same home works too (setup applied again, nothing
duplicated)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from gateway.persistence.models import FulfillLine, FulfillmentRequest, OrderHeader, StatusHistory
from tests.common.processes import started


def demo(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env["OMGW_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "demo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_the_demo_closes_every_order_and_can_run_again(tmp_path):
    home = tmp_path / "demo-home"
    first = demo(home, "--orders", "6", "--seed", "7")
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "orders:            6 imported, 6 closed" in out
    assert re.search(r"messages sent:\s+(\d+) \(\1 delivered, 0 parked", out), out
    assert "[##############################] 6/6 closed" in out
    # each order's lifecycle is shown, ending CLOSED, before the chapter of changes
    main, _, chapter = out.partition("\nchanges after release:")
    assert chapter, out
    closed = set(re.findall(r"order (\d+): CLOSED", main))
    assert len(closed) == 6
    assert (home / "omgw.db").exists() and (home / "wallet.key").exists()
    # no secret of the run reaches the output
    assert "password" not in (out + first.stderr).lower()
    assert_the_changes_after_release(out, home)

    again = demo(home, "--orders", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "orders:            2 imported, 2 closed" in again.stdout
    assert set(re.findall(r"order (\d+): CLOSED", again.stdout)).isdisjoint(closed)


def _one(pattern: str, out: str) -> tuple[str, ...]:
    found = re.findall(pattern, out, flags=re.M)
    assert len(found) == 1, (pattern, out)
    return found[0] if isinstance(found[0], tuple) else (found[0],)


def _flines(home: Path, number: str) -> list[FulfillLine]:
    engine = create_engine(f"sqlite:///{home / 'omgw.db'}")
    try:
        with Session(engine) as s:
            return list(
                s.scalars(
                    select(FulfillLine)
                    .join(OrderHeader, OrderHeader.id == FulfillLine.header_id)
                    .where(OrderHeader.order_number == number)
                    .where(OrderHeader.status != "DOO_REFERENCE")
                    .order_by(FulfillLine.id)
                )
            )
    finally:
        engine.dispose()


def _requests(home: Path, *operations: str) -> dict[int, tuple[str, int | None, str]]:
    engine = create_engine(f"sqlite:///{home / 'omgw.db'}")
    try:
        with Session(engine) as s:
            rows = s.scalars(
                select(FulfillmentRequest).where(FulfillmentRequest.operation.in_(operations))
            )
            return {r.id: (str(r.operation), r.original_request_id, r.status) for r in rows}
    finally:
        engine.dispose()


def _path(home: Path, fline_id: int) -> list[str]:
    """The statuses a fulfillment line went through, in order."""
    engine = create_engine(f"sqlite:///{home / 'omgw.db'}")
    try:
        with Session(engine) as s:
            return list(
                s.scalars(
                    select(StatusHistory.new_status)
                    .where(StatusHistory.entity == "FULFILL_LINE")
                    .where(StatusHistory.entity_id == fline_id)
                    .order_by(StatusHistory.id)
                )
            )
    finally:
        engine.dispose()


def assert_the_changes_after_release(out: str, home: Path) -> None:
    """The demo's chapter of changes: what the gateway showed, what the simulators' state
    says they received and answered (printed from it), and what the database kept."""
    (canceled,) = _one(r"order (\d+): revision 2 cancels line 2 \(CUST_REQUEST\)", out)
    (updated,) = _one(r"order (\d+): revision 2 changes line 1 from 5 to 3", out)
    # each closed (the statuses between are shown as the demo saw them; the history
    # below has every one)
    assert re.search(rf"order {canceled}: CLOSED +lines: CANCELED×1, CLOSED×1", out)
    assert re.search(rf"order {updated}: CLOSED +lines: CLOSED×1", out)

    # the asynchronous warehouse got one Cancel and one Update, each of the request it
    # changes, and made both: the canceled line never shipped, the changed one shipped 3
    cancel_id, cancel_of, cancel_line = _one(
        r"WMS01_Async received Cancel (\d+) of request (\d+) for fulfillment line\(s\) "
        r"(\d+): SUCCESS$",
        out,
    )
    update_id, update_of, update_line = _one(
        r"WMS01_Async received Update (\d+) of request (\d+) for fulfillment line\(s\) "
        r"(\d+): SUCCESS$",
        out,
    )
    assert f"WMS01_Async fulfillment line {cancel_line}: cancelled\n" in out
    assert f"WMS01_Async fulfillment line {update_line}: shipped 3\n" in out
    kept = _requests(home, "Cancel", "Update")
    assert kept[int(cancel_id)][:2] == ("Cancel", int(cancel_of))
    assert kept[int(update_id)][:2] == ("Update", int(update_of))
    kept_line, gone = _flines(home, canceled)
    assert (gone.id, gone.status, gone.shipped_quantity) == (int(cancel_line), "CANCELED", None)
    assert _path(home, gone.id)[-2:] == ["CANCEL_PENDING", "CANCELED"]
    assert (kept_line.status, kept_line.shipped_quantity) == ("CLOSED", Decimal(2))
    (changed,) = _flines(home, updated)
    assert (changed.id, changed.status) == (int(update_line), "CLOSED")
    assert (changed.quantity, changed.shipped_quantity) == (Decimal(3), Decimal(3))
    # the change was made before the line shipped: it waited, went back, then shipped 3
    path = _path(home, changed.id)
    assert path[path.index("CHANGE_PENDING") :] == [
        "CHANGE_PENDING", "AWAIT_SHIP", "SHIPPED", "AWAIT_BILLING", "BILLED", "CLOSED",
    ]  # fmt: skip

    # two returns of 2 of the 5 units shipped, received and credited; the third refused
    (sold,) = set(re.findall(r"return \d, 2 of the 5 units order (\d+) shipped", out))
    returns = re.findall(r"return \d, 2 of the 5 units order \d+ shipped: order (\d+)$", out, re.M)
    assert len(returns) == 2
    _one(r"return 3, 2 of the 5 units order \d+ shipped: fault OMGW-RETURN_EXCEEDS_SHIPPED$", out)
    (credits,) = _one(r"WMS02_Sync received 2 return\(s\) and credited (CM-\S+, CM-\S+)$", out)
    for number in returns:
        (back,) = _flines(home, number)
        assert (back.status, back.shipped_quantity) == ("CLOSED", Decimal(2))
        assert "AWAIT_RECEIVING" in _path(home, back.id)
        assert back.billing_number in credits.split(", ")
    assert [f.shipped_quantity for f in _flines(home, sold)] == [Decimal(5)]
    assert re.search(
        r"^changes: +Cancel SUCCESS, Update SUCCESS; 2 return\(s\) received, 2 credited, "
        r"1 refused; 5/5 closed in",
        out,
        re.M,
    )


def test_the_demo_refuses_a_home_it_did_not_set_up(tmp_path):
    home = tmp_path / "real-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env["OMGW_HOME"] = str(home)
    init = subprocess.run([sys.executable, "-m", "gateway.cli", "init"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert init.returncode == 0, init.stderr
    before = sorted(p.name for p in home.iterdir())
    refused = demo(home, "--orders", "1")
    assert refused.returncode != 0
    assert "holds a setup the demo did not make" in refused.stderr
    assert "Traceback" not in refused.stderr
    listed = subprocess.run([sys.executable, "-m", "gateway.cli", "connector", "list"], env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "DEMO" not in listed.stdout.upper(), listed.stdout  # nothing of the demo's added
    assert sorted(p.name for p in home.iterdir()) == before


def test_make_demo_uses_its_own_home_whatever_is_exported():
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OMGW_HOME": "/srv/omgw-real", "OMGW_DATABASE_URL": "postgresql://x/y"}
    dry = subprocess.run(["make", "-n", "demo"], cwd=root, env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    command = dry.stdout[dry.stdout.rindex("env -u") :]  # the demo's recipe, after set-up's
    assert "OMGW_HOME=.omgw-demo" in command and "-u OMGW_DATABASE_URL" in command
    assert "/srv/omgw-real" not in command


def test_the_demos_metrics_show_every_family_at_work(tmp_path):
    """Scraped while the demo runs: calls and faults, latencies, queues, deliveries,
    retries and parks, events and e-mails, breakers, orders, alerts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env["OMGW_HOME"] = str(tmp_path / "demo-home")
    args = [sys.executable, "-m", "gateway.cli", "demo", "--orders", "8", "--seed", "3"]
    seen: dict[tuple[str, str], float] = {}
    with started(args, env, ready=r"metrics:\s+(http://\S+)/metrics") as demo_run:
        while demo_run.proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{demo_run.url}/metrics", timeout=5) as resp:
                    scrape = resp.read().decode()
            except OSError:
                break  # the demo is done and its server gone
            for line in scrape.splitlines():
                if line and not line.startswith("#"):
                    series, value = line.rsplit(" ", 1)
                    seen[(series.split("{")[0], series)] = max(
                        float(value), seen.get((series.split("{")[0], series), 0.0)
                    )
            time.sleep(0.05)
        assert demo_run.proc.wait(timeout=240) == 0, demo_run.output.text[-3000:]

    def positive(family: str, *parts: str) -> bool:
        return any(
            v > 0 and all(p in series for p in parts)
            for (name, series), v in seen.items()
            if name == family
        )

    assert positive("omgw_inbound_calls_total", 'operation="createOrders"', 'outcome="OK"')
    assert positive("omgw_inbound_faults_total", 'code="ORDER_NOT_FOUND"')
    assert positive("omgw_inbound_duration_seconds_count", 'operation="processFulfillmentResponse"')
    assert positive("omgw_outbox_ready")
    assert positive("omgw_outbox_oldest_ready_age_seconds")
    # the park lasts until the demo's next look (0.2 s): its counter, not its gauge, is
    # sure to be seen; the gauge is tested in test_operations
    for outcome in ("delivered", "retry", "parked"):
        assert positive("omgw_outbox_deliveries_total", 'connector="WMS01_Async"', outcome)
    assert positive("omgw_outbox_deliveries_total", 'kind="BUSINESS_EVENT"', "delivered")
    assert positive("omgw_outbox_deliveries_total", 'kind="EMAIL"', "delivered")
    assert positive("omgw_breaker_state", 'connector="WMS02_Sync"', 'state="CLOSED"')
    assert positive("omgw_orders", 'status="CLOSED"')
    assert positive("omgw_fulfill_lines", 'status="CLOSED"')
    assert positive("omgw_alerts_total", 'alert="parked"', 'action="raised"')
    assert positive("omgw_alerts_total", 'alert="parked"', 'action="mailed"')
    monitor = 'omgw_job_last_run_age_seconds{job="monitor"}'
    assert ("omgw_job_last_run_age_seconds", monitor) in seen  # the monitor ran
