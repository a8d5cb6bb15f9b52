"""Authenticated encryption of secrets at rest (DESIGN §7).

AES-256-GCM with a fresh 96-bit nonce per write. The caller passes associated data
that names where the secret belongs (``wallet|oracle.wsm.security|CSS01_KEY|v2``,
``user:alice``), so a ciphertext copied to another row fails to open instead of
yielding someone else's secret.

Sealed format: ``b"v1" | key_version (1 byte) | nonce (12) | ciphertext+tag``; the
header is authenticated too. A :class:`Keyring` holds the current master key and,
while a rotation is under way, the next one, so every row opens whichever key it was
sealed with and an interrupted rotation never locks anything out.

Key text: ``v<N>:<base64 of 32 bytes>``, or bare base64 for version 1. A key file holds
one key; ``OMGW_WALLET_KEY`` may hold several, comma separated, the first current.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connectors.connector_errors import WalletError

__all__ = ["Credential", "KeyFile", "Keyring", "MasterKey", "SecretBox", "check_client_pair"]

log = logging.getLogger(__name__)

_MAGIC = b"v1"
_NONCE = 12
_KEY_TEXT = re.compile(r"(?:v(\d{1,3}):)?(\S+)\Z")


class _MissingKeyFileError(WalletError):
    """No key file at the path (a pending-rotation file may legitimately be absent)."""


@dataclass(frozen=True)
class MasterKey:
    """A 32-byte master key and its version (1-255), which sealed values record."""

    key: bytes
    version: int = 1

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise WalletError("the wallet master key must be 32 bytes (base64 of 32 random bytes)")
        if not 1 <= self.version <= 255:
            raise WalletError("a wallet key version is between 1 and 255")

    def __repr__(self) -> str:  # never show key material
        return f"MasterKey(version={self.version})"

    @classmethod
    def generate(cls, version: int = 1) -> MasterKey:
        return cls(AESGCM.generate_key(bit_length=256), version)

    @classmethod
    def from_b64(cls, text: str) -> MasterKey:
        match = _KEY_TEXT.match(text.strip())
        if match is None:
            raise WalletError("the wallet key is not valid base64")
        try:
            raw = base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise WalletError("the wallet key is not valid base64") from exc
        return cls(raw, int(match.group(1) or 1))

    def to_b64(self) -> str:
        return base64.b64encode(self.key).decode()

    def to_text(self) -> str:
        return f"v{self.version}:{self.to_b64()}"


class Keyring:
    """The current key (used to seal) and older or newer keys (used only to open)."""

    def __init__(self, current: MasterKey, others: Iterable[MasterKey] = ()) -> None:
        self.current = current
        self._keys = {current.version: current}
        for key in others:
            if key.version in self._keys and self._keys[key.version] != key:
                raise WalletError(f"two different wallet keys claim version {key.version}")
            self._keys.setdefault(key.version, key)

    def __repr__(self) -> str:
        return f"Keyring(current={self.current.version}, versions={sorted(self._keys)})"

    @property
    def versions(self) -> list[int]:
        return sorted(self._keys)

    def get(self, version: int) -> MasterKey:
        try:
            return self._keys[version]
        except KeyError:
            raise WalletError(
                f"this value was sealed with wallet key version {version}, which is not loaded "
                f"(loaded: {', '.join(map(str, self.versions))}); "
                "was the key rotated by another process?"
            ) from None

    def keeping(self, older: Keyring) -> Keyring:
        """This keyring, still able to open what ``older``'s keys sealed (never sealing
        with them): a process that reloads mid-rotation can open rows not yet re-sealed."""
        kept = [older.get(v) for v in older.versions if v not in self._keys]
        return Keyring(self.current, [*(self._keys[v] for v in self.versions), *kept])

    @classmethod
    def from_text(cls, text: str) -> Keyring:
        keys = [MasterKey.from_b64(part) for part in re.split(r"[,\s]+", text.strip()) if part]
        if not keys:
            raise WalletError("the wallet key is empty")
        return cls(keys[0], keys[1:])


class KeyFile:
    """The master key on disk (mode 0600), and the next key while a rotation runs.

    Rotation: :meth:`begin_rotation` writes ``<file>.next``, from then on the key that
    seals; the caller re-seals every row under it in one transaction;
    :meth:`finish_rotation` makes it the key file. Each file is replaced atomically.
    Interrupted anywhere, the pair still opens every row and a rerun finishes the job.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.next_path = path.with_name(path.name + ".next")

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> Keyring:
        # ``.next`` first: a rotation finishing between the two reads renames it onto
        # the key file, so reading in this order never misses the new key.
        pending = self._read_optional(self.next_path)
        current = self._read(self.path)
        if pending is None or pending == current:
            return Keyring(current)
        # A rotation is pending: seal with the new key already, so nothing written from
        # now on is left under the key the rotation retires.
        return Keyring(pending, [current])

    def _read_optional(self, path: Path) -> MasterKey | None:
        try:
            return self._read(path)
        except _MissingKeyFileError:
            return None

    def _read(self, path: Path) -> MasterKey:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            text = path.read_text()
        except FileNotFoundError:
            raise _MissingKeyFileError(
                f"no wallet key file at {path}: run 'omgw init' or set OMGW_WALLET_KEY"
            ) from None
        if mode & 0o077:
            log.warning(
                "wallet key file %s is readable by others (mode %o); run: chmod 600 %s",
                path,
                mode,
                path,
            )
        try:
            return MasterKey.from_b64(text)
        except WalletError as exc:
            raise WalletError(f"{path}: {exc}") from None

    def create(self, key: MasterKey) -> None:
        """Write a new key file; refuse to overwrite an existing key."""
        _write_private(self.path, key.to_text(), exclusive=True)

    def begin_rotation(self) -> MasterKey:
        """The key to rotate to: the pending one if a rotation was interrupted."""
        current = self._read(self.path)
        if self.next_path.exists():
            pending = self._read(self.next_path)
            if pending.version != current.version:
                return pending
            self.next_path.unlink()
        if current.version >= 255:
            raise WalletError("wallet key version 255 reached; re-initialise the wallet")
        new = MasterKey.generate(current.version + 1)
        self._replace(self.next_path, new)
        return new

    def finish_rotation(self, new: MasterKey) -> None:
        self._replace(self.path, new)
        self.next_path.unlink(missing_ok=True)

    def _replace(self, path: Path, key: MasterKey) -> None:
        """Write ``path`` whole or not at all: a temporary file, synced, then renamed."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        _write_private(tmp, key.to_text(), exclusive=True)
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_private(path: Path, text: str, *, exclusive: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())


class SecretBox:
    """Seal with the keyring's current key; open with whichever key a value names."""

    def __init__(self, keys: Keyring | MasterKey) -> None:
        self.keyring = keys if isinstance(keys, Keyring) else Keyring(keys)
        self._aeads = {v: AESGCM(self.keyring.get(v).key) for v in self.keyring.versions}

    @property
    def version(self) -> int:
        return self.keyring.current.version

    def seal(self, plaintext: bytes, associated: str, version: int | None = None) -> bytes:
        version = self.version if version is None else version
        self.keyring.get(version)
        nonce = os.urandom(_NONCE)
        header = _MAGIC + bytes([version])
        body = self._aeads[version].encrypt(nonce, plaintext, header + associated.encode())
        return header + nonce + body

    @staticmethod
    def sealed_version(sealed: bytes) -> int:
        if len(sealed) < 3 + _NONCE + 16 or sealed[:2] != _MAGIC:
            raise WalletError("sealed value is not in a format this wallet knows")
        return sealed[2]

    def open(self, sealed: bytes, associated: str) -> bytes:
        version = self.sealed_version(sealed)
        self.keyring.get(version)
        header, nonce, body = sealed[:3], sealed[3 : 3 + _NONCE], sealed[3 + _NONCE :]
        try:
            return self._aeads[version].decrypt(nonce, body, header + associated.encode())
        except InvalidTag as exc:
            raise WalletError(
                "secret failed to decrypt: wrong wallet key, or the stored value was altered "
                "or moved from another entry"
            ) from exc


@dataclass(frozen=True)
class Credential:
    """A decrypted wallet entry. Lives in memory only, for the call that needs it."""

    username: str
    password: str = field(repr=False)
    client_certificate: str | None = field(default=None, repr=False)
    client_key: str | None = field(default=None, repr=False)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "u": self.username,
                "p": self.password,
                "c": self.client_certificate,
                "k": self.client_key,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Credential:
        try:
            data = json.loads(raw)
            return cls(data["u"], data["p"], data.get("c"), data.get("k"))
        except (ValueError, KeyError, TypeError) as exc:
            raise WalletError(
                "a wallet entry decrypted to something that is not a credential"
            ) from exc


def check_client_pair(certificate_pem: str, key_pem: str) -> None:
    """Refuse a client certificate and key that would fail at the first TLS handshake:
    not PEM, a key protected by a passphrase, or a key that is not the certificate's."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        raise WalletError("the client certificate is not a PEM X.509 certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except TypeError:
        raise WalletError(
            "the client key is protected by a passphrase; store it unencrypted"
        ) from None
    except ValueError:
        raise WalletError("the client key is not a PEM private key") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != cert.public_key().public_bytes(der, spki):
        raise WalletError("the client key does not belong to the client certificate")
