"""Authenticated encryption of secrets at rest (DESIGN §7).

AES-256-GCM with a fresh 96-bit nonce per write. The caller passes associated data
that names where the secret belongs (e.g. ``user:alice``), so a ciphertext copied to
another row fails to open instead of yielding someone else's secret.

Sealed format: ``b"v1" | key_version (1 byte) | nonce (12) | ciphertext+tag``.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["MasterKey", "SecretBox", "WalletError"]

_MAGIC = b"v1"
_NONCE = 12


class WalletError(Exception):
    """A key that is missing, malformed or wrong, or a sealed value that was tampered with."""


@dataclass(frozen=True)
class MasterKey:
    """The 32-byte master key and its version (kept for rotation)."""

    key: bytes
    version: int = 1

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise WalletError("the wallet master key must be 32 bytes (base64 of 32 random bytes)")

    def __repr__(self) -> str:  # never show key material
        return f"MasterKey(version={self.version})"

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(AESGCM.generate_key(bit_length=256))

    @classmethod
    def from_b64(cls, text: str) -> MasterKey:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise WalletError("the wallet key is not valid base64") from exc
        return cls(raw)

    def to_b64(self) -> str:
        return base64.b64encode(self.key).decode()

    @classmethod
    def load_file(cls, path: Path) -> MasterKey:
        if not path.exists():
            raise WalletError(
                f"no wallet key file at {path}: run 'omgw init' or set OMGW_WALLET_KEY"
            )
        return cls.from_b64(path.read_text())

    def write_file(self, path: Path) -> None:
        """Create ``path`` with mode 0600; refuse to overwrite an existing key."""
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        fd = os.open(path, flags, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.to_b64() + "\n")


class SecretBox:
    """Seal and open small secrets with a :class:`MasterKey`."""

    def __init__(self, key: MasterKey) -> None:
        self._key = key
        self._aead = AESGCM(key.key)

    def seal(self, plaintext: bytes, associated: str) -> bytes:
        nonce = os.urandom(_NONCE)
        header = _MAGIC + bytes([self._key.version])
        body = self._aead.encrypt(nonce, plaintext, header + associated.encode())
        return header + nonce + body

    def open(self, sealed: bytes, associated: str) -> bytes:
        if len(sealed) < 3 + _NONCE + 16 or sealed[:2] != _MAGIC:
            raise WalletError("sealed value is not in a format this wallet knows")
        header, nonce, body = sealed[:3], sealed[3 : 3 + _NONCE], sealed[3 + _NONCE :]
        if header[2] != self._key.version:
            raise WalletError(
                f"sealed with key version {header[2]}, the loaded key is version "
                f"{self._key.version}"
            )
        try:
            return self._aead.decrypt(nonce, body, header + associated.encode())
        except InvalidTag as exc:
            raise WalletError(
                "secret failed to decrypt: wrong wallet key, or the stored value was altered"
            ) from exc
