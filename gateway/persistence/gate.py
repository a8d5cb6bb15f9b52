"""The queue SQLite writers wait in: a thread lock, then an OS file lock beside the database.

SQLite admits one writer at a time. A second ``BEGIN IMMEDIATE`` does not queue: its
busy handler sleeps and retries, in steps that grow to 100 ms. With gunicorn's
2 processes × 4 threads, an outbox worker and the background loop all writing one file,
a request could sleep through several steps while the lock sat free, so throughput fell
and p99 latency passed a second although the CPU was idle.

So every omgw writer first takes this gate. Threads of one process wait on a lock and
wake the moment it is released; the one that has it then tries an exclusive ``flock`` on
``<database>.gate`` every 50 µs to 1 ms (the kernel drops it if its holder dies), so
another process's turn is taken within a millisecond of its end. SQLite's own lock is
still taken after the gate, so a writer that does not use the gate (``sqlite3`` on the
command line) stays safe; it just waits the old way.

A thread that opens a second write transaction while its first is open waits for the
gate until the timeout, as it waited for SQLite's lock before.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref
from pathlib import Path

from gateway.errors import InternalError

__all__ = ["WriterGate", "busy"]

#: between tries of the file lock: short enough that a freed lock is taken within ~1 ms
_FIRST_PAUSE, _LONGEST_PAUSE = 0.00005, 0.001


def busy(why: str) -> InternalError:
    """The fault of a writer that got no turn: nothing was applied, so a retry is safe."""
    return InternalError(
        "DATABASE_BUSY", f"the database was busy ({why}); nothing was applied, send it again"
    )


class WriterGate:
    """One writer at a time across the threads and processes using ``path``.

    Held by a transaction, not a thread: whoever ends the transaction releases it.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._fd: int | None = None
        self._fresh()

    def _fresh(self) -> None:
        # Also after a fork: the child must not inherit a lock state or share the parent's
        # open file description (the parent's flock would count as the child's). Closing
        # the child's copy of the descriptor leaves the parent's lock alone.
        if self._fd is not None:
            os.close(self._fd)
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._fd = None

    def acquire(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the turn; ``OMGW-DATABASE_BUSY`` if none came."""
        if self._pid != os.getpid():
            self._fresh()
        deadline = time.monotonic() + timeout
        if not self._lock.acquire(timeout=timeout):
            raise busy(f"no write turn within {timeout:g} s")
        try:
            self._take_file(deadline, timeout)
        except BaseException:
            self._lock.release()
            raise

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._lock.release()

    def _take_file(self, deadline: float, timeout: float) -> None:
        if self._path is None:
            return
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            weakref.finalize(self, _close_in, self._pid, self._fd)
        pause = _FIRST_PAUSE
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise busy(f"another process held the write lock for {timeout:g} s") from None
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)


def _close_in(pid: int, fd: int) -> None:
    """Close ``fd`` when its gate is collected, in the process that opened it."""
    if os.getpid() == pid:
        os.close(fd)
