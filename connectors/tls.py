"""TLS for outbound calls: the client context a connector's settings make, and what a
failed handshake means.

:func:`client_context` builds one :class:`ssl.SSLContext` per connector's TLS settings:
the endpoint's certificate verified against the connector's CA bundle (or the default
one), its host name checked, and the connector's client certificate and key presented
when the endpoint asks for one. The certificate and key come decrypted from the wallet;
``ssl`` loads a chain only from a path, so they are handed to it through an anonymous
in-memory file (``memfd_create``) that no directory names, or, where the system has
none, a file 0600 in a private directory 0700 removed as soon as it is loaded.

:func:`diagnose` names which check failed: our verification of the endpoint (host name
mismatch, unknown CA, expired, ...) or the endpoint's refusal of us (no client
certificate, a certificate from a CA it does not trust, an expired one, ...).
"""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import tempfile
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.util.ssl_ import create_urllib3_context

__all__ = ["ClientIdentity", "Refusal", "ca_bundle", "client_context", "diagnose", "probe"]


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate (PEM, with any intermediates after it) and its private key
    (PEM, unencrypted), as the wallet holds them. Lives in memory only."""

    certificate: str = field(repr=False)
    key: str = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """Tells identities apart (to key connection pools) without holding the key."""
        return hashlib.sha256(f"{self.certificate}\0{self.key}".encode()).hexdigest()


def ca_bundle(pinned: str | None) -> str:
    """The CA bundle to verify against, as ``requests`` picks it: the connector's, else
    ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``, else certifi's."""
    return (
        pinned
        or os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or DEFAULT_CA_BUNDLE_PATH
    )


def client_context(
    verify: bool, pinned_ca: str | None, identity: ClientIdentity | None
) -> ssl.SSLContext:
    """The context for a connector's calls (urllib3's defaults: TLS 1.2 or later and its
    ciphers). A pinned CA bundle implies verification."""
    context = create_urllib3_context()
    if verify or pinned_ca:
        bundle = ca_bundle(pinned_ca)
        if os.path.isdir(bundle):
            context.load_verify_locations(capath=bundle)
        else:
            context.load_verify_locations(cafile=bundle)
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = True
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if identity is not None:
        _load_identity(context, identity)
    return context


def _load_identity(context: ssl.SSLContext, identity: ClientIdentity) -> None:
    pem = f"{identity.certificate.rstrip()}\n{identity.key.rstrip()}\n".encode()
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("omgw-client-identity", os.MFD_CLOEXEC)
        try:
            _write_all(fd, pem)
            context.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="omgw-tls-") as private:  # mode 0700
        path = os.path.join(private, "identity.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, pem)
        finally:
            os.close(fd)
        try:
            context.load_cert_chain(path)
        finally:
            os.unlink(path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@dataclass(frozen=True)
class Refusal:
    """A failed handshake, explained."""

    reason: str
    #: sending again cannot help: a setting or a certificate must change first
    permanent: bool
    #: our own check refused the endpoint (it said nothing about its health)
    ours: bool


#: OpenSSL's verify codes (``X509_V_ERR_*``) for our checks of the endpoint's certificate
_HOSTNAME_MISMATCH = frozenset({62, 64})  # host name, IP address
_UNKNOWN_CA = frozenset({2, 18, 19, 20, 21})  # no issuer, self-signed, not verifiable
_EXPIRED, _NOT_YET_VALID, _REVOKED = 10, 9, 23
_THEN = "then replay"

#: the endpoint's alerts about our certificate (``ssl.SSLError.reason``)
_NO_CERTIFICATE = "TLSV13_ALERT_CERTIFICATE_REQUIRED"
_HANDSHAKE_FAILURE = "SSLV3_ALERT_HANDSHAKE_FAILURE"
_OUR_CERTIFICATE = {
    "TLSV1_ALERT_UNKNOWN_CA": "does not trust the CA that issued the connector's client "
    "certificate (unknown CA); use a certificate from a CA the endpoint trusts",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "refused the connector's client certificate: it has "
    "expired; store a current one in its wallet entry",
    "SSLV3_ALERT_CERTIFICATE_REVOKED": "refused the connector's client certificate: it is "
    "revoked; store a new one in its wallet entry",
    "SSLV3_ALERT_BAD_CERTIFICATE": "refused the connector's client certificate (bad "
    "certificate); check the certificate in its wallet entry",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": "refused the connector's client certificate "
    "(unsupported certificate: a key usage or type it does not accept)",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "refused the connector's client certificate "
    "(certificate unknown); check the certificate in its wallet entry",
    "TLSV1_ALERT_ACCESS_DENIED": "denied access to the connector's client certificate "
    "(access denied); the endpoint's owner must allow it",
}
_PROTOCOL = {
    "TLSV1_ALERT_PROTOCOL_VERSION": "no TLS version in common with the endpoint (omgw "
    "speaks TLS 1.2 and 1.3)",
    "UNSUPPORTED_PROTOCOL": "no TLS version in common with the endpoint (omgw speaks TLS "
    "1.2 and 1.3)",
    "WRONG_VERSION_NUMBER": "the endpoint does not speak TLS at this address (is it http:, "
    "not https:?)",
}


def _ssl_errors(exc: BaseException) -> list[ssl.SSLError]:
    """The ``ssl`` errors ``exc`` is or wraps (urllib3 and requests nest them)."""
    out: list[ssl.SSLError] = []
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        cause = todo.pop()
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLError):
            out.append(cause)
        todo += [
            c
            for c in (
                *cause.args[:1],
                getattr(cause, "reason", None),
                cause.__cause__,
                cause.__context__,
            )
            if isinstance(c, BaseException)
        ]
    return out


def _verification(exc: ssl.SSLCertVerificationError) -> Refusal:
    code = exc.verify_code
    said = exc.verify_message or str(exc)
    if code in _HOSTNAME_MISMATCH:
        what = (
            "host name mismatch: its certificate is not for the host in the connector's "
            f"URL ({said}); fix the URL or the endpoint's certificate"
        )
    elif code in _UNKNOWN_CA:
        what = (
            "unknown CA: its certificate is not signed by a CA the connector trusts "
            f"({said}); set the connector's ca_bundle to the endpoint's CA"
        )
    elif code == _EXPIRED:
        what = f"its certificate has expired ({said}); the endpoint must renew it"
    elif code == _NOT_YET_VALID:
        what = f"its certificate is not valid yet ({said}); check both clocks"
    elif code == _REVOKED:
        what = f"its certificate is revoked ({said}); the endpoint must replace it"
    else:
        what = f"{said}; fix its certificate or the connector's ca_bundle"
    return Refusal(f"TLS verification of the endpoint failed: {what}, {_THEN}", True, True)


def _alert(error: ssl.SSLError, presented: bool) -> Refusal | None:
    name = error.reason or ""
    if name == _NO_CERTIFICATE:
        if presented:
            reason = (
                "TLS: the endpoint required a client certificate and did not take the "
                f"connector's; check its client_certificate, {_THEN}"
            )
        else:
            reason = (
                "TLS: the endpoint requires a client certificate and the connector "
                f"presents none; set its client_certificate to a wallet entry holding one, "
                f"{_THEN}"
            )
        return Refusal(reason, permanent=True, ours=False)
    if name == _HANDSHAKE_FAILURE:
        if presented:
            reason = (
                "TLS: the endpoint refused the handshake (handshake failure): no cipher in "
                "common, or it refused the connector's client certificate"
            )
        else:
            reason = (
                "TLS: the endpoint refused the handshake (handshake failure): it may "
                "require a client certificate, and the connector presents none; set its "
                f"client_certificate, {_THEN}"
            )
        return Refusal(reason, permanent=True, ours=False)
    if name in _OUR_CERTIFICATE:
        return Refusal(f"TLS: the endpoint {_OUR_CERTIFICATE[name]}, {_THEN}", True, False)
    if name in _PROTOCOL:
        return Refusal(f"TLS: {_PROTOCOL[name]}; {_THEN} once fixed", True, False)
    return None


def diagnose(exc: BaseException, presented: bool) -> Refusal | None:
    """Which check failed, when ``exc`` holds a TLS error that says so; ``None`` for
    an unexplained one (a connection cut mid-handshake, say). ``presented``: whether
    the connector offered a client certificate."""
    errors = _ssl_errors(exc)
    for error in errors:
        if isinstance(error, ssl.SSLCertVerificationError):
            return _verification(error)
    for error in errors:
        refusal = _alert(error, presented)
        if refusal is not None:
            return refusal
    return None


def probe(url: str, context: ssl.SSLContext, timeout: float) -> ssl.SSLError | None:
    """The TLS error a bare handshake with ``url``'s host meets, if any.

    In TLS 1.3 the endpoint checks our certificate after the client has finished its
    side of the handshake, so its refusal arrives as an alert on the first read; a
    request already on its way often meets the closed connection first, and says only
    that. A handshake that sends nothing, then reads, hears the alert. A connection
    that stays quiet for ``timeout`` seconds was accepted."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            tls.recv(1)
    except ssl.SSLError as exc:
        return exc
    except OSError:
        return None
    return None
