"""The registry held per process: read again exactly when the stamp says it changed.

Database triggers move the stamp in the transaction of any change to the tables the
snapshot holds, whoever makes it, so a change made through another connection (another
process, another host, plain SQL) is seen by the next operation, and an operation with
no change behind it reads one row.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine, create_engine, event, text
from zeep import Client

from connectors.connector_specs import ConnectorSpec
from gateway.orders.responses import ResponseProcessor
from gateway.persistence.models import SourceSystem
from gateway.registry.registry_snapshot import WATCHED, current
from gateway.registry.store import Registry
from gateway.runtime import Runtime
from gateway.server import build_app
from tests.common.orders import order
from tests.common.soap import PASSWORD, call_front
from tests.conftest import make_settings, seeded

pytestmark = pytest.mark.both_databases

ROOT = Path(__file__).resolve().parents[2]
AUTH = "Basic " + base64.b64encode(f"all:{PASSWORD}".encode()).decode()
TABLES = sorted(m.__tablename__ for m in WATCHED)  # type: ignore[attr-defined]


@pytest.fixture
def runtime(fresh_database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with seeded(make_settings(tmp_path / "home", fresh_database_url)) as rt:
        yield rt


@pytest.fixture
def elsewhere(fresh_database_url: str) -> Iterator[Engine]:
    """A connection of its own, as another process would have."""
    engine = create_engine(fresh_database_url)
    yield engine
    engine.dispose()


def _stamp(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT n FROM registry_stamp WHERE id = 1")).scalar_one())


def _triggers(engine: Engine) -> set[tuple[str, str]]:
    """(table, operation) of every trigger that moves the stamp."""
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            rows = c.execute(
                text("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
            ).all()
            return {
                (table, op)
                for table, sql in rows
                if "registry_stamp" in sql
                for op in ("INSERT", "UPDATE", "DELETE")
                if f"AFTER {op} " in sql
            }
        rows = c.execute(
            text(
                "SELECT event_object_table, event_manipulation FROM information_schema.triggers "
                "WHERE action_statement LIKE '%omgw_registry_changed%'"
            )
        ).all()
        return {(table, op) for table, op in rows}


def test_every_table_the_snapshot_holds_moves_the_stamp_on_every_change(runtime, elsewhere):
    have = _triggers(elsewhere)
    want = {(t, op) for t in TABLES for op in ("INSERT", "UPDATE", "DELETE")}
    assert want <= have, sorted(want - have)
    # and the triggers do what they say: a change of each kind, made with plain SQL
    before = _stamp(elsewhere)
    with elsewhere.begin() as c:
        c.execute(
            text(
                "INSERT INTO source_systems (code, name, system_type, order_capture, fulfillment,"
                " cross_reference, time_zone, collections_allowed, created_at, updated_at)"
                " VALUES ('ZZ1', '', 'SPOKE', false, false, false, 'UTC', false,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    inserted = _stamp(elsewhere)
    with elsewhere.begin() as c:
        c.execute(text("UPDATE source_systems SET name = 'renamed' WHERE code = 'ZZ1'"))
    updated = _stamp(elsewhere)
    with elsewhere.begin() as c:
        c.execute(text("DELETE FROM source_systems WHERE code = 'ZZ1'"))
    deleted = _stamp(elsewhere)
    assert before < inserted < updated < deleted
    # a change rolled back leaves the stamp where it was
    with elsewhere.connect() as c:
        c.execute(text("UPDATE connectors SET enabled = enabled"))
        c.rollback()
    assert _stamp(elsewhere) == deleted


def test_an_unchanged_registry_is_read_once_per_process(runtime):
    statements: list[str] = []
    with runtime.sessions() as s, s.begin():
        first = current(s)
    event.listen(runtime.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with runtime.sessions() as s, s.begin():
        again = current(s)
    assert again is first
    reads = [st for st in statements if st.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "registry_stamp" in reads[0], statements


def test_a_change_made_through_another_connection_is_seen_by_the_next_operation(runtime, elsewhere):
    with runtime.sessions() as s, s.begin():
        before = current(s)
    assert before.systems["WMS01"].fulfillment
    with elsewhere.begin() as c:
        c.execute(text("UPDATE source_systems SET fulfillment = false WHERE code = 'WMS01'"))
    with runtime.sessions() as s, s.begin():
        after = current(s)
    assert after.stamp > before.stamp
    assert not after.systems["WMS01"].fulfillment
    assert before.systems["WMS01"].fulfillment  # what was handed out never changes


def test_a_change_pending_in_the_same_transaction_is_seen(runtime):
    with runtime.sessions() as s, s.begin():
        current(s)
        s.add(SourceSystem(code="NEWSYS", order_capture=True))
        assert "NEWSYS" in current(s).systems
        Registry(s, "tests").put_connector(
            ConnectorSpec("NEWSYS_Fulfillment", "WMS01", "http://127.0.0.1:9/new")
        )
        assert current(s).connectors["NEWSYS_Fulfillment"].system.code == "WMS01"


def _create(app, key: str) -> bytes:
    client = Client(str(ROOT / "wsdl" / "OrderImportService.wsdl"))
    body = etree.tostring(
        client.create_message(
            client.service, "createOrders", request={"Order": [order(key, [("AS54888", 5)])]}
        )
    )
    status, out = call_front(app, "OrderImportService", body, AUTH)
    return status.encode() + b"\n" + out


def test_a_source_system_disabled_elsewhere_refuses_the_next_order(runtime, elsewhere):
    """End to end: the gateway holds its copy, another process disables the system, and
    the next createOrders is refused for it without a restart."""
    app = build_app(runtime)
    accepted = _create(app, "SNAP-1")
    assert accepted.startswith(b"200"), accepted[:2000]
    with elsewhere.begin() as c:
        c.execute(text("UPDATE source_systems SET order_capture = false WHERE code = 'LEGACY'"))
    refused = _create(app, "SNAP-2")
    assert b"SOURCE_SYSTEM_NOT_ENABLED" in refused, refused[:2000]
    with elsewhere.begin() as c:
        c.execute(text("UPDATE source_systems SET order_capture = true WHERE code = 'LEGACY'"))
    again = _create(app, "SNAP-3")
    assert again.startswith(b"200"), again[:2000]


def test_a_transaction_holding_the_write_turn_reads_the_registry_while_another_waits(
    runtime: Runtime,
) -> None:
    """A thread in its first read of the registry, waiting for the write turn, must not
    keep the thread that holds the turn from reading the registry too."""

    def read_registry() -> None:
        with runtime.sessions() as b, b.begin():
            assert ResponseProcessor(b).registry is not None

    with runtime.sessions() as a, a.begin():
        a.execute(text("SELECT 1"))  # the write turn is this transaction's from here
        waiting = threading.Thread(target=read_registry, daemon=True)
        waiting.start()
        time.sleep(0.3)  # it starts its first read and waits for the turn
        started = time.monotonic()
        assert ResponseProcessor(a).registry is not None
        assert time.monotonic() - started < 5
    waiting.join(timeout=40)
    assert not waiting.is_alive()
