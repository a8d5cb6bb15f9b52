"""Console sessions: a random token in an HttpOnly cookie, its hash in the database.

Each request reads the session and its user's row together, so signing out, removing a
user or taking away their console role ends the session on the next request, in every
process. A session ends after ``idle`` without a request and at ``longest`` however busy.
Its last use is written at most once a minute, so reading pages costs no write.

The CSRF token of a session is an HMAC of its token: the page that holds it proves it
was served to the cookie's holder, and nothing more need be stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.persistence.models import ConsoleSession, User, as_utc, utcnow
from gateway.security.roles import console_role

__all__ = ["SESSION_COOKIE", "SessionStore", "WebSession", "csrf_for", "notice_seal"]

SESSION_COOKIE = "omgw_session"
_TOUCH_EVERY = timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_for(token: str) -> str:
    """The CSRF token of the session whose cookie holds ``token``."""
    return hmac.new(token.encode(), b"omgw console csrf", "sha256").hexdigest()


def notice_seal(token: str, notice: str) -> str:
    """The seal a redirect gives its notice: only this session's pages show the notice,
    so a link crafted elsewhere (``?notice=Call the helpdesk``) shows nothing."""
    key = csrf_for(token).encode()
    return hmac.new(key, b"notice\0" + notice.encode(), "sha256").hexdigest()[:32]


@dataclass(frozen=True)
class WebSession:
    """A live session and what its user may do now."""

    token: str
    username: str
    roles: frozenset[str]
    expires_at: datetime

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)

    def sealed_notice(self, notices: list[str], seals: list[str]) -> str | None:
        """The notice of ``notices`` this session's seal is among ``seals``, if any."""
        for notice in notices:
            seal = notice_seal(self.token, notice)
            if any(hmac.compare_digest(seal.encode(), s.encode()) for s in seals):
                return notice
        return None


class SessionStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        read_sessions: sessionmaker[Session],
        *,
        idle: timedelta,
        longest: timedelta,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._idle = idle
        self._longest = longest

    def open(self, username: str, address: str | None) -> str:
        """A new session for ``username`` (signed in just now); its token."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self._sessions() as s, s.begin():
            # sessions of anyone that ended: cleared here rather than by a job of their own
            s.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
            s.add(
                ConsoleSession(
                    token_hash=_hash(token),
                    username=username,
                    address=(address or "")[:100] or None,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self._longest,
                )
            )
        return token

    def find(self, token: str | None) -> WebSession | None:
        """The live session of ``token``, or None (unknown, idle too long, over, or its
        user gone or no longer holding a console role)."""
        if not token or len(token) > 100:
            return None
        key = _hash(token)
        now = utcnow()
        with self._read_sessions() as s:
            row = s.execute(
                select(ConsoleSession, User.roles)
                .join(User, User.username == ConsoleSession.username)
                .where(ConsoleSession.token_hash == key)
            ).first()
        if row is None:
            return None
        session, roles_text = row
        seen = as_utc(session.last_seen_at)
        expires = as_utc(session.expires_at)
        assert seen is not None and expires is not None
        roles = frozenset(roles_text.split())
        if now >= expires or now - seen >= self._idle or console_role(roles) is None:
            self.close(token)
            return None
        if now - seen >= _TOUCH_EVERY:
            with self._sessions() as s, s.begin():
                s.execute(
                    update(ConsoleSession)
                    .where(ConsoleSession.token_hash == key)
                    .values(last_seen_at=now)
                )
        return WebSession(token, session.username, roles, expires)

    def close(self, token: str) -> None:
        with self._sessions() as s, s.begin():
            s.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _hash(token)))

    def close_all_of(self, session: Session, username: str) -> None:
        """End every session of ``username`` in the caller's transaction (a password or
        role change, a removal)."""
        session.execute(delete(ConsoleSession).where(ConsoleSession.username == username))
