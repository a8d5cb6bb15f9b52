"""A call served through spyne's own object mapping, its faults given our form.

The compiled codec serves every operation it knows; spyne serves the rest, and every
operation when an endpoint asks for ``spyne_mapping``. spyne gets a fresh environ whose
body is the redacted, normalised request, and the :class:`Call` under ``CALL_KEY``. A
fault spyne raises itself (schema validation, an unknown method) carries spyne's codes:
it is translated to ours, and anything unrecognised becomes INTERNAL_ERROR.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from gateway.errors import EnvelopeError, GatewayError, InternalError
from gateway.soap.call_context import CALL_KEY, Call
from gateway.soap.endpoints import Answer, Endpoint, drained
from gateway.soap.faults import fault_envelope, read_fault_code

__all__ = ["XML_HEADERS", "call_spyne"]

log = logging.getLogger(__name__)

XML_HEADERS = (("Content-Type", "text/xml; charset=utf-8"),)
# spyne's own faults, translated to our codes.
_SPYNE_FAULTS = {
    "Client.SchemaValidationError": "SCHEMA_INVALID",
    "Client.ValidationError": "SCHEMA_INVALID",
    "Client.XMLSyntaxError": "XML_MALFORMED",
    "Client.ResourceNotFound": "UNKNOWN_OPERATION",
    "Client.MethodNotFound": "UNKNOWN_OPERATION",
}


def call_spyne(endpoint: Endpoint, environ: dict[str, Any], body: bytes, call: Call) -> Answer:
    """spyne's answer to ``body``, or our fault for one spyne raised itself."""
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
        return status, captured.get("headers", list(XML_HEADERS)), out
    code, faultcode, faultstring = read_fault_code(out)
    if code is not None:
        return status, captured.get("headers", list(XML_HEADERS)), out
    ours = _SPYNE_FAULTS.get(faultcode.split(":", 1)[-1] if faultcode else "", "")
    if ours:
        err: GatewayError = EnvelopeError(ours, _clean(faultstring or "invalid request"))
    else:
        log.error("unrecognised spyne failure %s: %s", status, faultstring)
        err = InternalError("INTERNAL_ERROR", "internal error; nothing was applied")
    call.info.fault_code = err.code
    return "500 Internal Server Error", list(XML_HEADERS), fault_envelope(err)


def _clean(text: str) -> str:
    """spyne's schema messages carry lxml's file/line noise; keep the reason."""
    text = " ".join(text.split())
    return text[:1000]
