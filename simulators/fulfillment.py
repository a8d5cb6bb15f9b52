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

Faults it can be told to inject (:class:`~simulators.fulfillment_options.SimulatorOptions`,
changeable at run time through ``POST /simulator/control``): an outage (HTTP 503), SOAP
``Client`` faults, partial shipments, backorders, slow answers (to provoke client timeouts)
and duplicated callbacks.

Plain WSGI and lxml: requests are parsed with a hardened parser (no DTD, no entities, no
network) and validated against ``HeaderTL.xsd`` (:mod:`simulators.request_reading`). The
routing every simulator shares is :class:`simulators.harness.SimulatedSystem`; what this one
remembers and decides is :mod:`simulators.warehouse` (its records and line outcomes
:mod:`simulators.fulfillment_records`), what it says back :mod:`simulators.fulfillment_replies`;
zeep is used only to call the gateway back (:mod:`simulators.callbacks`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from connectors.outbound import OUTBOUND_DIR
from simulators import harness
from simulators.callbacks import GatewayCaller
from simulators.fulfillment_options import CONTROLLABLE, SimulatorOptions
from simulators.fulfillment_records import RequestRecord
from simulators.fulfillment_replies import acknowledgement, fulfillment_response, header_tr
from simulators.harness import Running, SimulatedSystem, StartResponse, serve_in_thread
from simulators.request_reading import (
    ASYNC,
    SYNC,
    RefusedError,
    Request,
    read_call,
    request_schema,
)
from simulators.warehouse import Warehouse

__all__ = [
    "ENDPOINT_PATH",
    "FulfillmentSimulator",
    "RunningSimulator",
    "running",
    "serve_simulator",
]

log = logging.getLogger(__name__)

#: where the CLI and :func:`running` publish the FulfillmentRequest endpoint
ENDPOINT_PATH = "/simulator/FulfillmentService"
STATE_PATH = "/simulator/state"
CONTROL_PATH = "/simulator/control"
#: the schemas served beside the WSDL: the two it imports
_SCHEMAS = frozenset({"HeaderTL.xsd", "HeaderTR.xsd"})
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


class FulfillmentSimulator(SimulatedSystem[SimulatorOptions]):
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

    label = "simulator"
    state_path = STATE_PATH
    control_path = CONTROL_PATH
    controllable = CONTROLLABLE
    wsdl_path = OUTBOUND_DIR / "FulfillmentRequest.wsdl"

    def __init__(
        self,
        options: SimulatorOptions | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(options or SimulatorOptions(), sleep)
        self._rng = random.Random(self._options.seed)
        self._counters = dict.fromkeys(_COUNTERS, 0)
        self._warehouse = Warehouse(self._counters)
        self._closing = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="simulator-callback")
        self._caller = GatewayCaller(self._lock, self._counters, self._closing)
        request_schema()  # load it once, now: a broken schema shows at start, not at a request

    # -- public operations ------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Counters, the options (without passwords) and every request received."""
        with self._lock:
            return {
                "counters": dict(self._counters),
                "options": self._options.public(),
                **self._warehouse.public(),
            }

    def close(self) -> None:
        """Stop the callback workers (a callback in flight ends within its timeout)."""
        self._closing.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._caller.close()

    # -- what the harness asks of it ------------------------------------------------------

    def state_for(self, query: dict[str, list[str]]) -> dict[str, Any]:
        return self.state()

    def schema_file(self, name: str) -> Path | None:
        return OUTBOUND_DIR / name if name in _SCHEMAS else None

    # -- SOAP -------------------------------------------------------------------------------

    def answer_call(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """Answer a SOAP 1.1 FulfillmentRequest call, or the failure injected in its place."""
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
        with self._lock:
            options = self._options
            record, new = self._warehouse.receive(request, mode, message_id, reply_to, options)
            schedule = new and mode == ASYNC
            self._counters["callbacks_scheduled"] += schedule
            reply = header_tr(record, options.system) if mode == SYNC else b""
        if schedule:
            self._pool.submit(self._call_back, record)
        return (200, reply) if mode == SYNC else (202, b"")

    # -- callbacks ----------------------------------------------------------------------

    def _call_back(self, record: RequestRecord) -> None:
        """Acknowledge, then report the lines, to the record's callback URL (a worker)."""
        try:
            options = self.options
            if self._closing.wait(max(0.0, record.due - time.monotonic())):
                return
            url = record.callback_url
            assert url is not None
            with self._lock:  # what ships is decided now: a Cancel that came first holds
                lines = self._warehouse.to_report(record)
            calls = [("processAcknowledgement", acknowledgement(record, options.system))]
            if lines:
                response = fulfillment_response(record, lines, options.system)
                calls.append(("processFulfillmentResponse", response))
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
