"""WS-Security rules on the wire: wsu:Timestamp both ways within the clock skew, no
Expires beyond the replay window, and a PasswordDigest needs a non-empty Nonce and Created.

Raw HTTP with the envelopes Oracle's clients send (contract §8.3).
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import UTC, datetime, timedelta

import pytest

from tests.common.inquiry import OIS, OIS_TYPES, ois
from tests.common.soap import PASSWORD, fault_code, post

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
BASE64 = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-soap-message-security-1.0#Base64Binary"
)


def _at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S.000Z}"


def envelope(security: str) -> bytes:
    return f"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
      xmlns:typ="{OIS_TYPES}" xmlns:ord="{OIS}"><soapenv:Header>
      <wsse:Security soapenv:mustUnderstand="1" xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">
      {security}</wsse:Security></soapenv:Header>
      <soapenv:Body><typ:GetOrderDetails><typ:Order>
      <ord:SourceTransactionNumber>NO-SUCH</ord:SourceTransactionNumber>
      </typ:Order></typ:GetOrderDetails></soapenv:Body></soapenv:Envelope>""".encode()


def timestamp(created: datetime | None, expires: datetime | None) -> str:
    parts = []
    if created is not None:
        parts.append(f"<wsu:Created>{_at(created)}</wsu:Created>")
    if expires is not None:
        parts.append(f"<wsu:Expires>{_at(expires)}</wsu:Expires>")
    return f'<wsu:Timestamp wsu:Id="TS-1">{"".join(parts)}</wsu:Timestamp>'


def text_token(user: str = "inquirer") -> str:
    return f"""<wsse:UsernameToken wsu:Id="UT-1"><wsse:Username>{user}</wsse:Username>
      <wsse:Password Type="{PROFILE}#PasswordText">{PASSWORD}</wsse:Password>
      </wsse:UsernameToken>"""


def digest_token(nonce: bytes, created: str, user: str = "inquirer") -> str:
    digest = base64.b64encode(
        hashlib.sha1(nonce + created.encode() + PASSWORD.encode()).digest()
    ).decode()
    return f"""<wsse:UsernameToken><wsse:Username>{user}</wsse:Username>
      <wsse:Password Type="{PROFILE}#PasswordDigest">{digest}</wsse:Password>
      <wsse:Nonce EncodingType="{BASE64}">{base64.b64encode(nonce).decode()}</wsse:Nonce>
      <wsu:Created>{created}</wsu:Created></wsse:UsernameToken>"""


def answer(gateway, security: str) -> tuple[str | None, str]:
    resp = post(ois(gateway), envelope(security))
    return fault_code(resp.body), resp.body.decode()


@pytest.mark.parametrize(
    ("created", "expires", "code", "says"),
    [
        # accepted: Oracle's 5 minutes, a caller's clock 30 s ahead, no Created
        (0, 300, "OMGW-ORDER_NOT_FOUND", ""),
        (30, 330, "OMGW-ORDER_NOT_FOUND", ""),
        (None, 300, "OMGW-ORDER_NOT_FOUND", ""),
        # refused
        (600, 900, "OMGW-AUTH_TIMESTAMP_INVALID", "in the future"),
        (0, 3 * 365 * 86400, "OMGW-AUTH_TIMESTAMP_INVALID", "replay window"),
        (None, 86400, "OMGW-AUTH_TIMESTAMP_INVALID", "replay window"),
        (0, -30, "OMGW-AUTH_TIMESTAMP_INVALID", "before its Created"),
        (-600, -300, "OMGW-AUTH_EXPIRED", "expired"),
    ],
)
def test_a_timestamp_must_be_current_and_short_lived(gateway, created, expires, code, says):
    now = datetime.now(UTC)
    stamp = timestamp(
        None if created is None else now + timedelta(seconds=created),
        now + timedelta(seconds=expires),
    )
    got, body = answer(gateway, stamp + text_token())
    assert got == code
    assert says in body


def test_a_digest_with_an_empty_nonce_is_refused(gateway):
    created = _at(datetime.now(UTC))
    got, body = answer(gateway, digest_token(b"", created))
    assert got == "OMGW-AUTH_FAILED" and "non-empty Nonce" in body
    # the same token with a nonce is accepted: the refusal is the nonce's
    assert answer(gateway, digest_token(os.urandom(16), created))[0] == "OMGW-ORDER_NOT_FOUND"


def test_a_digest_with_an_empty_created_is_refused(gateway):
    got, _ = answer(gateway, digest_token(os.urandom(16), ""))
    assert got == "OMGW-AUTH_FAILED"


def test_a_digest_created_in_the_future_is_refused(gateway):
    ahead = _at(datetime.now(UTC) + timedelta(minutes=4))
    got, body = answer(gateway, digest_token(os.urandom(16), ahead))
    assert got == "OMGW-AUTH_TIMESTAMP_INVALID" and "clock skew" in body
    slightly = _at(datetime.now(UTC) + timedelta(seconds=20))
    assert answer(gateway, digest_token(os.urandom(16), slightly))[0] == "OMGW-ORDER_NOT_FOUND"
