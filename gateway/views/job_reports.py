"""What the operator's jobs report, as rows: a jeopardy check (``omgw jeopardy check``)
and routing an order's lines again (``omgw rule reroute``), printed by the CLI and
answered by the console's API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.orders.jeopardy import JeopardyReport
from gateway.outbox.message_filter import iso
from gateway.persistence.models import FulfillLine

__all__ = ["jeopardy_rows", "reroute_rows"]


def jeopardy_rows(report: JeopardyReport) -> list[dict[str, Any]]:
    """One row per line in jeopardy."""
    return [
        {
            "order": ln.order_number,
            "line": ln.line_number,
            "fulfill_line": ln.fulfill_line_id,
            "task_type": ln.task_type,
            "status": ln.status,
            "step_due": iso(ln.step_due),
            "delay_minutes": ln.delay_minutes,
            "priority": ln.priority,
            "raised": ln.rose,
        }
        for ln in report.in_jeopardy
    ]


def reroute_rows(tried: Iterable[FulfillLine]) -> list[dict[str, Any]]:
    """One row per line routed again: where it stands now, by which rule and version."""
    return [
        {
            "fulfill_line": f.id,
            "status": f.status,
            "rule": f.routing_rule_id,
            "version": f.rule_set_version,
            "error": f.routing_error,
        }
        for f in tried
    ]
