"""What is kept of every call, answered or refused: its counters, its access line (never
with a payload) and its message-log row.

Both run after the call is done and maybe committed, so a failure here is logged and
never turns the call's answer into a 500.
"""

from __future__ import annotations

import logging
import time

from gateway.observe import metrics
from gateway.observe.logs import CallLine, log_call
from gateway.persistence.message_log_writer import write_log
from gateway.runtime import Runtime
from gateway.soap.call_context import Call
from gateway.soap.endpoints import Endpoint

__all__ = ["observe", "write_call_log"]

log = logging.getLogger(__name__)


def observe(endpoint: Endpoint, call: Call, status: str) -> None:
    """Count the call and write its access line."""
    try:
        _count_and_log(endpoint, call, status)
    except Exception:
        log.exception("could not count or log a call to %s", endpoint.name)


def write_call_log(runtime: Runtime, call: Call, status: str) -> None:
    """Write the call's message-log row in a transaction of its own."""
    try:
        with runtime.sessions() as s, s.begin():
            write_log(s, call.log_row(status))
    except Exception:
        info = call.info
        log.exception("could not write the message log for %s.%s", info.service, info.operation)


def _count_and_log(endpoint: Endpoint, call: Call, status: str) -> None:
    info = call.info
    # a label per operation the service has: a caller's made-up name is not one
    operation = info.operation if info.operation in endpoint.operations else "-"
    code = info.fault_code
    ms = call.elapsed_ms()
    metrics.INBOUND_CALLS.labels(endpoint.name, operation, "OK" if code is None else "FAULT").inc()
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
