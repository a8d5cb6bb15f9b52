"""Engine, sessions and migrations for SQLite (default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=NORMAL``, foreign keys on and a busy
timeout. Every transaction starts with ``BEGIN IMMEDIATE``: SQLite's default deferred
transactions take the write lock only at the first write, and two processes that
both read first then write deadlock with ``database is locked``. Taking the lock up
front serialises writers cleanly, which is what gunicorn workers on one file need.
Before it, a writer waits its turn at a :class:`~gateway.persistence.gate.WriterGate`,
which wakes it when the turn comes instead of SQLite's sleep-and-retry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from gateway.persistence.gate import WriterGate
from gateway.persistence.private_files import ensure_private_dir, ensure_private_file, tighten

__all__ = ["READONLY", "create_engine_for", "make_session_factory", "migrate", "serialize_setup"]

#: Execution option marking a transaction that only reads (no write lock on SQLite).
READONLY = "omgw_readonly"

_MIGRATIONS = Path(__file__).with_name("migrations")

#: seconds a writer waits for its turn, as SQLite's busy timeout below
_WAIT_SECONDS = 30


def create_engine_for(url: str) -> Engine:
    """An engine for ``url`` with the pragmas and pooling omgw relies on."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        on_disk = bool(path) and path != ":memory:" and "mode=memory" not in path
        if on_disk:
            _private_database(Path(path))
        engine = create_engine(
            url, connect_args={"timeout": _WAIT_SECONDS, "check_same_thread": False}
        )
        _sqlite_setup(engine, WriterGate(Path(f"{path}.gate") if on_disk else None))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _private_database(path: Path) -> None:
    """The database file 0600 before SQLite opens it: its ``-wal`` and ``-shm`` files are
    created with the same mode; any left open to others from before are tightened."""
    if not path.parent.exists():
        ensure_private_dir(path.parent)
    ensure_private_file(path)
    for suffix in ("-wal", "-shm", ".gate"):
        tighten(path.with_name(path.name + suffix))


def _sqlite_setup(engine: Engine, gate: WriterGate) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={_WAIT_SECONDS * 1000}")
        cur.close()

    # The dbapi connections whose transaction holds the gate, released once the COMMIT
    # or ROLLBACK has run (SQLAlchemy's commit/rollback events fire before it).
    holding: set[int] = set()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # Readers (WAL) need no write lock: a deferred BEGIN lets them run beside writers.
        if conn.get_execution_options().get(READONLY, False):
            conn.exec_driver_sql("BEGIN")
            return
        gate.acquire(_WAIT_SECONDS)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            gate.release()
            raise
        holding.add(id(conn.connection.dbapi_connection))

    def _ending(end: Callable[[Any], None]) -> Callable[[Any], None]:
        def ended(connection: Any) -> None:
            try:
                end(connection)
            finally:
                raw = id(getattr(connection, "dbapi_connection", connection))
                if raw in holding:
                    holding.discard(raw)
                    gate.release()

        return ended

    dialect: Any = engine.dialect  # this engine's own instance
    dialect.do_commit = _ending(dialect.do_commit)
    dialect.do_rollback = _ending(dialect.do_rollback)
    # a connection closed or invalidated inside its transaction frees the gate too
    dialect.do_close = _ending(dialect.do_close)


def make_session_factory(engine: Engine, readonly: bool = False) -> sessionmaker[Session]:
    bind = engine.execution_options(**{READONLY: True}) if readonly else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


#: any constant: the advisory lock that orders processes setting up one PostgreSQL database
_SETUP_LOCK = 0x6F6D6777  # "omgw"


def serialize_setup(conn: Connection | Session) -> None:
    """On PostgreSQL, one process at a time migrates and seeds a database (until the
    transaction ends); SQLite's write lock already does this."""
    dialect = conn.get_bind().dialect if isinstance(conn, Session) else conn.dialect
    if dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SETUP_LOCK})


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent).

    On SQLite, a batch migration rebuilds a table by copy-and-drop, which foreign keys
    forbid while other rows point at it; and ``PRAGMA foreign_keys`` cannot change inside
    a transaction. So they are switched off around the migration, and every reference is
    checked with ``PRAGMA foreign_key_check`` before it commits.
    """
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if sqlite and raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                serialize_setup(conn)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left broken references: {broken[:5]}")
        finally:
            if sqlite and raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")
