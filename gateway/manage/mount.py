"""The process's WSGI application: the console under ``/manage`` beside the SOAP front,
or, with ``OMGW_CONSOLE_PORT``, alone on a port of its own.

It answers what the ASGI front asks of the SOAP front (screening a request by its
headers, refusing one whose body came too slowly or too large), so the console's
requests are read whole on the event loop like every other; a console caller's refusal
is JSON with its HTTP status, not a SOAP fault.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.errors import GatewayError
from gateway.manage.console_app import ConsoleApp
from gateway.manage.web_routes import PREFIX
from gateway.soap.endpoints import Answer, StartResponse
from gateway.soap.front import SoapFront

__all__ = ["Mounted"]

#: the status of a console request refused while its body was read
_REFUSAL_STATUS = {
    "REQUEST_TOO_LARGE": "413 Content Too Large",
    "REQUEST_TIMEOUT": "408 Request Timeout",
}


def _plain(start_response: StartResponse, text: str) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [text.encode()]


class Mounted:
    def __init__(self, soap: SoapFront, console: ConsoleApp | None, port: int | None) -> None:
        self._soap = soap
        self._console = console
        self._port = port

    def _console_path(self, environ: Mapping[str, Any]) -> bool:
        path = environ.get("PATH_INFO", "").rstrip("/")
        return self._console is not None and (path == PREFIX or path.startswith(PREFIX + "/"))

    def _on_console_port(self, environ: Mapping[str, Any]) -> bool:
        # the port of the socket the request came in on (never the Host header's)
        return self._port is not None and str(environ.get("SERVER_PORT", "")) == str(self._port)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self._console_path(environ):
            assert self._console is not None
            if self._port is not None and not self._on_console_port(environ):
                return _plain(start_response, f"the console is served on port {self._port}\n")
            return self._console(environ, start_response)
        if self._on_console_port(environ):
            return _plain(start_response, f"this port serves the console only, at {PREFIX}/\n")
        return self._soap(environ, start_response)

    def needs_screening(self, environ: dict[str, Any]) -> bool:
        return self._soap.needs_screening(environ)

    def screen(self, environ: dict[str, Any]) -> Answer | None:
        return self._soap.screen(environ)

    def refuse(self, environ: dict[str, Any], err: GatewayError) -> Answer:
        if not self._console_path(environ):
            return self._soap.refuse(environ, err)
        # the console's callers read JSON, and this is their mistake, not our failure
        status = _REFUSAL_STATUS.get(err.code, "400 Bad Request")
        body = json.dumps({"error": {"code": err.code, "message": err.message}}).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        return status, headers, body
