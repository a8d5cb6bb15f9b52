"""The SQLite set-up omgw relies on (DESIGN §5)."""

from __future__ import annotations

import threading

from sqlalchemy import text

from gateway.persistence.db import create_engine_for, make_session_factory


def test_sqlite_pragmas(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()


def test_a_reader_is_not_blocked_by_a_writer(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(text("create table t (v int)"))
        conn.execute(text("insert into t values (1)"))
    writers, readers = make_session_factory(engine), make_session_factory(engine, readonly=True)
    with writers() as w, w.begin():
        w.execute(text("update t set v = 2"))  # holds the write lock
        seen: list[int] = []
        t = threading.Thread(
            target=lambda: seen.append(readers().execute(text("select v from t")).scalar())
        )
        t.start()
        t.join(timeout=5)
        assert seen == [1]  # read the committed value at once, without waiting
    engine.dispose()
