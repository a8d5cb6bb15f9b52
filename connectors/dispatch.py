"""Sending stored envelopes to a connector's endpoint, and what each outcome means.

:class:`Sender` posts the bytes an outbox row holds over pooled, kept-alive connections
(urllib3, one pool manager per thread and TLS settings), adding the WS-Security
UsernameToken (``PasswordText`` with a ``Timestamp``) or HTTP Basic at send time, and
presenting the connector's client certificate in the TLS handshake (:mod:`connectors.tls`).
The
UsernameToken is spliced into the stored bytes (the same bytes zeep's token and lxml's
serializer give, without parsing 30 kB to add 600 bytes). Every call has a timeout.
:func:`classify` turns what came back into one of three verdicts:

* ``DELIVERED``: a 2xx answer (for a synchronous call, with a valid ``headerTR``);
* ``RETRY``: transport errors, timeouts, 5xx, SOAP ``Server`` faults, 408 and 429 —
  the endpoint may do better later;
* ``PARK``: SOAP ``Client`` faults, answers that break the schema, refused credentials
  and other 4xx — sending the same bytes again cannot help; a person must look.

A verdict also says whether the receiver may have acted on the message (``uncertain``):
a read timeout or a connection cut after the request went out.
"""

from __future__ import annotations

import base64
import http.client
import os
import re
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import requests
import urllib3
from lxml import etree
from requests.adapters import HTTPAdapter

from connectors.outbound import SOAP_ENV_NS, Answer, AnswerInvalidError, parse_answer
from connectors.secret_box import Credential
from connectors.tls import ClientIdentity, ca_bundle, client_context, diagnose, probe

__all__ = ["DELIVERED", "PARK", "RETRY", "Endpoint", "SendResult", "Sender", "classify"]

DELIVERED, RETRY, PARK = "DELIVERED", "RETRY", "PARK"
_MAX_REASON = 500
#: connection pools (and TLS contexts) kept per thread: one per connector's TLS settings
_MAX_POOLS = 32
#: how long a handshake probe waits to hear an endpoint refuse our certificate
_PROBE_SECONDS = 2.0
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


def _secure_fast(envelope: bytes, credential: Credential, when: datetime) -> bytes | None:
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
    fast = _secure_fast(envelope, credential, when)
    if fast is not None:
        return fast
    return _secure_tree(envelope, credential, when)


def _secure_tree(envelope: bytes, credential: Credential, when: datetime) -> bytes:
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


def _basic(credential: Credential) -> str:
    """An HTTP Basic ``Authorization`` value, as requests makes it (latin-1)."""
    raw = f"{credential.username}:{credential.password}".encode("latin1")
    return "Basic " + base64.b64encode(raw).decode("ascii")


#: a pool's or session's TLS settings: verify, the CA bundle (path, and when and how
#: big it was written), the client identity
_TlsKey = tuple[bool, str | None, tuple[int, int] | None, str | None]


#: the pool key of a plain ``http://`` endpoint sent to directly: no TLS setting applies
_PLAIN: _TlsKey = (False, None, None, None)


def _tls_key(endpoint: Endpoint, identity: ClientIdentity | None) -> _TlsKey:
    """What a TLS context is built from. A CA bundle rewritten in place makes a new key
    (one ``stat`` per send), so the next connection trusts what the file says now."""
    bundle, stamp = None, None
    if endpoint.tls_verify or endpoint.tls_ca_bundle:
        bundle = ca_bundle(endpoint.tls_ca_bundle)
        try:
            st = os.stat(bundle)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            pass  # building the context says what is wrong with it
    fingerprint = identity.fingerprint if identity is not None else None
    return (endpoint.tls_verify, bundle, stamp, fingerprint)


class _ContextAdapter(HTTPAdapter):
    """A ``requests`` adapter whose connections use one prepared TLS context (CA bundle
    and client certificate loaded once, from memory), through a proxy too."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        pool.pop("ca_certs", None)  # the context holds them already
        pool.pop("ca_cert_dir", None)
        pool["ssl_context"] = self._context
        return host, pool


class Sender:
    """Posts envelopes over kept-alive connections: one urllib3 pool manager per
    (thread, TLS settings), so a worker's threads never wait for each other's sockets.

    Each TLS setting (verification, CA bundle, client certificate) makes one
    :class:`ssl.SSLContext`, built once and shared by the threads; the client
    certificate is presented on every connection made with it. Nothing is retried or
    redirected here (a verdict decides), and the environment is honoured as
    ``requests`` does: ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` when no CA bundle is
    pinned, and a proxy from ``HTTP(S)_PROXY``/``NO_PROXY``; a URL that goes through a
    proxy is sent with ``requests`` itself."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._proxied: dict[str, bool] = {}
        self._contexts: dict[_TlsKey, ssl.SSLContext] = {}
        self._contexts_lock = threading.Lock()

    def _context(self, endpoint: Endpoint, identity: ClientIdentity | None) -> ssl.SSLContext:
        key = _tls_key(endpoint, identity)
        with self._contexts_lock:
            context = self._contexts.get(key)
            if context is None:
                if len(self._contexts) >= _MAX_POOLS:  # a replaced certificate's, say
                    del self._contexts[next(iter(self._contexts))]
                context = client_context(endpoint.tls_verify, endpoint.tls_ca_bundle, identity)
                self._contexts[key] = context
            return context

    def _pool(self, endpoint: Endpoint, identity: ClientIdentity | None) -> urllib3.PoolManager:
        cache: dict[_TlsKey, urllib3.PoolManager] = self._local.__dict__.setdefault("pools", {})
        plain = endpoint.url[:5].lower() == "http:"
        key = _PLAIN if plain else _tls_key(endpoint, identity)
        pool = cache.get(key)
        if pool is None:
            if len(cache) >= _MAX_POOLS:
                cache.pop(next(iter(cache))).clear()
            context = self._context(endpoint, identity)
            pool = urllib3.PoolManager(num_pools=16, maxsize=1, retries=False, ssl_context=context)
            cache[key] = pool
        return pool

    def _session(self, endpoint: Endpoint, identity: ClientIdentity | None) -> requests.Session:
        cache: dict[_TlsKey, requests.Session] = self._local.__dict__.setdefault("sessions", {})
        key = _tls_key(endpoint, identity)
        session = cache.get(key)
        if session is None:
            if len(cache) >= _MAX_POOLS:
                cache.pop(next(iter(cache))).close()
            session = requests.Session()
            session.verify = endpoint.tls_ca_bundle or endpoint.tls_verify
            session.mount("https://", _ContextAdapter(self._context(endpoint, identity)))
            cache[key] = session
        return session

    def _via_proxy(self, url: str) -> bool:
        proxied = self._proxied.get(url)
        if proxied is None:
            proxied = self._proxied[url] = bool(requests.utils.get_environ_proxies(url))
        return proxied

    def send(
        self,
        envelope: bytes,
        soap_action: str,
        endpoint: Endpoint,
        credential: Credential | None,
        expect_answer: bool,
        identity: ClientIdentity | None = None,
    ) -> SendResult:
        """Send once and judge the outcome; never raises for what the endpoint does.
        ``identity``: the client certificate to present if the endpoint asks for one."""
        headers = {
            **_DEFAULT_HEADERS,
            "Content-Type": 'text/xml; charset="utf-8"',
            "SOAPAction": f'"{soap_action}"',
        }
        if credential is not None:
            if endpoint.auth_style == "HTTP_BASIC":
                headers["Authorization"] = _basic(credential)
            else:
                envelope = secure(envelope, credential)
        try:
            if self._via_proxy(endpoint.url):
                return self._send_requests(envelope, headers, endpoint, identity, expect_answer)
            pool = self._pool(endpoint, identity)
        except (ssl.SSLError, OSError) as exc:
            return _unusable_tls(exc, endpoint, identity)
        try:
            response = pool.urlopen(
                "POST",
                endpoint.url,
                body=envelope,
                headers=headers,
                timeout=urllib3.Timeout(connect=endpoint.timeout, read=endpoint.timeout),
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except urllib3.exceptions.SSLError as exc:
            return self._tls_failure(exc, endpoint, identity)
        except urllib3.exceptions.NewConnectionError as exc:
            return _broken(exc)  # refused or unresolvable (urllib3 files it under timeouts)
        except urllib3.exceptions.ConnectTimeoutError:
            return SendResult(RETRY, f"no connection within {endpoint.timeout:g} s")
        except urllib3.exceptions.ReadTimeoutError:
            return _read_timeout(endpoint)
        except urllib3.exceptions.DecodeError:
            return SendResult(RETRY, "the answer broke off", uncertain=True)
        except urllib3.exceptions.ProtocolError as exc:
            if _caused_by(exc, http.client.IncompleteRead) or _caused_by(
                exc, urllib3.exceptions.InvalidChunkLength
            ):
                return SendResult(RETRY, "the answer broke off", uncertain=True)
            return self._broken_tls(exc, endpoint, identity)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if isinstance(exc, OSError):
                return self._broken_tls(exc, endpoint, identity)
            return SendResult(RETRY, _short(f"{type(exc).__name__}: transport error"))
        return classify(response.status, response.data, expect_answer)

    def _send_requests(
        self,
        envelope: bytes,
        headers: dict[str, str],
        endpoint: Endpoint,
        identity: ClientIdentity | None,
        expect_answer: bool,
    ) -> SendResult:
        """Send through ``requests`` (for endpoints behind a proxy from the environment)."""
        try:
            response = self._session(endpoint, identity).post(
                endpoint.url,
                data=envelope,
                headers=headers,
                timeout=endpoint.timeout,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            return _tls_verdict(exc, identity)
        except requests.exceptions.ConnectTimeout:
            return SendResult(RETRY, f"no connection within {endpoint.timeout:g} s")
        except requests.exceptions.ReadTimeout:
            return _read_timeout(endpoint)
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ):
            return SendResult(RETRY, "the answer broke off", uncertain=True)
        except requests.exceptions.ConnectionError as exc:
            return _broken(exc)
        except requests.exceptions.RequestException as exc:
            return SendResult(RETRY, _short(f"{type(exc).__name__}: transport error"))
        return classify(response.status_code, response.content, expect_answer)

    def _tls_failure(
        self, exc: BaseException, endpoint: Endpoint, identity: ClientIdentity | None
    ) -> SendResult:
        """The verdict on a TLS error; one that does not say which check failed (a
        refusal the request's own write ran into) is explained by a bare handshake."""
        verdict = _tls_verdict(exc, identity)
        if verdict.reason != _UNEXPLAINED:
            return verdict
        return self._probed(endpoint, identity) or verdict

    def _broken_tls(
        self, exc: BaseException, endpoint: Endpoint, identity: ClientIdentity | None
    ) -> SendResult:
        """A connection that broke: over TLS, the endpoint may have refused our
        certificate (TLS 1.3 says so after the handshake), which a probe tells."""
        return self._probed(endpoint, identity) or _broken(exc)

    def _probed(self, endpoint: Endpoint, identity: ClientIdentity | None) -> SendResult | None:
        if not endpoint.url.lower().startswith("https:"):
            return None
        context = self._context(endpoint, identity)
        error = probe(endpoint.url, context, min(endpoint.timeout, _PROBE_SECONDS))
        if error is None:
            return None
        verdict = _tls_verdict(error, identity)
        return None if verdict.reason == _UNEXPLAINED else verdict

    def close(self) -> None:
        """Close this thread's connections."""
        for pool in getattr(self._local, "pools", {}).values():
            pool.clear()
        for session in getattr(self._local, "sessions", {}).values():
            session.close()


_DEFAULT_HEADERS = dict(requests.utils.default_headers())
_UNEXPLAINED = "the TLS handshake failed"


def _tls_verdict(exc: BaseException, identity: ClientIdentity | None) -> SendResult:
    """Which TLS check failed, as a verdict: a refusal a setting or a certificate must
    fix is parked; one our own check made says nothing of the endpoint's health."""
    refusal = diagnose(exc, presented=identity is not None)
    if refusal is None:
        return SendResult(RETRY, _UNEXPLAINED)
    outcome = PARK if refusal.permanent else RETRY
    return SendResult(outcome, _short(refusal.reason), local=refusal.ours)


def _unusable_tls(
    exc: BaseException, endpoint: Endpoint, identity: ClientIdentity | None
) -> SendResult:
    """The connector's TLS settings cannot be loaded: a person must fix them."""
    what = "client certificate" if identity is not None else "CA bundle"
    return SendResult(
        PARK,
        _short(
            f"cannot load the connector's TLS settings ({what}; ca_bundle "
            f"{endpoint.tls_ca_bundle!r}): {exc}"
        ),
        local=True,
    )


def _read_timeout(endpoint: Endpoint) -> SendResult:
    return SendResult(
        RETRY, f"no answer within {endpoint.timeout:g} s (it may have been received)",
        uncertain=True,
    )  # fmt: skip


def _broken(exc: BaseException) -> SendResult:
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


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(c, kind) for c in _causes(exc))


def _refused(exc: BaseException) -> bool:
    """Whether the request never left: refused or unresolvable, not cut off mid-way."""
    never_left = ("NewConnectionError", "ConnectionRefusedError", "NameResolutionError")
    return any(type(c).__name__ in never_left for c in _causes(exc))
