"""What one gateway process holds: settings, the database and the key, built once."""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connectors.secret_box import KeyFile, Keyring, SecretBox
from gateway.config import Settings
from gateway.persistence.db import create_engine_for, make_session_factory

__all__ = ["MMAP_THRESHOLD", "Runtime", "limit_malloc_retention"]

log = logging.getLogger(__name__)

#: Allocations of at least this many bytes get pages of their own from glibc (mmap), given
#: back to the system when freed; see :func:`limit_malloc_retention`.
MMAP_THRESHOLD = 1024 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>


def limit_malloc_retention() -> bool:
    """Make glibc give large freed blocks back to the system; True if it was set.

    Checking a password runs scrypt (``gateway.security.passwords``), whose work area is
    16 MiB (128 * r * N bytes), allocated and freed by OpenSSL with ``malloc``. glibc's
    *dynamic* mmap threshold starts at 128 KiB, but after the first such block is freed
    it rises to 16 MiB, and from then on every 16 MiB block comes from the calling
    thread's malloc arena and stays resident after ``free``: each server thread that
    ever checked a password (every front thread of every gunicorn worker, when the
    authenticator's 60 s cache runs out and several miss at once) kept 16 MiB for good:
    ~64 MiB per gunicorn worker, measured. A fixed threshold turns the dynamic one off,
    so such blocks are always mapped on their own and unmapped when freed. Call it at a
    process's start, before threads exist (gunicorn's master: its workers inherit it).
    Anything but glibc on Linux is left alone.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the process runs on: glibc's
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


@dataclass
class Runtime:
    """The per-process composition of settings, engine and sessions."""

    settings: Settings
    engine: Engine = field(init=False)
    sessions: sessionmaker[Session] = field(init=False)
    #: sessions for work that only reads (no write lock on SQLite)
    read_sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.engine = create_engine_for(self.settings.database_url)
        self.sessions = make_session_factory(self.engine)
        self.read_sessions = make_session_factory(self.engine, readonly=True)

    _box: SecretBox | None = field(init=False, default=None, repr=False)
    _box_stamp: object = field(init=False, default=None, repr=False)
    _box_lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)

    def _key_stamp(self) -> object:
        if self.settings.wallet_key_b64:
            return "env"
        key_file = KeyFile(self.settings.key_file)
        stamps: list[tuple[int, int] | None] = []
        for path in (key_file.path, key_file.next_path):
            try:
                st = path.stat()
                stamps.append((st.st_mtime_ns, st.st_ino))
            except FileNotFoundError:
                stamps.append(None)
        return tuple(stamps)

    @property
    def secret_box(self) -> SecretBox:
        """The wallet cipher, loaded when first needed and again whenever the key file
        changes, so a ``wallet rotate-key`` run by another process is picked up."""
        stamp = self._key_stamp()
        with self._box_lock:
            if self._box is None or stamp != self._box_stamp:
                keyring = self.load_keyring()
                if self._box is not None:
                    keyring = keyring.keeping(self._box.keyring)
                self._box = SecretBox(keyring)
                self._box_stamp = stamp
            return self._box

    def load_keyring(self) -> Keyring:
        if self.settings.wallet_key_b64:
            return Keyring.from_text(self.settings.wallet_key_b64)
        return KeyFile(self.settings.key_file).load()

    def close(self) -> None:
        self.engine.dispose()
