"""E-mail messages as an outbox row stores them: RFC 5322 bytes (plain text, UTF-8,
7-bit clean on the wire) built by :func:`build_message`, and the check every address
passes first (:func:`check_address`: a plain ``local@domain``, nothing that could inject a
header or an SMTP command).

Pure: no network; :mod:`connectors.mail_sender` hands the bytes to an SMTP server.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

__all__ = ["MESSAGE_ID_DOMAIN", "build_message", "check_address", "one_line"]

#: the right-hand side of Message-IDs made from ids that have none (``urn:uuid:…``)
MESSAGE_ID_DOMAIN = "omgw"
# headers and body 7-bit on the wire (quoted-printable or base64 for UTF-8 text), CRLF
_POLICY = policy.SMTP.clone(cte_type="7bit")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*\Z")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in _BAD_CATEGORIES for c in text)


def check_address(address: str) -> str:
    """``address`` as a plain addr-spec (``local@domain``, domain lower-cased and IDNA
    encoded), or :class:`ValueError` saying what is wrong with it.

    Refused: empty text, no ``@``, control characters (line breaks above all: they
    would inject headers or SMTP commands), spaces, display names and angle brackets
    (``Name <a@b.c>``), quoted or non-ASCII local parts (those need SMTPUTF8).
    """
    if _has_control(address):
        raise ValueError(
            f"the e-mail address {address!r} contains a control character such as a line break"
        )
    text = address.strip(" ")
    if not text:
        raise ValueError("the e-mail address is empty")
    if "<" in text or ">" in text or any(c.isspace() for c in text):
        raise ValueError(
            f"{text!r} is not a plain e-mail address: give it as local@domain, "
            "without a display name, spaces or angle brackets"
        )
    if "@" not in text:
        raise ValueError(f"{text!r} is not an e-mail address: it has no @")
    local, _, domain = text.rpartition("@")
    if not local or not domain:
        raise ValueError(f"{text!r} is not an e-mail address: something is missing around the @")
    if not local.isascii():
        raise ValueError(f"{text!r}: non-ASCII characters before the @ are not supported")
    if local.startswith('"'):
        raise ValueError(f"{text!r}: quoted local parts are not supported")
    if not _DOT_ATOM.match(local):
        raise ValueError(f"{text!r} is not an e-mail address: the part before the @ is invalid")
    if len(local) > 64:
        raise ValueError(f"{text!r}: the part before the @ is longer than 64 characters")
    domain = _check_domain(text, domain)
    normalized = f"{local}@{domain}"
    if len(normalized) > 254:
        raise ValueError(f"{text!r} is longer than 254 characters")
    return normalized


def _check_domain(text: str, domain: str) -> str:
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        try:
            if literal[:5].lower() == "ipv6:":
                return f"[IPv6:{ipaddress.IPv6Address(literal[5:])}]"
            return f"[{ipaddress.IPv4Address(literal)}]"
        except ValueError:
            raise ValueError(f"{text!r}: {domain} is not an IP address literal") from None
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{text!r}: the domain is not a valid host name") from None
    domain = domain.lower()
    if len(domain) > 253 or not all(_LABEL.match(label) for label in domain.split(".")):
        raise ValueError(f"{text!r}: the domain is not a valid host name")
    return domain


def one_line(text: str) -> str:
    """``text`` on one line: control characters and line breaks become spaces, runs of
    white space one space (a header value can then never start another header)."""
    text = "".join(" " if unicodedata.category(c) in _BAD_CATEGORIES else c for c in text)
    return " ".join(text.split())


def _message_id(message_id: str) -> str:
    """A valid RFC 5322 msg-id for ``message_id``, the same for the same id (a retried
    or replayed message keeps it, so the receiver can spot the copy)."""
    text = message_id.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    if text[:9].lower() == "urn:uuid:":
        text = text[9:]
    if not text:
        raise ValueError("a message needs a Message-ID")
    left, at, right = text.rpartition("@")
    if at and _DOT_ATOM.match(left) and _DOT_ATOM.match(right):
        return f"<{left}@{right}>"
    if _DOT_ATOM.match(text):
        return f"<{text}@{MESSAGE_ID_DOMAIN}>"
    # keep what is readable, and a digest of the whole so that distinct ids stay distinct
    readable = ".".join(re.findall(_ATEXT, text))[:64] or "id"
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"<{readable}.{digest}@{MESSAGE_ID_DOMAIN}>"


def build_message(
    *,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    body: str,
    message_id: str,
    date: datetime | None = None,
) -> bytes:
    """A plain-text UTF-8 message (RFC 5322, CRLF, 7-bit) from ``sender`` to every
    recipient (all in ``To``). ``message_id`` may be any id (``urn:uuid:…`` becomes
    ``<…@omgw>``); ``date`` defaults to now. Raises :class:`ValueError` for an invalid
    address or an empty recipient list or id."""
    if isinstance(recipients, str):
        raise TypeError("recipients is a sequence of addresses, not one string")
    from_addr = check_address(sender)
    to_addrs = [check_address(r) for r in recipients]
    if not to_addrs:
        raise ValueError("a message needs at least one recipient")
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = from_addr
    msg["To"] = ", ".join(to_addrs)
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = _message_id(message_id)
    msg.set_content(body, subtype="plain", charset="utf-8")
    return msg.as_bytes()
