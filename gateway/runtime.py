"""What one gateway process holds: settings, the database and the key, built once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connectors.wallet import MasterKey, SecretBox
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

    @cached_property
    def secret_box(self) -> SecretBox:
        """The wallet cipher; loading the key is deferred until a secret is needed."""
        if self.settings.wallet_key_b64:
            key = MasterKey.from_b64(self.settings.wallet_key_b64)
        else:
            key = MasterKey.load_file(self.settings.key_file)
        return SecretBox(key)

    def close(self) -> None:
        self.engine.dispose()
