"""A snapshot of everything a request could change, to prove a refused one changed nothing:
``before = snapshot(runtime)``, the request, then ``unchanged(runtime, before)``.

:data:`COVERED` names the tables the snapshot reads and :data:`NOT_WRITTEN_BY_A_REFUSAL`
the others, each with the reason a refused request may write it or cannot write it at
all; ``tests/unit/test_test_hygiene.py`` fails when a table is in neither, so a new table
is placed on purpose.
"""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.persistence.models import (
    FulfillLine,
    FulfillmentRequest,
    FulfillmentResponseRecord,
    Hold,
    MessageLog,
    OrderHeader,
    OrderLine,
    OutboxMessage,
    StagedOrder,
    StagedResponse,
    StatusHistory,
)
from gateway.runtime import Runtime

#: the tables :func:`snapshot` reads
COVERED = frozenset(
    {
        "order_headers",
        "order_lines",
        "fulfill_lines",
        "fulfillment_requests",
        "status_history",
        "fulfillment_responses",
        "staged_orders",
        "staged_responses",
        "holds",
        "outbox",
        "message_log",
    }
)

#: the tables left out, and why
NOT_WRITTEN_BY_A_REFUSAL = {
    # a refused caller is counted towards its lockout, and its nonce is spent whatever
    # the body held: both are the refusal's own record, as the FAULT log row is
    "used_nonces": "a nonce is spent by any request that carried it",
    "auth_failures": "a refused sign-in is counted, by design",
    # written by the outbox worker, the loops, the console and the CLI, never by a request
    "delivery_attempts": "the outbox worker's",
    "connector_health": "the outbox worker's",
    "worker_beats": "the loops'",
    "job_runs": "the loops'",
    "alerts": "the loops'",
    "wallet_state": "the outbox worker's",
    "console_sessions": "the console's",
    "audit_log": "the console's and the CLI's",
    "users": "setup's",
    "source_systems": "setup's",
    "value_maps": "setup's",
    "wallet_entries": "setup's",
    "connectors": "setup's",
    "task_types": "setup's",
    "tasks": "setup's",
    "task_services": "setup's",
    "processes": "setup's",
    "process_steps": "setup's",
    "routing_rules": "setup's",
    "routing_defaults": "setup's",
    "rule_set_versions": "setup's",
    "registry_stamp": "setup's",
    "trigger_points": "setup's",
    "trigger_point_connectors": "setup's",
    "jeopardy_thresholds": "setup's",
}


def snapshot(runtime: Runtime) -> dict[str, object]:
    """The rows of every :data:`COVERED` table, as :func:`unchanged` compares them."""
    with runtime.sessions() as s:
        return {
            "headers": s.execute(
                select(OrderHeader.id, OrderHeader.status).order_by(OrderHeader.id)
            ).all(),
            "lines": s.execute(select(OrderLine.id, OrderLine.status).order_by(OrderLine.id)).all(),
            "flines": s.execute(
                select(
                    FulfillLine.id,
                    FulfillLine.status,
                    FulfillLine.quantity,
                    FulfillLine.attributes_json,
                ).order_by(FulfillLine.id)
            ).all(),
            "requests": s.execute(
                select(FulfillmentRequest.id, FulfillmentRequest.status).order_by(
                    FulfillmentRequest.id
                )
            ).all(),
            "history": s.scalar(select(func.count()).select_from(StatusHistory)),
            "responses": s.scalar(select(func.count()).select_from(FulfillmentResponseRecord)),
            "staged": s.scalar(select(func.count()).select_from(StagedOrder))
            + s.scalar(select(func.count()).select_from(StagedResponse)),
            "holds": s.execute(select(Hold.id, Hold.released_at).order_by(Hold.id)).all(),
            "outbox": s.execute(
                select(OutboxMessage.id, OutboxMessage.status).order_by(OutboxMessage.id)
            ).all(),
            "message_log": s.execute(
                select(MessageLog.id, MessageLog.outcome).order_by(MessageLog.id)
            ).all(),
        }


def unchanged(runtime: Runtime, before: dict[str, object], *, logged: str = "FAULT") -> None:
    """Assert that nothing in ``before`` changed but the message log, and that it only
    gained rows of outcome ``logged``: every request that reaches a service logs itself,
    a refused one as a FAULT, and a repeat that changes nothing else as OK."""
    after = snapshot(runtime)
    log_before, log_after = before.pop("message_log"), after.pop("message_log")
    try:
        assert after == before
        assert isinstance(log_before, list) and isinstance(log_after, list)
        assert log_after[: len(log_before)] == log_before
        assert {row.outcome for row in log_after[len(log_before) :]} <= {logged}
    finally:
        before["message_log"] = log_before
