"""Sending stored envelopes to a connector's endpoint, and what each outcome means.

:class:`Sender` posts the bytes an outbox row holds through zeep's transport (a pooled,
kept-alive ``requests`` session per endpoint and thread), adding the WS-Security
UsernameToken (``PasswordText`` with a ``Timestamp``) or HTTP Basic at send time. Every
call has a timeout. :func:`classify` turns what came back into one of three verdicts:

* ``DELIVERED``: a 2xx answer (for a synchronous call, with a valid ``headerTR``);
* ``RETRY``: transport errors, timeouts, 5xx, SOAP ``Server`` faults, 408 and 429 —
  the endpoint may do better later;
* ``PARK``: SOAP ``Client`` faults, answers that break the schema, refused credentials
  and other 4xx — sending the same bytes again cannot help; a person must look.

A verdict also says whether the receiver may have acted on the message (``uncertain``):
a read timeout or a connection cut after the request went out.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from lxml import etree

from connectors.outbound import SOAP_ENV_NS, Answer, AnswerInvalidError, parse_answer
from connectors.wallet import Credential

__all__ = ["DELIVERED", "PARK", "RETRY", "Endpoint", "SendResult", "Sender", "classify"]

DELIVERED, RETRY, PARK = "DELIVERED", "RETRY", "PARK"
_MAX_REASON = 500
_CLIENT_FAULTS = frozenset({"Client", "Sender", "VersionMismatch", "MustUnderstand"})
_WSSE_FAULTS = frozenset(
    {
        "UnsupportedSecurityToken",
        "UnsupportedAlgorithm",
        "InvalidSecurity",
        "InvalidSecurityToken",
        "FailedAuthentication",
        "FailedCheck",
        "SecurityTokenUnavailable",
        "MessageExpired",
    }
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True)
class Endpoint:
    """Where and how to call: a connector's transport settings."""

    url: str
    timeout: float
    auth_style: str = "USERNAME_TOKEN"
    tls_verify: bool = True
    tls_ca_bundle: str | None = None


@dataclass(frozen=True)
class SendResult:
    outcome: str
    reason: str | None = None
    http_status: int | None = None
    uncertain: bool = False
    answer: Answer | None = None
    #: decided here, without an answer from the endpoint (says nothing of its health)
    local: bool = False


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _fault(body: bytes) -> tuple[str, str] | None:
    """(fault code's local name, fault string) of a SOAP 1.1 fault answer, if it is one."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        return None
    fault = root.find(f"{{{SOAP_ENV_NS}}}Body/{{{SOAP_ENV_NS}}}Fault")
    if fault is None:
        return None
    code = (fault.findtext("faultcode") or "").strip()
    return code.rsplit(":", 1)[-1], (fault.findtext("faultstring") or "").strip()


def classify(status: int, body: bytes, expect_answer: bool) -> SendResult:
    """The verdict on an HTTP answer (see the module docstring)."""
    fault = _fault(body) if body else None
    if fault is not None:
        code, text = fault
        reason = _short(f"SOAP fault {code}: {text}" if text else f"SOAP fault {code}")
        # SOAP 1.1 codes may be dotted (Client.Authentication); WS-Security's are wsse:*
        if code.split(".")[0] in _CLIENT_FAULTS or code in _WSSE_FAULTS:
            return SendResult(PARK, reason, status)
        return SendResult(RETRY, reason, status, uncertain=True)
    if 200 <= status < 300:
        if not expect_answer:
            return SendResult(DELIVERED, None, status)
        try:
            root = etree.fromstring(body, _PARSER)
            soap_body = root.find(f"{{{SOAP_ENV_NS}}}Body")
            if soap_body is None:
                raise AnswerInvalidError("the answer is not a SOAP envelope")
            return SendResult(DELIVERED, None, status, answer=parse_answer(soap_body))
        except (etree.XMLSyntaxError, AnswerInvalidError, ValueError) as exc:
            return SendResult(PARK, _short(f"the synchronous answer is unusable: {exc}"), status)
    if 300 <= status < 400:
        return SendResult(
            PARK,
            f"HTTP {status}: the endpoint redirects; point the connector's URL at the "
            "address itself (redirects are not followed: they would resend the request, "
            "with its credentials, elsewhere)",
            status,
        )
    if status in (401, 403):
        return SendResult(
            PARK,
            f"HTTP {status}: the endpoint refused our credentials; check the connector's "
            "wallet entry and auth style",
            status,
        )
    if status in (408, 429) or status >= 500:
        return SendResult(RETRY, f"HTTP {status}", status, uncertain=status == 500)
    return SendResult(PARK, f"HTTP {status}: the endpoint refused the request", status)


def _timestamp_token(now: datetime, ttl: timedelta) -> Any:
    from zeep.wsse import utils

    def stamp(at: datetime) -> str:
        return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return utils.WSU.Timestamp(utils.WSU.Created(stamp(now)), utils.WSU.Expires(stamp(now + ttl)))


def secure(envelope: bytes, credential: Credential, now: datetime | None = None) -> bytes:
    """``envelope`` with a WS-Security header: UsernameToken (PasswordText) and Timestamp."""
    from zeep.wsse.username import UsernameToken

    root = etree.fromstring(envelope, _PARSER)
    when = now or datetime.now(UTC)
    token = UsernameToken(
        credential.username,
        credential.password,
        timestamp_token=_timestamp_token(when, timedelta(minutes=5)),
    )
    root, _ = token.apply(root, {})
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


class Sender:
    """Posts envelopes; one keep-alive session per (thread, endpoint settings)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _transport(self, endpoint: Endpoint) -> Any:
        from zeep.transports import Transport

        cache: dict[tuple[object, ...], Any] = self._local.__dict__.setdefault("cache", {})
        key = (endpoint.tls_verify, endpoint.tls_ca_bundle, endpoint.timeout)
        transport = cache.get(key)
        if transport is None:
            session = requests.Session()
            session.verify = endpoint.tls_ca_bundle or endpoint.tls_verify
            transport = Transport(
                session=session, timeout=endpoint.timeout, operation_timeout=endpoint.timeout
            )
            cache[key] = transport
        return transport

    def send(
        self,
        envelope: bytes,
        soap_action: str,
        endpoint: Endpoint,
        credential: Credential | None,
        expect_answer: bool,
    ) -> SendResult:
        """Send once and judge the outcome; never raises for what the endpoint does."""
        headers = {"Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": f'"{soap_action}"'}
        auth: tuple[str, str] | None = None
        if credential is not None:
            if endpoint.auth_style == "HTTP_BASIC":
                auth = (credential.username, credential.password)
            else:
                envelope = secure(envelope, credential)
        transport = self._transport(endpoint)
        try:
            response = transport.session.post(
                endpoint.url,
                data=envelope,
                headers=headers,
                auth=auth,
                timeout=endpoint.timeout,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            if _caused_by(exc, ssl.SSLCertVerificationError):
                return SendResult(
                    PARK,
                    "TLS verification of the endpoint failed; fix its certificate or the "
                    "connector's ca_bundle, then replay",
                    local=True,
                )
            return SendResult(RETRY, "the TLS handshake failed")
        except requests.exceptions.ConnectTimeout:
            return SendResult(RETRY, f"no connection within {endpoint.timeout:g} s")
        except requests.exceptions.ReadTimeout:
            return SendResult(
                RETRY, f"no answer within {endpoint.timeout:g} s (it may have been received)",
                uncertain=True,
            )  # fmt: skip
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ):
            return SendResult(RETRY, "the answer broke off", uncertain=True)
        except requests.exceptions.ConnectionError as exc:
            refused = _refused(exc)
            reason = "connection refused" if refused else "the connection broke"
            return SendResult(RETRY, reason, uncertain=not refused)
        except requests.exceptions.RequestException as exc:
            return SendResult(RETRY, _short(f"{type(exc).__name__}: transport error"))
        return classify(response.status_code, response.content, expect_answer)

    def close(self) -> None:
        for transport in getattr(self._local, "cache", {}).values():
            transport.session.close()


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: requests and urllib3 nest the real error in ``args[0]``
    or ``reason`` as well as in ``__cause__``/``__context__``."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        yield cause
        seen.add(id(cause))
        wrapped = [cause.args[0] if cause.args else None, getattr(cause, "reason", None)]
        inner = [w for w in wrapped if isinstance(w, BaseException)]
        cause = inner[0] if inner else cause.__cause__ or cause.__context__


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(c, kind) for c in _causes(exc))


def _refused(exc: requests.exceptions.ConnectionError) -> bool:
    """Whether the request never left: refused or unresolvable, not cut off mid-way."""
    never_left = ("NewConnectionError", "ConnectionRefusedError", "NameResolutionError")
    return any(type(c).__name__ in never_left for c in _causes(exc))
