"""The messages pages: the outbox and the inbound log with their filters, one message
with its payload redacted, and replay behind a confirmation page that shows, from a dry
run, what would go out again and what the Replayer refuses without force."""

from __future__ import annotations

from typing import Any

from gateway.errors import ValidationError
from gateway.manage.api_messages import (
    inbound_filter,
    inbound_message,
    inbound_messages,
    outbound_filter,
    outbound_message,
    outbound_messages,
    replay_filter,
    run_replay,
)
from gateway.manage.web_routes import Call, Page, Redirect, page
from gateway.outbox.message_filter import KINDS, STATUSES
from gateway.outbox.replay_verdicts import REFUSED, REPLAYED, ReplayResult

__all__ = [
    "back_to",
    "confirm_replay",
    "inbound_list_page",
    "inbound_page",
    "message_page",
    "messages_page",
    "replay_now",
    "selection",
]

_OUT_FIELDS = ("status", "kind", "connector", "order", "message_id", "since", "until")
_IN_FIELDS = ("operation", "user", "fault_code", "order", "message_id", "since", "until")
#: the selectors a replay is named by, as the confirmation page carries them
_SELECTORS = ("status", "kind", "connector", "order", "since", "until")


def _asked(call: Call, fields: tuple[str, ...]) -> dict[str, str]:
    return {name: call.arg(name) or "" for name in fields}


@page("GET", "/messages", role="VIEWER", summary="Outbound messages")
def messages_page(call: Call) -> Page:
    f = outbound_filter(call)
    query = call.request.query_string.decode("latin-1")
    return Page(
        "messages.html",
        {
            "title": "Messages",
            "inbound": False,
            "asked": _asked(call, _OUT_FIELDS),
            "rows": outbound_messages(call, f),
            "statuses": STATUSES,
            "kinds": tuple(KINDS),
            "selects": f.selects,
            "replay_query": query,
            "described": f.describe(),
        },
    )


@page("GET", "/messages/inbound", role="VIEWER", summary="Inbound messages (the log)")
def inbound_list_page(call: Call) -> Page:
    asked = _asked(call, _IN_FIELDS)
    asked["faults"] = "1" if call.flag("faults") else ""
    return Page(
        "messages.html",
        {
            "title": "Inbound messages",
            "inbound": True,
            "asked": asked,
            "rows": inbound_messages(call, inbound_filter(call)),
        },
    )


@page("GET", "/messages/inbound/<int:id>", role="VIEWER", summary="One inbound message")
def inbound_page(call: Call, id: int) -> Page:
    record = inbound_message(call, id)
    return Page("inbound_message.html", {"title": f"Inbound message {id}", "m": record})


@page("GET", "/messages/<key>", role="VIEWER", summary="One outbound message")
def message_page(call: Call, key: str) -> Page:
    record = outbound_message(call, key)
    return Page("message.html", {"title": f"Message {record['id']}", "m": record})


def selection(call: Call) -> dict[str, Any]:
    values: dict[str, Any] = {name: call.arg(name) for name in _SELECTORS}
    values["id"] = list(call.args("id"))
    values["message_id"] = list(call.args("message_id"))
    return values


def back_to(call: Call) -> str:
    """Where to go after a replay: the list it was asked from, or the one message."""
    back = call.arg("back") or ""
    if back.startswith("/messages") and "//" not in back and "\\" not in back:
        return back
    return "/messages"


@page("GET", "/messages/replay", role="OPERATOR", summary="Confirm a replay (a dry run)")
def confirm_replay(call: Call) -> Page:
    f = replay_filter(selection(call))
    result = run_replay(call, f, force=False, dry_run=True)
    # what is confirmed is what was shown: the rows by id, whatever has changed since
    shown = [i for i in result.items if i.id is not None and i.verdict in (REPLAYED, REFUSED)]
    once_only = [i for i in result.refused if i.task_type in ("Shipment", "Invoice")]
    single = len(f.ids) == 1 and not f.message_ids
    back = back_to(call) if call.arg("back") or not single else f"/messages/{f.ids[0]}"
    return Page(
        "replay_confirm.html",
        {
            "title": "Replay messages",
            "result": result,
            "described": f.describe(),
            "ids": [i.id for i in shown],
            "would": len(result.replayed),
            "once_only": once_only,
            "back": back,
        },
    )


def _notice(result: ReplayResult) -> str:
    n = len(result.replayed)
    said = (
        f"{n} message(s) replayed: the worker sends them again with the same MessageID"
        if n
        else "nothing was replayed"
    )
    problem = result.problem("force")
    return f"{said}. {problem}" if problem else said


@page("POST", "/messages/replay", role="OPERATOR", summary="Replay messages")
def replay_now(call: Call) -> Redirect:
    ids = call.args("id")
    if not ids:
        raise ValidationError("MISSING_KEY", "say which messages to replay: no id was sent")
    f = replay_filter({"id": list(ids)})
    result = run_replay(call, f, force=call.flag("force"), dry_run=False)
    to = f"/messages/{ids[0]}" if len(ids) == 1 else back_to(call)
    return Redirect(to, notice=_notice(result))
