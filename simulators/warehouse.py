"""What the simulated fulfillment system remembers, and what it decides from it.

:class:`Warehouse` keeps every request received (once: a repeat is answered from memory),
the :class:`~simulators.change_answers.Ledger` of the lines it holds and its share of the
simulator's counters. It knows no HTTP, no SOAP and no threads: the simulator
(:mod:`simulators.fulfillment`) reads requests off the wire, calls it with its lock held and
sends what it decided.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from simulators import change_answers
from simulators.fulfillment_options import SimulatorOptions
from simulators.fulfillment_records import (
    ReportedLine,
    RequestRecord,
    decide_lines,
    reported,
    response_identifier,
)
from simulators.request_reading import ASYNC, SYNC, Request

__all__ = ["RESPONSE_SERVICE_PATH", "Warehouse"]

log = logging.getLogger(__name__)

#: the gateway's callback service, below ``gateway_url``
RESPONSE_SERVICE_PATH = "/fscmService/OrderFulfillmentResponseService"


class Warehouse:
    """Every request received and the lines held; not thread-safe, so its caller locks.

    ``counters`` is the simulator's: the warehouse counts the requests by operation
    (``sync``, ``async``), ``duplicates``, ``applied``, the compensation requests by answer
    and ``returns``.
    """

    def __init__(self, counters: dict[str, int]) -> None:
        self._counters = counters
        self.records: list[RequestRecord] = []
        self._by_message: dict[str, RequestRecord] = {}
        self._by_request: dict[tuple[int, str], RequestRecord] = {}
        self.ledger = change_answers.Ledger()

    def public(self) -> dict[str, Any]:
        """Every request received, the lines held and the line ids returned, as JSON data."""
        return {
            "requests": [r.public() for r in self.records],
            "fulfillment_lines": self.ledger.public(),
            "returned_lines": sorted(self.ledger.returned),
        }

    def receive(
        self,
        request: Request,
        mode: str,
        message_id: str | None,
        reply_to: str | None,
        options: SimulatorOptions,
    ) -> tuple[RequestRecord, bool]:
        """The record answering ``request``, and whether it is new (not a repeat).

        A repeat (the same ``wsa:MessageID``, or the same request id and task type) gets
        the first request's record; a new request is decided now and remembered.
        """
        key = (request.request_id, request.task_type)
        self._counters[mode] += 1
        record = self._by_message.get(message_id) if message_id else None
        record = record or self._by_request.get(key)
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
            return record, False
        callback = None
        if mode == ASYNC:
            base = options.gateway_url.rstrip("/") + RESPONSE_SERVICE_PATH
            callback = reply_to or base
        record = RequestRecord(
            message_id=message_id,
            request_id=request.request_id,
            task_type=request.task_type,
            header_id=request.header_id,
            mode=mode,
            response_identifier=response_identifier(
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
        self.records.append(record)
        self._by_request[key] = record
        if message_id:
            self._by_message[message_id] = record
        self._counters["applied"] += 1
        log.info(
            "simulator: %s %s request %s (%s), %d line(s)",
            mode,
            request.operation,
            request.request_id,
            request.task_type,
            len(request.lines),
        )
        return record, True

    def _take(self, record: RequestRecord, request: Request, options: SimulatorOptions) -> None:
        """Decide a new request's answer and keep what it changes.

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
            change = self.ledger.change(
                request.request_id, request.operation, request.task_type, asked, options, now
            )
            record.change = change
            record.lines = tuple(reported(self.ledger.lines[fid]) for fid in change.shipped)
            if record.mode == SYNC:  # the headerTR reports what no callback will
                self.ledger.unreported(change.shipped)
            self._counters[change.counter] += 1
            return
        record.lines = decide_lines(request, options, self.ledger.returned, now)
        if request.task_type == "Shipment":
            at_once = now if record.mode == SYNC else None
            self.ledger.receive(
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
            self.ledger.returned.update(ln.fulfill_line_id for ln in request.lines)
            self._counters["returns"] += 1

    def to_report(self, record: RequestRecord) -> tuple[ReportedLine, ...]:
        """The lines a callback reports.

        A ``Shipment`` request's callback ships its pending lines now, at their quantity
        now, and leaves out the cancelled ones; a compensation request's reports only the
        lines it shipped itself (``change_answer`` shipped) that no callback has reported.
        """
        now = datetime.now(UTC).replace(microsecond=0)
        if record.change is not None:
            return tuple(reported(ln) for ln in self.ledger.unreported(record.change.shipped))
        if record.task_type != "Shipment":
            return record.lines
        settled = self.ledger.settle(
            record.request_id, [ln.fulfill_line_id for ln in record.lines], now
        )
        record.lines = tuple(
            ln if (held := settled[ln.fulfill_line_id]) is None else reported(held)
            for ln in record.lines
            if ln.fulfill_line_id in settled
        )
        return record.lines
