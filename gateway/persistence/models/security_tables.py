"""The security tables: API users, the digest nonces seen, failed sign-ins counted for
lockout, and signed-in console sessions; each is shared by every gateway process.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.persistence.models.table_base import Base, Id, utcnow

__all__ = ["AuthFailure", "ConsoleSession", "UsedNonce", "User"]


class User(Base):
    """An API user. ``password_hash`` is scrypt; ``digest_secret`` is the password sealed
    with the wallet key, needed only to check WS-Security ``PasswordDigest``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    digest_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    roles: Mapped[str] = mapped_column(String(300))  # space-separated
    #: the source and fulfillment systems the user may act for, codes space-separated
    #: (``security.systems``); ``all_systems`` grants every system, present and future
    systems: Mapped[str] = mapped_column(Text, default="")
    all_systems: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsedNonce(Base):
    """Digest nonces seen inside the replay window (shared by every gateway process)."""

    __tablename__ = "used_nonces"

    nonce_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AuthFailure(Base):
    """Failed sign-ins counted against a user name or a client address (shared by every
    gateway process); ``key`` is a hash of which (``gateway.security.lockout``)."""

    __tablename__ = "auth_failures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in console session (shared by every gateway process). Only a hash of its
    token is kept: the token itself lives in the browser's cookie."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    address: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the latest the session may last, however busy (``OMGW_CONSOLE_SESSION_SECONDS``)
    expires_at: Mapped[datetime] = mapped_column(index=True)
