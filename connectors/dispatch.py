"""Sending stored envelopes to a connector's endpoint over HTTP.

:class:`Sender` posts the bytes an outbox row holds over pooled, kept-alive connections
(urllib3, one pool manager per thread and TLS settings), adding the credentials at send
time (:mod:`connectors.ws_security`: the WS-Security UsernameToken or HTTP Basic), and
presenting the connector's client certificate in the TLS handshake (:mod:`connectors.tls`).
Every call has a timeout. What came back, or how the transport failed, is judged by
:mod:`connectors.verdicts`: ``DELIVERED``, ``RETRY`` or ``PARK``.
"""

from __future__ import annotations

import http.client
import os
import ssl
import threading
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from connectors.secret_box import Credential
from connectors.tls import ClientIdentity, ca_bundle, client_context, probe
from connectors.verdicts import (
    PARK,
    RETRY,
    UNEXPLAINED_TLS,
    SendResult,
    broken_connection,
    caused_by,
    classify,
    short_reason,
    tls_verdict,
)
from connectors.ws_security import basic_authorization, secure

__all__ = ["Endpoint", "Sender"]

#: connection pools (and TLS contexts) kept per thread: one per connector's TLS settings
_MAX_POOLS = 32
#: how long a handshake probe waits to hear an endpoint refuse our certificate
_PROBE_SECONDS = 2.0


@dataclass(frozen=True)
class Endpoint:
    """Where and how to call: a connector's transport settings."""

    url: str
    timeout: float
    auth_style: str = "USERNAME_TOKEN"
    tls_verify: bool = True
    tls_ca_bundle: str | None = None


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
                headers["Authorization"] = basic_authorization(credential)
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
            # refused or unresolvable (urllib3 files it under timeouts)
            return broken_connection(exc)
        except urllib3.exceptions.ConnectTimeoutError:
            return SendResult(RETRY, f"no connection within {endpoint.timeout:g} s")
        except urllib3.exceptions.ReadTimeoutError:
            return _read_timeout(endpoint)
        except urllib3.exceptions.DecodeError:
            return SendResult(RETRY, "the answer broke off", uncertain=True)
        except urllib3.exceptions.ProtocolError as exc:
            if caused_by(exc, http.client.IncompleteRead) or caused_by(
                exc, urllib3.exceptions.InvalidChunkLength
            ):
                return SendResult(RETRY, "the answer broke off", uncertain=True)
            return self._broken_tls(exc, endpoint, identity)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if isinstance(exc, OSError):
                return self._broken_tls(exc, endpoint, identity)
            return SendResult(RETRY, short_reason(f"{type(exc).__name__}: transport error"))
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
            return tls_verdict(exc, identity)
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
            return broken_connection(exc)
        except requests.exceptions.RequestException as exc:
            return SendResult(RETRY, short_reason(f"{type(exc).__name__}: transport error"))
        return classify(response.status_code, response.content, expect_answer)

    def _tls_failure(
        self, exc: BaseException, endpoint: Endpoint, identity: ClientIdentity | None
    ) -> SendResult:
        """The verdict on a TLS error; one that does not say which check failed (a
        refusal the request's own write ran into) is explained by a bare handshake."""
        verdict = tls_verdict(exc, identity)
        if verdict.reason != UNEXPLAINED_TLS:
            return verdict
        return self._probed(endpoint, identity) or verdict

    def _broken_tls(
        self, exc: BaseException, endpoint: Endpoint, identity: ClientIdentity | None
    ) -> SendResult:
        """A connection that broke: over TLS, the endpoint may have refused our
        certificate (TLS 1.3 says so after the handshake), which a probe tells."""
        return self._probed(endpoint, identity) or broken_connection(exc)

    def _probed(self, endpoint: Endpoint, identity: ClientIdentity | None) -> SendResult | None:
        if not endpoint.url.lower().startswith("https:"):
            return None
        context = self._context(endpoint, identity)
        error = probe(endpoint.url, context, min(endpoint.timeout, _PROBE_SECONDS))
        if error is None:
            return None
        verdict = tls_verdict(error, identity)
        return None if verdict.reason == UNEXPLAINED_TLS else verdict

    def close(self) -> None:
        """Close this thread's connections."""
        for pool in getattr(self._local, "pools", {}).values():
            pool.clear()
        for session in getattr(self._local, "sessions", {}).values():
            session.close()


_DEFAULT_HEADERS = dict(requests.utils.default_headers())


def _unusable_tls(
    exc: BaseException, endpoint: Endpoint, identity: ClientIdentity | None
) -> SendResult:
    """The connector's TLS settings cannot be loaded: a person must fix them."""
    what = "client certificate" if identity is not None else "CA bundle"
    return SendResult(
        PARK,
        short_reason(
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
