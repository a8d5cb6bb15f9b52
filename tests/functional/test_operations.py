"""Operating omgw: a connector that breaks is seen in ``omgw status``, in ``/metrics``, in a
WARNING line and in an e-mail, and so is its recovery; ``/readyz`` says what is broken."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text, update

from connectors.connector_specs import ConnectorSpec, RetryPolicy, SourceSystemSpec
from connectors.secret_box import Credential, MasterKey
from gateway.background import import_staged_orders
from gateway.cli import cli
from gateway.config import Settings
from gateway.observe.alerts import run_monitor
from gateway.observe.beats import record_beat
from gateway.outbox.worker import OutboxWorker
from gateway.persistence.models import (
    Connector,
    ConnectorHealth,
    DeliveryAttempt,
    FulfillLine,
    FulfillmentRequest,
    Hold,
    OrderHeader,
    OutboxMessage,
    StagedOrder,
    utcnow,
)
from gateway.registry.rule_store import RuleStore
from gateway.registry.store import Registry
from gateway.registry.wallet_store import Wallet
from gateway.runtime import Runtime
from tests.common.flow import Flow, flow, run_until
from tests.common.orders import order
from tests.common.processes import refused_port, started, until
from tests.common.smtp import Mailbox, smtp_server
from tests.common.soap import basic, client, fault_code, post
from tests.conftest import make_settings, seeded, served, serving

ADMIN = "ops@example.com"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _metric(body: str, name: str, **labels: str) -> float:
    """The value of one series in a scrape (0 when it is not there)."""
    for line in body.splitlines():
        if line.startswith("#") or not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _health(f: Flow) -> ConnectorHealth:
    with f.gw.runtime.read_sessions() as s:
        row = s.scalar(
            select(ConnectorHealth)
            .join(Connector, Connector.id == ConnectorHealth.connector_id)
            .where(Connector.name == f.connector)
        )
    assert row is not None
    return row


def _breaker(f: Flow) -> str:
    with f.gw.runtime.read_sessions() as s:
        state = s.scalar(
            select(ConnectorHealth.state)
            .join(Connector, Connector.id == ConnectorHealth.connector_id)
            .where(Connector.name == f.connector)
        )
    return state or "CLOSED"


def _point(f: Flow, url: str) -> None:
    with f.gw.runtime.sessions() as s, s.begin():
        registry = Registry(s, "tests")
        spec = registry.require_connector(f.connector)
        registry.put_connector(replace(spec, url=url))


def _status(f: Flow, *args: str) -> tuple[int, str]:
    env = f.gw.runtime.settings.to_env()
    result = CliRunner().invoke(cli, ["status", *args], env=env)
    return result.exit_code, result.output


def _deliver(worker: OutboxWorker, box: Mailbox, count: int) -> None:
    until(lambda: worker.run_once().total >= 0 and len(box.envelopes) >= count, "alert e-mail")


def test_a_broken_connector_is_seen_in_status_metrics_logs_and_mail_and_so_is_its_recovery(
    fresh_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = Mailbox()
    with smtp_server(box) as port, refused_port() as dead:
        settings = {
            "alert_email": ADMIN,
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_timeout": 5.0,
        }
        with flow(
            fresh_database_url,
            tmp_path,
            retry=RetryPolicy(max_attempts=100, base_delay=0.01, max_delay=0.02),
            settings=settings,
        ) as f:
            runtime = f.gw.runtime
            before = _get(f"{f.gw.base}/metrics")[1]
            working = f.sim.url
            _point(f, f"http://127.0.0.1:{dead}/wms")
            number = f.submit("OPS-1", [("AS54888", 5)])
            worker = f.worker()
            started = utcnow()
            caplog.set_level(logging.INFO)

            # it breaks: three refused sends open the breaker, said at WARNING
            until(lambda: worker.run_once() and _breaker(f) == "OPEN", "the breaker to open")
            opened = [
                r for r in caplog.records
                if r.levelno == logging.WARNING and "circuit breaker opened" in r.getMessage()
            ]  # fmt: skip
            assert opened and f.connector in opened[0].getMessage()
            down_since = _health(f).broken_since
            time.sleep(f.cool_down + 0.1)
            until(lambda: worker.run_once().total, "a probe that fails")
            probed = _health(f)
            assert probed.state == "OPEN" and probed.broken_since == down_since
            assert probed.opened_at != down_since  # the cool-down starts again; the outage not
            worker.beat(started)

            # omgw status: critical, names the connector and its runbook
            code, out = _status(f)
            assert code == 2, out
            assert re.search(rf"{f.connector}\s+ASYNC_SERVICE\s+1\s+\S+\s+0\s+OPEN", out), out
            assert "docs/runbooks/breaker-open.md" in out
            code, out = _status(f, "--json")
            assert code == 2
            keys = [n["key"] for n in json.loads(out)["needs_a_person"]]
            assert keys == [f"breaker:{f.connector}"]

            # /metrics: the breaker's state, the queue and the retries counted
            status, scrape = _get(f"{f.gw.base}/metrics")
            assert status == 200
            assert _metric(scrape, "omgw_breaker_state", connector=f.connector, state="OPEN") == 1
            assert _metric(scrape, "omgw_outbox_ready", connector=f.connector) == 1
            retries = {"connector": f.connector, "outcome": "retry"}
            assert (
                _metric(scrape, "omgw_outbox_deliveries_total", **retries)
                - _metric(before, "omgw_outbox_deliveries_total", **retries)
                >= 3
            )
            assert _metric(scrape, "omgw_findings", severity="critical") == 1

            # the monitor raises the alert once, and its e-mail goes out through the outbox
            raised = run_monitor(runtime)
            assert [r.key for r in raised.raised] == [f"breaker:{f.connector}"]
            assert len(raised.mails) == 1
            _deliver(worker, box, 1)
            mail = box.messages()[0]
            assert mail["To"] == ADMIN
            assert "CRITICAL" in mail["Subject"] and f.connector in mail["Subject"]
            assert "docs/runbooks/breaker-open.md" in mail.get_content()
            assert run_monitor(runtime).mails == []  # rate-limited: nothing new to say

            # it recovers: the probe goes through, the order closes, the alert clears
            _point(f, working)
            run_until(f, lambda: f.status(number) == "CLOSED")
            closed = [r for r in caplog.records if "closed again" in r.getMessage()]
            assert closed and closed[0].levelno == logging.WARNING
            worker.beat(started)
            cleared = run_monitor(runtime)
            assert [r.key for r in cleared.cleared] == [f"breaker:{f.connector}"]
            assert cleared.mails == []  # mailed once it has stayed clear a whole pass
            assert len(run_monitor(runtime).mails) == 1
            _deliver(worker, box, 2)
            assert box.messages()[1]["Subject"].startswith("[omgw] cleared:")
            code, out = _status(f)
            assert code == 0, out
            assert "nothing needs a person" in out
            scrape = _get(f"{f.gw.base}/metrics")[1]
            assert _metric(scrape, "omgw_breaker_state", connector=f.connector, state="CLOSED") == 1
            assert _metric(scrape, "omgw_orders", status="CLOSED") == 1


def test_healthz_answers_and_readyz_checks_database_schema_wallet_and_worker(
    fresh_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "home", fresh_database_url)
    with seeded(settings) as runtime, served(runtime) as base:
        assert _get(f"{base}/healthz") == (200, "ok\n")
        with runtime.sessions() as s, s.begin():  # a secret sealed: the key is checked
            Wallet(s, lambda: runtime.secret_box, "tests").set(
                "oracle.wsm.security", "K", Credential("u", "p")
            )

        # no worker has ever been seen
        code, body = _get(f"{base}/readyz")
        answer = json.loads(body)
        assert code == 503 and answer["status"] == "not ready"
        assert not answer["checks"]["worker"]["ok"]
        assert all(answer["checks"][c]["ok"] for c in ("database", "migrations", "wallet"))

        # a worker seen now: ready; seen too long ago: not
        with runtime.sessions() as s, s.begin():
            record_beat(s, "w1", utcnow(), utcnow())
        code, body = _get(f"{base}/readyz")
        assert code == 200, body
        with runtime.sessions() as s, s.begin():
            record_beat(s, "w1", utcnow() - timedelta(seconds=300), utcnow())
        code, body = _get(f"{base}/readyz")
        assert (
            code == 503 and "last seen 300 s ago" in json.loads(body)["checks"]["worker"]["detail"]
        )
        with runtime.sessions() as s, s.begin():
            record_beat(s, "w1", utcnow(), utcnow())

        # the schema behind the code
        with runtime.sessions() as s, s.begin():
            newest = s.scalar(text("SELECT version_num FROM alembic_version"))
            s.execute(text("UPDATE alembic_version SET version_num = '0010'"))
        code, body = _get(f"{base}/readyz")
        check = json.loads(body)["checks"]["migrations"]
        assert code == 503 and not check["ok"] and "omgw init" in check["detail"]
        # a schema a newer version migrated (a rolling upgrade): still ready
        with runtime.sessions() as s, s.begin():
            s.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        code, body = _get(f"{base}/readyz")
        assert code == 200 and "newer than this code" in body
        with runtime.sessions() as s, s.begin():
            s.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": newest})
        assert _get(f"{base}/readyz")[0] == 200

    # another wallet key than the one this database's secrets are sealed with
    foreign = replace(settings, wallet_key_b64=MasterKey.generate().to_b64())
    other = Runtime(foreign)
    try:
        with served(other) as base:
            code, body = _get(f"{base}/readyz")
            check = json.loads(body)["checks"]["wallet"]
            assert code == 503 and not check["ok"] and "wallet key" in check["detail"]
    finally:
        other.close()

    # a database that does not answer
    with refused_port() as dead:
        gone = replace(settings, database_url=f"postgresql+psycopg://postgres@127.0.0.1:{dead}/x")
        down = Runtime(gone)
        try:
            with served(down) as base:
                code, body = _get(f"{base}/readyz")
                check = json.loads(body)["checks"]["database"]
                assert code == 503 and not check["ok"] and "unreachable" in check["detail"]
                assert _get(f"{base}/healthz")[0] == 200  # the process itself is up
        finally:
            down.close()


def test_omgw_serve_adds_up_every_process_in_one_scrape_and_writes_json_lines(
    tmp_path: Path, unique: str
) -> None:
    settings = make_settings(
        tmp_path / "home",
        f"sqlite:///{tmp_path / 'omgw.db'}",
        log_format="json",
        monitor_interval_seconds=0.5,
    )
    with seeded(settings) as runtime, runtime.sessions() as s, s.begin():
        # shipments go to WMS01, whose seeded connector points where nothing listens
        store = RuleStore(s, "tests")
        store.set_default("Shipment", "WMS01_Fulfillment")
        assert store.publish() is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env.update(settings.to_env())
    # what a server killed with -9 left behind: removed by the next one
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = settings.home / "run" / f"metrics-{gone.pid}"
    stale.mkdir(mode=0o700, parents=True)
    serve = [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--workers", "2"]
    with started(serve, env, new_session=True) as server:
        imports = client(server.url, "OrderImportService")
        for i in range(6):
            created = imports.service.createOrders(
                request={"Order": [order(f"{unique}-{i}", [("A", 1)])]}
            )
            assert created[0].ReturnStatus == "SUCCESS"
        refused = post(
            f"{server.url}/fscmService/OrderImportService", b"<x/>", basic("all", "wrong")
        )
        assert fault_code(refused.body) == "OMGW-AUTH_FAILED"
        # the background process's worker says it is alive, and its sends are counted
        until(lambda: _get(f"{server.url}/readyz")[0] == 200, "ready", timeout=30)
        assert not stale.exists()
        retried = {"connector": "WMS01_Fulfillment", "outcome": "retry"}
        scrape = until(
            lambda: (
                (b := _get(f"{server.url}/metrics")[1])
                and _metric(b, "omgw_outbox_deliveries_total", **retried) >= 1
                and b
            ),
            "the background process's retries in the scrape",
            timeout=30,
        )
        until(
            lambda: (
                'omgw_job_last_run_age_seconds{job="monitor"}' in _get(f"{server.url}/metrics")[1]
            ),
            "a monitor pass",
            timeout=30,
        )
        calls = {"service": "OrderImportService", "operation": "createOrders", "outcome": "OK"}
        assert _metric(scrape, "omgw_inbound_calls_total", **calls) == 6
        assert _metric(scrape, "omgw_inbound_faults_total", code="AUTH_FAILED") == 1
        assert _metric(scrape, "omgw_orders", status="OPEN") == 6
        shared = list((settings.home / "run").glob("metrics-*"))
        assert len(shared) == 1 and oct(shared[0].stat().st_mode & 0o777) == "0o700"
        counting = {p.name for p in shared[0].glob("counter_*.db")}
        assert len(counting) >= 2, counting  # a gunicorn worker and the background process
    assert not shared[0].exists()  # a stopped server leaves no counters behind
    lines = [ln for ln in server.output.text.splitlines() if ln.startswith("{")]
    records = [json.loads(ln) for ln in lines]
    access = [r for r in records if r.get("logger") == "omgw.access"]
    created_lines = [r for r in access if r["operation"] == "createOrders"]
    assert len(created_lines) == 6
    assert {r["client"] for r in created_lines} == {"127.0.0.1"}
    assert {r["user"] for r in created_lines} == {"all"}
    assert all(r["level"] == "INFO" and r["orders"] != "-" and r["ms"] >= 0 for r in created_lines)
    failed = [r for r in access if r["fault_code"] == "AUTH_FAILED"]
    assert len(failed) == 1 and failed[0]["level"] == "WARNING" and failed[0]["status"] == 500
    assert any(r.get("logger", "").startswith("gunicorn") for r in records)  # its lines too
    # the monitor's first pass comes after the worker starting beside it said it is alive
    assert not [r for r in records if "worker-silent" in r.get("message", "")]


@pytest.mark.both_databases
def test_status_answers_each_business_question_from_the_database(
    fresh_database_url: str, tmp_path: Path, unique: str
) -> None:
    settings = make_settings(tmp_path / "home", fresh_database_url)
    hour_ago, days_ago = utcnow() - timedelta(hours=1), utcnow() - timedelta(days=2)
    with serving(settings) as gw:
        runtime = gw.runtime
        with runtime.sessions() as s, s.begin():
            store = RuleStore(s, "tests")
            store.set_default("Shipment", "WMS01_Fulfillment")
            assert store.publish() is not None
            Registry(s, "tests").put_connector(
                ConnectorSpec(
                    "EV", "LEGACY", "http://127.0.0.1:9/ev", invocation_mode="BUSINESS_EVENT"
                )
            )
        imports = client(gw.base, "OrderImportService")
        numbers = [
            imports.service.createOrders(request={"Order": [order(f"{unique}-{k}", [("A", 1)])]})[
                0
            ].OrderNumber
            for k in ("unacked", "unanswered", "unrouted", "stalled", "held")
        ]
        unacked, unanswered, unrouted, stalled, held = (_request_of(runtime, n) for n in numbers)
        with runtime.sessions() as s, s.begin():
            # delivered an hour ago, never acknowledged
            s.execute(update(OutboxMessage).where(OutboxMessage.request_id == unacked)
                      .values(status="DELIVERED", delivered_at=hour_ago))  # fmt: skip
            # acknowledged two days ago, its line still waiting for a shipment
            s.execute(update(OutboxMessage).where(OutboxMessage.request_id == unanswered)
                      .values(status="DELIVERED", delivered_at=days_ago))  # fmt: skip
            s.execute(update(FulfillmentRequest).where(FulfillmentRequest.id == unanswered)
                      .values(status="ACCEPTED", acknowledged_at=days_ago))  # fmt: skip
            # a line no rule took
            s.execute(update(FulfillLine).where(FulfillLine.request_id == unrouted)
                      .values(status="ROUTING_ERROR"))  # fmt: skip
            # two lines not routed after an hour: one stalled, one held on purpose
            for request in (stalled, held):
                s.execute(update(FulfillLine).where(FulfillLine.request_id == request)
                          .values(status="SCHEDULED", created_at=hour_ago))  # fmt: skip
            header = s.scalar(
                select(FulfillmentRequest.header_id).where(FulfillmentRequest.id == held)
            )
            s.add(Hold(header_id=header, hold_code="CREDIT", applied_by="tests"))
            # an event written an hour ago, not delivered yet
            ev = s.scalar(select(Connector.id).where(Connector.name == "EV"))
            s.add(OutboxMessage(
                message_id=f"urn:uuid:{unique}", kind="BUSINESS_EVENT", connector_id=ev,
                invocation_mode="BUSINESS_EVENT", operation="pushPayload", soap_action="",
                payload=b"<x/>", created_at=hour_ago, next_attempt_at=utcnow() + timedelta(hours=1),
            ))  # fmt: skip
            s.add(StagedOrder(source_system="LEGACY", source_order_id="S1", revision="1",
                              payload_json="{}", status="ERROR", error_code="X"))  # fmt: skip
            record_beat(s, "w1", utcnow(), utcnow())
        code, out = _status_of(settings)
        report = json.loads(out)
        assert code == 2
        assert {n["key"] for n in report["needs_a_person"]} == {
            "unacknowledged:WMS01_Fulfillment",
            "no-response:WMS01_Fulfillment",
            "event-late:EV",
            "routing-error",
            "not-routed",
            "staged-error",
        }
        wms = next(c for c in report["connectors"] if c["connector"] == "WMS01_Fulfillment")
        assert (wms["unacknowledged"], wms["no_response"], wms["ready"]) == (1, 1, 3)
        assert report["lines_routing_error"] == 1
        assert report["lines_not_routed"] == 1  # the held line waits on purpose
        assert report["staged_errors"] == {"orders": 1, "responses": 0}
        scrape = _get(f"{gw.base}/metrics")[1]
        assert _metric(scrape, "omgw_requests_unacknowledged", connector="WMS01_Fulfillment") == 1
        assert _metric(scrape, "omgw_requests_without_response", connector="WMS01_Fulfillment") == 1
        assert _metric(scrape, "omgw_events_late", connector="EV") == 1
        assert _metric(scrape, "omgw_lines_not_routed", reason="routing_error") == 1
        assert _metric(scrape, "omgw_findings", severity="warning") == 5


def _request_of(runtime: Runtime, number: str) -> int:
    with runtime.read_sessions() as s:
        found = s.scalar(
            select(FulfillmentRequest.id)
            .join(OrderHeader, OrderHeader.id == FulfillmentRequest.header_id)
            .where(OrderHeader.order_number == number)
        )
    assert found is not None
    return int(found)


def _status_of(settings: Settings) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["status", "--json"], env=settings.to_env())
    return result.exit_code, result.output


def test_status_that_cannot_be_read_exits_3_for_unknown(tmp_path: Path) -> None:
    with refused_port() as dead:
        env = {
            "OMGW_HOME": str(tmp_path),
            "OMGW_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{dead}/x",
        }
        result = CliRunner().invoke(cli, ["status", "--json"], env=env)
    assert result.exit_code == 3, result.output
    assert json.loads(result.output)["error"]["code"] == "STATUS_UNKNOWN"
    missing = CliRunner().invoke(cli, ["status"], env={"OMGW_HOME": str(tmp_path / "typo")})
    assert missing.exit_code == 3 and "no omgw home" in missing.output


def test_metrics_that_fail_to_count_do_not_record_a_send_twice(
    fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting runs after the recording committed: if it raised there, the batch would
    be recorded again, each send as a lost lease, and the breaker fed twice."""

    class Broken:
        def labels(self, *args: str) -> None:
            raise OSError("the counting directory is gone")

    with refused_port() as dead, flow(fresh_database_url, tmp_path) as f:
        _point(f, f"http://127.0.0.1:{dead}/wms")
        f.submit("OPS-2", [("AS54888", 1)])
        monkeypatch.setattr("gateway.observe.metrics.DELIVERIES", Broken())
        monkeypatch.setattr("gateway.observe.metrics.BREAKER_CHANGES", Broken())
        worker = f.worker()
        assert worker.run_once().retried == 1
        with f.gw.runtime.read_sessions() as s:
            attempts = s.execute(select(DeliveryAttempt.outcome, DeliveryAttempt.error)).all()
        assert len(attempts) == 1 and "lease lost" not in (attempts[0].error or "")
        assert _health(f).failures == 1


def test_metrics_reuse_one_database_read_for_the_cache_time(
    fresh_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "home", fresh_database_url, metrics_cache_seconds=60.0)
    with seeded(settings) as runtime, served(runtime) as base:
        first = _get(f"{base}/metrics")[1]
        with runtime.sessions() as s, s.begin():
            s.add(StagedOrder(source_system="LEGACY", source_order_id="S9", revision="1",
                              payload_json="{}", status="ERROR", error_code="X"))  # fmt: skip
        again = _get(f"{base}/metrics")[1]
        assert _metric(first, "omgw_staged_errors", kind="order") == 0
        assert _metric(again, "omgw_staged_errors", kind="order") == 0  # the same read
    fresh = Runtime(replace(settings, metrics_cache_seconds=0.0))
    try:
        with served(fresh) as base:  # a cache of no time reads again
            assert _metric(_get(f"{base}/metrics")[1], "omgw_staged_errors", kind="order") == 1
    finally:
        fresh.close()


def test_a_staged_order_in_error_is_listed_retried_once_fixed_or_discarded(
    fresh_database_url: str, tmp_path: Path, unique: str
) -> None:
    settings = make_settings(tmp_path / "home", fresh_database_url)
    env = settings.to_env()

    def omgw(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env)

    with serving(settings) as gw:
        imports = client(gw.base, "OrderImportService")
        for key in ("fixed", "dropped"):  # a source system not registered yet
            order_ = order(f"{unique}-{key}", system="NEWSYS")
            assert imports.service.stageOrders(request={"Order": [order_]})
        assert import_staged_orders(gw.runtime).failed == 2
        listed = json.loads(omgw("staged", "list", "--json").output)
        assert [(i["key"], i["error_code"]) for i in listed] == [
            (f"NEWSYS/{unique}-dropped/1", "SOURCE_SYSTEM_UNKNOWN"),
            (f"NEWSYS/{unique}-fixed/1", "SOURCE_SYSTEM_UNKNOWN"),
        ]
        keys = [n["key"] for n in json.loads(omgw("status", "--json").output)["needs_a_person"]]
        assert "staged-error" in keys
        dropped, fixed = (i["id"] for i in listed)

        # the cause fixed, the order goes in; a second retry is refused
        with gw.runtime.sessions() as s, s.begin():
            spec = SourceSystemSpec("NEWSYS", "New system", order_capture=True)
            Registry(s, "tests").put_source_system(spec)
        retried = omgw("staged", "retry", "order", str(fixed))
        assert retried.exit_code == 0, retried.output
        again = omgw("staged", "retry", "order", str(fixed), "--json")
        assert again.exit_code == 1
        assert json.loads(again.output)["error"]["code"] == "STAGED_NOT_IN_ERROR"
        assert import_staged_orders(gw.runtime).done == 1
        found = omgw("orders", "show", "--source-number", f"SO-{unique}-fixed", "--json")
        assert found.exit_code == 0 and json.loads(found.output)["status"] == "OPEN"

        # the other is set aside, with why, and nothing needs a person for it any more
        discarded = omgw("staged", "discard", "order", str(dropped), "--reason", "resent as 2")
        assert discarded.exit_code == 0, discarded.output
        assert omgw("staged", "list").output.strip() == "(none)"
        everything = json.loads(omgw("staged", "list", "--status", "all", "--json").output)
        assert {i["id"]: i["status"] for i in everything} == {
            fixed: "IMPORTED",
            dropped: "DISCARDED",
        }
        assert "resent as 2" in next(i for i in everything if i["id"] == dropped)["error_message"]
        keys = [n["key"] for n in json.loads(omgw("status", "--json").output)["needs_a_person"]]
        assert "staged-error" not in keys
        audited = json.loads(omgw("audit", "list", "--json").output)
        assert [(a["action"], a["entity"]) for a in audited][:2] == [
            ("discard", "staged order"), ("retry", "staged order"),
        ]  # fmt: skip
        missing = omgw("staged", "retry", "response", "999999")
        assert missing.exit_code == 1 and "no staged response 999999" in missing.output
