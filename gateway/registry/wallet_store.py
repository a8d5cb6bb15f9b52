"""Wallet entries on SQLAlchemy (DESIGN §7).

An entry is addressed by (credential map, key) and holds a sealed :class:`Credential`.
Its associated data is the JSON array ``["wallet", map, key, key version]`` (JSON, so no
map or key can be written to collide with another): a sealed value copied to another
row, or a row whose map, key or version was edited, fails to open.

Sealing and key rotation follow one protocol so that no secret is ever sealed with a
key that a rotation is about to retire: a writer first takes the secrets lock (on
PostgreSQL ``LOCK TABLE … ROW EXCLUSIVE``, which a rotation's ``SHARE ROW EXCLUSIVE``
excludes; on SQLite the ``BEGIN IMMEDIATE`` every writer takes), and only then loads
the keyring, which prefers the newest key while a rotation is pending.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from connectors.connector_errors import WalletError
from connectors.connector_specs import CredentialSource
from connectors.secret_box import Credential, MasterKey, SecretBox, check_client_pair
from connectors.spec_reader import is_plain
from gateway.errors import NotFoundError, ValidationError, did_you_mean
from gateway.persistence import audit_trail
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import User, WalletEntry, WalletState
from gateway.registry.references import refuse_if_referenced

__all__ = [
    "EntryInfo",
    "Wallet",
    "credential_source",
    "entry_aad",
    "key_problem",
    "lock_secrets",
    "seal_user_secret",
    "sealing_box",
    "wallet_entry",
]

Keys = SecretBox | Callable[[], SecretBox]


def wallet_entry(session: Session, credential_map: str, key: str) -> WalletEntry | None:
    return session.scalar(
        select(WalletEntry).where(
            WalletEntry.credential_map == credential_map, WalletEntry.key == key
        )
    )


def entry_aad(credential_map: str, key: str, version: int) -> str:
    return json.dumps(["wallet", credential_map, key, version], separators=(",", ":"))


def lock_secrets(session: Session, *, rotation: bool = False) -> None:
    """Take the secrets lock in the caller's transaction (see the module docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        mode = "SHARE ROW EXCLUSIVE" if rotation else "ROW EXCLUSIVE"
        session.execute(text(f"LOCK TABLE wallet_entries, users IN {mode} MODE"))
    else:
        session.execute(select(1))  # starts the BEGIN IMMEDIATE: writers run one at a time


def _resolve(keys: Keys) -> SecretBox:
    return keys if isinstance(keys, SecretBox) else keys()


_CHECK = b"omgw wallet key check"
_CHECK_AAD = "wallet-key-check"


def key_problem(session: Session, box: SecretBox) -> str | None:
    """Why ``box`` is not this database's wallet key, or None (also when none is set)."""
    state = session.get(WalletState, 1)
    if state is None:
        return None
    if state.key_version not in box.keyring.versions:
        return (
            f"this database's secrets are sealed with wallet key version {state.key_version}, "
            f"but this process holds version(s) {', '.join(map(str, box.keyring.versions))}: "
            "the key was rotated elsewhere or belongs to another database; copy wallet.key "
            "from the host that rotated it (mode 0600), or set OMGW_WALLET_KEY"
        )
    try:
        box.open(state.key_check, _CHECK_AAD)
    except WalletError:
        return (
            "this process's wallet key is not the key this database's secrets are sealed "
            "with; copy wallet.key from a host that works (mode 0600), or set OMGW_WALLET_KEY"
        )
    return None


def sealing_box(session: Session, keys: Keys) -> SecretBox:
    """Take the secrets lock, then load the key and check it against the database's
    before anything is sealed with it. The first sealing records the key."""
    lock_secrets(session)
    box = _resolve(keys)
    if (why := key_problem(session, box)) is not None:
        raise WalletError(why)
    state = session.get(WalletState, 1)
    if state is None:
        _record_key(session, box, box.version)
    elif state.key_version > box.version:  # pragma: no cover (caught by key_problem)
        raise WalletError("this process's wallet key is older than the database's")
    return box


def _record_key(session: Session, box: SecretBox, version: int) -> None:
    state = session.get(WalletState, 1)
    if state is None:
        state = WalletState(id=1)
        session.add(state)
    state.key_version = version
    state.key_check = box.seal(_CHECK, _CHECK_AAD, version)
    session.flush()


def seal_user_secret(session: Session, keys: Keys, username: str, password: str) -> bytes:
    """An API user's password sealed for ``PasswordDigest`` checks, under the lock."""
    return sealing_box(session, keys).seal(password.encode(), f"user:{username}")


def _check_address(credential_map: str, key: str) -> None:
    for what, value in (("credential map", credential_map), ("key", key)):
        if not is_plain(value, 200):
            raise ValidationError(
                "INVALID_VALUE",
                f"a wallet {what} is 1 to 200 characters without control characters",
            )


@dataclass(frozen=True)
class EntryInfo:
    """What may be shown about an entry: never the password. The username is not secret
    (it travels in every request's header); it is read only where asked for, since it is
    sealed with the password and opening it takes the key, and it is None where the entry
    does not open."""

    credential_map: str
    key: str
    key_version: int
    has_client_certificate: bool
    updated_at: datetime
    username: str | None = None


class Wallet:
    """Reads and changes wallet entries inside the caller's transaction."""

    def __init__(self, session: Session, keys: Keys | None = None, actor: str = "system") -> None:
        self._s = session
        self._keys = keys
        self._cipher: SecretBox | None = None
        self.actor = actor

    @property
    def _box(self) -> SecretBox:
        """The cipher, loaded on first use (listing needs no key; writers lock first)."""
        if self._cipher is None:
            if self._keys is None:
                raise WalletError("this wallet operation needs the master key")
            self._cipher = _resolve(self._keys)
        return self._cipher

    def _row(self, credential_map: str, key: str) -> WalletEntry | None:
        return wallet_entry(self._s, credential_map, key)

    def _require(self, credential_map: str, key: str) -> WalletEntry:
        row = self._row(credential_map, key)
        if row is None:
            keys = select(WalletEntry.key).where(WalletEntry.credential_map == credential_map)
            raise NotFoundError(
                "WALLET_ENTRY_UNKNOWN",
                f"the wallet has no entry ({credential_map}, {key})"
                f"{did_you_mean(key, self._s.scalars(keys))}",
            )
        return row

    def _info(self, row: WalletEntry, username: bool) -> EntryInfo:
        name = None
        if username:
            # an entry that does not open shows no username; 'omgw wallet verify' says why
            with suppress(WalletError):
                name = self._open(row).username
        return EntryInfo(
            row.credential_map,
            row.key,
            row.key_version,
            row.has_client_certificate,
            row.updated_at,
            name,
        )

    @staticmethod
    def _public(row: WalletEntry) -> dict[str, object]:
        return {
            "credential_map": row.credential_map,
            "key": row.key,
            "key_version": row.key_version,
            "client_certificate": row.has_client_certificate,
        }

    def entries(
        self, credential_map: str | None = None, *, username: bool = False
    ) -> list[EntryInfo]:
        """Every entry (of one map); ``username`` opens each to read its username."""
        stmt = select(WalletEntry).order_by(WalletEntry.credential_map, WalletEntry.key)
        if credential_map:
            stmt = stmt.where(WalletEntry.credential_map == credential_map)
        return [self._info(r, username) for r in self._s.scalars(stmt)]

    def info(self, credential_map: str, key: str, *, username: bool = False) -> EntryInfo:
        return self._info(self._require(credential_map, key), username)

    def exists(self, credential_map: str, key: str) -> bool:
        return self._row(credential_map, key) is not None

    def _open(self, row: WalletEntry) -> Credential:
        try:
            raw = self._box.open(
                row.sealed, entry_aad(row.credential_map, row.key, row.key_version)
            )
        except WalletError as exc:
            raise WalletError(f"wallet entry ({row.credential_map}, {row.key}): {exc}") from None
        return Credential.from_bytes(raw)

    def credential(self, credential_map: str, key: str) -> Credential:
        """Decrypt one entry, for the call that needs it (never cache the result)."""
        return self._open(self._require(credential_map, key))

    def set(self, credential_map: str, key: str, credential: Credential) -> Change | None:
        """Create or replace an entry; ``None`` when it already holds exactly this."""
        _check_address(credential_map, key)
        self._cipher = sealing_box(self._s, self._keys or self._box)
        if not credential.username or not credential.password:
            raise WalletError("a wallet entry needs a username and a password")
        if credential.client_certificate or credential.client_key:
            check_client_pair(credential.client_certificate or "", credential.client_key or "")
        row = self._row(credential_map, key)
        if row is not None:
            try:
                if self._open(row) == credential:
                    return None
            except WalletError:
                pass  # a row that no longer opens is replaced
        if row is not None and row.has_client_certificate and not credential.client_certificate:
            refuse_if_referenced(self._s, "drop client certificate", credential_map, key)
        before = None if row is None else self._public(row)
        if row is None:
            row = WalletEntry(credential_map=credential_map, key=key)
            self._s.add(row)
        version = self._box.version
        row.key_version = version
        row.sealed = self._box.seal(credential.to_bytes(), entry_aad(credential_map, key, version))
        row.has_client_certificate = bool(credential.client_certificate)
        self._s.flush()
        after = {**self._public(row), "secret": "replaced" if before else "set"}
        change = Change.put(
            "wallet",
            f"{credential_map}/{key}",
            before,
            after,
        )
        audit_trail.record(self._s, self.actor, change)
        return change

    def replace_password(self, credential_map: str, key: str, password: str) -> Change | None:
        """Rotate an entry's password: its username and client certificate stay."""
        row = self._require(credential_map, key)
        self._cipher = sealing_box(self._s, self._keys or self._box)
        old = self._open(row)
        return self.set(
            credential_map,
            key,
            Credential(old.username, password, old.client_certificate, old.client_key),
        )

    def remove(self, credential_map: str, key: str) -> Change:
        row = self._require(credential_map, key)
        refuse_if_referenced(self._s, "remove wallet entry", credential_map, key)
        before = self._public(row)
        self._s.delete(row)
        self._s.flush()
        change = Change("delete", "wallet", f"{credential_map}/{key}", before, None)
        audit_trail.record(self._s, self.actor, change)
        return change

    def verify(self) -> list[tuple[str, str | None]]:
        """Open every entry and user digest secret; each named, with ``None`` or the
        reason it does not open. A key that cannot load at all is one error."""
        out: list[tuple[str, str | None]] = []
        if (why := key_problem(self._s, self._box)) is not None:
            out.append(("wallet key", why))
        for row in self._s.scalars(
            select(WalletEntry).order_by(WalletEntry.credential_map, WalletEntry.key)
        ):
            try:
                self._open(row)
                out.append((f"{row.credential_map}/{row.key}", None))
            except WalletError as exc:
                out.append((f"{row.credential_map}/{row.key}", str(exc)))
        for user in self._s.scalars(select(User).order_by(User.username)):
            if user.digest_secret is None:
                continue
            try:
                self._box.open(user.digest_secret, f"user:{user.username}")
                out.append((f"user {user.username}", None))
            except WalletError as exc:
                out.append((f"user {user.username}", str(exc)))
        return out

    def rotate(self, new: MasterKey) -> int:
        """Re-seal every wallet entry and user digest secret under ``new``, in the caller's
        transaction, holding the secrets lock against writers. ``self``'s keys must hold
        ``new`` and every key still in use. Rows already under ``new`` are skipped, so an
        interrupted rotation can be rerun."""
        lock_secrets(self._s, rotation=True)
        if (why := key_problem(self._s, self._box)) is not None:
            raise WalletError(why)
        state = self._s.get(WalletState, 1)
        stored = self._s.scalar(select(func.max(WalletEntry.key_version))) or 0
        highest = max(stored, state.key_version if state else 0, *self._box.keyring.versions)
        if new.version < highest:
            raise WalletError(
                f"the new key is version {new.version}, but version {highest} exists: the new "
                "key must come first and have the highest version"
            )
        count = 0
        rows = self._s.scalars(select(WalletEntry).where(WalletEntry.key_version != new.version))
        for row in rows:
            credential = self._open(row)
            row.key_version = new.version
            row.sealed = self._box.seal(
                credential.to_bytes(),
                entry_aad(row.credential_map, row.key, new.version),
                new.version,
            )
            count += 1
        for user in self._s.scalars(select(User).where(User.digest_secret.is_not(None))):
            sealed = user.digest_secret
            if sealed is None or SecretBox.sealed_version(sealed) == new.version:
                continue
            aad = f"user:{user.username}"
            try:
                plain = self._box.open(sealed, aad)
            except WalletError as exc:
                raise WalletError(
                    f"user {user.username}: {exc}; reset it with "
                    f"'omgw user add {user.username} --replace'"
                ) from None
            user.digest_secret = self._box.seal(plain, aad, new.version)
            count += 1
        _record_key(self._s, self._box, new.version)
        audit_trail.record(
            self._s,
            self.actor,
            Change("rotate", "wallet", "*", None, {"key_version": new.version, "resealed": count}),
        )
        return count


def credential_source(session: Session, keys: Keys) -> CredentialSource:
    """The wallet as dispatch reads it (type-checked against the Protocol)."""
    return Wallet(session, keys)
