"""Credentials added to a stored envelope at send time: the WS-Security header
(UsernameToken with ``PasswordText`` and a ``Timestamp``) or an HTTP Basic value.

The timestamp must be fresh at each send, so the stored bytes never hold it. The header
is spliced into them (:func:`splice_security`): the same bytes zeep's token and lxml's
serializer give (:func:`secure_by_parsing`), without parsing 30 kB to add 600 bytes. An
envelope of another shape goes the parsing way.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from connectors.outbound import SOAP_ENV_NS
from connectors.secret_box import Credential

__all__ = ["basic_authorization", "secure", "secure_by_parsing", "splice_security"]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _timestamp_token(now: datetime, ttl: timedelta) -> Any:
    from zeep.wsse import utils

    return utils.WSU.Timestamp(utils.WSU.Created(_stamp(now)), utils.WSU.Expires(_stamp(now + ttl)))


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_TOKEN_TTL = timedelta(minutes=5)
_WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_PASSWORD_TEXT = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordText"
)
_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>\n"
_HEADER = re.compile(rb"<([A-Za-z_][\w.-]*):Header>")
#: what lxml refuses in text (control characters, lone surrogates, U+FFFE/U+FFFF)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    """``value`` escaped as lxml writes text (``&``, ``<``, ``>``, and CR kept as ``&#13;``)."""
    return escape(value, {"\r": "&#13;"})


def _security_header(credential: Credential, when: datetime) -> bytes:
    """The ``wsse:Security`` element zeep's UsernameToken (PasswordText, Timestamp) adds,
    as lxml serializes it."""
    return (
        f'<wsse:Security xmlns:wsse="{_WSSE_NS}"><wsse:UsernameToken>'
        f"<wsse:Username>{_text(credential.username)}</wsse:Username>"
        f'<wsse:Password Type="{_PASSWORD_TEXT}">{_text(credential.password)}</wsse:Password>'
        f'</wsse:UsernameToken><wsu:Timestamp xmlns:wsu="{_WSU_NS}">'
        f"<wsu:Created>{_stamp(when)}</wsu:Created>"
        f"<wsu:Expires>{_stamp(when + _TOKEN_TTL)}</wsu:Expires>"
        "</wsu:Timestamp></wsse:Security>"
    ).encode()


def splice_security(envelope: bytes, credential: Credential, when: datetime) -> bytes | None:
    """:func:`secure` without parsing, for an envelope as omgw stores it (lxml's utf-8
    serialization, a SOAP 1.1 Header as the Envelope's first child, no Security in it):
    the same bytes the parse-and-serialize path gives, the Security header appended to
    the Header's children. ``None`` when the envelope is not of that shape."""
    if not envelope.startswith(_DECLARATION):
        return None
    if _NOT_XML.search(credential.username) or _NOT_XML.search(credential.password):
        return None  # the slow path refuses them as lxml does
    root_end = envelope.find(b">", len(_DECLARATION))
    header = _HEADER.match(envelope, root_end + 1) if root_end > 0 else None
    if header is None:
        return None
    prefix = header.group(1)
    root = envelope[len(_DECLARATION) : root_end]
    body = envelope.find(b"<" + prefix + b":Body", header.end())
    head = envelope[:body]
    close = head.find(b"</" + prefix + b":Header>")
    if (
        body < 0
        or close < 0
        or not root.startswith(b"<" + prefix + b":Envelope ")
        or b"xmlns:" + prefix + b'="' + SOAP_ENV_NS.encode() + b'"' not in root
        # the prefix is bound once, on the Envelope, and the Header is plain markup
        or head.count(b"xmlns:" + prefix + b"=") != 1
        or head.count(b"<" + prefix + b":Header") != 1
        or b"<!" in head
        or b"<?" in head[len(_DECLARATION) :]
        or b"oasis-200401-wss-" in head
    ):
        return None
    return envelope[:close] + _security_header(credential, when) + envelope[close:]


def secure(envelope: bytes, credential: Credential, now: datetime | None = None) -> bytes:
    """``envelope`` with a WS-Security header: UsernameToken (PasswordText) and Timestamp,
    stamped ``now`` (at each send: the timestamp must be fresh)."""
    when = now or datetime.now(UTC)
    fast = splice_security(envelope, credential, when)
    if fast is not None:
        return fast
    return secure_by_parsing(envelope, credential, when)


def secure_by_parsing(envelope: bytes, credential: Credential, when: datetime) -> bytes:
    """:func:`secure` by parsing the envelope and applying zeep's UsernameToken."""
    from zeep.wsse.username import UsernameToken

    root = etree.fromstring(envelope, _PARSER)
    token = UsernameToken(
        credential.username,
        credential.password,
        timestamp_token=_timestamp_token(when, _TOKEN_TTL),
    )
    root, _ = token.apply(root, {})
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def basic_authorization(credential: Credential) -> str:
    """An HTTP Basic ``Authorization`` value, as requests makes it (latin-1)."""
    raw = f"{credential.username}:{credential.password}".encode("latin1")
    return "Basic " + base64.b64encode(raw).decode("ascii")
