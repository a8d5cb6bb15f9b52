"""What each outcome of a send means: the verdict on an answer or a transport failure.

Sending (:mod:`connectors.dispatch` over HTTP, :mod:`connectors.mail_sender` over SMTP) ends in
one of three verdicts, decided here from what came back, without I/O:

* ``DELIVERED``: a 2xx answer (for a synchronous call, with a valid ``headerTR``);
* ``RETRY``: transport errors, timeouts, 5xx, SOAP ``Server`` faults, 408 and 429 —
  the endpoint may do better later;
* ``PARK``: SOAP ``Client`` faults, answers that break the schema, refused credentials
  and other 4xx — sending the same bytes again cannot help; a person must look.

A verdict also says whether the receiver may have acted on the message (``uncertain``):
a read timeout or a connection cut after the request went out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from connectors.connector_errors import AnswerInvalidError
from connectors.outbound import SOAP_ENV_NS, Answer, parse_answer
from connectors.tls import ClientIdentity, diagnose

__all__ = [
    "DELIVERED",
    "PARK",
    "RETRY",
    "UNEXPLAINED_TLS",
    "SendResult",
    "broken_connection",
    "caused_by",
    "classify",
    "short_reason",
    "tls_verdict",
]

DELIVERED, RETRY, PARK = "DELIVERED", "RETRY", "PARK"
#: the reason given when a TLS error does not say which check failed
UNEXPLAINED_TLS = "the TLS handshake failed"
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
class SendResult:
    """The verdict on one send: its outcome, why, and what came back."""

    outcome: str
    reason: str | None = None
    http_status: int | None = None
    uncertain: bool = False
    answer: Answer | None = None
    #: decided here, without an answer from the endpoint (says nothing of its health)
    local: bool = False


def short_reason(text: str) -> str:
    """``text`` on one line, cut to the length a stored reason may have."""
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
        reason = short_reason(f"SOAP fault {code}: {text}" if text else f"SOAP fault {code}")
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
            return SendResult(
                PARK, short_reason(f"the synchronous answer is unusable: {exc}"), status
            )
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


def tls_verdict(exc: BaseException, identity: ClientIdentity | None) -> SendResult:
    """Which TLS check failed, as a verdict: a refusal a setting or a certificate must
    fix is parked; one our own check made says nothing of the endpoint's health."""
    refusal = diagnose(exc, presented=identity is not None)
    if refusal is None:
        return SendResult(RETRY, UNEXPLAINED_TLS)
    outcome = PARK if refusal.permanent else RETRY
    return SendResult(outcome, short_reason(refusal.reason), local=refusal.ours)


def broken_connection(exc: BaseException) -> SendResult:
    """A connection that broke: retried, and uncertain unless it never opened."""
    refused = _refused(exc)
    reason = "connection refused" if refused else "the connection broke"
    return SendResult(RETRY, reason, uncertain=not refused)


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


def caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``exc`` is a ``kind`` or wraps one."""
    return any(isinstance(c, kind) for c in _causes(exc))


def _refused(exc: BaseException) -> bool:
    """Whether the request never left: refused or unresolvable, not cut off mid-way."""
    never_left = ("NewConnectionError", "ConnectionRefusedError", "NameResolutionError")
    return any(type(c).__name__ in never_left for c in _causes(exc))
