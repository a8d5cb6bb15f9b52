"""Who is calling, and may they call this service?

Successful password checks are cached in memory for a short time, keyed by an HMAC
of (user, password) under a per-process random key: scrypt is deliberately slow
(~50 ms) and must not run on every request of a busy client. Digest tokens are never
cached: each nonce is checked against the shared ``used_nonces`` table.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connectors.wallet import SecretBox, WalletError
from gateway.errors import AuthError, InternalError
from gateway.persistence.models import UsedNonce, User
from gateway.security.passwords import verify_password
from gateway.security.tokens import (
    PASSWORD_DIGEST,
    PASSWORD_TEXT,
    UsernameToken,
    check_created,
    check_timestamp,
    digest_matches,
    parse_basic,
    parse_security_header,
    parse_time,
)

__all__ = ["Authenticator", "Principal"]

_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Principal:
    username: str
    roles: frozenset[str]


class Authenticator:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        read_sessions: sessionmaker[Session],
        secret_box: Callable[[], SecretBox],
        replay_window_seconds: int = 300,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        clock_skew_seconds: int = 60,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._box = secret_box
        self._window = timedelta(seconds=replay_window_seconds)
        self._skew = timedelta(seconds=clock_skew_seconds)
        self._now = now
        self._cache_key = os.urandom(32)
        self._cache: dict[bytes, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def authenticate(
        self, header: etree._Element | None, authorization: str | None, role: str
    ) -> Principal:
        token, stamp = parse_security_header(header)
        now = self._now()
        check_timestamp(stamp, now, self._skew, self._window)
        if token is not None:
            principal = self._check_token(token, now)
        else:
            basic = parse_basic(authorization)
            if basic is None:
                raise AuthError(
                    "AUTH_REQUIRED",
                    "credentials are required: a WS-Security UsernameToken or HTTP Basic",
                )
            principal = self._check_password(basic.username, basic.password)
        if role not in principal.roles:
            raise AuthError("AUTH_FORBIDDEN", f"user {principal.username!r} lacks the role {role}")
        return principal

    def _check_token(self, token: UsernameToken, now: datetime) -> Principal:
        if token.password_type == PASSWORD_TEXT:
            return self._check_password(token.username, token.password)
        if token.password_type != PASSWORD_DIGEST:
            raise AuthError("AUTH_FAILED", f"unsupported password type {token.password_type!r}")
        created = parse_time(token.created, "UsernameToken Created")
        if not token.nonce or created is None:
            raise AuthError(
                "AUTH_FAILED", "a PasswordDigest token needs a non-empty Nonce and a Created"
            )
        assert token.created is not None
        check_created(created, token.created, now, self._skew, self._window)
        user = self._user(token.username)
        if user is None or user.digest_secret is None:
            raise AuthError("AUTH_FAILED", "unknown user or wrong password")
        try:
            password = self._box().open(user.digest_secret, f"user:{user.username}").decode()
        except WalletError as exc:
            raise InternalError(
                "INTERNAL_ERROR", "the gateway cannot open its wallet; an admin must check the key"
            ) from exc
        if not digest_matches(token, password):
            raise AuthError("AUTH_FAILED", "unknown user or wrong password")
        self._remember_nonce(token, now)
        return Principal(user.username, frozenset(user.roles.split()))

    def _remember_nonce(self, token: UsernameToken, now: datetime) -> None:
        assert token.nonce is not None
        key = hashlib.sha256(token.username.encode() + b"\0" + token.nonce).hexdigest()
        try:
            with self._sessions() as s, s.begin():
                s.add(UsedNonce(nonce_key=key, seen_at=now))
        except IntegrityError:
            raise AuthError(
                "AUTH_REPLAY", "this UsernameToken nonce was already used; send a fresh token"
            ) from None

    def _check_password(self, username: str, password: str) -> Principal:
        key = hmac.new(self._cache_key, f"{username}\0{password}".encode(), "sha256").digest()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        user = self._user(username)
        if user is None or not verify_password(password, user.password_hash):
            raise AuthError("AUTH_FAILED", "unknown user or wrong password")
        principal = Principal(user.username, frozenset(user.roles.split()))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (time.monotonic() + _CACHE_SECONDS, principal)
        return principal

    def _user(self, username: str) -> User | None:
        with self._read_sessions() as s:
            return s.scalar(select(User).where(User.username == username))

    def purge_nonces(self) -> int:
        """Forget nonces older than twice the window (they fail the Created check anyway)."""
        cutoff = self._now() - 2 * self._window
        with self._sessions() as s, s.begin():
            result = s.execute(delete(UsedNonce).where(UsedNonce.seen_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)
