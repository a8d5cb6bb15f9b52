"""Prometheus metrics: counters kept by the processes, gauges read from the database.

What happens in a process (calls answered, sends recorded, breaker changes, alerts) is
counted here with ``prometheus_client``. Under ``omgw serve`` the gunicorn workers and the
background process count into one directory (:func:`share_between_processes`, the
library's multiprocess mode), and ``/metrics`` adds them up. What is waiting (queues,
parked messages, breakers, unacknowledged requests, orders by status) is read from the
database at each scrape (:class:`StateCollector`), so it is the same whichever process
or host answers, and right after a restart.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.observe.findings import findings
from gateway.observe.ops_snapshot import OpsSnapshot
from gateway.persistence.private_files import ensure_private_dir

__all__ = [
    "ALERTS",
    "BREAKER_CHANGES",
    "CONTENT_TYPE",
    "DELIVERIES",
    "INBOUND_CALLS",
    "INBOUND_FAULTS",
    "INBOUND_SECONDS",
    "MULTIPROCESS_ENV",
    "StateCollector",
    "exposition",
    "share_between_processes",
]

#: the variable prometheus_client reads its shared directory from
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: the directory this process and its forks count into, once shared
_shared: Path | None = None

INBOUND_CALLS = Counter(
    "omgw_inbound_calls",
    "SOAP calls answered, by service, operation and outcome (OK or FAULT)",
    ["service", "operation", "outcome"],
)
INBOUND_FAULTS = Counter(
    "omgw_inbound_faults", "SOAP faults answered, by service and fault code", ["service", "code"]
)
INBOUND_SECONDS = Histogram(
    "omgw_inbound_duration_seconds",
    "Time from a call's arrival to its answer, by service and operation",
    ["service", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
DELIVERIES = Counter(
    "omgw_outbox_deliveries",
    "Sends recorded by outbox workers, by connector, kind (FULFILLMENT_REQUEST, "
    "BUSINESS_EVENT, EMAIL) and outcome (delivered, retry, parked)",
    ["connector", "kind", "outcome"],
)
BREAKER_CHANGES = Counter(
    "omgw_breaker_transitions",
    "Circuit-breaker changes recorded, by connector and the state entered",
    ["connector", "state"],
)
ALERTS = Counter(
    "omgw_alerts", "Alerts by what the monitor did (raised, mailed, cleared)", ["alert", "action"]
)


def share_between_processes(directory: Path) -> None:
    """Count into ``directory`` from now on, in this process and every process it starts
    (gunicorn's forks, and children that inherit the environment). The directory is
    emptied first: counters restart with the server, as Prometheus expects."""
    global _shared
    shutil.rmtree(directory, ignore_errors=True)
    ensure_private_dir(directory.parent)
    _forget_the_dead(directory.parent)
    directory.mkdir(mode=0o700)
    os.environ[MULTIPROCESS_ENV] = str(directory)
    _shared = directory
    # chosen at import from the environment; this process imported it before the
    # directory existed, and its forks inherit that choice
    values.ValueClass = values.MultiProcessValue()


def _forget_the_dead(parent: Path) -> None:
    """Remove the counting directories of servers that died without removing theirs
    (``metrics-<pid>``, the pid gone): a kill -9 leaves one behind."""
    for found in parent.glob("metrics-*"):
        try:
            os.kill(int(found.name.removeprefix("metrics-")), 0)
        except ValueError:
            continue  # not one of ours
        except ProcessLookupError:
            shutil.rmtree(found, ignore_errors=True)
        except PermissionError:
            continue  # alive, another user's


class _Process(Collector):
    """This process's own counters, where there is no shared directory."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class StateCollector(Collector):
    """Gauges of what is waiting, read from the database at each scrape."""

    def __init__(self, read: Callable[[], OpsSnapshot]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("omgw_state_up", "1 if the database could be read for this scrape")
        try:
            snap = self._read()
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _connector_gauges(snap)
        yield from _state_gauges(snap)


def _gauge(name: str, text: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, labels=labels)


def _connector_gauges(snap: OpsSnapshot) -> Iterator[Metric]:
    ready = _gauge("omgw_outbox_ready", "Messages waiting to be sent, by connector", ["connector"])
    oldest = _gauge(
        "omgw_outbox_oldest_ready_age_seconds",
        "Age of the oldest message waiting, by connector (0 when none waits)",
        ["connector"],
    )
    parked = _gauge("omgw_outbox_parked", "Messages parked, by connector", ["connector"])
    breaker = _gauge(
        "omgw_breaker_state",
        "Circuit breaker of each connector: 1 for its current state",
        ["connector", "state"],
    )
    unacked = _gauge(
        "omgw_requests_unacknowledged",
        "Requests delivered but unacknowledged past OMGW_UNACKNOWLEDGED_SECONDS",
        ["connector"],
    )
    no_response = _gauge(
        "omgw_requests_without_response",
        "Acknowledged requests with lines unshipped past OMGW_NO_RESPONSE_SECONDS",
        ["connector"],
    )
    late = _gauge(
        "omgw_events_late",
        "Business events undelivered past OMGW_EVENT_LATE_SECONDS",
        ["connector"],
    )
    for name, view in sorted(snap.connectors.items()):
        ready.add_metric([name], view.ready)
        age = 0.0
        if view.oldest_ready_at is not None:
            age = max(0.0, (snap.now - view.oldest_ready_at).total_seconds())
        oldest.add_metric([name], age)
        parked.add_metric([name], view.parked)
        for state in ("CLOSED", "OPEN", "HALF_OPEN"):
            breaker.add_metric([name, state], 1 if view.breaker == state else 0)
        unacked.add_metric([name], view.unacknowledged)
        no_response.add_metric([name], view.no_response)
        late.add_metric([name], view.late_events)
    yield from (ready, oldest, parked, breaker, unacked, no_response, late)


def _state_gauges(snap: OpsSnapshot) -> Iterator[Metric]:
    orders = _gauge("omgw_orders", "Orders by header status", ["status"])
    for status, n in sorted(snap.orders_by_status.items()):
        orders.add_metric([status], n)
    lines = _gauge("omgw_fulfill_lines", "Fulfillment lines by status", ["status"])
    for status, n in sorted(snap.lines_by_status.items()):
        lines.add_metric([status], n)
    not_routed = _gauge(
        "omgw_lines_not_routed",
        "Fulfillment lines in ROUTING_ERROR, or not routed past OMGW_STUCK_SECONDS",
        ["reason"],
    )
    not_routed.add_metric(["routing_error"], snap.routing_errors)
    not_routed.add_metric(["late"], snap.stuck_before_routing)
    staged = _gauge("omgw_staged_errors", "Staged work in ERROR", ["kind"])
    staged.add_metric(["order"], snap.staged_order_errors)
    staged.add_metric(["response"], snap.staged_response_errors)
    worker = GaugeMetricFamily(
        "omgw_worker_last_seen_age_seconds",
        "Seconds since any outbox worker was last seen (-1: never)",
    )
    latest = snap.latest_worker()
    worker.add_metric([], -1 if latest is None else (snap.now - latest).total_seconds())
    jobs = _gauge("omgw_job_last_run_age_seconds", "Seconds since a periodic job ran", ["job"])
    for job, (ran_at, _detail) in sorted(snap.jobs.items()):
        jobs.add_metric([job], (snap.now - ran_at).total_seconds())
    needs = _gauge(
        "omgw_findings", "Things that need a person (omgw status), by severity", ["severity"]
    )
    found = findings(snap)
    for severity in ("critical", "warning"):
        needs.add_metric([severity], sum(1 for f in found if f.severity == severity))
    yield from (orders, lines, not_routed, staged, worker, jobs, needs)


def exposition(read: Callable[[], OpsSnapshot] | None) -> bytes:
    """The text a scrape gets: every process's counters and, when ``read`` is given, the
    database's gauges."""
    registry = CollectorRegistry()
    if _shared is not None:
        multiprocess.MultiProcessCollector(registry, path=str(_shared))
    else:
        registry.register(_Process())
    if read is not None:
        registry.register(StateCollector(read))
    return generate_latest(registry)
