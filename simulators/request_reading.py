"""Reading a FulfillmentRequest call the way the fulfillment simulator accepts it.

A call is a SOAP 1.1 envelope whose body holds a ``headerTL`` valid against
``HeaderTL.xsd``, sent as the expected user (HTTP Basic, or a WS-Security UsernameToken with
``PasswordText`` or ``PasswordDigest``), with the operation in SOAPAction or ``wsa:Action``.
:func:`read_call` returns what the simulator acts on, or raises :class:`RefusedError`,
which the simulator answers with a SOAP ``Client`` fault.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from connectors.outbound import OUTBOUND_DIR, SOAP_ENV_NS, TL_NS, WSA_NS
from connectors.schema_loading import load_schema
from simulators import harness

__all__ = [
    "ASYNC",
    "SYNC",
    "Call",
    "RefusedError",
    "Request",
    "RequestLine",
    "read_call",
    "request_schema",
]

WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
SOAP12_ENV_NS = "http://www.w3.org/2003/05/soap-envelope"
_PASSWORD_DIGEST = "#PasswordDigest"
#: WS-Addressing addresses that mean "no callback address given"
_NO_ADDRESS = frozenset({f"{WSA_NS}/anonymous", f"{WSA_NS}/none"})

SYNC, ASYNC = "sync", "async"
#: SOAPAction (or wsa:Action) values of FulfillmentRequest's operations, per the WSDL binding
_ACTIONS = {
    "process": ASYNC,
    "processFulfillmentRequest": ASYNC,
    "processSync": SYNC,
    "processFulfillmentRequestSync": SYNC,
}


@dataclass(frozen=True)
class RequestLine:
    fulfill_line_id: int
    ordered_qty: Decimal
    uom: str
    requested_ship_date: str | None = None
    ship_to_site: str | None = None


@dataclass(frozen=True)
class Request:
    """What the simulator needs of a ``headerTL``."""

    request_id: int
    task_type: str
    header_id: int
    lines: tuple[RequestLine, ...]
    operation: str = "Create"
    original_request_id: int | None = None


class RefusedError(Exception):
    """A request answered with a SOAP ``Client`` fault; the message is the faultstring."""


@dataclass(frozen=True)
class Call:
    """A call accepted: its operation (:data:`SYNC` or :data:`ASYNC`), request and addresses."""

    mode: str
    request: Request
    message_id: str | None
    reply_to: str | None


def request_schema() -> etree.XMLSchema:
    """``HeaderTL.xsd``, which every request's ``headerTL`` is validated against."""
    return load_schema(OUTBOUND_DIR / "HeaderTL.xsd")


def _elements(parent: etree._Element) -> Iterator[etree._Element]:
    """Child elements only: comments and processing instructions are skipped."""
    for child in parent:
        if isinstance(child.tag, str):
            yield child


def _read_request(tl: etree._Element) -> Request:
    """The parts of a schema-valid ``headerTL`` the simulator acts on."""

    def need(parent: etree._Element, name: str) -> str:
        value = harness.child_text(parent, TL_NS, name)
        if value is None:  # the schema requires it; guard against schema drift
            raise RefusedError(f"headerTL: {name} is required")
        return value

    try:
        lines = tuple(
            RequestLine(
                fulfill_line_id=int(need(ln, "FulfillLineId")),
                ordered_qty=Decimal(need(ln, "OrderedQty")),
                uom=need(ln, "OrderedUOMCode"),
                requested_ship_date=harness.child_text(ln, TL_NS, "RequestedShipDate"),
                ship_to_site=harness.child_text(ln, TL_NS, "ShipToPartySiteIdentifier"),
            )
            for ln in tl.findall(f"{{{TL_NS}}}Line")
        )
        original = harness.child_text(tl, TL_NS, "OriginalRequestIdentifier")
        return Request(
            request_id=int(need(tl, "FulfillmentRequestIdentifier")),
            task_type=need(tl, "TaskType"),
            header_id=int(need(tl, "HeaderId")),
            lines=lines,
            operation=need(tl, "Operation"),
            original_request_id=None if original is None else int(original),
        )
    except (ValueError, InvalidOperation) as exc:
        raise RefusedError(f"headerTL: {exc}") from None


def read_call(
    environ: dict[str, Any], body: bytes, username: str | None, password: str | None
) -> Call:
    """The call in ``body``; ``username``/``password`` ``None``: no authentication."""
    if not body.strip():
        raise RefusedError("the request has no body; send a SOAP 1.1 envelope")
    try:
        root = etree.fromstring(body, harness.PARSER)
    except etree.XMLSyntaxError as exc:
        raise RefusedError(f"the request is not well-formed XML: {exc}") from None
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
    if docinfo.doctype:
        raise RefusedError("a DOCTYPE is not allowed in a SOAP message")
    if root.tag == f"{{{SOAP12_ENV_NS}}}Envelope":
        raise RefusedError("SOAP 1.2 is not served: send a SOAP 1.1 envelope")
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        raise RefusedError("the request is not a SOAP 1.1 envelope")
    header = root.find(f"{{{SOAP_ENV_NS}}}Header")
    _authenticate(environ, header, username, password)
    soap_body = root.find(f"{{{SOAP_ENV_NS}}}Body")
    payload = next(_elements(soap_body), None) if soap_body is not None else None
    if payload is None or payload.tag != f"{{{TL_NS}}}headerTL":
        found = "nothing" if payload is None else etree.QName(payload).localname
        raise RefusedError(f"the SOAP body must hold a headerTL ({{{TL_NS}}}), not {found}")
    schema = request_schema()
    if not schema.validate(payload):
        errors: Any = schema.error_log  # lxml-stubs do not let it be indexed
        first = errors[0] if errors else None
        raise RefusedError(
            f"headerTL does not match HeaderTL.xsd: {first.message if first else 'invalid'}"
        )
    mode = _mode(environ, header)
    request = _read_request(payload)
    message_id = harness.child_text(header, WSA_NS, "MessageID") if header is not None else None
    return Call(mode, request, message_id or None, _reply_to(header))


def _authenticate(
    environ: dict[str, Any],
    header: etree._Element | None,
    username: str | None,
    password: str | None,
) -> None:
    """Check HTTP Basic or a WS-Security UsernameToken against the expected user.

    ``PasswordText`` is what omgw sends; ``PasswordDigest`` is accepted too. The fault
    never repeats what was sent.
    """
    if username is None or password is None:
        return
    refused = RefusedError(
        "authentication failed: send the fulfillment system's user and password as a "
        "WS-Security UsernameToken or with HTTP Basic"
    )
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth[:6].lower() == "basic ":
        try:
            user, _, sent = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise refused from None
        if harness.same(user, username) & harness.same(sent, password):
            return
        raise refused
    token = None
    if header is not None:
        token = header.find(f"{{{harness.WSSE_NS}}}Security/{{{harness.WSSE_NS}}}UsernameToken")
    if token is None:
        raise refused
    user = harness.child_text(token, harness.WSSE_NS, "Username") or ""
    pw = token.find(f"{{{harness.WSSE_NS}}}Password")
    if pw is None:
        raise refused
    given = pw.text or ""
    if (pw.get("Type") or "").endswith(_PASSWORD_DIGEST):
        nonce_text = harness.child_text(token, harness.WSSE_NS, "Nonce") or ""
        created = harness.child_text(token, WSU_NS, "Created") or ""
        try:
            nonce = base64.b64decode(nonce_text)
        except binascii.Error:
            raise refused from None
        expected = base64.b64encode(
            hashlib.sha1(nonce + created.encode() + password.encode()).digest()
        ).decode()
    else:
        expected = password
    if harness.same(user, username) & harness.same(given, expected):
        return
    raise refused


def _mode(environ: dict[str, Any], header: etree._Element | None) -> str:
    """The operation: from SOAPAction, else wsa:Action, else one-way (async)."""
    action = (environ.get("HTTP_SOAPACTION") or "").strip().strip('"').strip()
    if not action and header is not None:
        action = harness.child_text(header, WSA_NS, "Action") or ""
    if not action:
        return ASYNC
    name = action.rsplit("/", 1)[-1]
    mode = _ACTIONS.get(action) or _ACTIONS.get(name)
    if mode is None:
        raise RefusedError(
            f"unknown SOAPAction {action[:100]!r}: use process (processFulfillmentRequest) "
            "or processSync (processFulfillmentRequestSync)"
        )
    return mode


def _reply_to(header: etree._Element | None) -> str | None:
    if header is None:
        return None
    address = header.find(f"{{{WSA_NS}}}ReplyTo/{{{WSA_NS}}}Address")
    text = (address.text or "").strip() if address is not None else ""
    if not text or text in _NO_ADDRESS:
        return None
    if urlsplit(text).scheme not in ("http", "https"):
        raise RefusedError("wsa:ReplyTo/wsa:Address must be an http(s) URL")
    return text
