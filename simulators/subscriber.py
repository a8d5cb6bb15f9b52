"""A simulated business-event subscriber, for demos and tests of omgw's event pushes.

It serves Oracle's one-way ``BusinessEventsConnector.pushPayload``
(``connectors/wsdl/events/BusinessEventsConnector.wsdl``, contract §5.2–5.6) the way a customer's
connector endpoint would: every push is checked (credentials, then the payload against
``BusinessEventsConnectorPayload.xsd`` through :func:`connectors.push_payload_reader.parse_push`),
recorded once per ``wsa:MessageID``, and answered HTTP 202 with an empty body.

It is also a fault injector, deterministic for a given seed (:class:`SubscriberOptions`,
changeable at run time through ``POST /control``): an outage (``down``: every push 503),
random HTTP 503s, SOAP ``Server`` faults, SOAP ``Client`` faults, and slow answers. A push
that fails this way is not recorded, so the redelivery OM does (§5.6) records it later.

What happens to a push, in order:

1. ``down`` → 503 (nothing read);
2. credentials, when required: HTTP Basic or a WS-Security UsernameToken (PasswordText), else
   a ``Client`` fault ``FailedAuthentication`` (counted in ``refused``);
3. the payload: not XML, not SOAP 1.1, another operation, or not valid against the schema
   → a ``Client`` fault with the reason (counted in ``invalid``);
4. one draw from the seeded generator, shared out in this order: ``failure_rate`` → 503,
   ``fault_rate`` → ``Server`` fault, ``client_fault_rate`` → ``Client`` fault (counted in
   ``failed``); when the rates add up to more than 1 the later ones get what is left;
5. a ``wsa:MessageID`` seen before → 202, counted in ``duplicates``, not recorded again;
6. otherwise recorded (and written to ``record_dir``) → 202.

``delay`` is spent after the work and before the answer, whatever the answer: a caller that
times out has still been heard, as with a real subscriber that is slow to answer.

The checks of steps 2 and 3 are :mod:`simulators.push_reading`'s; the routing of WSDL,
schemas, state and control every simulator shares is :class:`simulators.harness.SimulatedSystem`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from connectors.connector_errors import PayloadInvalidError
from connectors.push_payload import EVENTS_DIR, WSDL_PATH, EventHeader
from connectors.push_payload_reader import PushedPayload, parse_push, results_schema
from simulators import harness
from simulators.harness import Running, SimulatedSystem, StartResponse, serve_in_thread
from simulators.push_reading import (
    FAILED_AUTHENTICATION,
    PushRefusedError,
    authenticated,
    check_action,
)

__all__ = [
    "CONTROLLABLE",
    "ENDPOINT_PATH",
    "RunningSubscriber",
    "SubscriberOptions",
    "SubscriberSimulator",
    "running_subscriber",
    "serve_subscriber",
]

log = logging.getLogger(__name__)

#: where the CLI and :func:`running_subscriber` say to push (any other POST path works too)
ENDPOINT_PATH = "/events"
STATE_PATH = "/state"
CONTROL_PATH = "/control"
#: the options ``POST /control`` may change while the subscriber runs
CONTROLLABLE = frozenset({"fault_rate", "client_fault_rate", "failure_rate", "down", "delay"})
_RATES = ("fault_rate", "client_fault_rate", "failure_rate")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_COUNTERS = ("pushes", "received", "duplicates", "invalid", "refused", "failed")


@dataclass(frozen=True)
class SubscriberOptions:
    """How the simulated subscriber behaves.

    :param fault_rate: share of valid pushes answered with a SOAP ``Server`` fault (HTTP 500)
    :param client_fault_rate: share answered with a SOAP ``Client`` fault ("payload refused")
    :param failure_rate: share answered HTTP 503 without a SOAP body
    :param down: answer every push HTTP 503, before looking at it (a subscriber that is down)
    :param delay: seconds to wait before answering any push (a slow subscriber)
    :param seed: seeds the draws of the rates, so a run can be repeated exactly
    :param username: the user pushes must authenticate as; ``None`` checks nothing
    :param password: that user's password (UsernameToken PasswordText or HTTP Basic)
    :param record_dir: where to write each recorded payload's ``results`` document
    """

    fault_rate: float = 0.0
    client_fault_rate: float = 0.0
    failure_rate: float = 0.0
    down: bool = False
    delay: float = 0.0
    seed: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    record_dir: Path | None = None

    def __post_init__(self) -> None:
        for name in _RATES:
            harness.check_rate(name, getattr(self, name))
        if not isinstance(self.down, bool):
            raise ValueError("down: true or false")
        harness.check_seconds("delay", self.delay)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError("seed: a whole number")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: give both or neither")
        if self.username is not None and (not isinstance(self.username, str) or not self.username):
            raise ValueError("username: a non-empty string")
        if isinstance(self.record_dir, str):
            object.__setattr__(self, "record_dir", Path(self.record_dir))
        elif self.record_dir is not None and not isinstance(self.record_dir, Path):
            raise ValueError("record_dir: a directory path")

    def public(self) -> dict[str, Any]:
        """The options as JSON-ready data, without the password."""
        data = dataclasses.asdict(self)
        del data["password"]
        data["record_dir"] = None if self.record_dir is None else str(self.record_dir)
        data["authentication"] = self.username is not None
        return data


@dataclass
class _Record:
    """One push, as first received."""

    seq: int
    message_id: str | None
    action: str | None
    event_code: str | None
    orchestration_order_number: str | None
    source_order_number: str | None
    orders: int
    received_at: str
    results: bytes
    file: str | None = None
    times_received: int = 1

    def public(self, xml: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "seq": self.seq,
            "message_id": self.message_id,
            "action": self.action,
            "event_code": self.event_code,
            "orchestration_order_number": self.orchestration_order_number,
            "source_order_number": self.source_order_number,
            "orders": self.orders,
            "received_at": self.received_at,
            "times_received": self.times_received,
            "file": self.file,
        }
        if xml:
            data["xml"] = self.results.decode("utf-8", errors="replace")
        return data


def _file_part(value: str | None, default: str) -> str:
    """``value`` made safe for a file name: no separators, no leading dots, at most 60 chars."""
    cleaned = _UNSAFE.sub("_", value or "").strip("._")[:60]
    return cleaned or default


class SubscriberSimulator(SimulatedSystem[SubscriberOptions]):
    """The simulated subscriber, as a WSGI application.

    ``GET <path>?wsdl`` serves the connector WSDL addressed to the URL asked for (and the
    schemas beside it, by name); ``GET /state`` (``?xml=1`` adds each payload) and
    ``POST /control`` are JSON; any other ``POST`` is a ``pushPayload``.

    Counters in the state: ``pushes`` every push POSTed, ``received`` pushes recorded,
    ``duplicates`` repeats of a recorded ``wsa:MessageID``, ``invalid`` pushes refused for
    their content, ``refused`` pushes refused for their credentials, ``failed`` injected
    failures (``down`` included).
    """

    label = "subscriber"
    state_path = STATE_PATH
    control_path = CONTROL_PATH
    controllable = CONTROLLABLE
    wsdl_path = WSDL_PATH

    def __init__(
        self,
        options: SubscriberOptions | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(options or SubscriberOptions(), sleep)
        self._rng = random.Random(self._options.seed)
        self._counters = dict.fromkeys(_COUNTERS, 0)
        self._by_code: Counter[str] = Counter()
        self._records: list[_Record] = []
        self._by_message: dict[str, _Record] = {}
        self._last_invalid: str | None = None
        if self._options.record_dir is not None:
            # now, so that a directory that cannot be made shows at start, not at a push
            self._options.record_dir.mkdir(parents=True, exist_ok=True)
        harness.wsdl_document(self.wsdl_path)  # likewise for a broken WSDL or schema
        results_schema()

    # -- public operations ------------------------------------------------------------

    def state(self, xml: bool = False) -> dict[str, Any]:
        """Counters, the options (without the password) and every push recorded."""
        with self._lock:
            return {
                "options": self._options.public(),
                **self._counters,
                "counts": dict(self._by_code),
                "last_invalid": self._last_invalid,
                "events": [r.public(xml) for r in self._records],
            }

    # -- what the harness asks of it ------------------------------------------------------

    def state_for(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """The state; ``?xml=1`` adds each payload."""
        return self.state(query.get("xml", ["0"])[-1].lower() in ("1", "true", "yes"))

    def schema_file(self, name: str) -> Path | None:
        return EVENTS_DIR / name if name.endswith(".xsd") and name in _schema_names() else None

    # -- pushPayload ----------------------------------------------------------------------

    def answer_call(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """Answer a ``pushPayload``, or the failure injected in its place."""
        # Read even when down: a request left unread can make the client see a reset, not a 503
        body = harness.read_body(environ)
        with self._lock:
            self._counters["pushes"] += 1
            options = self._options
            if options.down:
                self._counters["failed"] += 1
        if options.down:
            log.info("subscriber: down (HTTP 503)")
            status, reply, kind = 503, b"the subscriber is down\n", "text/plain"
        else:
            status, reply, kind = self._handle(environ, body, options)
        if options.delay:
            self._sleep(options.delay)
        return harness.answer(start_response, status, reply, kind)

    def _handle(
        self, environ: dict[str, Any], body: bytes | None, options: SubscriberOptions
    ) -> tuple[int, bytes, str]:
        """Steps 2 to 6 of the module docstring: (HTTP status, body, content type).

        ``body`` is ``None`` when it was larger than :data:`~simulators.harness.MAX_BODY_BYTES`.
        """
        if not authenticated(environ, body or b"", options.username, options.password):
            with self._lock:
                self._counters["refused"] += 1
            log.info("subscriber: push refused: failed authentication")
            return 500, harness.fault("Client", FAILED_AUTHENTICATION), "text/xml"
        try:
            if body is None:
                raise PushRefusedError(f"the push is larger than {harness.MAX_BODY_BYTES} bytes")
            pushed = parse_push(body)
            check_action(environ, pushed.action)
        except (PushRefusedError, PayloadInvalidError) as exc:
            reason = str(exc)
            with self._lock:
                self._counters["invalid"] += 1
                self._last_invalid = reason
            log.info("subscriber: invalid push: %s", reason)
            return 500, harness.fault("Client", reason), "text/xml"

        with self._lock:
            # One draw per push that gets this far, whatever the rates: the nth such push's
            # fate depends on the seed and the rates it meets, not on the rates before it.
            draw = self._rng.random()
            injected = None
            if draw < options.failure_rate:
                injected = "failure"
            elif draw < options.failure_rate + options.fault_rate:
                injected = "Server"
            elif draw < options.failure_rate + options.fault_rate + options.client_fault_rate:
                injected = "Client"
            if injected is not None:
                self._counters["failed"] += 1
        if injected == "failure":
            log.info("subscriber: injected failure (HTTP 503)")
            return 503, b"the subscriber is unavailable\n", "text/plain"
        if injected == "Server":
            log.info("subscriber: injected Server fault")
            text = "simulated fault: the subscriber could not process the event"
            return 500, harness.fault("Server", text), "text/xml"
        if injected == "Client":
            log.info("subscriber: injected Client fault")
            text = "simulated fault: payload refused by the subscriber"
            return 500, harness.fault("Client", text), "text/xml"
        self._record(pushed, options)
        return 202, b"", "text/xml"

    def _record(self, pushed: PushedPayload, options: SubscriberOptions) -> None:
        """Record a push once per ``wsa:MessageID``; write its payload to ``record_dir``."""
        # Oracle pushes one OrderHeader (§5.4); the first one names the record
        first = pushed.headers[0] if pushed.headers else EventHeader(event_code="")
        with self._lock:
            known = self._by_message.get(pushed.message_id) if pushed.message_id else None
            if known is not None:
                known.times_received += 1
                self._counters["duplicates"] += 1
                log.info("subscriber: repeated push %s, answered as before", pushed.message_id)
                return
            record = _Record(
                seq=len(self._records) + 1,
                message_id=pushed.message_id,
                action=pushed.action,
                event_code=None if first is None else first.event_code,
                orchestration_order_number=None
                if first is None
                else first.orchestration_order_number,
                source_order_number=None if first is None else first.source_order_number,
                orders=len(pushed.headers),
                received_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
                results=pushed.results,
            )
            if options.record_dir is not None:
                record.file = self._write(options.record_dir, record)
            self._records.append(record)
            if pushed.message_id:
                self._by_message[pushed.message_id] = record
            self._counters["received"] += 1
            self._by_code[record.event_code or "(none)"] += 1
            log.info(
                "subscriber: push %d: %s for order %s",
                record.seq,
                record.event_code,
                record.orchestration_order_number or record.source_order_number,
            )

    @staticmethod
    def _write(directory: Path, record: _Record) -> str | None:
        """Write the payload as ``00001-<event code>-<order>.xml``; its name, or ``None``."""
        code = _file_part(record.event_code, "NONE")
        order = _file_part(record.orchestration_order_number or record.source_order_number, "none")
        name = f"{record.seq:05d}-{code}-{order}.xml"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / name).write_bytes(record.results)
        except OSError as exc:
            log.warning("subscriber: cannot write %s: %s", directory / name, exc.strerror)
            return None
        return name


@functools.cache
def _schema_names() -> frozenset[str]:
    """The schemas served beside the WSDL: those in ``connectors/wsdl/events``, by name only."""
    return frozenset(p.name for p in EVENTS_DIR.glob("*.xsd"))


# -- serving ----------------------------------------------------------------------------------


@dataclass
class RunningSubscriber(Running):
    """A subscriber serving on a port, in a thread of this process."""

    simulator: SubscriberSimulator
    endpoint_path: ClassVar[str] = ENDPOINT_PATH

    def state(self, xml: bool = False) -> dict[str, Any]:
        return self.simulator.state(xml)

    def control(self, **changes: Any) -> dict[str, Any]:
        return self.simulator.control(changes)


def serve_subscriber(
    options: SubscriberOptions | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningSubscriber:
    """Start a subscriber on ``host:port`` (0: a free port) in a daemon thread.

    Example::

        sub = serve_subscriber(SubscriberOptions(fault_rate=0.2, seed=7))
        print(sub.url)  # give it to an event connector
        sub.close()
    """
    simulator = SubscriberSimulator(options)
    served = serve_in_thread(simulator, host, port, "event-subscriber")
    return RunningSubscriber(served=served, simulator=simulator)


@contextmanager
def running_subscriber(
    options: SubscriberOptions | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    **changes: Any,
) -> Iterator[RunningSubscriber]:
    """A subscriber serving for the duration of the ``with`` block.

    ``changes`` are :class:`SubscriberOptions` fields applied to ``options`` (or to the
    defaults), so ``running_subscriber(fault_rate=1)`` is enough for a test.
    """
    options = dataclasses.replace(options or SubscriberOptions(), **changes)
    sub = serve_subscriber(options, host, port)
    try:
        yield sub
    finally:
        sub.close()
