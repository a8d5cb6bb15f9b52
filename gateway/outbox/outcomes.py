"""What the outbox worker says about its work: a count and a log line for each delivery
outcome and each change of a connector's circuit breaker.

The lines go to the ``gateway.outbox.worker`` logger, the name the README gives operators
to filter on, whichever module of the worker records the outcome. Observing never fails
the work it follows.
"""

from __future__ import annotations

import logging

from connectors.verdicts import DELIVERED, PARK, RETRY, SendResult
from gateway.observe import metrics
from gateway.observe.ops_snapshot import EMAIL
from gateway.outbox.delivery import Claimed

__all__ = ["OUTCOMES", "breaker_changed", "delivery_outcome"]

log = logging.getLogger("gateway.outbox.worker")
#: a verdict as it is stored in ``delivery_attempts.outcome`` and said
OUTCOMES = {DELIVERED: "DELIVERED", RETRY: "RETRY", PARK: "PARKED"}


def breaker_changed(connector: str, old: str, new: str) -> None:
    """A breaker changed state: counted, and said at WARNING when it leaves or enters
    CLOSED. Observing never fails the recording it follows."""
    try:
        _say_breaker(connector, old, new)
    except Exception:
        log.exception("could not count or log a breaker change of %s", connector)


def _say_breaker(connector: str, old: str, new: str) -> None:
    metrics.BREAKER_CHANGES.labels(connector, new).inc()
    if new == "OPEN":
        what = "opened: its queue is held until a probe succeeds"
    elif new == "CLOSED":
        what = "closed again: its queue flows"
    else:
        what = f"is {new}"
    # a probe goes, and a failed one reopens it, every cool-down: said at INFO
    level = logging.WARNING if "CLOSED" in (old, new) else logging.INFO
    log.log(
        level,
        "connector %s: circuit breaker %s (was %s)",
        connector,
        what,
        old,
        extra={"connector": connector, "breaker": new, "previous": old},
    )


def delivery_outcome(item: Claimed, verdict: str, result: SendResult) -> None:
    """One send's line (a park at WARNING: nothing sends it again without a person) and
    its count. Observing never fails the recording it follows: a failure here after the
    commit would have the batch recorded again."""
    try:
        _say_delivery(item, verdict, result)
    except Exception:
        log.exception("could not count or log the outcome of outbox %s", item.id)


def _say_delivery(item: Claimed, verdict: str, result: SendResult) -> None:
    outcome = OUTCOMES[verdict]
    connector = item.connector_name if item.connector_id is not None else EMAIL
    metrics.DELIVERIES.labels(connector, item.kind, outcome.lower()).inc()
    log.log(
        logging.WARNING if verdict == PARK else logging.INFO,
        "outbox %s (%s) %s attempt %d to %s: %s%s",
        item.id,
        item.message_id,
        item.kind,
        item.attempt,
        item.connector_name,
        outcome,
        f" ({result.reason})" if result.reason else "",
        extra={
            "outbox_id": item.id,
            "message_id": item.message_id,
            "kind": item.kind,
            "attempt": item.attempt,
            "connector": item.connector_name,
            "outcome": outcome,
            "http_status": result.http_status,
        },
    )
