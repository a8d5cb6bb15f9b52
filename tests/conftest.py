"""Shared fixtures: a real gateway on 127.0.0.1 over SQLite and PostgreSQL, zeep clients.

PostgreSQL tests run against 127.0.0.1:5432 (user postgres, trust auth), each session
in a database of its own that is dropped at the end. Where no server answers they are
skipped, unless ``OMGW_REQUIRE_PG=1`` (as in CI), where they fail.
"""

from __future__ import annotations

import json
import os
import socketserver
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from connectors.registry import ConnectorSpec, SourceSystemSpec
from connectors.wallet import MasterKey
from gateway.cli import cli
from gateway.config import Settings
from gateway.persistence.models import User
from gateway.registry.store import Registry
from gateway.runtime import Runtime
from gateway.security.passwords import hash_password
from gateway.security.roles import ROLES
from gateway.server import build_app, prepare
from gateway.soap.front import SOCKET_KEY
from tests.common.soap import PASSWORD, client

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# (code, order capture, fulfillment, response processing option)
SOURCE_SYSTEMS = [
    ("LEGACY", True, False, "REJECT_ALL_ON_FIRST_ERROR"),
    ("WMS01", False, True, "REJECT_ALL_ON_FIRST_ERROR"),
    ("WMSANY", False, True, "REJECT_ALL_ON_ANY_ERROR"),
    ("WMSGRP", False, True, "REJECT_ERROR_GROUPS"),
]
USERS = {
    "all": ROLES,
    "importer": ("ORDER_IMPORT",),
    "inquirer": ("ORDER_INQUIRY",),
    "warehouse": ("FULFILLMENT_RESPONSE",),
}
#: the systems each user may act for; "all" holds the explicit grant of every system
USER_SYSTEMS: dict[str, tuple[str, ...]] = {
    "importer": ("LEGACY",),
    "inquirer": ("LEGACY",),
    "warehouse": ("WMS01", "WMSANY", "WMSGRP"),
}


def pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def _pg_database() -> Iterator[str]:
    if not pg_available():
        if os.environ.get("OMGW_REQUIRE_PG") == "1":
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required (OMGW_REQUIRE_PG=1)")
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    name = f"omgw_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'omgw.db'}"
    else:
        yield from _pg_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own for one test (admin tests change shared setup)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        yield from _pg_database()


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """An empty PostgreSQL database for one test that is about PostgreSQL."""
    yield from _pg_database()


def make_settings(home: Path, database_url: str, **overrides: object) -> Settings:
    base = Settings(
        home=home,
        database_url=database_url,
        wallet_key_b64=MasterKey.generate().to_b64(),
        background_interval_seconds=0.2,
        max_body_bytes=256 * 1024,
        # Every test calls from 127.0.0.1, many as the same user, into one shared gateway:
        # one test's wrong passwords must not lock the next one out. The limits are
        # tested at their defaults by tests/functional/test_sign_in.py.
        auth_max_failures=1000,
        auth_address_max_failures=1000,
    )
    return Settings(**{**base.__dict__, **overrides})


def seed(runtime: Runtime) -> None:
    with runtime.sessions() as s, s.begin():
        registry = Registry(s, actor="tests")
        for code, capture, fulfil, option in SOURCE_SYSTEMS:
            registry.put_source_system(
                SourceSystemSpec(code, code, order_capture=capture, fulfillment=fulfil)
            )
            if fulfil:
                registry.put_connector(
                    ConnectorSpec(
                        f"{code}_Fulfillment",
                        code,
                        f"http://127.0.0.1:9/{code}",
                        response_processing=option,
                    )
                )
        for name, roles in USERS.items():
            s.add(
                User(
                    username=name,
                    password_hash=hash_password(PASSWORD),
                    digest_secret=runtime.secret_box.seal(PASSWORD.encode(), f"user:{name}"),
                    roles=" ".join(roles),
                    systems=" ".join(USER_SYSTEMS.get(name, ())),
                    all_systems=name == "all",
                )
            )


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def get_environ(self) -> dict[str, Any]:
        # As gunicorn does: the front holds the read deadline on the socket itself.
        return {**super().get_environ(), SOCKET_KEY: self.connection}


@dataclass
class Gateway:
    base: str
    runtime: Runtime

    def url(self, service: str) -> str:
        return f"{self.base}/fscmService/{service}"


@pytest.fixture(scope="session")
def gateway(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with serving(make_settings(tmp_path_factory.mktemp("home"), database_url)) as running:
        yield running


def _not_ready(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


@contextmanager
def serving(settings: Settings) -> Iterator[Gateway]:
    """A migrated, seeded gateway on a free 127.0.0.1 port, in a thread."""
    prepare(settings)
    server = make_server(
        "127.0.0.1",
        0,
        _not_ready,
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    # the port is known only now; asynchronous answers are addressed to it (ReplyTo)
    settings = replace(settings, public_url=f"http://127.0.0.1:{server.server_port}")
    runtime = Runtime(settings)
    seed(runtime)
    server.set_app(build_app(runtime))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Gateway(f"http://127.0.0.1:{server.server_port}", runtime)
    finally:
        server.shutdown()
        server.server_close()
        runtime.close()


@pytest.fixture
def imports(gateway: Gateway) -> Any:
    """A zeep client of OrderImportService, as user "all" (every role)."""
    return client(gateway.base, "OrderImportService")


@pytest.fixture
def info(gateway: Gateway) -> Any:
    return client(gateway.base, "OrderInformationService")


@pytest.fixture
def ofrs(gateway: Gateway) -> Any:
    return client(gateway.base, "OrderFulfillmentResponseService")


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10].upper()


@pytest.fixture
def domain(tmp_path: Path) -> Iterator[Runtime]:
    """A migrated, seeded SQLite database for domain tests (no server)."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'unit.db'}")
    prepare(settings)
    runtime = Runtime(settings)
    seed(runtime)
    yield runtime
    runtime.close()


@pytest.fixture(autouse=True)
def _no_password_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Whatever a test does, no log record may carry the test users' password."""
    yield
    leaked = [r for r in caplog.records if PASSWORD in r.getMessage()]
    assert not leaked, (
        f"a password reached the log: {leaked[0].name}: {leaked[0].getMessage()[:200]}"
    )


@dataclass
class Admin:
    env: dict[str, str | None]
    home: Path

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env=self.env, input=input)

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.output
        return result.stdout

    def json(self, *args: str) -> object:
        return json.loads(self.ok(*args, "--json"))


@pytest.fixture
def admin(fresh_database_url: str, tmp_path: Path) -> Admin:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OMGW_")}
    home = tmp_path / "home"
    env.update(OMGW_HOME=str(home), OMGW_DATABASE_URL=fresh_database_url)
    admin = Admin(env, home)
    admin.ok("init")
    return admin
