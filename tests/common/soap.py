"""Helpers for tests that talk SOAP: zeep clients, raw posts, fault reading."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from lxml import etree
from zeep import Client, Settings
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

ERRORS_NS = "http://xmlns.oracle.com/adf/svc/errors/"
PASSWORD = "s3cret-Pa55word"


@dataclass(frozen=True)
class Http:
    status: int
    body: bytes


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> Http:
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", "text/xml; charset=utf-8")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return Http(resp.status, resp.read())
    except urllib.error.HTTPError as exc:
        return Http(exc.code, exc.read())


def call_front(
    app: Any, service: str, body: bytes, authorization: str | None = None
) -> tuple[str, bytes]:
    """POST ``body`` to ``service`` of a WSGI ``app`` (the gateway's front) in this thread,
    as a server would hand it over; the status line and the answer."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/fscmService/{service}",
        "QUERY_STRING": "",
        "SERVER_NAME": "test",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "text/xml; charset=utf-8",
    }
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    status: list[str] = []
    out = b"".join(app(environ, lambda s, _headers, _exc_info=None: status.append(s)))
    return status[0], out


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def fault_code(body: bytes) -> str | None:
    root = etree.fromstring(body)
    el = root.find(f".//{{{ERRORS_NS}}}ServiceErrorMessage/{{{ERRORS_NS}}}code")
    return None if el is None else el.text


def zeep_fault_code(fault: Fault) -> str | None:
    if fault.detail is None:
        return None
    el = fault.detail.find(f"{{{ERRORS_NS}}}ServiceErrorMessage/{{{ERRORS_NS}}}code")
    return None if el is None else el.text


def zeep_fault_details(fault: Fault) -> list[str]:
    assert fault.detail is not None
    return [
        el.text
        for el in fault.detail.findall(
            f"{{{ERRORS_NS}}}ServiceErrorMessage/{{{ERRORS_NS}}}detail/{{{ERRORS_NS}}}code"
        )
    ]


def client(
    base: str, service: str, user: str = "all", password: str = PASSWORD, wsse: bool = False
) -> Client:
    session = requests.Session()
    if not wsse:
        session.auth = (user, password)
    transport = Transport(session=session, timeout=30, operation_timeout=30)
    return Client(
        f"{base}/fscmService/{service}?WSDL",
        transport=transport,
        settings=Settings(strict=True),
        wsse=UsernameToken(user, password) if wsse else None,
    )


def digest_header(
    user: str, password: str, nonce: bytes | None = None, created: datetime | None = None
) -> str:
    nonce = nonce or os.urandom(16)
    created_s = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(
        hashlib.sha1(nonce + created_s.encode() + password.encode()).digest()
    ).decode()
    now = datetime.now(UTC)
    return f"""<soapenv:Header>
  <wsse:Security soapenv:mustUnderstand="1"
    xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
   <wsu:Timestamp><wsu:Created>{now:%Y-%m-%dT%H:%M:%SZ}</wsu:Created>
     <wsu:Expires>{now + timedelta(minutes=5):%Y-%m-%dT%H:%M:%SZ}</wsu:Expires></wsu:Timestamp>
   <wsse:UsernameToken>
    <wsse:Username>{user}</wsse:Username>
    <wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{digest}</wsse:Password>
    <wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-soap-message-security-1.0#Base64Binary">{base64.b64encode(nonce).decode()}</wsse:Nonce>
    <wsu:Created>{created_s}</wsu:Created>
   </wsse:UsernameToken>
  </wsse:Security>
</soapenv:Header>"""


def fault_parts(resp: requests.Response) -> tuple[str, str]:
    """(faultcode, faultstring) of a SOAP 1.1 fault answer (it must be one: HTTP 500)."""
    assert resp.status_code == 500, resp.text
    root = etree.fromstring(resp.content)
    el = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body/"
                   "{http://schemas.xmlsoap.org/soap/envelope/}Fault")  # fmt: skip
    assert el is not None
    return el.findtext("faultcode") or "", el.findtext("faultstring") or ""
