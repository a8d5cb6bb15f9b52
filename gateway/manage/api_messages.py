"""Messages in and out, as ``omgw messages list|show|replay`` give them: the outbox
(fulfillment requests, business events, e-mails) and the inbound message log, one message
with its payload redacted, and replay with the CLI's selectors, ``force`` guard and dry
run. The read and replay functions here serve the pages too (:mod:`.page_messages`)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from gateway.errors import NotFoundError, ValidationError
from gateway.manage.web_routes import Call, Param, api, when_arg
from gateway.outbox.message_filter import KINDS, STATUSES, MessageFilter
from gateway.outbox.message_listing import list_messages, message_detail
from gateway.outbox.replay import Replayer
from gateway.outbox.replay_verdicts import ReplayResult
from gateway.persistence import audit_trail
from gateway.persistence.models import row_id
from gateway.views.inbound_messages import InboundFilter, inbound_detail, list_inbound

__all__ = [
    "FILTER_PARAMS",
    "INBOUND_PARAMS",
    "SELECTOR_PROPERTIES",
    "inbound_filter",
    "inbound_message",
    "inbound_messages",
    "message_history",
    "message_selection",
    "outbound_filter",
    "outbound_message",
    "outbound_messages",
    "replay",
    "replay_filter",
    "replay_messages",
    "report_answer",
    "run_replay",
    "text_of",
    "truth",
]

_TAG = "messages"
_WHEN = "ISO 8601 with a time zone, or a date (its 00:00 UTC)"
_LIMIT = Param("limit", "How many at most, newest first (1 to 1000; 50)", "integer")

#: the outbound selectors, shared by the list, replay and the pages' forms
FILTER_PARAMS = (
    Param("status", "Only messages in this status", enum=STATUSES),
    Param("kind", "Only fulfillment requests, business events or e-mails", enum=tuple(KINDS)),
    Param("connector", "Only messages to this connector (smtp: e-mails)"),
    Param("order", "Only messages about this order number"),
    Param("message_id", "Only this WS-Addressing MessageID", repeated=True),
    Param("since", f"Created at or after: {_WHEN}"),
    Param("until", f"Created before: {_WHEN}"),
)
INBOUND_PARAMS = (
    Param("operation", "Only calls of this operation (createOrders)"),
    Param("user", "Only calls this API user made"),
    Param("fault_code", "Only calls answered with this fault (AUTH_FAILED)"),
    Param("faults", "Only calls answered with a fault", "boolean"),
    Param("order", "Only calls that named this order number"),
    Param("message_id", "Only this WS-Addressing MessageID", repeated=True),
    Param("since", f"Logged at or after: {_WHEN}"),
    Param("until", f"Logged before: {_WHEN}"),
)

_SUMMARY = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "message_id": {"type": "string"},
        "created": {"type": "string"},
        "kind": {"type": "string"},
        "connector": {"type": "string"},
        "order_number": {"type": ["string", "null"]},
        "status": {"type": "string"},
        "attempts": {"type": "integer"},
        "uncertain": {"type": "boolean"},
        "last_error": {"type": ["string", "null"]},
    },
}
_REPORT = {
    "type": "object",
    "required": ["dry_run", "force", "replayed", "refused", "skipped", "messages"],
    "properties": {
        "dry_run": {"type": "boolean"},
        "force": {"type": "boolean"},
        "replayed": {"type": "integer"},
        "refused": {"type": "integer"},
        "skipped": {"type": "integer"},
        "messages": {"type": "array", "items": {"type": "object"}},
        "error": {"type": "object", "description": "REPLAY_INCOMPLETE: what was not replayed"},
    },
}
#: the selectors of a change's JSON body (replay, park, discard)
SELECTOR_PROPERTIES: dict[str, Any] = {
    "id": {"type": "array", "items": {"type": "integer"}},
    "message_id": {"type": "array", "items": {"type": "string"}},
    "status": {"type": "string", "enum": list(STATUSES)},
    "kind": {"type": "string", "enum": list(KINDS)},
    "connector": {"type": "string"},
    "order": {"type": "string"},
    "since": {"type": "string"},
    "until": {"type": "string"},
}
_REPLAY_BODY = {
    "type": "object",
    "description": "Name messages by id or message_id, or select them (PARKED ones unless "
    "status says otherwise)",
    "properties": {
        **SELECTOR_PROPERTIES,
        "force": {
            "type": "boolean",
            "description": "Also replay DELIVERED messages and uncertain Shipment/Invoice "
            "ones, which may create a second shipment or invoice",
        },
        "dry_run": {"type": "boolean", "description": "Say what would be replayed"},
    },
}


def _kind(text: str | None) -> str | None:
    if not text:
        return None
    kind = KINDS.get(text.strip().upper())
    if kind is None:
        raise ValidationError(
            "PARAMETER_INVALID", f"kind must be one of {', '.join(KINDS)}, not {text!r}"
        )
    return kind


def _status(text: str | None) -> str | None:
    if not text:
        return None
    if text.strip().upper() not in STATUSES:
        raise ValidationError(
            "PARAMETER_INVALID", f"status must be one of {', '.join(STATUSES)}, not {text!r}"
        )
    return text.strip().upper()


def outbound_filter(call: Call) -> MessageFilter:
    """The outbox selection a list's query (or a form) gives."""
    return MessageFilter(
        message_ids=call.args("message_id"),
        status=_status(call.arg("status")),
        kind=_kind(call.arg("kind")),
        connector=call.arg("connector"),
        order_number=call.arg("order"),
        since=when_arg("since", call.arg("since")),
        until=when_arg("until", call.arg("until")),
    )


def inbound_filter(call: Call) -> InboundFilter:
    return InboundFilter(
        operation=call.arg("operation"),
        user=call.arg("user"),
        fault_code=call.arg("fault_code"),
        faults=call.flag("faults"),
        order_number=call.arg("order"),
        message_ids=call.args("message_id"),
        since=when_arg("since", call.arg("since")),
        until=when_arg("until", call.arg("until")),
    )


def outbound_messages(call: Call, f: MessageFilter) -> list[dict[str, Any]]:
    limit = call.number("limit", 50, least=1, most=1000)
    with call.reading() as s:
        return list_messages(s, f, limit=limit, keys=lambda: call.runtime.secret_box)


def inbound_messages(call: Call, f: InboundFilter) -> list[dict[str, Any]]:
    limit = call.number("limit", 50, least=1, most=1000)
    with call.reading() as s:
        return [e.to_json() for e in list_inbound(s, f, limit=limit)]


def message_history(s: Session, message_id: str) -> list[dict[str, Any]]:
    """What people did to one outbox message (replays, parks …), oldest first."""
    found = audit_trail.entries(s, entity="outbox", key=message_id, limit=200)
    return [
        {
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "before": json.loads(e.before_json) if e.before_json else None,
            "after": json.loads(e.after_json) if e.after_json else None,
        }
        for e in reversed(found)
    ]


def outbound_message(call: Call, key: str) -> dict[str, Any]:
    """One outbox message by id or MessageID, its attempts, its payload redacted (no
    password, nonce or connector secret), and what people did to it."""
    with call.reading() as s:
        record = message_detail(s, key, payload=True, keys=lambda: call.runtime.secret_box)
        if record is None:
            raise NotFoundError(
                "MESSAGE_NOT_FOUND", f"no outbound message with id or message id {key}"
            )
        record["history"] = message_history(s, record["message_id"])
    return record


def inbound_message(call: Call, id_: int) -> dict[str, Any]:
    with call.reading() as s:
        detail = inbound_detail(s, id_)
    if detail is None:
        raise NotFoundError("MESSAGE_NOT_FOUND", f"no inbound message with id {id_}")
    return detail.to_json()


def _ids(values: Any) -> tuple[int, ...]:
    items = values if isinstance(values, list) else [values]
    out = []
    for v in items:
        if v is None or v == "":
            continue
        id_ = None if isinstance(v, bool) else row_id(str(v))
        if id_ is None:
            raise ValidationError("PARAMETER_INVALID", f"id must be a message's id, not {v!r}")
        out.append(id_)
    return tuple(out)


def text_of(name: str, value: Any) -> str | None:
    """A text value of a body or form, stripped; None when absent or empty. A JSON list,
    object or number is the caller's mistake, said as such, not read as its ``str()``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("PARAMETER_INVALID", f"{name} must be text, not {value!r}")
    return value.strip() or None


def _texts(name: str, values: Any) -> tuple[str, ...]:
    items = values if isinstance(values, list) else [values]
    return tuple(t for v in items if (t := text_of(name, v)) is not None)


def truth(name: str, value: Any) -> bool:
    """A flag of a body (true/false) or a form ("on", "1" ...). Anything else is refused:
    an empty object or list is no "false", and must not turn a dry run into a real one."""
    if isinstance(value, bool):
        return value
    if value is not None and not isinstance(value, (str, int)):
        raise ValidationError("PARAMETER_INVALID", f"{name} must be true or false, not {value!r}")
    text = str(value if value is not None else "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ValidationError("PARAMETER_INVALID", f"{name} must be true or false, not {value!r}")


def message_selection(values: dict[str, Any], default_status: str | None = None) -> MessageFilter:
    """The outbox rows a change names (a JSON body, or a form's fields): by
    ``id``/``message_id`` (any status unless ``status`` is given), or by the other
    selectors (``default_status`` unless ``status`` says otherwise)."""
    ids, message_ids = _ids(values.get("id")), _texts("message_id", values.get("message_id"))
    status = _status(text_of("status", values.get("status")))
    return MessageFilter(
        ids=ids,
        message_ids=message_ids,
        status=status or (None if ids or message_ids else default_status),
        kind=_kind(text_of("kind", values.get("kind"))),
        connector=text_of("connector", values.get("connector")),
        order_number=text_of("order", values.get("order")),
        since=when_arg("since", text_of("since", values.get("since"))),
        until=when_arg("until", text_of("until", values.get("until"))),
    )


def replay_filter(values: dict[str, Any]) -> MessageFilter:
    """The selection a replay names: ``PARKED`` rows unless named or ``status`` says
    otherwise, as ``omgw messages replay`` does."""
    return message_selection(values, "PARKED")


def run_replay(call: Call, f: MessageFilter, *, force: bool, dry_run: bool) -> ReplayResult:
    """Replay (or, dry, judge) the selection, audited as the caller: a dry run only reads."""
    if dry_run:
        with call.reading() as s:
            return Replayer(s, call.actor).replay(f, force=force, dry_run=True)
    with call.writing() as s:
        return Replayer(s, call.actor).replay(f, force=force)


def replay_messages(call: Call, values: dict[str, Any]) -> ReplayResult:
    return run_replay(
        call,
        replay_filter(values),
        force=truth("force", values.get("force")),
        dry_run=truth("dry_run", values.get("dry_run")),
    )


def report_answer(report: dict[str, Any], ok: bool, retry_after: int | None = None) -> Any:
    """A change's report: as the answer when everything selected was done, else the same
    report with status 409 (what was done stays done), and ``Retry-After`` when waiting
    a moment would let the rest through."""
    if ok:
        return report
    body = json.dumps(report, ensure_ascii=False, default=str)
    answer = Response(body, 409, mimetype="application/json")
    if retry_after is not None:
        answer.headers["Retry-After"] = str(retry_after)
    return answer


# -- routes -----------------------------------------------------------------------------------


@api(
    "GET",
    "/messages",
    role="VIEWER",
    tag=_TAG,
    summary="Outbound messages, newest first (omgw messages list)",
    params=(*FILTER_PARAMS, _LIMIT),
    answer={"type": "array", "items": _SUMMARY},
)
def messages(call: Call) -> list[dict[str, Any]]:
    return outbound_messages(call, outbound_filter(call))


@api(
    "GET",
    "/messages/inbound",
    role="VIEWER",
    tag=_TAG,
    summary="The inbound message log: every call answered, refusals included "
    "(omgw messages list --inbound)",
    params=(*INBOUND_PARAMS, _LIMIT),
    answer={"type": "array", "items": {"type": "object"}},
)
def inbound(call: Call) -> list[dict[str, Any]]:
    return inbound_messages(call, inbound_filter(call))


@api(
    "GET",
    "/messages/inbound/<int:id>",
    role="VIEWER",
    tag=_TAG,
    summary="One inbound call and its payload as logged, secrets blanked "
    "(omgw messages show --inbound)",
)
def inbound_one(call: Call, id: int) -> dict[str, Any]:
    return inbound_message(call, id)


@api(
    "GET",
    "/messages/<key>",
    role="VIEWER",
    tag=_TAG,
    summary="One outbound message by id or MessageID: its attempts, its payload redacted "
    "and what people did to it (omgw messages show --payload)",
)
def message(call: Call, key: str) -> dict[str, Any]:
    return outbound_message(call, key)


@api(
    "POST",
    "/messages/replay",
    role="OPERATOR",
    tag=_TAG,
    summary="Put messages back in the queue with the same MessageID (omgw messages replay); "
    "409 with the report when any selected one was not replayed (those that were, stay so)",
    body=_REPLAY_BODY,
    answer=_REPORT,
)
def replay(call: Call) -> Any:
    result = replay_messages(call, call.body())
    return report_answer(result.to_json(force='"force": true'), result.ok)
