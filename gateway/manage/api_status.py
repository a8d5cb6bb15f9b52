"""Status, health and traffic: what ``omgw status``, ``/readyz`` and ``/metrics`` say,
as JSON for the dashboard and for scripts."""

from __future__ import annotations

import threading
import time
from typing import Any

from gateway.manage.web_routes import Call, Param, api
from gateway.observe.findings import findings
from gateway.observe.ops_snapshot import read_snapshot, thresholds
from gateway.observe.readiness import readiness
from gateway.persistence.models import utcnow
from gateway.views.activity import read_activity
from gateway.views.status_report import status_record

__all__ = ["activity", "health", "status"]

#: reads shared by every dashboard of a process for this long (each is a few queries)
_FRESH_SECONDS = 2.0
_held: dict[tuple[str, str, int], tuple[float, Any]] = {}
_lock = threading.Lock()


def _cached(key: tuple[str, str, int], read: Any) -> Any:
    with _lock:
        hit = _held.get(key)
        if hit is not None and time.monotonic() - hit[0] < _FRESH_SECONDS:
            return hit[1]
    value = read()
    with _lock:
        _held[key] = (time.monotonic(), value)
    return value


def status_of(call: Call) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with call.reading() as s:
            snap = read_snapshot(s, utcnow(), thresholds(call.runtime.settings))
        return status_record(snap, findings(snap))

    return _cached(("status", call.runtime.settings.database_url, 0), read)


def activity_of(call: Call, minutes: int) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with call.reading() as s:
            return read_activity(s, utcnow(), minutes).to_json()

    return _cached(("activity", call.runtime.settings.database_url, minutes), read)


@api(
    "GET",
    "/status",
    role="VIEWER",
    tag="status",
    summary="What is waiting, what is broken and what needs a person (omgw status --json)",
)
def status(call: Call) -> dict[str, Any]:
    return status_of(call)


@api(
    "GET",
    "/health",
    role="VIEWER",
    tag="status",
    summary="The readiness checks of /readyz: database, migrations, wallet, worker",
)
def health(call: Call) -> dict[str, Any]:
    checks = readiness(call.runtime)
    return {
        "status": "ready" if all(c.ok for c in checks) else "not ready",
        "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
    }


@api(
    "GET",
    "/activity",
    role="VIEWER",
    tag="status",
    summary="Calls, faults, deliveries and parks per minute",
    params=(Param("minutes", "How many minutes back (1 to 1440; 60)", "integer"),),
)
def activity(call: Call) -> dict[str, Any]:
    return activity_of(call, call.number("minutes", 60, least=1, most=1440))
