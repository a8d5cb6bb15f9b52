"""Who is calling, and may they call this service?

Successful password checks are cached in memory, keyed by an HMAC of (user, password)
under a per-process random key: scrypt is deliberately slow (~50 ms) and must not run
on every request of a busy client. Each request still reads the user's row (one indexed
read): a cached check counts only while the row's password hash is the one it was made
against, and the roles come from the row, so removing a user or changing its password or
roles takes effect on the next request in every process. Digest tokens are never cached:
each nonce is checked against the shared ``used_nonces`` table.

Failed sign-ins are counted per user name and client address (:mod:`.lockout`), and
checked before any work on the password. An unknown user name is answered after the
same work as a known one (a scrypt against a dummy hash, or opening a dummy sealed
secret for a digest), so the answer's time does not tell whether a user exists.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lxml import etree
from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connectors.connector_errors import WalletError
from connectors.secret_box import SecretBox
from gateway.errors import AuthError, InternalError
from gateway.persistence.models import UsedNonce, User
from gateway.security.lockout import LockoutPolicy, SignInGuard
from gateway.security.passwords import hash_password, verify_password
from gateway.security.systems import SystemGrant
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
_WRONG = "unknown user or wrong password"


@dataclass(frozen=True)
class Principal:
    username: str
    roles: frozenset[str]
    #: the systems the user may act for, read with the user (``security.systems``)
    grant: SystemGrant = field(default_factory=SystemGrant)


@dataclass(frozen=True)
class _Account:
    """What a sign-in needs of a user's row."""

    username: str
    password_hash: str
    digest_secret: bytes | None
    roles: str
    systems: str
    all_systems: bool

    def principal(self) -> Principal:
        return Principal(
            self.username,
            frozenset(self.roles.split()),
            SystemGrant.stored(self.systems, self.all_systems),
        )


# Built once: building a statement costs more than running it against an index.
_ACCOUNT = select(
    User.username,
    User.password_hash,
    User.digest_secret,
    User.roles,
    User.systems,
    User.all_systems,
).where(User.username == bindparam("username"))


def _account(db: Connection, username: str) -> _Account | None:
    row = db.execute(_ACCOUNT, {"username": username}).first()
    return None if row is None else _Account(*row)


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
        lockout: LockoutPolicy | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._box = secret_box
        self._window = timedelta(seconds=replay_window_seconds)
        self._skew = timedelta(seconds=clock_skew_seconds)
        self._now = now
        self._guard = SignInGuard(sessions, lockout or LockoutPolicy())
        self._cache_key = os.urandom(32)
        # (expiry, password hash the check was made against) per HMAC of (user, password)
        self._cache: dict[bytes, tuple[float, str]] = {}
        self._lock = threading.Lock()
        # Unknown users are checked against these, to take a known user's time.
        self._dummy_hash = hash_password(os.urandom(16).hex())
        self._dummy_sealed: bytes | None = None

    def authenticate(
        self,
        header: etree._Element | None,
        authorization: str | None,
        role: str,
        *,
        address: str | None,
        screened: Principal | None = None,
    ) -> Principal:
        """The caller's principal, or an :class:`AuthError`.

        :param header: the parsed SOAP Header (WS-Security), if any.
        :param authorization: the HTTP ``Authorization`` header, if any.
        :param role: the role the service requires.
        :param address: the client's address (``REMOTE_ADDR``), counted for throttling.
        :param screened: the principal this request's HTTP Basic header was authenticated
            as (for ``role``) before its body was read: it stands when the body carries no
            WS-Security header, which would otherwise take precedence.
        """
        token, stamp = parse_security_header(header)
        if screened is not None and token is None and stamp is None:
            return screened
        now = self._now()
        check_timestamp(stamp, now, self._skew, self._window)
        basic = None if token is not None else parse_basic(authorization)
        if token is None and basic is None:
            raise AuthError(
                "AUTH_REQUIRED",
                "credentials are required: a WS-Security UsernameToken or HTTP Basic",
            )
        username = token.username if token is not None else basic.username if basic else ""
        # One read session for the request: the user's row and the failure counts.
        with self._read_sessions() as s:
            db = s.connection()
            account = _account(db, username)
            # Locked or throttled: refused before any work on the password.
            had_failures = self._guard.check(db, username, address, now)
        if token is not None:
            found = self._check_token(token, account, now)
        else:
            assert basic is not None
            found = self._check_password(account, basic.username, basic.password)
        principal = self._settle(found, username, address, now, had_failures)
        if role not in principal.roles:
            raise AuthError("AUTH_FORBIDDEN", f"user {principal.username!r} lacks the role {role}")
        return principal

    def sign_in(self, username: str, password: str, *, address: str | None) -> Principal:
        """The principal of a user name and password (the console's sign-in form), under
        the same lockout and timing rules as a service call; roles are the caller's to
        check."""
        now = self._now()
        with self._read_sessions() as s:
            db = s.connection()
            account = _account(db, username)
            had_failures = self._guard.check(db, username, address, now)
        found = self._check_password(account, username, password)
        return self._settle(found, username, address, now, had_failures)

    def _settle(
        self,
        principal: Principal | None,
        username: str,
        address: str | None,
        now: datetime,
        had_failures: bool,
    ) -> Principal:
        """Count a failed sign-in (and refuse it), or clear the failures of one that worked."""
        if principal is None:
            self._guard.failed(username, address, now)
            raise AuthError("AUTH_FAILED", _WRONG)
        if had_failures:
            self._guard.succeeded(username)
        return principal

    def _check_token(
        self, token: UsernameToken, account: _Account | None, now: datetime
    ) -> Principal | None:
        if token.password_type == PASSWORD_TEXT:
            return self._check_password(account, token.username, token.password)
        if token.password_type != PASSWORD_DIGEST:
            raise AuthError("AUTH_FAILED", f"unsupported password type {token.password_type!r}")
        created = parse_time(token.created, "UsernameToken Created")
        if not token.nonce or created is None:
            raise AuthError(
                "AUTH_FAILED", "a PasswordDigest token needs a non-empty Nonce and a Created"
            )
        assert token.created is not None
        check_created(created, token.created, now, self._skew, self._window)
        secret, aad = (
            (account.digest_secret, f"user:{account.username}")
            if account is not None and account.digest_secret is not None
            else (self._dummy_secret(), "user:\0")
        )
        try:
            password = self._box().open(secret, aad).decode()
        except WalletError as exc:
            raise InternalError(
                "INTERNAL_ERROR", "the gateway cannot open its wallet; an admin must check the key"
            ) from exc
        matched = digest_matches(token, password)
        if not matched or account is None or account.digest_secret is None:
            return None
        self._remember_nonce(token, now)
        return account.principal()

    def _dummy_secret(self) -> bytes:
        """A secret sealed under the current key, opened for unknown users."""
        if self._dummy_sealed is None:
            self._dummy_sealed = self._box().seal(os.urandom(16).hex().encode(), "user:\0")
        return self._dummy_sealed

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

    def _check_password(
        self, account: _Account | None, username: str, password: str
    ) -> Principal | None:
        key = hmac.new(self._cache_key, f"{username}\0{password}".encode(), "sha256").digest()
        with self._lock:
            hit = self._cache.get(key)
        if (
            account is not None
            and hit is not None
            and hit[0] > time.monotonic()
            and hmac.compare_digest(hit[1], account.password_hash)
        ):
            return account.principal()
        stored = self._dummy_hash if account is None else account.password_hash
        if not verify_password(password, stored) or account is None:
            return None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (time.monotonic() + _CACHE_SECONDS, account.password_hash)
        return account.principal()

    def purge(self) -> int:
        """Forget nonces and failure counts that no longer matter."""
        return self.purge_nonces() + self._guard.purge(self._now())

    def purge_nonces(self) -> int:
        """Forget nonces older than twice the window (they fail the Created check anyway)."""
        cutoff = self._now() - 2 * self._window
        with self._sessions() as s, s.begin():
            result = s.execute(delete(UsedNonce).where(UsedNonce.seen_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)
