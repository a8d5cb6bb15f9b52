"""What needs a person, decided from a snapshot: pure, no I/O.

Each :class:`Finding` is one thing an operator should look at, with a stable key (the
alert it raises is one alert however often it is found), a severity, one line saying
what and since when, and the runbook under ``docs/runbooks/`` that says what to do.
``omgw status`` prints them, the monitor mails them, and ``/metrics`` exports the
numbers they are made of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.observe.ops_snapshot import EMAIL, ConnectorView, OpsSnapshot

__all__ = ["CRITICAL", "WARNING", "Finding", "age_text", "exit_code", "findings"]

CRITICAL, WARNING = "critical", "warning"
_EVENT_MODE = "BUSINESS_EVENT"


@dataclass(frozen=True)
class Finding:
    key: str
    severity: str
    summary: str
    #: the file under docs/runbooks/ (without .md) that says what to do
    runbook: str
    #: whether the monitor mails it (an alert about alert e-mails cannot be mailed)
    mailable: bool = True


def age_text(now: datetime, at: datetime | None, compact: bool = False) -> str:
    """How long ago ``at`` was, in the unit a person reads at a glance ("" for None);
    ``compact`` for a table column: ``90s``, ``5m``, ``30h``."""
    if at is None:
        return ""
    seconds = max(0, int((now - at).total_seconds()))
    s, m, h = ("s", "m", "h") if compact else (" s", " min", " h")
    if seconds < 120:
        return f"{seconds}{s}"
    if seconds < 7200:
        return f"{seconds // 60}{m}"
    if compact or seconds < 172800:
        return f"{seconds // 3600}{h}"
    return f"{seconds // 86400} d"


def _error(view: ConnectorView) -> str:
    if not view.last_error:
        return ""
    text = " ".join(view.last_error.split())
    return f"; last error: {text[:160]}"


def _connector(view: ConnectorView, now: datetime) -> list[Finding]:
    found: list[Finding] = []
    name = view.name
    broken = view.breaker != "CLOSED"
    if view.mode == _EVENT_MODE:
        if broken or view.parked:
            parts = []
            if broken:
                parts.append(f"breaker {view.breaker} for {age_text(now, view.breaker_since)}")
            if view.parked:
                parts.append(f"{view.parked} event(s) parked")
            found.append(
                Finding(
                    f"subscriber:{name}",
                    CRITICAL,
                    f"subscriber {name} is failing: {', '.join(parts)}{_error(view)}",
                    "subscriber-failing",
                )
            )
    else:
        if broken:
            found.append(
                Finding(
                    f"breaker:{name}",
                    CRITICAL,
                    f"connector {name}: circuit breaker {view.breaker} for "
                    f"{age_text(now, view.breaker_since)}, {view.ready} message(s) held"
                    f"{_error(view)}",
                    "breaker-open",
                )
            )
        if view.parked:
            what = "e-mail(s)" if name == EMAIL else "message(s)"
            found.append(
                Finding(
                    f"parked:{name}",
                    CRITICAL,
                    f"{name}: {view.parked} {what} parked; nothing sends them without a person",
                    "message-parked",
                )
            )
    if view.unacknowledged:
        found.append(
            Finding(
                f"unacknowledged:{name}",
                WARNING,
                f"{name}: {view.unacknowledged} request(s) delivered but not acknowledged, "
                f"the oldest for {age_text(now, view.oldest_unacknowledged_at)}",
                "request-unacknowledged",
            )
        )
    if view.no_response:
        found.append(
            Finding(
                f"no-response:{name}",
                WARNING,
                f"{name}: {view.no_response} acknowledged request(s) with lines still "
                "waiting for a shipment response",
                "no-response",
            )
        )
    if view.late_events:
        found.append(
            Finding(
                f"event-late:{name}",
                WARNING,
                f"{name}: {view.late_events} business event(s) not delivered, the oldest "
                f"written {age_text(now, view.oldest_ready_at)} ago",
                "event-undelivered",
            )
        )
    return found


def findings(snap: OpsSnapshot) -> list[Finding]:
    """Everything in ``snap`` that needs a person, most severe first."""
    now = snap.now
    found: list[Finding] = []
    for name in sorted(snap.connectors):
        found.extend(_connector(snap.connectors[name], now))
    if snap.routing_errors:
        found.append(
            Finding(
                "routing-error",
                CRITICAL,
                f"{snap.routing_errors} fulfillment line(s) in ROUTING_ERROR: no rule or "
                "connector takes them",
                "stuck-before-routing",
            )
        )
    if snap.stuck_before_routing:
        found.append(
            Finding(
                "not-routed",
                WARNING,
                f"{snap.stuck_before_routing} fulfillment line(s) not routed after "
                f"{int(snap.thresholds.stuck)} s",
                "stuck-before-routing",
            )
        )
    staged = snap.staged_order_errors + snap.staged_response_errors
    if staged:
        found.append(
            Finding(
                "staged-error",
                WARNING,
                f"staged work in ERROR: {snap.staged_order_errors} order(s), "
                f"{snap.staged_response_errors} fulfillment response(s)",
                "staged-error",
            )
        )
    latest = snap.latest_worker()
    if latest is None or (now - latest).total_seconds() > snap.thresholds.worker_silent:
        seen = "never seen" if latest is None else f"last seen {age_text(now, latest)} ago"
        found.append(
            Finding(
                "worker-silent",
                CRITICAL,
                f"no outbox worker is running ({seen}): nothing is delivered",
                "worker-silent",
                # its e-mail would wait for a worker: /readyz and omgw status say it
                mailable=False,
            )
        )
    if snap.alert_emails_parked:
        found.append(
            Finding(
                "alert-mail-parked",
                WARNING,
                f"{snap.alert_emails_parked} alert e-mail(s) parked: check OMGW_SMTP_HOST",
                "message-parked",
                mailable=False,
            )
        )
    return sorted(found, key=lambda f: f.severity != CRITICAL)


def exit_code(found: Sequence[Finding]) -> int:
    """0 when nothing needs a person, 1 for warnings only, 2 for anything critical (the
    convention monitoring plugins use)."""
    if any(f.severity == CRITICAL for f in found):
        return 2
    return 1 if found else 0
