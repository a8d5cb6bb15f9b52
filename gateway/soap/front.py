"""The WSGI front of the SOAP services.

Every POST passes here before spyne sees it: the body is size-checked and parsed with
a hardened parser, the operation is checked against the service, the caller is
authenticated and authorised, and the message is written to the message log with its
outcome. Whatever goes wrong — including spyne's own faults, whose detail is not in
Oracle's form — the caller gets a SOAP 1.1 fault with a ``ServiceErrorMessage`` and a
stable code. GET ``?WSDL`` goes straight to spyne.

A POST is screened on its headers before its body is read (:meth:`SoapFront.screen`):
a Content-Length over the limit, or an HTTP Basic header that does not authenticate, is
answered at once, so a caller who cannot log in never gets a body read or stored. Without
Basic the credentials may be in the body's WS-Security header, so the body is read. The
body must arrive whole, as long as its Content-Length says, within the read deadline.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import time
import wsgiref.util
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from gateway.errors import EnvelopeError, GatewayError, InternalError
from gateway.observe import metrics
from gateway.observe.logs import CallLine, log_call
from gateway.observe.readiness import readiness_answer
from gateway.observe.snapshot import OpsSnapshot, read_snapshot, thresholds
from gateway.orders.limits import SizeLimits
from gateway.persistence.message_log import write_log
from gateway.persistence.models import utcnow
from gateway.runtime import Runtime
from gateway.security.authenticator import Authenticator, Principal
from gateway.security.tokens import redact
from gateway.soap.context import CALL_KEY, Call, RequestInfo
from gateway.soap.envelope import Envelope, XmlLimits, parse_envelope
from gateway.soap.faults import fault_envelope, read_fault_code
from gateway.soap.operations import Operation
from gateway.soap.size import check_size
from gateway.wsdl import shape_wsdl

__all__ = ["SCREENED_KEY", "SOCKET_KEY", "Answer", "Endpoint", "SoapFront", "drained"]

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
#: an HTTP answer: status line, headers, body
Answer = tuple[str, list[tuple[str, str]], bytes]

#: set by :meth:`SoapFront.screen` before a server hands the request over: the principal
#: its HTTP Basic header was authenticated as, else True
SCREENED_KEY = "omgw.screened"
#: the connection's socket, where the server offers it (gunicorn's key, or ours): the
#: read deadline is then held to the second rather than to the server's own timeout
SOCKET_KEY = "omgw.socket"
_SOCKET_KEYS = (SOCKET_KEY, "gunicorn.socket")
#: A refused request's body is read and dropped when it is at most this long, so that
#: closing the connection does not reset it before the caller has read the fault.
_DRAIN_BYTES = 64 * 1024
_CHUNK = 64 * 1024

_XML = [("Content-Type", "text/xml; charset=utf-8")]
_OPERATOR_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
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


def drained(chunks: Iterable[bytes]) -> bytes:
    """A WSGI application's answer as one byte string, its iterable closed (PEP 3333)."""
    try:
        return b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class SoapFront:
    def __init__(
        self, runtime: Runtime, endpoints: Iterable[Endpoint], authenticator: Authenticator
    ) -> None:
        self._runtime = runtime
        self._endpoints = {e.path: e for e in endpoints}
        self._auth = authenticator
        settings = runtime.settings
        self._max = settings.max_body_bytes
        self._read_timeout = settings.read_timeout_seconds
        self._xml_limits = XmlLimits(
            elements=settings.max_elements,
            namespaces=settings.max_xmlns,
            namespaces_in_scope=settings.max_xmlns_in_scope,
            attributes=settings.max_attributes,
            attributes_total=settings.max_attributes_total,
            header_elements=settings.max_header_elements,
        )
        self._size_limits = SizeLimits(
            orders_per_request=settings.max_orders_per_request,
            lines_per_order=settings.max_lines_per_order,
            lines_per_request=settings.max_lines_per_request,
        )
        self._wsdl_cache: dict[str, bytes] = {}
        self._snapshot_lock = threading.Lock()
        self._snapshot_held: tuple[float, OpsSnapshot] | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "").rstrip("/")
        if path in _OPERATOR_PATHS:
            status, headers, body = self._operator(path)
            start_response(status, headers)
            return [body]
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

    def _operator(self, path: str) -> Answer:
        """``/healthz`` (the process answers), ``/readyz`` (it can work), ``/metrics``."""
        if path == "/healthz":
            return "200 OK", [("Content-Type", "text/plain")], b"ok\n"
        if path == "/readyz":
            status, body = readiness_answer(self._runtime)
            return status, [("Content-Type", "application/json")], body
        if not self._runtime.settings.metrics:
            return (
                "404 Not Found",
                [("Content-Type", "text/plain")],
                b"metrics are off (OMGW_METRICS=0)\n",
            )
        body = metrics.exposition(self._snapshot)
        return "200 OK", [("Content-Type", metrics.CONTENT_TYPE)], body

    def _snapshot(self) -> OpsSnapshot:
        """The snapshot of at most ``OMGW_METRICS_CACHE_SECONDS`` ago: scrapes share one
        read (in a large database it takes a second, and holds a request thread)."""
        with self._snapshot_lock:
            held = self._snapshot_held
            fresh_for = self._runtime.settings.metrics_cache_seconds
            if held is not None and time.monotonic() - held[0] < fresh_for:
                return held[1]
            with self._runtime.read_sessions() as s:
                snap = read_snapshot(s, utcnow(), thresholds(self._runtime.settings))
            self._snapshot_held = (time.monotonic(), snap)
            return snap

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

    def screen(self, environ: dict[str, Any]) -> Answer | None:
        """The answer a request gets from its headers alone, or None to read its body.

        Only a POST to a service can be refused here: for a Content-Length that is not a
        number or over the limit, or an HTTP Basic header that does not authenticate (or
        lacks the service's role). The refusal is logged like any fault, with no payload.
        ``environ`` needs no ``wsgi.input``: nothing of the body is read.
        """
        endpoint = self._endpoints.get(environ.get("PATH_INFO", "").rstrip("/"))
        if endpoint is None or environ.get("REQUEST_METHOD", "GET").upper() != "POST":
            return None
        started = time.perf_counter()
        try:
            self._screen(endpoint, environ)
        except GatewayError as err:
            return self._refusal(endpoint, err, started, environ.get("REMOTE_ADDR"))
        return None

    def needs_screening(self, environ: dict[str, Any]) -> bool:
        """Whether :meth:`screen` could refuse this request: without an HTTP Basic header
        and with a sound Content-Length there is nothing to check (and no I/O)."""
        if _is_basic(environ.get("HTTP_AUTHORIZATION")):
            return True
        try:
            _content_length(environ, self._max)
        except EnvelopeError:
            return True
        return False

    def refuse(self, environ: dict[str, Any], err: GatewayError) -> Answer:
        """The fault for a request its server refused while reading the body (the read
        deadline, the size limit), logged like any fault, with no payload."""
        path = environ.get("PATH_INFO", "").rstrip("/")
        endpoint = self._endpoints.get(path)
        return self._refusal(endpoint, err, time.perf_counter(), environ.get("REMOTE_ADDR"))

    def _refusal(
        self, endpoint: Endpoint | None, err: GatewayError, started: float, address: str | None
    ) -> Answer:
        status, out = "500 Internal Server Error", fault_envelope(err)
        if endpoint is not None:
            info = RequestInfo(service=endpoint.name, fault_code=err.code, address=address)
            call = Call(self._runtime, info, started)
            self._log(call, status)
            self._observe(endpoint, call, status)
        return status, [*_XML, ("Content-Length", str(len(out)))], out

    def _screen(self, endpoint: Endpoint, environ: dict[str, Any]) -> None:
        """Refuse on the headers alone, or record in ``environ[SCREENED_KEY]`` what they
        established: the principal of an HTTP Basic header, else True."""
        _content_length(environ, self._max)
        authorization = environ.get("HTTP_AUTHORIZATION")
        screened: Principal | bool = True
        if _is_basic(authorization):
            # A caller who sends Basic is that user: a WS-Security token in the body
            # cannot make a wrong Basic header right, so there is no need to read it.
            screened = self._auth.authenticate(
                None, authorization, endpoint.role, address=environ.get("REMOTE_ADDR")
            )
        environ[SCREENED_KEY] = screened

    def _post(
        self, endpoint: Endpoint, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        address = environ.get("REMOTE_ADDR")
        call = Call(self._runtime, RequestInfo(service=endpoint.name, address=address))
        info = call.info
        envelope: Envelope | None = None
        if not environ.get(SCREENED_KEY):
            try:
                self._screen(endpoint, environ)
            except GatewayError as err:
                self._drain(environ)
                status, headers, out = self._refusal(endpoint, err, call.started, address)
                start_response(status, headers)
                return [out]
        try:
            body = self._read_body(environ)
            envelope = parse_envelope(body, self._xml_limits)
            info.operation = envelope.operation.localname
            info.message_id = envelope.message_id
            self._check_operation(endpoint, envelope)
            screened = environ.get(SCREENED_KEY)
            principal = self._auth.authenticate(
                envelope.header,
                environ.get("HTTP_AUTHORIZATION"),
                endpoint.role,
                address=environ.get("REMOTE_ADDR"),
                screened=screened if isinstance(screened, Principal) else None,
            )
            info.principal = principal.username
            info.grant = principal.grant
            # Counted before anything reads the body: normalising and validating cost in
            # proportion to the lines, and writing them holds the database's writer.
            check_size(info.operation, envelope.operation_element, self._size_limits)
            # spyne gets the redacted UTF-8 re-serialisation, never the caller's bytes: it
            # logs raw requests it cannot parse, and it trusts the HTTP charset blindly.
            # A call that commits writes its log row in its own transaction (services.edge).
            call.payload = _redacted(envelope)
            operation = endpoint.compiled.get(info.operation)
            if operation is not None and not endpoint.spyne_mapping:
                status, headers, out = self._call_compiled(operation, envelope, call)
            else:
                if operation is not None:
                    # spyne reads only the published form; and a value the schema allows
                    # but Python's types do not hold fails inside spyne as a Server
                    # fault: the codec refuses it first, as on the compiled path
                    operation.validate(envelope.operation_element)
                    operation.read(envelope.operation_element)
                normalized = _redacted(envelope)
                status, headers, out = self._call_spyne(endpoint, environ, normalized, call)
        except GatewayError as err:
            info.fault_code = err.code
            status, headers, out = "500 Internal Server Error", list(_XML), fault_envelope(err)
        except Exception:
            log.exception("unexpected error on %s.%s", endpoint.name, info.operation)
            failure = InternalError("INTERNAL_ERROR", "internal error; nothing was applied")
            info.fault_code = failure.code
            status, headers, out = "500 Internal Server Error", list(_XML), fault_envelope(failure)
        if call.payload is None and envelope is not None:
            # Refused after parsing (operation, credentials): logged too, never with a secret.
            call.payload = _redacted(envelope)
        if not call.logged:
            self._log(call, status)
        self._observe(endpoint, call, status)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(out))))
        start_response(status, headers)
        return [out]

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        """The whole body, as long as its Content-Length says, within the read deadline."""
        length = _content_length(environ, self._max)
        want = self._max + 1 if length is None else length
        data = _read_until(environ, want, self._read_timeout)
        if len(data) > self._max:
            raise EnvelopeError(
                "REQUEST_TOO_LARGE", f"the request body exceeds the limit of {self._max} bytes"
            )
        if length is not None and len(data) < length:
            raise EnvelopeError(
                "REQUEST_INCOMPLETE",
                f"the connection ended after {len(data)} of the {length} bytes its "
                "Content-Length announced; nothing was processed, send the whole request",
            )
        return data

    def _drain(self, environ: dict[str, Any]) -> None:
        """Read and drop a short body the answer does not need (see ``_DRAIN_BYTES``)."""
        try:
            length = _content_length(environ, self._max)
        except EnvelopeError:
            return
        if length is None or length > _DRAIN_BYTES:
            return
        with contextlib.suppress(EnvelopeError, OSError):
            _read_until(environ, length, min(self._read_timeout, 2.0))

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
        self, operation: Operation, envelope: Envelope, call: Call
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        body = envelope.operation_element
        operation.validate(body)
        out = operation.call(body, call, envelope.message_id)
        return "200 OK", list(_XML), out

    def _call_spyne(
        self, endpoint: Endpoint, environ: dict[str, Any], body: bytes, call: Call
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        inner = dict(environ)
        inner["wsgi.input"] = io.BytesIO(body)
        inner["CONTENT_LENGTH"] = str(len(body))
        inner["CONTENT_TYPE"] = "text/xml; charset=utf-8"
        inner[CALL_KEY] = call
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"], captured["headers"] = status, headers

        out = drained(endpoint.app(inner, capture))
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
        call.info.fault_code = err.code
        return "500 Internal Server Error", list(_XML), fault_envelope(err)

    @staticmethod
    def _observe(endpoint: Endpoint, call: Call, status: str) -> None:
        """Count the call and write its access line (never with a payload). The call is
        done and maybe committed: a failure here must not turn its answer into a 500."""
        try:
            SoapFront._count_and_log(endpoint, call, status)
        except Exception:
            log.exception("could not count or log a call to %s", endpoint.name)

    @staticmethod
    def _count_and_log(endpoint: Endpoint, call: Call, status: str) -> None:
        info = call.info
        # a label per operation the service has: a caller's made-up name is not one
        operation = info.operation if info.operation in endpoint.operations else "-"
        code = info.fault_code
        ms = call.elapsed_ms()
        metrics.INBOUND_CALLS.labels(
            endpoint.name, operation, "OK" if code is None else "FAULT"
        ).inc()
        metrics.INBOUND_SECONDS.labels(endpoint.name, operation).observe(
            time.perf_counter() - call.started
        )
        if code is not None:
            metrics.INBOUND_FAULTS.labels(endpoint.name, code).inc()
        log_call(
            CallLine(
                address=info.address,
                user=info.principal,
                service=endpoint.name,
                operation=info.operation,
                status=int(status.split()[0]),
                fault_code=code,
                message_id=info.message_id,
                orders=info.order_numbers,
                ms=ms,
            )
        )

    def _log(self, call: Call, status: str) -> None:
        try:
            with self._runtime.sessions() as s, s.begin():
                write_log(s, call.log_row(status))
        except Exception:
            info = call.info
            log.exception("could not write the message log for %s.%s", info.service, info.operation)


def _content_length(environ: Mapping[str, Any], limit: int) -> int | None:
    """The announced body length (None: not announced), refused if over ``limit``."""
    text = (environ.get("CONTENT_LENGTH") or "").strip()
    if not text:
        return None
    try:
        length = int(text)
    except ValueError:
        raise EnvelopeError("REQUEST_INVALID", "Content-Length is not a number") from None
    if length < 0:
        raise EnvelopeError("REQUEST_INVALID", "Content-Length is negative")
    if length > limit:
        raise EnvelopeError(
            "REQUEST_TOO_LARGE", f"the request body is {length} bytes; the limit is {limit} bytes"
        )
    return length


def _is_basic(authorization: str | None) -> bool:
    return authorization is not None and authorization.partition(" ")[0].lower() == "basic"


def _read_until(environ: Mapping[str, Any], want: int, seconds: float) -> bytes:
    """Up to ``want`` bytes of the body (fewer if the caller stops sending) within
    ``seconds``, or REQUEST_TIMEOUT.

    The deadline is for the whole body, not for each read: where the server offers the
    socket, each read waits only for what is left of it; elsewhere the deadline is
    checked between reads, each bounded by the server's own socket timeout.
    """
    deadline = time.monotonic() + seconds
    stream = environ["wsgi.input"]
    sock = next((environ[k] for k in _SOCKET_KEYS if environ.get(k) is not None), None)
    read = getattr(stream, "read1", None) or stream.read
    chunks: list[bytes] = []
    got = 0
    previous = sock.gettimeout() if sock is not None else None
    try:
        while got < want:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _timeout(got, seconds)
            if sock is not None:
                sock.settimeout(left)
            try:
                chunk = read(min(_CHUNK, want - got))
            except TimeoutError:
                raise _timeout(got, seconds) from None
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    finally:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(previous)
    return b"".join(chunks)


def _timeout(got: int, seconds: float) -> EnvelopeError:
    return EnvelopeError(
        "REQUEST_TIMEOUT",
        f"the request body did not arrive within {seconds:g} s (OMGW_READ_TIMEOUT_SECONDS; "
        f"{got} bytes came); nothing was processed, send the whole request again",
    )


def _redacted(envelope: Envelope) -> bytes:
    """The request as UTF-8 with every secret outside the Body blanked (idempotent): in
    every Header, not only the first, and in anything else beside the Body."""
    for child in envelope.root:
        if child is not envelope.body:
            redact(child)
    return etree.tostring(envelope.root, encoding="utf-8", xml_declaration=True)


def _clean(text: str) -> str:
    """spyne's schema messages carry lxml's file/line noise; keep the reason."""
    text = " ".join(text.split())
    return text[:1000]
