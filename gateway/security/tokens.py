"""Reading credentials off a request: WS-Security UsernameToken or HTTP Basic.

UsernameToken follows the OASIS WSS Username Token Profile 1.0: ``PasswordText``,
or ``PasswordDigest`` = Base64(SHA-1(nonce + created + password)) with the nonce
Base64-encoded in the message. Pure parsing; no database, no clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from gateway import namespaces as ns
from gateway.errors import AuthError

__all__ = [
    "MASK",
    "PASSWORD_DIGEST",
    "PASSWORD_TEXT",
    "BasicCredentials",
    "Timestamp",
    "UsernameToken",
    "check_created",
    "check_timestamp",
    "digest_matches",
    "is_secret_name",
    "parse_basic",
    "parse_security_header",
    "redact",
]

PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordDigest"
)
_S = "{%s}" % ns.WSSE
_U = "{%s}" % ns.WSU


@dataclass(frozen=True)
class UsernameToken:
    username: str
    password: str
    password_type: str
    nonce: bytes | None
    created: str | None

    def __repr__(self) -> str:
        return f"UsernameToken(username={self.username!r}, type={self.password_type!r})"


@dataclass(frozen=True)
class BasicCredentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"BasicCredentials(username={self.username!r})"


@dataclass(frozen=True)
class Timestamp:
    created: datetime | None
    expires: datetime | None


def parse_time(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise AuthError("AUTH_FAILED", f"{what} {value!r} is not an xsd:dateTime") from None
    if parsed.tzinfo is None:
        raise AuthError("AUTH_FAILED", f"{what} must carry a time zone (e.g. Z)")
    return parsed


def check_timestamp(
    stamp: Timestamp | None, now: datetime, skew: timedelta, window: timedelta
) -> None:
    """Refuse a ``wsu:Timestamp`` that has expired, is not yet valid, or lives too long.

    A caller's clock may differ from ours by ``skew`` either way. An ``Expires`` later
    than the replay window (plus the skew) would let a captured message be replayed
    after its nonce is forgotten, so it is refused as well as one before ``Created``.
    """
    if stamp is None:
        return
    if stamp.expires is not None and stamp.expires < now - skew:
        raise AuthError("AUTH_EXPIRED", "the wsu:Timestamp has expired; send a fresh one")
    if stamp.created is not None and stamp.created > now + skew:
        raise AuthError(
            "AUTH_TIMESTAMP_INVALID",
            f"the wsu:Timestamp Created {stamp.created:%Y-%m-%dT%H:%M:%SZ} is in the future "
            f"by more than the {_seconds(skew)} s clock skew; check the caller's clock",
        )
    if stamp.expires is None:
        return
    if stamp.created is not None and stamp.expires < stamp.created:
        raise AuthError("AUTH_TIMESTAMP_INVALID", "the wsu:Timestamp Expires is before its Created")
    if stamp.expires > now + window + skew:
        raise AuthError(
            "AUTH_TIMESTAMP_INVALID",
            f"the wsu:Timestamp Expires {stamp.expires:%Y-%m-%dT%H:%M:%SZ} is more than the "
            f"{_seconds(window)} s replay window ahead; send one that expires sooner",
        )


def check_created(
    created: datetime, text: str, now: datetime, skew: timedelta, window: timedelta
) -> None:
    """Refuse a UsernameToken ``Created`` older than the replay window or in the future."""
    if created > now + skew:
        raise AuthError(
            "AUTH_TIMESTAMP_INVALID",
            f"UsernameToken Created {text} is in the future by more than the "
            f"{_seconds(skew)} s clock skew; check the caller's clock",
        )
    if now - created > window:
        raise AuthError(
            "AUTH_EXPIRED",
            f"UsernameToken Created {text} is outside the {_seconds(window)} s replay window",
        )


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def parse_security_header(
    header: etree._Element | None,
) -> tuple[UsernameToken | None, Timestamp | None]:
    if header is None:
        return None, None
    security = header.find(_S + "Security")
    if security is None:
        return None, None
    stamp = None
    ts = security.find(_U + "Timestamp")
    if ts is not None:
        stamp = Timestamp(
            parse_time(ts.findtext(_U + "Created"), "Timestamp Created"),
            parse_time(ts.findtext(_U + "Expires"), "Timestamp Expires"),
        )
    token_el = security.find(_S + "UsernameToken")
    if token_el is None:
        return None, stamp
    username = (token_el.findtext(_S + "Username") or "").strip()
    pw_el = token_el.find(_S + "Password")
    if not username or pw_el is None:
        raise AuthError("AUTH_FAILED", "UsernameToken needs a Username and a Password")
    pw_type = pw_el.get("Type") or PASSWORD_TEXT
    nonce_text = token_el.findtext(_S + "Nonce")
    nonce = None
    if nonce_text is not None:
        try:
            nonce = base64.b64decode(nonce_text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise AuthError("AUTH_FAILED", "UsernameToken Nonce is not Base64") from None
    created = token_el.findtext(_U + "Created")
    return UsernameToken(username, pw_el.text or "", pw_type, nonce, created), stamp


def parse_basic(header_value: str | None) -> BasicCredentials | None:
    if not header_value:
        return None
    scheme, _, value = header_value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise AuthError("AUTH_FAILED", "the HTTP Authorization header is not valid Basic") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise AuthError("AUTH_FAILED", "the HTTP Authorization header is not valid Basic")
    return BasicCredentials(user, password)


def digest_matches(token: UsernameToken, password: str) -> bool:
    if token.nonce is None or token.created is None:
        return False
    expected = base64.b64encode(
        hashlib.sha1(token.nonce + token.created.encode() + password.encode()).digest()
    ).decode()
    return hmac.compare_digest(expected, token.password.strip())


#: what an element or attribute name says when it holds a secret (matched in lower case)
_SECRET_WORDS = (
    "password", "passwd", "pwd", "passphrase", "secret", "token", "nonce", "credential",
    "apikey", "api_key", "api-key",
)  # fmt: skip
#: names inside a secret element that identify rather than prove (kept in the log)
_IDENTIFYING = frozenset({"username"})
MASK = "***"


def is_secret_name(localname: str) -> bool:
    """Whether a name says it holds a secret: ``Password``, ``Nonce``,
    ``BinarySecurityToken``, ``clientSecret``, ``x:sessionToken`` …"""
    lowered = localname.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def redact(element: etree._Element | None) -> None:
    """Blank every secret in ``element`` and below it, before it is logged.

    Matched by name in any namespace, since a caller may send several headers, older or
    newer WSS drafts (``…/2002/07/secext``, ``wsse11``) or headers of its own: an element
    whose local name says password, secret, token, nonce, credential or API key (in any
    case, anywhere in the name) has its text blanked, and so has everything inside it
    except a ``Username``; an attribute whose name says so has its value blanked.
    """
    if element is None:
        return
    for el in list(element.iter()):
        if not isinstance(el.tag, str):
            continue
        _redact_attributes(el)
        if is_secret_name(etree.QName(el).localname):
            _blank(el)


def _redact_attributes(el: etree._Element) -> None:
    for name in el.attrib:
        if is_secret_name(etree.QName(name).localname):
            el.set(name, MASK)


def _blank(el: etree._Element) -> None:
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        for child in list(el):  # comments or processing instructions holding text
            el.remove(child)
        el.text = MASK
        return
    if el.text and el.text.strip():
        el.text = MASK
    for child in children:
        if child.tail and child.tail.strip():
            child.tail = MASK
        if etree.QName(child).localname.lower() not in _IDENTIFYING:
            _blank(child)
