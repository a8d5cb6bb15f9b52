"""A simulated external fulfillment system (warehouse and billing) for demos and tests.

It implements omgw's outbound contract, ``connectors/wsdl/outbound/FulfillmentRequest.wsdl``,
the way a real warehouse would, and it is the fault injector of the functional tests, so
everything it does is deterministic for a given seed:

* ``processFulfillmentRequestSync`` (SOAPAction ``processSync``) answers a ``headerTR``;
* ``processFulfillmentRequest`` (SOAPAction ``process``, the default) answers HTTP 202 at
  once and later calls the gateway's ``OrderFulfillmentResponseService`` on a worker thread:
  ``processAcknowledgement``, then ``processFulfillmentResponse``. The callback goes to the
  request's ``wsa:ReplyTo`` address, else to ``gateway_url``.

A request is applied once: repeats (the same ``wsa:MessageID``, or the same
``FulfillmentRequestIdentifier`` and ``TaskType``) get the first answer again and cause no
new callbacks. Each line's outcome is drawn once per request from a random generator seeded
with ``(seed, request id, task type)``, so it does not depend on the order requests arrive in.

Besides ``Shipment`` and ``Invoice`` it receives returns (``TaskType`` ``Return``: the lines
are ``RECEIVED``; their later invoice is a credit memo, ``CM-…``) and compensation requests
(``Operation`` ``Update`` or ``Cancel``), answered by whether the lines have shipped yet
(:mod:`simulators.change_answers`; the contract is ``connectors/wsdl/outbound/README.md``).

Faults it can be told to inject (:class:`SimulatorOptions`, changeable at run time through
``POST /simulator/control``): an outage (HTTP 503), SOAP ``Client`` faults, partial shipments,
backorders, slow answers (to provoke client timeouts) and duplicated callbacks.

Plain WSGI and lxml: requests are parsed with a hardened parser (no DTD, no entities, no
network) and validated against ``HeaderTL.xsd``; zeep is used only to call the gateway back.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit
from wsgiref.util import request_uri

from lxml import etree

from connectors.outbound import OUTBOUND_DIR, SOAP_ENV_NS, TR_NS
from simulators import change_answers, harness
from simulators.callbacks import GatewayCaller, redact
from simulators.harness import Running, StartResponse, serve_in_thread
from simulators.request_reading import (
    ASYNC,
    SYNC,
    RefusedError,
    Request,
    read_call,
    request_schema,
)

__all__ = [
    "CONTROLLABLE",
    "ENDPOINT_PATH",
    "FulfillmentSimulator",
    "RunningSimulator",
    "SimulatorOptions",
    "request_schema",
    "running",
    "serve_simulator",
]

log = logging.getLogger(__name__)

#: where the CLI and :func:`running` publish the FulfillmentRequest endpoint
ENDPOINT_PATH = "/simulator/FulfillmentService"
STATE_PATH = "/simulator/state"
CONTROL_PATH = "/simulator/control"
#: the options ``POST /simulator/control`` may change while the simulator runs
CONTROLLABLE = frozenset(
    {
        "delay",
        "fail_first",
        "fault_first",
        "failure_rate",
        "fault_rate",
        "partial_rate",
        "backorder_rate",
        "slow",
        "duplicate_callbacks",
        "change_answer",
    }
)
_RATES = ("failure_rate", "fault_rate", "partial_rate", "backorder_rate")
_SECONDS = ("delay", "slow")
#: the gateway's callback service, below ``gateway_url``
RESPONSE_SERVICE_PATH = "/fscmService/OrderFulfillmentResponseService"

WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
_COUNTERS = (
    "received",
    "duplicates",
    "applied",
    "sync",
    "async",
    "faults",
    "failures",
    "callbacks_scheduled",
    "callbacks_sent",
    "callback_errors",
    "changes_accepted",
    "changes_already_shipped",
    "changes_rejected",
    "returns",
)


@dataclass(frozen=True)
class SimulatorOptions:
    """How the simulated fulfillment system behaves.

    :param system: its fulfillment system code (``FulfillmentSystem`` in callbacks)
    :param delay: seconds between accepting an asynchronous request and calling back; the
        delay in force when a request is accepted is the one it waits, so a change applies
        to the requests accepted after it
    :param failure_rate: share of requests answered HTTP 503, recording nothing (an outage)
    :param fault_rate: share of requests answered with a SOAP ``Client`` fault, recording nothing
    :param partial_rate: share of shipped lines shipped half (rounded down, at least 1)
    :param backorder_rate: share of shipment lines answered ``BACKORDERED``
    :param slow: seconds to wait before answering any SOAP request (to provoke timeouts)
    :param duplicate_callbacks: send every callback twice (to test the gateway's dedupe)
    :param username: the user callers must authenticate as; ``None`` checks nothing
    :param password: that user's password (WS-Security UsernameToken or HTTP Basic)
    :param gateway_url: the gateway's base URL, for requests without ``wsa:ReplyTo``
    :param gateway_user: the user to call the gateway back as (HTTP Basic)
    :param gateway_password: that user's password
    :param fail_first: the first this many requests are answered HTTP 503 (an outage at
        start-up: the gateway retries them)
    :param fault_first: the next this many requests are answered with a SOAP ``Client``
        fault (the gateway parks them, for an operator to replay)
    :param change_answer: how Update and Cancel requests are answered: ``auto`` by whether
        the lines have shipped, ``accept`` always, ``reject`` always ``CHANGE_REJECTED``,
        ``shipped`` always ``ALREADY_SHIPPED`` (shipping the lines that had not yet shipped)
    :param seed: seeds every random draw, so a run can be repeated exactly
    :param callback_timeout: seconds each callback may take
    :param callback_retries: retries of a callback that failed in transport or with a 5xx
    :param callback_backoff: seconds before the first retry; doubled each time, capped at 5 s
    """

    system: str = "WMS01"
    delay: float = 0.2
    failure_rate: float = 0.0
    fault_rate: float = 0.0
    partial_rate: float = 0.0
    backorder_rate: float = 0.0
    slow: float = 0.0
    duplicate_callbacks: bool = False
    change_answer: str = "auto"
    fail_first: int = 0
    fault_first: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    gateway_url: str = "http://127.0.0.1:8080"
    gateway_user: str | None = None
    gateway_password: str | None = field(default=None, repr=False)
    seed: int = 0
    callback_timeout: float = 10.0
    callback_retries: int = 5
    callback_backoff: float = 0.5

    def __post_init__(self) -> None:
        if not self.system or not self.system.strip() or len(self.system) > 30:
            raise ValueError("system: a fulfillment system code of 1 to 30 characters")
        for name in _RATES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name}: a number from 0 to 1")
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name}: a number from 0 to 1, not {value}")
        for name in _SECONDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name}: a number of seconds")
            if not 0.0 <= float(value) <= harness.MAX_SECONDS:
                raise ValueError(f"{name}: 0 to {harness.MAX_SECONDS:g} seconds, not {value}")
        for name in ("fail_first", "fault_first"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: a whole number of requests, 0 or more")
        if not isinstance(self.duplicate_callbacks, bool):
            raise ValueError("duplicate_callbacks: true or false")
        if self.change_answer not in change_answers.CHANGE_ANSWERS:
            raise ValueError(f"change_answer: one of {', '.join(change_answers.CHANGE_ANSWERS)}")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: give both or neither")
        if self.callback_timeout <= 0 or self.callback_retries < 0 or self.callback_backoff < 0:
            raise ValueError("callback_timeout must be positive; retries and backoff not negative")
        scheme = urlsplit(self.gateway_url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"gateway_url: an http(s) URL, not {self.gateway_url!r}")

    def public(self) -> dict[str, Any]:
        """The options as JSON-ready data, without any password."""
        data = dataclasses.asdict(self)
        del data["password"], data["gateway_password"]
        data["gateway_url"] = redact(self.gateway_url)
        data["authentication"] = self.username is not None
        return data


# -- what the simulator remembers ---------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """The outcome of one fulfillment line, decided once per request."""

    fulfill_line_id: int
    status: str
    shipped_qty: Decimal | None = None
    uom: str | None = None
    ship_date: datetime | None = None
    tracking_number: str | None = None
    billing_number: str | None = None
    receipt_number: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "fulfill_line_id": self.fulfill_line_id,
            "status": self.status,
            "shipped_qty": None if self.shipped_qty is None else _qty(self.shipped_qty),
            "uom": self.uom,
            "tracking_number": self.tracking_number,
            "billing_number": self.billing_number,
            "receipt_number": self.receipt_number,
        }


@dataclass
class _Record:
    """One fulfillment request as first received, and what came of it."""

    message_id: str | None
    request_id: int
    task_type: str
    header_id: int
    mode: str
    response_identifier: str
    lines: tuple[_Line, ...]
    callback_url: str | None
    operation: str = "Create"
    original_request_id: int | None = None
    #: the answer to a compensation request (Update, Cancel)
    change: change_answers.ChangeAnswer | None = None
    times_received: int = 1
    applied: bool = True
    #: none (synchronous), pending, sent, or error (a callback failed for good)
    callback_status: str = "none"
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    #: when its callbacks go out (``time.monotonic()``), set as it is accepted
    due: float = 0.0

    def public(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "request_id": self.request_id,
            "task_type": self.task_type,
            "operation": self.operation,
            "original_request_id": self.original_request_id,
            "change": None if self.change is None else self.change.public(),
            "header_id": self.header_id,
            "mode": self.mode,
            "times_received": self.times_received,
            "applied": self.applied,
            "response_identifier": self.response_identifier,
            "callback_url": redact(self.callback_url),
            "callback_status": self.callback_status,
            "callbacks": [dict(c) for c in self.callbacks],
            "lines": [ln.public() for ln in self.lines],
        }


# -- XML helpers ----------------------------------------------------------------------------


@functools.cache
def _wsdl_document() -> etree._ElementTree:
    return etree.parse(str(OUTBOUND_DIR / "FulfillmentRequest.wsdl"), harness.PARSER)


def _qty(value: Decimal) -> str:
    return format(value, "f")


def _header_tr(record: _Record, system: str) -> bytes:
    """The SOAP envelope answering ``processFulfillmentRequestSync``: a ``headerTR``."""
    env = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap": SOAP_ENV_NS})
    body = etree.SubElement(env, f"{{{SOAP_ENV_NS}}}Body")
    tr = etree.SubElement(body, f"{{{TR_NS}}}headerTR", nsmap={"tr": TR_NS})

    def add(parent: etree._Element, name: str, value: object) -> None:
        if value is not None:
            etree.SubElement(parent, f"{{{TR_NS}}}{name}").text = str(value)

    add(tr, "FulfillmentRequestIdentifier", record.request_id)
    add(tr, "HeaderId", record.header_id)
    add(tr, "FulfillmentSystem", system)
    add(tr, "FulfillmentSystemResponseIdentifier", record.response_identifier)
    change = record.change
    refused = change is not None and change.status != "SUCCESS"
    add(tr, "StatusCode", "REJECTED" if refused else "ACCEPTED")
    if change is not None:
        add(tr, "ErrorMessageName", change.error_name)
        add(tr, "ErrorMessageText", change.error_text)
    for ln in record.lines:
        line = etree.SubElement(tr, f"{{{TR_NS}}}Line")
        add(line, "FulfillLineId", ln.fulfill_line_id)
        add(line, "StatusCode", ln.status)
        add(line, "ShippedQty", None if ln.shipped_qty is None else _qty(ln.shipped_qty))
        add(line, "ShippedUOMCode", ln.uom)
        add(line, "ActualShipDate", None if ln.ship_date is None else ln.ship_date.isoformat())
        add(line, "TrackingNumber", ln.tracking_number)
        add(line, "BillingNumber", ln.billing_number)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def _reported(line: change_answers.LineState) -> _Line:
    """A ledger line as a callback or a headerTR reports it."""
    if line.shipped_qty is None:
        return _Line(line.fulfill_line_id, "BACKORDERED")
    return _Line(
        line.fulfill_line_id,
        "SHIPPED",
        shipped_qty=line.shipped_qty,
        uom=line.uom,
        ship_date=line.ship_date,
        tracking_number=line.tracking_number,
    )


def _response_identifier(system: str, request_id: int, task: str) -> str:
    """``<system>-<request id>-<task>``, shortened to HeaderTR's 50 characters if need be."""
    rid = f"{system}-{request_id}-{task}"
    if len(rid) <= 50:
        return rid
    digest = hashlib.sha256(task.encode()).hexdigest()[:8]
    return f"{system[:20]}-{request_id}-{digest}"[:50]


# -- the WSGI application -------------------------------------------------------------------


class FulfillmentSimulator:
    """The simulated fulfillment system, as a WSGI application.

    ``GET <path>?wsdl`` serves the outbound WSDL addressed to the URL asked for (and the two
    schemas it imports beside it); ``GET /simulator/state`` and ``POST /simulator/control``
    are JSON; any other ``POST`` is a SOAP 1.1 FulfillmentRequest call.

    Counters in the state: ``received`` every SOAP POST, ``failures`` answered 503,
    ``faults`` answered with a SOAP fault (injected or not), ``applied`` requests acted on,
    ``duplicates`` repeats answered from memory, ``sync``/``async`` valid requests by
    operation, ``callbacks_sent`` callbacks the gateway accepted, ``callback_errors``
    callbacks that failed for good, ``changes_accepted``, ``changes_already_shipped`` and
    ``changes_rejected`` compensation requests by answer, ``returns`` Return requests.

    Call :meth:`close` when done: it stops the callback workers.
    """

    def __init__(
        self,
        options: SimulatorOptions | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._options = options or SimulatorOptions()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._rng = random.Random(self._options.seed)
        self._counters = dict.fromkeys(_COUNTERS, 0)
        self._records: list[_Record] = []
        self._by_message: dict[str, _Record] = {}
        self._by_request: dict[tuple[int, str], _Record] = {}
        self._ledger = change_answers.Ledger()
        self._closing = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="simulator-callback")
        self._caller = GatewayCaller(self._lock, self._counters, self._closing)
        request_schema()  # load it once, now: a broken schema shows at start, not at a request

    @property
    def options(self) -> SimulatorOptions:
        with self._lock:
            return self._options

    # -- public operations ------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Counters, the options (without passwords) and every request received."""
        with self._lock:
            return {
                "counters": dict(self._counters),
                "options": self._options.public(),
                "requests": [r.public() for r in self._records],
                "fulfillment_lines": self._ledger.public(),
                "returned_lines": sorted(self._ledger.returned),
            }

    def control(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Replace some of :data:`CONTROLLABLE`; the new options (without passwords).

        :raises ValueError: for an unknown option or a value out of range; nothing changes.
        """
        unknown = sorted(set(changes) - CONTROLLABLE)
        if unknown:
            raise ValueError(
                f"cannot change {', '.join(unknown)}; changeable: {', '.join(sorted(CONTROLLABLE))}"
            )
        with self._lock:
            self._options = dataclasses.replace(self._options, **changes)
            log.info("simulator options changed: %s", ", ".join(sorted(changes)))
            return self._options.public()

    def close(self) -> None:
        """Stop the callback workers (a callback in flight ends within its timeout)."""
        self._closing.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._caller.close()

    # -- WSGI ---------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "") or "/"
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        try:
            if method == "GET":
                if any(k.lower() == "wsdl" for k in query):
                    return harness.answer(start_response, 200, self._wsdl(environ), "text/xml")
                if path == STATE_PATH:
                    return harness.answer_json(start_response, 200, self.state())
                name = path.rsplit("/", 1)[-1]
                if name in ("HeaderTL.xsd", "HeaderTR.xsd"):
                    return harness.answer(
                        start_response, 200, (OUTBOUND_DIR / name).read_bytes(), "text/xml"
                    )
                return harness.answer_json(start_response, 404, {"error": f"nothing at {path}"})
            if method == "POST":
                if path == CONTROL_PATH:
                    return self._control(environ, start_response)
                return self._soap(environ, start_response)
            return harness.answer_json(start_response, 405, {"error": f"{method} is not served"})
        except Exception:  # a bug must not kill the server thread silently
            log.exception("simulator: unexpected error answering %s %s", method, path)
            return harness.answer(
                start_response,
                500,
                harness.fault("Server", "internal error in the simulator"),
                "text/xml",
            )

    def _wsdl(self, environ: dict[str, Any]) -> bytes:
        """The outbound WSDL with every ``soap:address`` set to the URL asked for."""
        location = request_uri(environ, include_query=False)
        doc = copy.deepcopy(_wsdl_document())
        for address in doc.iter(f"{{{WSDL_SOAP_NS}}}address"):
            address.set("location", location)
        return bytes(etree.tostring(doc, xml_declaration=True, encoding="utf-8"))

    def _control(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        return harness.answer_control(environ, start_response, self.control)

    # -- SOAP -------------------------------------------------------------------------------

    def _soap(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        body = harness.read_body(environ)
        with self._lock:
            self._counters["received"] += 1
            options = self._options
            n = self._counters["received"]
            failed = n <= options.fail_first or self._draw(options.failure_rate)
            first_faults = options.fail_first < n <= options.fail_first + options.fault_first
            faulted = not failed and (first_faults or self._draw(options.fault_rate))
            if failed:
                self._counters["failures"] += 1
        if failed:
            log.info("simulator: injected failure (HTTP 503)")
            status, reply, kind = 503, b"the fulfillment system is unavailable\n", "text/plain"
        else:
            try:
                if faulted:
                    raise RefusedError(
                        "simulated fault: the fulfillment system refused the request"
                    )
                if body is None:
                    raise RefusedError(f"the request is larger than {harness.MAX_BODY_BYTES} bytes")
                options = self.options
                call = read_call(environ, body, options.username, options.password)
                status, reply = self._apply(call.request, call.mode, call.message_id, call.reply_to)
                kind = "text/xml"
            except RefusedError as refused:
                with self._lock:
                    self._counters["faults"] += 1
                log.info("simulator: Client fault: %s", refused)
                status, reply, kind = 500, harness.fault("Client", str(refused)), "text/xml"
        # After the work, before the answer: a caller that times out has still been heard,
        # as with a real system that is slow to answer.
        if options.slow:
            self._sleep(options.slow)
        return harness.answer(start_response, status, reply, kind)

    def _draw(self, rate: float) -> bool:
        """One draw from the shared generator (call with the lock held); none at rate 0."""
        if rate <= 0:
            return False
        return rate >= 1 or self._rng.random() < rate

    def _apply(
        self, request: Request, mode: str, message_id: str | None, reply_to: str | None
    ) -> tuple[int, bytes]:
        """Record the request once and answer it; schedule callbacks for a new async one."""
        key = (request.request_id, request.task_type)
        with self._lock:
            options = self._options
            self._counters[mode] += 1
            record = self._by_message.get(message_id) if message_id else None
            record = record or self._by_request.get(key)
            schedule = False
            if record is not None:
                record.times_received += 1
                self._counters["duplicates"] += 1
                if message_id:
                    self._by_message.setdefault(message_id, record)
                log.info(
                    "simulator: repeated request %s (%s), answered as before",
                    request.request_id,
                    request.task_type,
                )
            else:
                callback = None
                if mode == ASYNC:
                    base = options.gateway_url.rstrip("/") + RESPONSE_SERVICE_PATH
                    callback = reply_to or base
                record = _Record(
                    message_id=message_id,
                    request_id=request.request_id,
                    task_type=request.task_type,
                    header_id=request.header_id,
                    mode=mode,
                    response_identifier=_response_identifier(
                        options.system, request.request_id, request.task_type
                    ),
                    lines=(),
                    callback_url=callback,
                    callback_status="pending" if mode == ASYNC else "none",
                    operation=request.operation,
                    original_request_id=request.original_request_id,
                    due=time.monotonic() + options.delay,
                )
                self._take(record, request, options)
                self._records.append(record)
                self._by_request[key] = record
                if message_id:
                    self._by_message[message_id] = record
                self._counters["applied"] += 1
                schedule = mode == ASYNC
                self._counters["callbacks_scheduled"] += schedule
                log.info(
                    "simulator: %s %s request %s (%s), %d line(s)",
                    mode,
                    request.operation,
                    request.request_id,
                    request.task_type,
                    len(request.lines),
                )
            reply = _header_tr(record, options.system) if mode == SYNC else b""
        if schedule:
            self._pool.submit(self._call_back, record)
        return (200, reply) if mode == SYNC else (202, b"")

    def _take(self, record: _Record, request: Request, options: SimulatorOptions) -> None:
        """Decide a new request's answer and keep what it changes (call with the lock held).

        A compensation request is answered from the ledger, which it may change; a new
        ``Shipment`` puts its lines in the ledger, a ``Return`` its line ids among the
        returned ones.
        """
        now = datetime.now(UTC).replace(microsecond=0)
        if request.operation in change_answers.CHANGE_OPERATIONS:
            asked = [
                change_answers.ChangeLine(
                    ln.fulfill_line_id, ln.ordered_qty, ln.requested_ship_date, ln.ship_to_site
                )
                for ln in request.lines
            ]
            change = self._ledger.change(
                request.request_id, request.operation, request.task_type, asked, options, now
            )
            record.change = change
            record.lines = tuple(_reported(self._ledger.lines[fid]) for fid in change.shipped)
            if record.mode == SYNC:  # the headerTR reports what no callback will
                self._ledger.unreported(change.shipped)
            self._counters[change.counter] += 1
            return
        record.lines = self._decide(request, options, self._ledger.returned, now)
        if request.task_type == "Shipment":
            at_once = now if record.mode == SYNC else None
            self._ledger.receive(
                change_answers.LineState.received(
                    request.request_id,
                    decided.fulfill_line_id,
                    decided.status,
                    asked.ordered_qty,
                    decided.shipped_qty,
                    asked.uom,
                    at_once=at_once,
                )
                for decided, asked in zip(record.lines, request.lines, strict=True)
            )
        elif request.task_type == "Return":
            self._ledger.returned.update(ln.fulfill_line_id for ln in request.lines)
            self._counters["returns"] += 1

    @staticmethod
    def _decide(
        request: Request, options: SimulatorOptions, returned: set[int], today: datetime
    ) -> tuple[_Line, ...]:
        """Each line's outcome, from a generator seeded by the request alone; the invoice
        of a returned line is a credit memo."""
        rng = random.Random(f"{options.seed}:{request.request_id}:{request.task_type}")
        rid = request.request_id
        lines = []
        for ln in request.lines:
            # Two draws per line whatever the rates, so one rate does not shift the other.
            backordered = rng.random() < options.backorder_rate
            partial = rng.random() < options.partial_rate
            fid = ln.fulfill_line_id
            if request.task_type == "Shipment":
                if backordered:
                    lines.append(_Line(fid, "BACKORDERED"))
                    continue
                lines.append(
                    _Line(
                        fid,
                        "SHIPPED",
                        shipped_qty=change_answers.ship_quantity(ln.ordered_qty, partial),
                        uom=ln.uom,
                        ship_date=today,
                        tracking_number=f"TRK-{rid}-{fid}",
                    )
                )
            elif request.task_type == "Return":  # the whole line comes back
                lines.append(
                    _Line(
                        fid,
                        "RECEIVED",
                        shipped_qty=ln.ordered_qty,
                        uom=ln.uom,
                        ship_date=today,
                        receipt_number=f"RCV-{rid}-{fid}",
                    )
                )
            elif request.task_type == "Invoice":
                prefix = "CM" if fid in returned else "INV"
                lines.append(_Line(fid, "BILLED", billing_number=f"{prefix}-{rid}-{fid}"))
        return tuple(lines)

    # -- callbacks ----------------------------------------------------------------------

    def _call_back(self, record: _Record) -> None:
        """Acknowledge, then report the lines, to the record's callback URL (a worker)."""
        try:
            options = self.options
            if self._closing.wait(max(0.0, record.due - time.monotonic())):
                return
            url = record.callback_url
            assert url is not None
            with self._lock:  # what ships is decided now: a Cancel that came first holds
                lines = self._to_report(record)
            ack: dict[str, Any] = {
                "FulfillmentSystem": options.system,
                "FulfillmentRequestIdentifier": record.request_id,
                "RequestStatusCode": "SUCCESS",
            }
            change = record.change
            if change is not None and change.status != "SUCCESS":
                ack["RequestStatusCode"] = change.status
                ack["ErrorMessageName"] = change.error_name
                ack["ErrorMessageText"] = change.error_text
            calls: list[tuple[str, dict[str, Any]]] = [
                ("processAcknowledgement", {"fulfillmentRequestAcknowledgement": ack})
            ]
            if lines:
                calls.append(("processFulfillmentResponse", self._response(record, lines, options)))
            times = 2 if options.duplicate_callbacks else 1
            ok = True
            for operation, kwargs in calls:
                for _ in range(times):
                    ok = (
                        self._caller.call(
                            url,
                            operation,
                            kwargs,
                            options,
                            request_id=record.request_id,
                            entries=record.callbacks,
                        )
                        and ok
                    )
            with self._lock:
                record.callback_status = "sent" if ok else "error"
        except Exception:
            log.exception("simulator: callback for request %s failed", record.request_id)
            with self._lock:
                record.callback_status = "error"
                self._counters["callback_errors"] += 1

    def _to_report(self, record: _Record) -> tuple[_Line, ...]:
        """The lines a callback reports (call with the lock held).

        A ``Shipment`` request's callback ships its pending lines now, at their quantity
        now, and leaves out the cancelled ones; a compensation request's reports only the
        lines it shipped itself (``change_answer`` shipped) that no callback has reported.
        """
        now = datetime.now(UTC).replace(microsecond=0)
        if record.change is not None:
            return tuple(_reported(ln) for ln in self._ledger.unreported(record.change.shipped))
        if record.task_type != "Shipment":
            return record.lines
        settled = self._ledger.settle(
            record.request_id, [ln.fulfill_line_id for ln in record.lines], now
        )
        record.lines = tuple(
            ln if (held := settled[ln.fulfill_line_id]) is None else _reported(held)
            for ln in record.lines
            if ln.fulfill_line_id in settled
        )
        return record.lines

    @staticmethod
    def _response(
        record: _Record, reported: tuple[_Line, ...], options: SimulatorOptions
    ) -> dict[str, Any]:
        lines = []
        for ln in reported:
            line: dict[str, Any] = {"FulfillLineIdentifier": ln.fulfill_line_id}
            line["StatusCode"] = ln.status
            if ln.status in ("SHIPPED", "RECEIVED") and ln.shipped_qty is not None:
                line["ShippedQuantity"] = {"_value_1": ln.shipped_qty, "unitCode": ln.uom}
                line["ActualShippedDate"] = ln.ship_date
            detail = {
                "TaskTypeCode": record.task_type,
                "StatusCode": ln.status,
                "TrackingNumber": ln.tracking_number,
                "BillingTransactionNumber": ln.billing_number,
                "RMAReceiptNumber": ln.receipt_number,
                "RMAReceiptDate": ln.ship_date if ln.receipt_number else None,
            }
            if ln.tracking_number or ln.billing_number or ln.receipt_number:
                line["FulfillmentDetail"] = [{k: v for k, v in detail.items() if v is not None}]
            lines.append(line)
        return {
            "responseMessageHeader": {
                "FulfillmentSystem": options.system,
                "FulfillmentSystemResponseIdentifier": record.response_identifier,
                "IntegrationContextCode": record.task_type,
            },
            "fulfillLineList": lines,
        }


# -- serving ----------------------------------------------------------------------------------


@dataclass
class RunningSimulator(Running):
    """A simulator serving on a port, in a thread of this process."""

    simulator: FulfillmentSimulator
    endpoint_path: ClassVar[str] = ENDPOINT_PATH

    def state(self) -> dict[str, Any]:
        return self.simulator.state()

    def control(self, **changes: Any) -> dict[str, Any]:
        return self.simulator.control(changes)

    def close(self) -> None:
        """Stop serving, then stop the callback workers."""
        super().close()
        self.simulator.close()


def serve_simulator(
    options: SimulatorOptions | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningSimulator:
    """Start a simulator on ``host:port`` (0: a free port) in a daemon thread.

    Example::

        sim = serve_simulator(SimulatorOptions(gateway_url="http://127.0.0.1:8080"))
        print(sim.url)  # give it to a connector
        sim.close()
    """
    simulator = FulfillmentSimulator(options)
    try:
        served = serve_in_thread(simulator, host, port, "fulfillment-simulator")
    except BaseException:
        simulator.close()
        raise
    return RunningSimulator(served=served, simulator=simulator)


@contextmanager
def running(
    options: SimulatorOptions | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningSimulator]:
    """A simulator serving for the duration of the ``with`` block."""
    sim = serve_simulator(options, host, port)
    try:
        yield sim
    finally:
        sim.close()
