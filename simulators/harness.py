"""The harness every simulator runs on.

A simulator is a plain WSGI app. This module serves one on ``host:port`` (127.0.0.1 in
tests and demos) in daemon threads of this process, without access logs, until it is
stopped; it holds :class:`SimulatedSystem`, the routing every simulator's app shares (WSDL,
schemas, state, control, errors), the checks of the options every simulator takes, and the
pieces of HTTP and SOAP 1.1 each simulated endpoint answers with, so that a simulator module
holds only what its system does.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hmac
import json
import logging
import socketserver
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.util import request_uri

from lxml import etree

from connectors.outbound import SOAP_ENV_NS

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_SECONDS",
    "PARSER",
    "WSSE_NS",
    "Options",
    "QuietHandler",
    "Running",
    "Served",
    "SimulatedSystem",
    "StartResponse",
    "ThreadingServer",
    "addressed_wsdl",
    "answer",
    "answer_control",
    "answer_json",
    "check_rate",
    "check_seconds",
    "child_text",
    "fault",
    "read_body",
    "same",
    "serve_in_thread",
    "wsdl_document",
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

#: ``soap:address`` elements of SOAP 1.1 and SOAP 1.2 bindings
_ADDRESS_TAGS = (
    "{http://schemas.xmlsoap.org/wsdl/soap/}address",
    "{http://schemas.xmlsoap.org/wsdl/soap12/}address",
)

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


# -- WSDL -------------------------------------------------------------------------------------


@functools.cache
def wsdl_document(path: Path) -> etree._ElementTree:
    """The WSDL at ``path``, parsed once (with :data:`PARSER`)."""
    return etree.parse(str(path), PARSER)


def addressed_wsdl(path: Path, location: str) -> bytes:
    """The WSDL at ``path`` with every ``soap:address`` (SOAP 1.1 and 1.2) at ``location``."""
    doc = copy.deepcopy(wsdl_document(path))
    for tag in _ADDRESS_TAGS:
        for address in doc.iter(tag):
            address.set("location", location)
    return bytes(etree.tostring(doc, xml_declaration=True, encoding="utf-8"))


# -- options ----------------------------------------------------------------------------------


def check_rate(name: str, value: object) -> None:
    """Refuse ``value`` unless it is a number from 0 to 1 (a share of requests)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: a number from 0 to 1")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name}: a number from 0 to 1, not {value}")


def check_seconds(name: str, value: object) -> None:
    """Refuse ``value`` unless it is a number of seconds from 0 to :data:`MAX_SECONDS`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: a number of seconds")
    if not 0.0 <= float(value) <= MAX_SECONDS:
        raise ValueError(f"{name}: 0 to {MAX_SECONDS:g} seconds, not {value}")


class Options(Protocol):
    """A simulator's options: a frozen dataclass that can say itself without secrets."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def public(self) -> dict[str, Any]: ...


OptionsT = TypeVar("OptionsT", bound=Options)


# -- the application ----------------------------------------------------------------------------


class SimulatedSystem(Generic[OptionsT]):
    """What every simulator's WSGI application does besides its own service.

    ``GET <path>?wsdl`` serves :attr:`wsdl_path` addressed to the URL asked for, ``GET`` of
    a schema's name that schema (:meth:`schema_file`), ``GET`` :attr:`state_path` the state
    (:meth:`state_for`) and ``POST`` :attr:`control_path` changes the options
    (:meth:`control`), all JSON; any other ``POST`` is a call of the simulated service
    (:meth:`answer_call`). An unexpected error is answered with a SOAP ``Server`` fault and
    logged, so that a bug does not kill the server thread silently.

    A subclass reads and replaces ``_options`` only with ``_lock`` held, and waits with
    ``_sleep`` (a test passes one that does not).
    """

    #: what the system calls itself in its log lines and its internal-error fault
    label: ClassVar[str]
    state_path: ClassVar[str]
    control_path: ClassVar[str]
    #: the options :meth:`control` may change while the system runs
    controllable: ClassVar[frozenset[str]]
    wsdl_path: ClassVar[Path]

    def __init__(self, options: OptionsT, sleep: Callable[[float], None]) -> None:
        self._options = options
        self._sleep = sleep
        self._lock = threading.Lock()
        # the subclass's module names the log lines, as it names the system
        self._log = logging.getLogger(type(self).__module__)

    @property
    def options(self) -> OptionsT:
        with self._lock:
            return self._options

    def control(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Replace some of :attr:`controllable`; the new options (without passwords).

        :raises ValueError: for an unknown option or a value out of range; nothing changes.
        """
        unknown = sorted(set(changes) - self.controllable)
        if unknown:
            raise ValueError(
                f"cannot change {', '.join(unknown)}; "
                f"changeable: {', '.join(sorted(self.controllable))}"
            )
        with self._lock:
            self._options = dataclasses.replace(self._options, **changes)
            self._log.info("%s options changed: %s", self.label, ", ".join(sorted(changes)))
            return self._options.public()

    # -- what each system answers ---------------------------------------------------------

    def state_for(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """The state ``GET`` :attr:`state_path` answers, given the query string's values."""
        raise NotImplementedError

    def schema_file(self, name: str) -> Path | None:
        """The schema served as ``name`` beside the WSDL, or ``None`` when there is none."""
        raise NotImplementedError

    def answer_call(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """Answer a ``POST`` of the simulated service."""
        raise NotImplementedError

    # -- WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "") or "/"
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        try:
            if method == "GET":
                return self._get(environ, start_response, path, query)
            if method == "POST":
                if path == self.control_path:
                    return answer_control(environ, start_response, self.control)
                return self.answer_call(environ, start_response)
            return answer_json(start_response, 405, {"error": f"{method} is not served"})
        except Exception:  # a bug must not kill the server thread silently
            self._log.exception("%s: unexpected error answering %s %s", self.label, method, path)
            text = f"internal error in the {self.label}"
            return answer(start_response, 500, fault("Server", text), "text/xml")

    def _get(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        path: str,
        query: dict[str, list[str]],
    ) -> list[bytes]:
        if any(k.lower() == "wsdl" for k in query):
            location = request_uri(environ, include_query=False)
            return answer(start_response, 200, addressed_wsdl(self.wsdl_path, location), "text/xml")
        if path == self.state_path:
            return answer_json(start_response, 200, self.state_for(query))
        schema = self.schema_file(path.rsplit("/", 1)[-1])
        if schema is not None:
            return answer(start_response, 200, schema.read_bytes(), "text/xml")
        return answer_json(start_response, 404, {"error": f"nothing at {path}"})
