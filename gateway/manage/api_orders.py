"""Orders as ``omgw orders list|show`` give them (found by omgw's number, the source
system's number, the customer's PO, their status or their lines' status, and when they
were created), and holds as ``omgw hold`` applies and releases them, through the same
domain code. The read and change functions here serve the pages too
(:mod:`.page_orders`)."""

from __future__ import annotations

from typing import Any

from gateway.errors import ValidationError
from gateway.lifecycle import FLINE_TRANSITIONS, HEADER_TRANSITIONS
from gateway.manage.web_routes import Call, Param, api, when_arg
from gateway.orders.hold_service import HoldService, HoldTarget
from gateway.persistence.models import row_id
from gateway.views.message_lines import request_lines
from gateway.views.order_history import list_orders, order_history
from gateway.views.order_lookup import OrderKey

__all__ = [
    "SEARCH_PARAMS",
    "apply_hold",
    "find_orders",
    "hold_applied",
    "hold_released",
    "order",
    "order_of",
    "orders",
    "release_hold",
]

_TAG = "orders"
HEADER_STATUSES = tuple(sorted(HEADER_TRANSITIONS))
LINE_STATUSES = tuple(sorted(FLINE_TRANSITIONS))
SEARCH_PARAMS = (
    Param("number", "omgw's order number"),
    Param("source_number", "The source system's number (SourceTransactionNumber)"),
    Param("source_system", "The source system (SourceTransactionSystem)"),
    Param("po", "The customer's PO number (CustomerPONumber)"),
    Param("status", "Only orders in this status (the order's own)", enum=HEADER_STATUSES),
    Param(
        "line_status",
        "Only orders with an order line or fulfillment line in this status",
        enum=LINE_STATUSES,
    ),
    Param("since", "Created at or after: ISO 8601 with a time zone, or a date"),
    Param("until", "Created before: ISO 8601 with a time zone, or a date"),
    Param("all_revisions", "Include revisions a newer one superseded", "boolean"),
    Param("limit", "How many at most, newest first (1 to 1000; 50)", "integer"),
)
_HOLD_BODY = {
    "type": "object",
    "required": ["hold"],
    "properties": {
        "hold": {"type": "string", "description": "The hold code"},
        "line": {"type": "integer", "description": "An order line number; none: the order"},
        "comments": {"type": "string"},
        "reason": {"type": "string", "description": "Release only: a reason code"},
    },
}


def _choice(call: Call, name: str, allowed: tuple[str, ...]) -> str | None:
    value = call.arg(name)
    if value is None:
        return None
    if value.upper() not in allowed:
        raise ValidationError(
            "PARAMETER_INVALID", f"{name} must be one of {', '.join(allowed)}, not {value!r}"
        )
    return value.upper()


def find_orders(call: Call) -> list[dict[str, Any]]:
    """The orders a search's query names, newest first (``omgw orders list``)."""
    key = OrderKey(
        source_number=call.arg("source_number"),
        source_system=call.arg("source_system"),
        po_number=call.arg("po"),
    )
    with call.reading() as s:
        return list_orders(
            s,
            status=_choice(call, "status", HEADER_STATUSES),
            key=key,
            line_status=_choice(call, "line_status", LINE_STATUSES),
            limit=call.number("limit", 50, least=1, most=1000),
            all_revisions=call.flag("all_revisions"),
            number=call.arg("number"),
            since=when_arg("since", call.arg("since")),
            until=when_arg("until", call.arg("until")),
        )


def order_of(call: Call, number: str, *, lines: bool = False) -> dict[str, Any]:
    """One order's whole story (``omgw orders show --json``); with ``lines``, also the
    fulfillment lines each outbound request carried (``message_lines``, by outbox id)."""
    with call.reading() as s:
        record = order_history(s, number, keys=lambda: call.runtime.secret_box)
        if lines:
            outbox_ids = [m["outbox_id"] for m in record["messages"] if m["direction"] == "OUT"]
            record["message_lines"] = request_lines(s, outbox_ids)
    return record


def _line(value: Any) -> int | None:
    if value is None or value == "":
        return None
    number = None if isinstance(value, bool) else row_id(str(value))
    if not number:
        raise ValidationError("PARAMETER_INVALID", f"line must be a line number, not {value!r}")
    return number


def _text(values: dict[str, Any], name: str) -> str | None:
    value = values.get(name)
    return str(value).strip() or None if value is not None else None


def _holds(call: Call, session: Any) -> HoldService:
    settings = call.runtime.settings
    return HoldService(session, call.actor, settings.default_fulfillment_system, settings.reply_to)


def apply_hold(call: Call, number: str, values: dict[str, Any]) -> dict[str, Any]:
    """Apply a hold to the order or one of its lines, as ``omgw hold apply`` does."""
    line = _line(values.get("line"))
    target = HoldTarget(order_number=number, line_number=line)
    with call.writing() as s:
        row = _holds(call, s).apply_to(target, _text(values, "hold"), _text(values, "comments"))
        return {"order": number, "line": line, "hold": row.hold.hold_code,
                "applied_by": row.hold.applied_by}  # fmt: skip


def release_hold(call: Call, number: str, values: dict[str, Any]) -> dict[str, Any]:
    """Release a hold; what waited for it is requested, as ``omgw hold release`` does."""
    line = _line(values.get("line"))
    target = HoldTarget(order_number=number, line_number=line)
    with call.writing() as s:
        outcome = _holds(call, s).release_from(
            target, _text(values, "hold"), _text(values, "comments"), reason=_text(values, "reason")
        )
        return {"order": number, "line": line, "hold": outcome.hold.hold_code,
                "requested_fulfill_lines": [f.id for f in outcome.requested]}  # fmt: skip


def hold_applied(done: dict[str, Any]) -> str:
    where = f"order {done['order']}" + (f" line {done['line']}" if done["line"] else "")
    return f"hold {done['hold']} applied to {where}"


def hold_released(done: dict[str, Any]) -> str:
    where = f"order {done['order']}" + (f" line {done['line']}" if done["line"] else "")
    requested = len(done["requested_fulfill_lines"])
    more = f"; {requested} fulfillment line(s) requested now" if requested else ""
    return f"hold {done['hold']} released from {where}{more}"


# -- routes -----------------------------------------------------------------------------------


@api(
    "GET",
    "/orders",
    role="VIEWER",
    tag=_TAG,
    summary="Orders, newest first, found by number, source number, PO, status, line status "
    "or creation time (omgw orders list)",
    params=SEARCH_PARAMS,
    answer={"type": "array", "items": {"type": "object"}},
)
def orders(call: Call) -> list[dict[str, Any]]:
    return find_orders(call)


@api(
    "GET",
    "/orders/<number>",
    role="VIEWER",
    tag=_TAG,
    summary="One order: lines, fulfillment lines, holds, requests, status history and every "
    "message in and out (omgw orders show --json)",
)
def order(call: Call, number: str) -> dict[str, Any]:
    return order_of(call, number)


@api(
    "POST",
    "/orders/<number>/holds",
    role="OPERATOR",
    tag=_TAG,
    summary="Apply a hold to the order or one of its lines (omgw hold apply)",
    body=_HOLD_BODY,
)
def hold_apply(call: Call, number: str) -> dict[str, Any]:
    return apply_hold(call, number, call.body())


@api(
    "POST",
    "/orders/<number>/holds/release",
    role="OPERATOR",
    tag=_TAG,
    summary="Release a hold from the order or one of its lines; what waited is requested "
    "(omgw hold release)",
    body=_HOLD_BODY,
)
def hold_release(call: Call, number: str) -> dict[str, Any]:
    return release_hold(call, number, call.body())
