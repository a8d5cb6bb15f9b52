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

import logging
import time
from collections.abc import Iterable
from typing import Any

from lxml import etree

from gateway.errors import EnvelopeError, GatewayError, InternalError
from gateway.orders.limits import SizeLimits
from gateway.runtime import Runtime
from gateway.security.authenticator import Authenticator, Principal
from gateway.security.tokens import redact
from gateway.soap.body_reading import content_length, drain, is_basic, read_body
from gateway.soap.call_context import Call, RequestInfo
from gateway.soap.call_records import observe, write_call_log
from gateway.soap.endpoints import Answer, Endpoint, StartResponse
from gateway.soap.envelope import Envelope, XmlLimits, parse_envelope
from gateway.soap.faults import fault_envelope
from gateway.soap.operations import Operation
from gateway.soap.operator_answers import OPERATOR_PATHS, OperatorAnswers
from gateway.soap.size import check_size
from gateway.soap.spyne_call import XML_HEADERS, call_spyne
from gateway.soap.wsdl_answers import WsdlAnswers

__all__ = ["SCREENED_KEY", "SoapFront"]

log = logging.getLogger(__name__)

#: set by :meth:`SoapFront.screen` before a server hands the request over: the principal
#: its HTTP Basic header was authenticated as, else True
SCREENED_KEY = "omgw.screened"
_XML = list(XML_HEADERS)


class SoapFront:
    """The services' WSGI application: screens, reads, checks, authenticates, calls and
    records every POST; answers ``?WSDL`` and the operator's paths."""

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
        self._operator = OperatorAnswers(runtime)
        self._wsdl = WsdlAnswers()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "").rstrip("/")
        if path in OPERATOR_PATHS:
            status, headers, body = self._operator.answer(path)
            start_response(status, headers)
            return [body]
        endpoint = self._endpoints.get(path)
        if endpoint is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            known = ", ".join(sorted(self._endpoints))
            return [f"no service at {path or '/'}; services: {known}\n".encode()]
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "GET" and environ.get("QUERY_STRING", "").split("=")[0].lower() == "wsdl":
            return self._wsdl.answer(endpoint, environ, start_response)
        if method != "POST":
            start_response("405 Method Not Allowed", [("Allow", "GET, POST")])
            return [b"POST a SOAP 1.1 envelope, or GET ?WSDL\n"]
        return self._post(endpoint, environ, start_response)

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
        if is_basic(environ.get("HTTP_AUTHORIZATION")):
            return True
        try:
            content_length(environ, self._max)
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
            write_call_log(self._runtime, call, status)
            observe(endpoint, call, status)
        return status, [*_XML, ("Content-Length", str(len(out)))], out

    def _screen(self, endpoint: Endpoint, environ: dict[str, Any]) -> None:
        """Refuse on the headers alone, or record in ``environ[SCREENED_KEY]`` what they
        established: the principal of an HTTP Basic header, else True."""
        content_length(environ, self._max)
        authorization = environ.get("HTTP_AUTHORIZATION")
        screened: Principal | bool = True
        if is_basic(authorization):
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
                drain(environ, self._max, self._read_timeout)
                status, headers, out = self._refusal(endpoint, err, call.started, address)
                start_response(status, headers)
                return [out]
        try:
            body = read_body(environ, self._max, self._read_timeout)
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
                status, headers, out = call_spyne(endpoint, environ, normalized, call)
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
            write_call_log(self._runtime, call, status)
        observe(endpoint, call, status)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(out))))
        start_response(status, headers)
        return [out]

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


def _redacted(envelope: Envelope) -> bytes:
    """The request as UTF-8 with every secret outside the Body blanked (idempotent): in
    every Header, not only the first, and in anything else beside the Body."""
    for child in envelope.root:
        if child is not envelope.body:
            redact(child)
    return etree.tostring(envelope.root, encoding="utf-8", xml_declaration=True)
