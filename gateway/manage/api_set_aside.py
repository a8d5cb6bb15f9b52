"""Parking and discarding outbox messages, as ``omgw messages park|discard`` do
(:class:`gateway.outbox.set_aside.SetAside`): the same selectors as replay, a reason
(kept as each row's last error and in the audit log), ``force`` for discarding
fulfillment requests, and ``dry_run``. The functions here serve the pages too
(:mod:`.page_set_aside`)."""

from __future__ import annotations

from typing import Any

from gateway.manage.api_messages import (
    SELECTOR_PROPERTIES,
    message_selection,
    report_answer,
    text_of,
    truth,
)
from gateway.manage.web_routes import Call, api
from gateway.outbox.message_filter import MessageFilter
from gateway.outbox.set_aside import DISCARD, PARK, REASON_MAX, SetAside, SetAsideResult

__all__ = ["discard", "park", "set_aside", "set_aside_messages"]

_TAG = "messages"


def _body(action: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        **SELECTOR_PROPERTIES,
        "reason": {"type": "string", "maxLength": REASON_MAX, "description": "Why (required)"},
        "dry_run": {"type": "boolean", "description": "Say what would be done"},
    }
    if action == DISCARD:
        properties["force"] = {
            "type": "boolean",
            "description": "Also discard fulfillment requests: their lines then wait on "
            "nothing and their orders must be handled by hand",
        }
    return {"type": "object", "required": ["reason"], "properties": properties}


_REPORT = {
    "type": "object",
    "required": ["action", "dry_run", "force", "reason", "refused", "skipped", "messages"],
    "properties": {
        "action": {"type": "string", "enum": [PARK, DISCARD]},
        "messages": {"type": "array", "items": {"type": "object"}},
        "error": {"type": "object", "description": "PARK_INCOMPLETE or DISCARD_INCOMPLETE"},
    },
}


def set_aside(
    call: Call, action: str, f: MessageFilter, reason: str, *, force: bool, dry_run: bool
) -> SetAsideResult:
    """Park or discard the selection as the caller (a dry run only reads)."""
    if dry_run:
        with call.reading() as s:
            return _run(SetAside(s, call.actor), action, f, reason, force, dry_run=True)
    with call.writing() as s:
        return _run(SetAside(s, call.actor), action, f, reason, force, dry_run=False)


def _run(
    doer: SetAside, action: str, f: MessageFilter, reason: str, force: bool, *, dry_run: bool
) -> SetAsideResult:
    if action == PARK:
        return doer.park(f, reason=reason, dry_run=dry_run)
    return doer.discard(f, reason=reason, force=force, dry_run=dry_run)


def set_aside_messages(call: Call, action: str, values: dict[str, Any]) -> Any:
    result = set_aside(
        call,
        action,
        message_selection(values),
        text_of("reason", values.get("reason")) or "",
        force=action == DISCARD and truth("force", values.get("force")),
        dry_run=truth("dry_run", values.get("dry_run")),
    )
    return report_answer(result.to_json(), result.ok, result.retry_after)


@api(
    "POST",
    "/messages/park",
    role="OPERATOR",
    tag=_TAG,
    summary="Park READY messages: the worker stops sending them until replayed "
    "(omgw messages park); 409 with the report when any selected one was not parked",
    body=_body(PARK),
    answer=_REPORT,
)
def park(call: Call) -> Any:
    return set_aside_messages(call, PARK, call.body())


@api(
    "POST",
    "/messages/discard",
    role="OPERATOR",
    tag=_TAG,
    summary="Discard PARKED messages (READY ones named by id): never sent or replayed "
    "again (omgw messages discard); 409 with the report when any selected one was not",
    body=_body(DISCARD),
    answer=_REPORT,
)
def discard(call: Call) -> Any:
    return set_aside_messages(call, DISCARD, call.body())
