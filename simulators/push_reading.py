"""Reading a ``pushPayload`` the way the simulated subscriber accepts it.

A push must come from the expected user (:func:`authenticated`: HTTP Basic, or a
WS-Security UsernameToken with ``PasswordText``) and, when it names its operation in
SOAPAction or ``wsa:Action``, name ``pushPayload`` (:func:`check_action`). What the
payload must be is :func:`connectors.push_payload_reader.parse_push`'s to say. A push
refused for its content raises :class:`PushRefusedError`, which the subscriber answers
with a SOAP ``Client`` fault.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from lxml import etree

from connectors.outbound import SOAP_ENV_NS
from connectors.push_payload import PUSH_ACTION
from simulators import harness

__all__ = ["FAILED_AUTHENTICATION", "PushRefusedError", "authenticated", "check_action"]

_PASSWORD_TEXT = "#PasswordText"
#: the faultstring of a push refused for its credentials
FAILED_AUTHENTICATION = (
    "FailedAuthentication: the security token could not be authenticated; send the "
    "subscriber's user and password as a WS-Security UsernameToken (PasswordText) or with "
    "HTTP Basic"
)


class PushRefusedError(Exception):
    """A push answered with a SOAP ``Client`` fault; the message is the faultstring."""


def _action_name(value: str | None) -> str:
    """The operation a SOAPAction or ``wsa:Action`` names: its last ``/`` or ``#`` segment."""
    text = (value or "").strip().strip('"').strip()
    return re.split(r"[/#]", text)[-1] if text else ""


def check_action(environ: dict[str, Any], wsa_action: str | None) -> None:
    """Neither SOAPAction nor ``wsa:Action`` is required (§5.2), but given, must fit."""
    for where, value in (
        ("SOAPAction", environ.get("HTTP_SOAPACTION")),
        ("wsa:Action", wsa_action),
    ):
        name = _action_name(value)
        if name and name != PUSH_ACTION:
            raise PushRefusedError(
                f"unknown {where} {str(value).strip()[:100]!r}: this service has one "
                f"operation, {PUSH_ACTION}"
            )


def authenticated(
    environ: dict[str, Any], body: bytes, username: str | None, password: str | None
) -> bool:
    """Whether HTTP Basic or a WS-Security UsernameToken carries the expected user.

    HTTP Basic, when sent, decides alone. The token's password must be ``PasswordText``
    (what OM's ``wss_username_token_over_ssl_client_policy`` sends). A body that is not
    XML cannot carry a token: it is refused before anyone learns why it is invalid. With
    no ``username`` or ``password`` expected, every push is authenticated.
    """
    if username is None or password is None:
        return True
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth[:6].lower() == "basic ":
        try:
            user, _, sent = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return harness.same(user, username) & harness.same(sent, password)
    try:
        root = etree.fromstring(body, harness.PARSER)
    except etree.XMLSyntaxError:
        return False
    token = root.find(
        f"{{{SOAP_ENV_NS}}}Header/{{{harness.WSSE_NS}}}Security/{{{harness.WSSE_NS}}}UsernameToken"
    )
    if token is None:
        return False
    pw = token.find(f"{{{harness.WSSE_NS}}}Password")
    if pw is None:
        return False
    kind = pw.get("Type")
    if kind is not None and not kind.endswith(_PASSWORD_TEXT):
        return False
    user = harness.child_text(token, harness.WSSE_NS, "Username") or ""
    return harness.same(user, username) & harness.same(pw.text or "", password)
