"""Failed sign-ins, counted per user name and per client address, shared by every process.

A user name that fails ``max_failures`` times within the window is locked for the
lockout time, even with the right password; a client address that fails
``address_max_failures`` times is throttled (every sign-in from it refused) as long.
Unknown user names are counted and locked exactly like known ones, so a lock says
nothing about who exists. Both are checked before any password is hashed, so a
guesser who is locked out costs one indexed read per request, not a scrypt.

The counts live in the ``auth_failures`` table so that every gunicorn worker and every
machine sees the same ones. A failure is counted in one write transaction that holds
the row (``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so concurrent
failures are never lost. The rules themselves are pure functions of a :class:`Tally`.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import AuthError
from gateway.persistence import audit_trail
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import AuthFailure

__all__ = [
    "LockoutPolicy",
    "SignInGuard",
    "Subject",
    "Tally",
    "address_subject",
    "after_failure",
    "locked_until",
    "user_subject",
]

#: the audit log's actor for locks the gateway applies itself
AUDIT_ACTOR = "omgw-auth"


@dataclass(frozen=True)
class LockoutPolicy:
    """How many failures within ``window`` lock a user name or throttle an address
    (0: never), and for how long."""

    max_failures: int = 10
    address_max_failures: int = 50
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)

    def limit(self, subject: Subject) -> int:
        return self.max_failures if subject.kind == "user" else self.address_max_failures


@dataclass(frozen=True)
class Subject:
    """What failures are counted against: a user name, or a client address."""

    kind: str  # user | address
    name: str

    @property
    def key(self) -> str:
        # Hashed: a name is caller input of any length (a password typed as the user name
        # must not be stored in clear), and the key must fit one indexed column.
        return hashlib.sha256(f"{self.kind}\0{self.name}".encode()).hexdigest()


def user_subject(username: str) -> Subject:
    return Subject("user", username)


def address_subject(address: str) -> Subject:
    """An IPv4 address as it is; an IPv6 address by its /64 network, which one host
    usually holds whole (counting single addresses would let it change address per try)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return Subject("address", address[:100])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return Subject("address", str(ip.ipv4_mapped))
        return Subject("address", str(ipaddress.ip_network(f"{ip}/64", strict=False)))
    return Subject("address", str(ip))


@dataclass(frozen=True)
class Tally:
    """Failures counted since ``window_start``, and a lock's end if one was applied."""

    failures: int
    window_start: datetime
    locked_until: datetime | None = None


def locked_until(tally: Tally | None, now: datetime) -> datetime | None:
    """The end of the lock in force at ``now``, if any."""
    if tally is None or tally.locked_until is None or tally.locked_until <= now:
        return None
    return tally.locked_until


def after_failure(tally: Tally | None, now: datetime, limit: int, policy: LockoutPolicy) -> Tally:
    """The tally once one more failure is counted at ``now``.

    Failures older than the window are forgotten; reaching ``limit`` locks for the
    lockout time and starts a fresh count (the next lock needs ``limit`` new failures).
    A failure while locked (a request that passed the check just before the lock) adds
    nothing: the lock is already there.
    """
    if locked_until(tally, now) is not None:
        assert tally is not None
        return tally
    if tally is None or now - tally.window_start >= policy.window:
        failures, start = 1, now
    else:
        failures, start = tally.failures + 1, tally.window_start
    if limit and failures >= limit:
        return Tally(0, now, now + policy.lockout)
    return Tally(failures, start)


class SignInGuard:
    """The lockout rules over the ``auth_failures`` table.

    :param sessions: write sessions (a failure is counted in its own transaction).
    """

    def __init__(self, sessions: sessionmaker[Session], policy: LockoutPolicy) -> None:
        self._sessions = sessions
        self.policy = policy

    def _subjects(self, username: str, address: str | None) -> list[Subject]:
        subjects = []
        if self.policy.max_failures:
            subjects.append(user_subject(username))
        if self.policy.address_max_failures and address:
            subjects.append(address_subject(address))
        return subjects

    def check(self, db: Connection, username: str, address: str | None, now: datetime) -> bool:
        """Refuse a locked user name or a throttled address (``AUTH_LOCKED``,
        ``AUTH_THROTTLED``); else say whether the user name has failures to clear
        once it signs in. Reads through ``db``, the request's read connection."""
        subjects = self._subjects(username, address)
        if not subjects:
            return False
        tallies = _read(db, subjects, for_update=False)
        for subject in subjects:
            until = locked_until(tallies.get(subject.key), now)
            if until is not None:
                raise _refusal(subject, until, now)
        user = tallies.get(user_subject(username).key)
        return user is not None and user.failures > 0

    def failed(self, username: str, address: str | None, now: datetime) -> None:
        """Count one failed sign-in against the user name and the address; lock those
        that reach their limit, with an audit row per lock."""
        subjects = self._subjects(username, address)
        if not subjects:
            return
        with self._sessions() as s, s.begin():
            _ensure_rows(s, subjects, now)
            tallies = _read(s.connection(), subjects, for_update=True)
            for subject in subjects:
                before = tallies.get(subject.key)
                after = after_failure(before, now, self.policy.limit(subject), self.policy)
                if after == before:
                    continue
                s.execute(
                    update(AuthFailure)
                    .where(AuthFailure.key == subject.key)
                    .values(
                        failures=after.failures,
                        window_start=after.window_start,
                        locked_until=after.locked_until,
                    )
                )
                if after.locked_until is not None:
                    audit_trail.record(s, AUDIT_ACTOR, _lock_change(subject, after, address, now))

    def succeeded(self, username: str) -> None:
        """Forget a user name's failures once it signs in (addresses keep theirs: one
        good account must not reset the count of guesses at others)."""
        with self._sessions() as s, s.begin():
            s.execute(
                update(AuthFailure)
                .where(AuthFailure.key == user_subject(username).key)
                .values(failures=0)
            )

    def purge(self, now: datetime) -> int:
        """Forget tallies whose window and lock are both over."""
        cutoff = now - self.policy.window
        with self._sessions() as s, s.begin():
            result = s.execute(
                delete(AuthFailure).where(
                    AuthFailure.window_start < cutoff,
                    (AuthFailure.locked_until.is_(None)) | (AuthFailure.locked_until < now),
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


# Built once: building a statement costs more than running it against an index.
_TALLIES = select(
    AuthFailure.key, AuthFailure.failures, AuthFailure.window_start, AuthFailure.locked_until
).where(AuthFailure.key.in_(bindparam("keys", expanding=True)))
_TALLIES_FOR_UPDATE = _TALLIES.with_for_update()


def _read(db: Connection, subjects: Iterable[Subject], *, for_update: bool) -> dict[str, Tally]:
    stmt = _TALLIES_FOR_UPDATE if for_update else _TALLIES
    out = {}
    for key, failures, window_start, until in db.execute(stmt, {"keys": [x.key for x in subjects]}):
        start = _aware(window_start)
        assert start is not None
        out[key] = Tally(failures, start, _aware(until))
    return out


def _ensure_rows(s: Session, subjects: Iterable[Subject], now: datetime) -> None:
    """A row per subject, so that it can be held while it is counted; a row inserted
    by a concurrent request is left as it is."""
    postgresql = s.get_bind().dialect.name == "postgresql"
    for subject in subjects:
        values = dict(key=subject.key, failures=0, window_start=now, locked_until=None)
        if postgresql:
            s.execute(pg_insert(AuthFailure).values(values).on_conflict_do_nothing())
        else:
            s.execute(sqlite_insert(AuthFailure).values(values).on_conflict_do_nothing())


def _refusal(subject: Subject, until: datetime, now: datetime) -> AuthError:
    wait = max(1, int((until - now).total_seconds() + 0.999))
    when = f"{until.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    if subject.kind == "user":
        return AuthError(
            "AUTH_LOCKED",
            f"user {subject.name!r} is locked after too many failed sign-ins; "
            f"retry after {when} (in {wait} s)",
        )
    return AuthError(
        "AUTH_THROTTLED",
        f"too many failed sign-ins from {subject.name}; retry after {when} (in {wait} s)",
    )


def _lock_change(subject: Subject, tally: Tally, address: str | None, now: datetime) -> Change:
    assert tally.locked_until is not None
    after = {
        "locked_until": f"{tally.locked_until.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
        "from": address,
    }
    action = "lock" if subject.kind == "user" else "throttle"
    return Change(action, subject.kind, subject.name, None, after)
