"""What one gateway process holds: settings, the database and the key, built once."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connectors.wallet import KeyFile, Keyring, SecretBox
from gateway.config import Settings
from gateway.persistence.db import create_engine_for, make_session_factory

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


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
