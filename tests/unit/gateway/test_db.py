"""The SQLite set-up omgw relies on (DESIGN §5)."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from gateway.errors import InternalError
from gateway.persistence.db import create_engine_for, make_session_factory
from gateway.persistence.gate import WriterGate


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


# -- the writer gate -----------------------------------------------------------------------


def _gate_is_free(db: Path) -> bool:
    """Whether another open file description can take the gate's file lock right now."""
    fd = os.open(f"{db}.gate", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also drops the lock if it was taken
    return True


@pytest.fixture
def counter_db(tmp_path):
    db = tmp_path / "x.db"
    engine = create_engine_for(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("create table t (v int)"))
        conn.execute(text("insert into t values (0)"))
    yield db, engine
    engine.dispose()


def test_a_write_transaction_holds_the_gate_until_commit(counter_db):
    db, engine = counter_db
    with engine.begin() as conn:
        conn.execute(text("update t set v = v + 1"))
        assert not _gate_is_free(db)
    assert _gate_is_free(db)
    # a read-only transaction never takes it
    with make_session_factory(engine, readonly=True)() as r, r.begin():
        r.execute(text("select v from t")).scalar()
        assert _gate_is_free(db)


@pytest.mark.parametrize("ending", ["rollback", "error", "close", "invalidate"])
def test_every_end_of_a_write_transaction_frees_the_gate(counter_db, ending):
    """Rolled back, failed, closed mid-way or its connection invalidated: the next writer
    must not wait for a gate nobody holds."""
    db, engine = counter_db
    conn = engine.connect()
    tx = conn.begin()
    conn.execute(text("update t set v = 99"))
    assert not _gate_is_free(db)
    if ending == "rollback":
        tx.rollback()
    elif ending == "error":
        with pytest.raises(OperationalError):
            conn.execute(text("select * from no_such_table"))
        tx.rollback()
    elif ending == "close":
        conn.close()
    else:
        conn.invalidate()
    assert _gate_is_free(db)
    conn.close()
    with engine.begin() as again:  # and the next writer gets its turn at once
        assert again.execute(text("select v from t")).scalar() == 0


def test_writers_of_two_engines_and_eight_threads_lose_no_update(counter_db):
    db, engine = counter_db
    other = create_engine_for(f"sqlite:///{db}")  # its own gate: they meet at the file lock
    failures: list[BaseException] = []

    def bump(e) -> None:
        try:
            for _ in range(25):
                with e.begin() as conn:
                    v = conn.execute(text("select v from t")).scalar()
                    conn.execute(text("update t set v = :v"), {"v": v + 1})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=bump, args=(e,)) for e in (engine, other) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    other.dispose()
    assert failures == []
    with engine.connect() as conn:
        assert conn.execute(text("select v from t")).scalar() == 8 * 25


def test_a_writer_that_gets_no_turn_is_told_the_database_is_busy(tmp_path):
    db = tmp_path / "x.db"
    gate = WriterGate(Path(f"{db}.gate"))
    fd = os.open(f"{db}.gate", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process's writer, stuck
    try:
        with pytest.raises(InternalError) as err:
            gate.acquire(timeout=0.2)
        assert err.value.code == "DATABASE_BUSY"
        assert "nothing was applied" in err.value.message
    finally:
        os.close(fd)
    gate.acquire(timeout=0.2)  # free again: taken at once, and the thread lock was not kept
    gate.release()


def test_a_forked_child_does_not_share_its_parents_lock(tmp_path):
    """gunicorn forks its workers after the master has written: a child must wait for the
    parent's turn like any other process, not take the lock through the file description
    it inherited (on which the parent's flock counts as its own)."""
    gate = WriterGate(tmp_path / "x.db.gate")
    gate.acquire(timeout=1)  # opens the file before the fork
    gate.release()
    go, ready = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only if it was refused
        code = 1
        try:
            os.read(go, 1)  # the parent holds its turn now
            gate.acquire(timeout=0.2)
        except InternalError as exc:
            code = 0 if exc.code == "DATABASE_BUSY" else 2
        finally:
            os._exit(code)
    gate.acquire(timeout=1)
    try:
        os.write(ready, b"x")
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
    finally:
        gate.release()


def test_prune_batches_are_bounded_in_rows_and_bytes():
    from gateway.persistence.retention import batches

    sized = [(1, 10), (2, 10), (3, 100), (4, 1), (5, 1), (6, 1), (7, 1)]
    assert batches(sized, max_rows=3, max_bytes=50) == [[1, 2], [3], [4, 5, 6], [7]]
    assert batches([], max_rows=3, max_bytes=50) == []
