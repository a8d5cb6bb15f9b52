"""Masking secrets in what the outbox shows an admin: its rows' errors and envelopes.

:class:`Scrubber` blanks every WS-Security password and nonce, Authorization value,
``password=…`` pair and URL password, and masks given literal values wherever they
appear; :func:`scrubber_for` makes one that knows the wallet secrets of the connectors
whose rows are shown (a receiver may echo them back in a fault).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.connector_errors import WalletError
from connectors.secret_box import SecretBox
from gateway.errors import GatewayError
from gateway.persistence.models import Connector
from gateway.registry.wallet_store import Wallet
from gateway.security.tokens import redact

__all__ = ["MASK", "Keys", "Scrubber", "scrubber_for"]

MASK = "********"

#: the master key, or what loads it when a connector's secrets are first needed
Keys = SecretBox | Callable[[], SecretBox]

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
    remove_blank_text=True,
)  # fmt: skip


_XML_SECRET = re.compile(
    r"(<(?:[\w.-]+:)?(Password|Nonce|BinarySecurityToken)\b[^>]*>)(.*?)(</(?:[\w.-]+:)?\2\s*>)",
    re.IGNORECASE | re.DOTALL,
)
_AUTH_HEADER = re.compile(r"\b(Basic|Bearer|Digest)(\s+)[A-Za-z0-9+/=._~-]{6,}", re.IGNORECASE)
_KEY_VALUE = re.compile(
    r"\b(password|passwd|pwd|secret|api[_-]?key|access[_-]?token)"
    r"([\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&\"'<>]+)",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@", re.IGNORECASE)


class Scrubber:
    """Masks secrets in text shown to an admin: the given literal values (a connector's
    wallet password and key, and their HTTP Basic form) wherever they appear, and any
    WS-Security password or nonce, Authorization value, ``password=…`` pair or URL
    password, whoever's they are."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def text(self, value: str | None) -> str | None:
        if value is None:
            return None
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        value = _XML_SECRET.sub(lambda m: f"{m[1]}{MASK}{m[4]}", value)
        value = _AUTH_HEADER.sub(lambda m: f"{m[1]}{m[2]}{MASK}", value)
        value = _KEY_VALUE.sub(lambda m: f"{m[1]}{m[2]}{MASK}", value)
        return _URL_USERINFO.sub(lambda m: f"{m[1]}{MASK}@", value)

    def envelope(self, payload: bytes) -> str:
        """The stored envelope, indented, with every password and nonce blanked."""
        try:
            root = etree.fromstring(payload, _PARSER)
        except etree.XMLSyntaxError:
            return "(the stored payload is not well-formed XML; it is not shown)"
        redact(root)
        text = etree.tostring(root, pretty_print=True, encoding="unicode")
        return self.text(text) or ""


def scrubber_for(
    session: Session, connector_ids: Iterable[int | None], keys: Keys | None
) -> Scrubber:
    """A :class:`Scrubber` that knows the wallet secrets of these connectors.

    Without the master key (``keys`` is None or cannot be loaded) only the patterns
    apply; that cannot reveal a secret the envelope holds, since envelopes are stored
    without credentials and any WS-Security element is blanked anyway.
    """
    ids = {i for i in connector_ids if i is not None}  # e-mails have none
    if keys is None or not ids:
        return Scrubber()
    secrets: list[str] = []
    wallet = Wallet(session, keys)
    connectors = session.scalars(select(Connector).where(Connector.id.in_(ids)))
    for connector in connectors:
        for key in (connector.credential_key, connector.tls_client_certificate):
            if not key:
                continue
            try:
                credential = wallet.credential(connector.credential_map, key)
            except (WalletError, GatewayError, OSError, ValueError):
                continue
            secrets += [credential.password, credential.client_key or ""]
            basic = f"{credential.username}:{credential.password}".encode()
            secrets.append(base64.b64encode(basic).decode())
    return Scrubber(secrets)
