"""The WSGI front of the SOAP services.

Every POST passes here before spyne sees it: the body is size-checked and parsed with
a hardened parser, the operation is checked against the service, the caller is
authenticated and authorised, and the message is written to the message log with its
outcome. Whatever goes wrong — including spyne's own faults, whose detail is not in
Oracle's form — the caller gets a SOAP 1.1 fault with a ``ServiceErrorMessage`` and a
stable code. GET ``?WSDL`` goes straight to spyne.
"""

from __future__ import annotations

import io
import logging
import time
import wsgiref.util
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from gateway.errors import EnvelopeError, GatewayError, InternalError
from gateway.persistence.message_log import write_log
from gateway.runtime import Runtime
from gateway.security.authenticator import Authenticator
from gateway.security.tokens import redact
from gateway.soap.context import REQUEST_KEY, RUNTIME_KEY, RequestInfo
from gateway.soap.envelope import Envelope, parse_envelope
from gateway.soap.faults import fault_envelope, read_fault_code
from gateway.soap.operations import Operation
from gateway.wsdl import shape_wsdl

__all__ = ["Endpoint", "SoapFront"]

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_XML = [("Content-Type", "text/xml; charset=utf-8")]
# spyne's own faults, translated to our codes.
_SPYNE_FAULTS = {
    "Client.SchemaValidationError": "SCHEMA_INVALID",
    "Client.ValidationError": "SCHEMA_INVALID",
    "Client.XMLSyntaxError": "XML_MALFORMED",
    "Client.ResourceNotFound": "UNKNOWN_OPERATION",
    "Client.MethodNotFound": "UNKNOWN_OPERATION",
}


@dataclass(frozen=True)
class Endpoint:
    """One published service: its path, spyne app, operations and required role."""

    name: str
    path: str
    app: WsgiApp
    types_namespace: str
    operations: frozenset[str]
    role: str
    #: every operation, compiled: each request is normalised by it (read by name, in any
    #: order) and, unless ``spyne_mapping``, served by it (lxml in and out)
    compiled: Mapping[str, Operation] = field(default_factory=dict)
    #: serve through spyne's own object mapping instead (the benchmark's comparison and
    #: the codec's equivalence tests)
    spyne_mapping: bool = False


class SoapFront:
    def __init__(
        self, runtime: Runtime, endpoints: Iterable[Endpoint], authenticator: Authenticator
    ) -> None:
        self._runtime = runtime
        self._endpoints = {e.path: e for e in endpoints}
        self._auth = authenticator
        self._max = runtime.settings.max_body_bytes
        self._wsdl_cache: dict[str, bytes] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "").rstrip("/")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        endpoint = self._endpoints.get(path)
        if endpoint is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            known = ", ".join(sorted(self._endpoints))
            return [f"no service at {path or '/'}; services: {known}\n".encode()]
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "GET" and environ.get("QUERY_STRING", "").split("=")[0].lower() == "wsdl":
            return self._wsdl(endpoint, environ, start_response)
        if method != "POST":
            start_response("405 Method Not Allowed", [("Allow", "GET, POST")])
            return [b"POST a SOAP 1.1 envelope, or GET ?WSDL\n"]
        return self._post(endpoint, environ, start_response)

    def _wsdl(
        self, endpoint: Endpoint, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """spyne's WSDL in Oracle's shape, addressed to the host the caller used."""
        location = wsgiref.util.request_uri(environ, include_query=False).rstrip("/")
        document = self._wsdl_cache.get(location)
        if document is None:
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
                captured["status"] = status

            raw = b"".join(endpoint.app(environ, capture))
            if not captured.get("status", "").startswith("200"):
                start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
                return [b"the WSDL could not be generated\n"]
            document = shape_wsdl(raw, endpoint.name, location)
            if len(self._wsdl_cache) < 64:
                self._wsdl_cache[location] = document
        start_response(
            "200 OK",
            [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(document)))],
        )
        return [document]

    def _post(
        self, endpoint: Endpoint, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        info = RequestInfo(service=endpoint.name)
        envelope: Envelope | None = None
        payload: bytes | None = None
        try:
            body = self._read_body(environ)
            envelope = parse_envelope(body)
            info.operation = envelope.operation.localname
            info.message_id = envelope.message_id
            self._check_operation(endpoint, envelope)
            principal = self._auth.authenticate(
                envelope.header,
                environ.get("HTTP_AUTHORIZATION"),
                endpoint.role,
                address=environ.get("REMOTE_ADDR"),
            )
            info.principal = principal.username
            # spyne gets the redacted UTF-8 re-serialisation, never the caller's bytes: it
            # logs raw requests it cannot parse, and it trusts the HTTP charset blindly.
            payload = _redacted(envelope)
            logged = payload  # the request as the caller sent it, secrets blanked
            # A call that commits writes its log row in its own transaction (services.edge).
            info.log_row = lambda: self._log_row(info, "200 OK", started, logged)
            operation = endpoint.compiled.get(info.operation)
            if operation is not None and not endpoint.spyne_mapping:
                status, headers, out = self._call_compiled(operation, envelope, info)
            else:
                if operation is not None:  # spyne reads only the published form
                    operation.normalize(envelope.operation_element)
                normalized = _redacted(envelope)
                status, headers, out = self._call_spyne(endpoint, environ, normalized, info)
        except GatewayError as err:
            info.fault_code = err.code
            status, headers, out = "500 Internal Server Error", list(_XML), fault_envelope(err)
        except Exception:
            log.exception("unexpected error on %s.%s", endpoint.name, info.operation)
            failure = InternalError("INTERNAL_ERROR", "internal error; nothing was applied")
            info.fault_code = failure.code
            status, headers, out = "500 Internal Server Error", list(_XML), fault_envelope(failure)
        if payload is None and envelope is not None:
            # Refused after parsing (operation, credentials): logged too, never with a secret.
            payload = _redacted(envelope)
        if not info.logged:
            self._log(info, status, started, payload)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(out))))
        start_response(status, headers)
        return [out]

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        stream = environ["wsgi.input"]
        length_text = environ.get("CONTENT_LENGTH") or ""
        try:
            length = int(length_text) if length_text.strip() else None
        except ValueError:
            raise EnvelopeError("REQUEST_INVALID", "Content-Length is not a number") from None
        if length is not None and length > self._max:
            raise EnvelopeError(
                "REQUEST_TOO_LARGE",
                f"the request body is {length} bytes; the limit is {self._max} bytes",
            )
        data = stream.read(length if length is not None else self._max + 1)
        if len(data) > self._max:
            raise EnvelopeError(
                "REQUEST_TOO_LARGE", f"the request body exceeds the limit of {self._max} bytes"
            )
        return data

    @staticmethod
    def _check_operation(endpoint: Endpoint, envelope: Envelope) -> None:
        op = envelope.operation
        if op.namespace == endpoint.types_namespace and op.localname in endpoint.operations:
            return
        ops = ", ".join(sorted(endpoint.operations))
        if op.localname in endpoint.operations:
            raise EnvelopeError(
                "UNKNOWN_OPERATION",
                f"{op.localname} is in namespace {op.namespace!r}; {endpoint.name} expects "
                f"{endpoint.types_namespace!r}",
            )
        raise EnvelopeError(
            "UNKNOWN_OPERATION",
            f"{endpoint.name} has no operation {op.localname!r} ({op.namespace}); "
            f"its operations are {ops}",
        )

    def _call_compiled(
        self, operation: Operation, envelope: Envelope, info: RequestInfo
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        body = envelope.operation_element
        operation.validate(body)
        environ = {RUNTIME_KEY: self._runtime, REQUEST_KEY: info}
        out = operation.call(body, environ, envelope.message_id)
        return "200 OK", list(_XML), out

    def _call_spyne(
        self, endpoint: Endpoint, environ: dict[str, Any], body: bytes, info: RequestInfo
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        inner = dict(environ)
        inner["wsgi.input"] = io.BytesIO(body)
        inner["CONTENT_LENGTH"] = str(len(body))
        inner["CONTENT_TYPE"] = "text/xml; charset=utf-8"
        inner[RUNTIME_KEY] = self._runtime
        inner[REQUEST_KEY] = info
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"], captured["headers"] = status, headers

        chunks = endpoint.app(inner, capture)
        try:
            out = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status = captured.get("status", "500 Internal Server Error")
        if status.startswith("200"):
            return status, captured.get("headers", list(_XML)), out
        code, faultcode, faultstring = read_fault_code(out)
        if code is not None:
            return status, captured.get("headers", list(_XML)), out
        # A fault spyne raised itself (schema validation …): give it our form and code.
        ours = _SPYNE_FAULTS.get(faultcode.split(":", 1)[-1] if faultcode else "", "")
        if ours:
            err: GatewayError = EnvelopeError(ours, _clean(faultstring or "invalid request"))
        else:
            log.error("unrecognised spyne failure %s: %s", status, faultstring)
            err = InternalError("INTERNAL_ERROR", "internal error; nothing was applied")
        info.fault_code = err.code
        return "500 Internal Server Error", list(_XML), fault_envelope(err)

    def _log_row(
        self, info: RequestInfo, status: str, started: float, payload: bytes | None
    ) -> dict[str, Any]:
        """The message-log row's values, for :func:`write_log`."""
        code = info.fault_code
        return dict(
            service=info.service,
            operation=(info.operation or None) and info.operation[:80],
            principal=info.principal,
            message_id=(info.message_id or None) and info.message_id[:200],
            correlation_key=info.correlation_key(),
            order_number=",".join(info.order_numbers)[:50] or None,
            outcome="OK" if code is None else "FAULT",
            fault_code=code,
            http_status=int(status.split()[0]),
            duration_ms=int((time.perf_counter() - started) * 1000),
            payload=payload.decode("utf-8", "replace")
            if payload is not None and self._runtime.settings.log_payloads
            else None,
        )

    def _log(self, info: RequestInfo, status: str, started: float, payload: bytes | None) -> None:
        try:
            with self._runtime.sessions() as s, s.begin():
                write_log(s, self._log_row(info, status, started, payload))
        except Exception:
            log.exception("could not write the message log for %s.%s", info.service, info.operation)


def _redacted(envelope: Envelope) -> bytes:
    """The request as UTF-8 with every password and nonce blanked (idempotent)."""
    redact(envelope.header)
    return etree.tostring(envelope.root, encoding="utf-8", xml_declaration=True)


def _clean(text: str) -> str:
    """spyne's schema messages carry lxml's file/line noise; keep the reason."""
    text = " ".join(text.split())
    return text[:1000]
