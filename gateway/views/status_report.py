"""What ``omgw status --json`` prints and the console's status API answers: the ops
snapshot and its findings as one JSON-ready record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.observe.findings import Finding, age_text, exit_code
from gateway.observe.ops_snapshot import OpsSnapshot
from gateway.outbox.message_filter import iso

__all__ = ["connector_rows", "finding_record", "status_record"]


def _age(now: datetime, at: datetime | None) -> str | None:
    return None if at is None else age_text(now, at, compact=True)


def connector_rows(snap: OpsSnapshot, as_json: bool) -> list[dict[str, Any]]:
    """One row per connector: its queue, parks, breaker and waits. Ages are ISO instants
    for JSON and short texts ("2m") for a table."""
    rows = []
    for name, v in sorted(snap.connectors.items()):
        rows.append(
            {
                "connector": name,
                "mode": v.mode,
                "enabled": v.enabled,
                "ready": v.ready,
                "oldest_ready": iso(v.oldest_ready_at)
                if as_json
                else _age(snap.now, v.oldest_ready_at),
                "parked": v.parked,
                "breaker": v.breaker,
                "breaker_for": iso(v.breaker_since) if as_json else _age(snap.now, v.breaker_since),
                "last_error": v.last_error if as_json else None,
                "unacknowledged": v.unacknowledged,
                "no_response": v.no_response,
                "late_events": v.late_events,
            }
        )
    return rows


def finding_record(f: Finding) -> dict[str, Any]:
    return {
        "key": f.key,
        "severity": f.severity,
        "summary": f.summary,
        "runbook": f"docs/runbooks/{f.runbook}.md",
    }


def status_record(snap: OpsSnapshot, found: list[Finding]) -> dict[str, Any]:
    return {
        "at": iso(snap.now),
        "exit_code": exit_code(found),
        "needs_a_person": [finding_record(f) for f in found],
        "connectors": connector_rows(snap, as_json=True),
        "workers": {w: iso(at) for w, at in sorted(snap.workers.items())},
        "jobs": {j: {"ran_at": iso(at), "did": d} for j, (at, d) in sorted(snap.jobs.items())},
        "lines_routing_error": snap.routing_errors,
        "lines_not_routed": snap.stuck_before_routing,
        "staged_errors": {
            "orders": snap.staged_order_errors,
            "responses": snap.staged_response_errors,
        },
        "alert_emails_parked": snap.alert_emails_parked,
        "orders_by_status": snap.orders_by_status,
        "lines_by_status": snap.lines_by_status,
    }
