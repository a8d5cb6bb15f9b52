"""Wallet entries on SQLAlchemy (DESIGN §7).

An entry is addressed by (credential map, key) and holds a sealed :class:`Credential`.
Its associated data is ``wallet|<map>|<key>|v<key version>``: a sealed value copied to
another row, or a row whose map, key or version was edited, fails to open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.wallet import Credential, MasterKey, SecretBox, WalletError, check_client_pair
from gateway.errors import ConflictError, NotFoundError
from gateway.persistence.models import User, WalletEntry
from gateway.registry import audit
from gateway.registry.audit import Change
from gateway.registry.store import Registry

__all__ = ["EntryInfo", "Wallet", "entry_aad"]


def entry_aad(credential_map: str, key: str, version: int) -> str:
    return f"wallet|{credential_map}|{key}|v{version}"


@dataclass(frozen=True)
class EntryInfo:
    """What may be shown about an entry: never the username or the password."""

    credential_map: str
    key: str
    key_version: int
    has_client_certificate: bool
    updated_at: datetime


class Wallet:
    """Reads and changes wallet entries inside the caller's transaction."""

    def __init__(
        self, session: Session, box: SecretBox | None = None, actor: str = "system"
    ) -> None:
        self._s = session
        self._cipher = box
        self.actor = actor

    @property
    def _box(self) -> SecretBox:
        """The cipher, needed only to seal or open (listing needs no key)."""
        if self._cipher is None:
            raise WalletError("this wallet operation needs the master key")
        return self._cipher

    def _row(self, credential_map: str, key: str) -> WalletEntry | None:
        return self._s.scalar(
            select(WalletEntry).where(
                WalletEntry.credential_map == credential_map, WalletEntry.key == key
            )
        )

    def _require(self, credential_map: str, key: str) -> WalletEntry:
        row = self._row(credential_map, key)
        if row is None:
            raise NotFoundError(
                "WALLET_ENTRY_UNKNOWN", f"the wallet has no entry ({credential_map}, {key})"
            )
        return row

    @staticmethod
    def _info(row: WalletEntry) -> EntryInfo:
        return EntryInfo(
            row.credential_map, row.key, row.key_version, row.has_client_certificate, row.updated_at
        )

    @staticmethod
    def _public(row: WalletEntry) -> dict[str, object]:
        return {
            "credential_map": row.credential_map,
            "key": row.key,
            "key_version": row.key_version,
            "client_certificate": row.has_client_certificate,
        }

    def entries(self, credential_map: str | None = None) -> list[EntryInfo]:
        stmt = select(WalletEntry).order_by(WalletEntry.credential_map, WalletEntry.key)
        if credential_map:
            stmt = stmt.where(WalletEntry.credential_map == credential_map)
        return [self._info(r) for r in self._s.scalars(stmt)]

    def info(self, credential_map: str, key: str) -> EntryInfo:
        return self._info(self._require(credential_map, key))

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
        change = Change(
            "create" if before is None else "update",
            "wallet",
            f"{credential_map}/{key}",
            before,
            after,
        )
        audit.record(self._s, self.actor, change)
        return change

    def remove(self, credential_map: str, key: str) -> Change:
        row = self._require(credential_map, key)
        users = Registry(self._s).wallet_referrers(credential_map, key)
        if users:
            raise ConflictError(
                "IN_USE",
                f"wallet entry ({credential_map}, {key}) is used by {', '.join(users)}; "
                "point them at another key first",
            )
        before = self._public(row)
        self._s.delete(row)
        self._s.flush()
        change = Change("delete", "wallet", f"{credential_map}/{key}", before, None)
        audit.record(self._s, self.actor, change)
        return change

    def verify(self) -> list[tuple[EntryInfo, str | None]]:
        """Open every entry; each with ``None`` or the reason it does not open."""
        out: list[tuple[EntryInfo, str | None]] = []
        for row in self._s.scalars(
            select(WalletEntry).order_by(WalletEntry.credential_map, WalletEntry.key)
        ):
            try:
                self._open(row)
                out.append((self._info(row), None))
            except WalletError as exc:
                out.append((self._info(row), str(exc)))
        return out

    def rotate(self, new: MasterKey) -> int:
        """Re-seal every wallet entry and user digest secret under ``new``, in the caller's
        transaction. ``self``'s box must hold ``new`` and every key still in use. Rows
        already under ``new`` are skipped, so an interrupted rotation can be rerun."""
        count = 0
        rows = self._s.scalars(
            select(WalletEntry).where(WalletEntry.key_version != new.version).with_for_update()
        )
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
            user.digest_secret = self._box.seal(self._box.open(sealed, aad), aad, new.version)
            count += 1
        self._s.flush()
        audit.record(
            self._s,
            self.actor,
            Change("rotate", "wallet", "*", None, {"key_version": new.version, "resealed": count}),
        )
        return count
