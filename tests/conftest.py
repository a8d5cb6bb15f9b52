"""Shared fixtures: a real gateway on 127.0.0.1 over SQLite and PostgreSQL, zeep clients.

PostgreSQL tests run against 127.0.0.1:5432 (user postgres, trust auth), each session
in a database of its own that is dropped at the end. Where no server answers they are
skipped, unless ``OMGW_REQUIRE_PG=1`` (as in CI), where they fail.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from connectors.connector_specs import ConnectorSpec, SourceSystemSpec
from connectors.secret_box import MasterKey
from gateway.cli import cli
from gateway.config import Settings
from gateway.persistence.models import User
from gateway.registry.store import Registry
from gateway.runtime import Runtime
from gateway.security.passwords import hash_password
from gateway.security.roles import ROLES
from gateway.server import build_app
from gateway.startup import prepare
from tests.common.soap import PASSWORD, client
from tests.common.threaded_server import bound_server, running

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
    "holder": ("ORDER_HOLD",),
    "holder_wms": ("ORDER_HOLD",),
    "admin": ("ADMIN",),
    "operator": ("OPERATOR",),
    "viewer": ("VIEWER",),
}
#: the systems each user may act for; "all" holds the explicit grant of every system
USER_SYSTEMS: dict[str, tuple[str, ...]] = {
    "importer": ("LEGACY",),
    "inquirer": ("LEGACY",),
    "warehouse": ("WMS01", "WMSANY", "WMSGRP"),
    "holder": ("LEGACY",),
    "holder_wms": ("WMS01",),
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


def require_pg() -> None:
    if not pg_available():
        if os.environ.get("OMGW_REQUIRE_PG") == "1":
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required (OMGW_REQUIRE_PG=1)")
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")


def pg_database(template: str | None = None) -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards: empty, or a copy of
    ``template`` (which no one may be connected to)."""
    require_pg()
    name = f"omgw_test_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class _Templates:
    """Databases migrated to head with the built-ins written, as ``omgw init`` leaves
    them, made once per session (per xdist worker) and copied for each test that needs
    a database of its own: a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on
    PostgreSQL. Migrating takes 0.3–0.6 s; a copy, 1 ms and 0.35 s."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._sqlite: Path | None = None
        self._pg: Iterator[str] | None = None
        self._pg_name: str | None = None

    def sqlite(self, to: Path) -> str:
        if self._sqlite is None:
            path = self._root / "template.db"
            prepare(make_settings(self._root / "home", f"sqlite:///{path}"))
            assert not path.with_name(path.name + "-wal").exists()
            self._sqlite = path
        shutil.copyfile(self._sqlite, to)
        to.chmod(0o600)
        return f"sqlite:///{to}"

    def postgres(self) -> str:
        if self._pg_name is None:
            self._pg = pg_database()
            url = next(self._pg)
            prepare(make_settings(self._root / "pg-home", url))  # disposes its engine
            self._pg_name = url.rsplit("/", 1)[1]
        return self._pg_name

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()  # runs the generator's finally: drops the template


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    templates = _Templates(tmp_path_factory.mktemp("templates"))
    try:
        yield templates
    finally:
        templates.close()


#: the fixtures that give a test a database, on SQLite, and on PostgreSQL too for a
#: test marked ``both_databases`` (see :func:`pytest_generate_tests`)
DATABASE_FIXTURES = ("database_url", "fresh_database_url", "empty_database_url")
_POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that takes a database on SQLite; a test about database behaviour
    (locks, concurrency, migrations, types, what a refusal leaves behind) is marked
    ``both_databases`` and runs on PostgreSQL as well."""
    kinds = ["sqlite"]
    if metafunc.definition.get_closest_marker("both_databases"):
        kinds.append(_POSTGRES)
    for name in DATABASE_FIXTURES:
        if name in metafunc.fixturenames:
            scope = "session" if name == "database_url" else "function"
            metafunc.parametrize(name, kinds, indirect=True, scope=scope)


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The database of the gateway shared by a session's tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'omgw.db'}"
    else:
        yield from pg_database()


@pytest.fixture
def fresh_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _templates: _Templates
) -> Iterator[str]:
    """A database of its own for one test (admin tests change shared setup), migrated
    to head with the built-ins written, as ``omgw init`` leaves a new one."""
    if request.param == "sqlite":
        yield _templates.sqlite(tmp_path / "fresh.db")
    else:
        yield from pg_database(template=_templates.postgres())


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own, for tests of migrations and of a first start."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield from pg_database()


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """An empty PostgreSQL database for one test that is about PostgreSQL."""
    yield from pg_database()


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
        # tests read /metrics right after a change; the cache has a test of its own
        metrics_cache_seconds=0.0,
    )
    return Settings(**{**base.__dict__, **overrides})


@functools.cache
def _password_hash() -> str:
    """One scrypt hash of the tests' password for every user a test process seeds: scrypt
    is slow by design, and a salt shared between the tests' users hides nothing."""
    return hash_password(PASSWORD)


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
                    password_hash=_password_hash(),
                    digest_secret=runtime.secret_box.seal(PASSWORD.encode(), f"user:{name}"),
                    roles=" ".join(roles),
                    systems=" ".join(USER_SYSTEMS.get(name, ())),
                    all_systems=name == "all",
                )
            )


@contextmanager
def seeded(settings: Settings) -> Iterator[Runtime]:
    """A runtime on ``settings``'s database, migrated and seeded with the tests' source
    systems, connectors and users; closed when the block ends."""
    prepare(settings)
    runtime = Runtime(settings)
    try:
        seed(runtime)
        yield runtime
    finally:
        runtime.close()


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


@contextmanager
def served(runtime: Runtime) -> Iterator[str]:
    """The gateway's front on ``runtime`` as it is (not migrated or seeded here: it may
    be broken on purpose) on a free 127.0.0.1 port, in a thread; yields its base URL."""
    with running(bound_server(build_app(runtime))) as base:
        yield base


@contextmanager
def serving(settings: Settings) -> Iterator[Gateway]:
    """A migrated, seeded gateway on a free 127.0.0.1 port, in a thread."""
    prepare(settings)
    server = bound_server()
    # the port is known only now; asynchronous answers are addressed to it (ReplyTo)
    settings = replace(settings, public_url=f"http://127.0.0.1:{server.server_port}")
    runtime = Runtime(settings)
    try:
        seed(runtime)
        server.set_app(build_app(runtime))
        with running(server) as base:
            yield Gateway(base, runtime)
    finally:
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
def domain(tmp_path: Path, _templates: _Templates) -> Iterator[Runtime]:
    """A migrated, seeded SQLite database for domain tests (no server)."""
    settings = make_settings(tmp_path, _templates.sqlite(tmp_path / "unit.db"))
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
