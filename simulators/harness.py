"""The harness every simulator runs on.

A simulator is a plain WSGI app. This module serves one on ``host:port`` (127.0.0.1 in
tests and demos) in daemon threads of this process, without access logs, until it is
stopped; and it holds the pieces of HTTP and SOAP 1.1 each simulated endpoint answers
with, so that a simulator module holds only what its system does.
"""

from __future__ import annotations

import functools
import hmac
import json
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from lxml import etree

from connectors.outbound import SOAP_ENV_NS

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_SECONDS",
    "PARSER",
    "WSSE_NS",
    "QuietHandler",
    "Running",
    "Served",
    "StartResponse",
    "ThreadingServer",
    "answer",
    "answer_control",
    "answer_json",
    "child_text",
    "fault",
    "read_body",
    "same",
    "serve_in_thread",
]

#: longest ``delay`` or ``slow`` a simulator accepts: long enough for any timeout test, short
#: enough that a typo cannot hang a worker for a day
MAX_SECONDS = 3600.0
#: the largest request body read; a larger one is refused unread
MAX_BODY_BYTES = 4 * 1024 * 1024

WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"

#: requests come from outside: no DTD, no entities, no network
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)

StartResponse = Callable[..., Any]

_REASONS = {
    200: "200 OK",
    202: "202 Accepted",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}


# -- serving ----------------------------------------------------------------------------------


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Served:
    """A server and the thread serving it; the address callers reach it at."""

    server: WSGIServer
    thread: threading.Thread
    host: str

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_in_thread(app: Any, host: str, port: int, name: str) -> Served:
    """Serve ``app`` on ``host:port`` (0: a free port) until :meth:`Served.stop`."""
    server = make_server(host, port, app, server_class=ThreadingServer, handler_class=QuietHandler)
    # A short poll interval: stop() returns within it.
    serve = functools.partial(server.serve_forever, poll_interval=0.1)
    thread = threading.Thread(target=serve, name=name, daemon=True)
    thread.start()
    return Served(server, thread, host)


@dataclass
class Running:
    """A simulator being served: where to reach it, and how to stop it.

    Each simulator's own ``Running…`` class names its service's path in ``endpoint_path``
    and adds what its system offers (state, control).
    """

    served: Served
    #: the simulated service's path below :attr:`base`
    endpoint_path: ClassVar[str] = "/"

    @property
    def port(self) -> int:
        return self.served.port

    @property
    def base(self) -> str:
        return self.served.base

    @property
    def url(self) -> str:
        """The simulated service's endpoint, for a connector's URL."""
        return self.base + self.endpoint_path

    @property
    def wsdl_url(self) -> str:
        return self.url + "?WSDL"

    def close(self) -> None:
        self.served.stop()


# -- answering --------------------------------------------------------------------------------


def answer(
    start_response: StartResponse, status: int, body: bytes, content_type: str
) -> list[bytes]:
    """Start a response of ``status`` with ``body`` (UTF-8 ``content_type``)."""
    headers = [("Content-Length", str(len(body)))]
    if body:
        headers.insert(0, ("Content-Type", f"{content_type}; charset=utf-8"))
    start_response(_REASONS.get(status, f"{status} Status"), headers)
    return [body]


def answer_json(start_response: StartResponse, status: int, data: object) -> list[bytes]:
    return answer(start_response, status, json.dumps(data, indent=2).encode(), "application/json")


def read_body(environ: dict[str, Any]) -> bytes | None:
    """The request body, or ``None`` when it is larger than :data:`MAX_BODY_BYTES`."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return None
    return bytes(environ["wsgi.input"].read(length)) if length > 0 else b""


def answer_control(
    environ: dict[str, Any],
    start_response: StartResponse,
    control: Callable[[dict[str, Any]], dict[str, Any]],
) -> list[bytes]:
    """Answer ``POST …/control``: apply the JSON object in the body with ``control``.

    ``control`` returns the simulator's new state, or raises ``TypeError``/``ValueError``
    for an option it does not know or a value out of range (HTTP 400 with the message).
    """
    try:
        changes = json.loads(read_body(environ) or b"")
    except ValueError:
        changes = None
    if not isinstance(changes, dict):
        return answer_json(start_response, 400, {"error": "the body must be a JSON object"})
    try:
        return answer_json(start_response, 200, control(changes))
    except (TypeError, ValueError) as exc:
        return answer_json(start_response, 400, {"error": str(exc)})


# -- SOAP 1.1 ---------------------------------------------------------------------------------


def fault(code: str, text: str) -> bytes:
    """A SOAP 1.1 fault envelope with ``faultcode`` ``soap:<code>`` and ``text``."""
    env = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap": SOAP_ENV_NS})
    body = etree.SubElement(env, f"{{{SOAP_ENV_NS}}}Body")
    element = etree.SubElement(body, f"{{{SOAP_ENV_NS}}}Fault")
    etree.SubElement(element, "faultcode").text = f"soap:{code}"
    etree.SubElement(element, "faultstring").text = text
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def child_text(parent: etree._Element, ns: str, name: str) -> str | None:
    """The stripped text of ``parent``'s child ``{ns}name``, or ``None``."""
    child = parent.find(f"{{{ns}}}{name}")
    return None if child is None or child.text is None else child.text.strip()


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of two strings (credentials)."""
    return hmac.compare_digest(given.encode(), expected.encode())
