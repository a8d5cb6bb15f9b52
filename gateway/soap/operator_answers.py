"""The operator's paths beside the services: ``/healthz`` (the process answers),
``/readyz`` (it can work) and ``/metrics`` (Prometheus' exposition)."""

from __future__ import annotations

import threading
import time

from gateway.observe import metrics
from gateway.observe.ops_snapshot import OpsSnapshot, read_snapshot, thresholds
from gateway.observe.readiness import readiness_answer
from gateway.persistence.models import utcnow
from gateway.runtime import Runtime
from gateway.soap.endpoints import Answer

__all__ = ["OPERATOR_PATHS", "OperatorAnswers"]

OPERATOR_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_TEXT = [("Content-Type", "text/plain")]


class OperatorAnswers:
    """Answers the operator's paths; scrapes share one snapshot for a while."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._lock = threading.Lock()
        self._held: tuple[float, OpsSnapshot] | None = None

    def answer(self, path: str) -> Answer:
        """The answer to one of :data:`OPERATOR_PATHS`."""
        if path == "/healthz":
            return "200 OK", list(_TEXT), b"ok\n"
        if path == "/readyz":
            status, body = readiness_answer(self._runtime)
            return status, [("Content-Type", "application/json")], body
        if not self._runtime.settings.metrics:
            return "404 Not Found", list(_TEXT), b"metrics are off (OMGW_METRICS=0)\n"
        body = metrics.exposition(self._snapshot)
        return "200 OK", [("Content-Type", metrics.CONTENT_TYPE)], body

    def _snapshot(self) -> OpsSnapshot:
        """The snapshot of at most ``OMGW_METRICS_CACHE_SECONDS`` ago: scrapes share one
        read (in a large database it takes a second, and holds a request thread)."""
        with self._lock:
            held = self._held
            fresh_for = self._runtime.settings.metrics_cache_seconds
            if held is not None and time.monotonic() - held[0] < fresh_for:
                return held[1]
            with self._runtime.read_sessions() as s:
                snap = read_snapshot(s, utcnow(), thresholds(self._runtime.settings))
            self._held = (time.monotonic(), snap)
            return snap
