"""Park and discard from the pages: a button on a message and on a filtered list leads
to a confirmation page that shows, from a dry run, what would be set aside and what is
refused (a message being sent; a fulfillment request, which discard takes only with
force), asks why, and posts the ids it showed."""

from __future__ import annotations

from gateway.errors import ValidationError
from gateway.manage.api_messages import message_selection
from gateway.manage.api_set_aside import set_aside
from gateway.manage.page_messages import back_to, selection
from gateway.manage.web_routes import Call, Page, Redirect, page
from gateway.outbox.replay_verdicts import REFUSED
from gateway.outbox.set_aside import DISCARD, DISCARDED, PARK, PARKED, SetAsideResult

__all__ = ["confirm_discard", "confirm_park", "discard_now", "park_now"]

_DONE = {PARK: PARKED, DISCARD: DISCARDED}
#: a dry run needs a reason; the real one is asked for on the page
_DRY_REASON = "asked on the confirmation page"


def _confirm(call: Call, action: str) -> Page:
    f = message_selection(selection(call))
    result = set_aside(call, action, f, _DRY_REASON, force=False, dry_run=True)
    shown = [i for i in result.items if i.id is not None and i.verdict in (_DONE[action], REFUSED)]
    single = len(f.ids) == 1 and not f.message_ids
    back = back_to(call) if call.arg("back") or not single else f"/messages/{f.ids[0]}"
    return Page(
        "set_aside_confirm.html",
        {
            "title": f"{action.capitalize()} messages",
            "action": action,
            "result": result,
            "ids": [i.id for i in shown],
            "would": len(result.changed),
            "requests": [i for i in result.refused if i.retry_after is None],
            "back": back,
        },
    )


def _notice(action: str, result: SetAsideResult) -> str:
    n = len(result.changed)
    said = (
        f"{n} message(s) {_DONE[action].lower()}" if n else f"nothing was {_DONE[action].lower()}"
    )
    return f"{said}. {result.problem}" if result.problem else said


def _now(call: Call, action: str) -> Redirect:
    ids = call.args("id")
    if not ids:
        raise ValidationError("MISSING_KEY", f"say which messages to {action}: no id was sent")
    f = message_selection({"id": list(ids)})
    force = action == DISCARD and call.flag("force")
    result = set_aside(call, action, f, call.arg("reason") or "", force=force, dry_run=False)
    to = f"/messages/{ids[0]}" if len(ids) == 1 else back_to(call)
    return Redirect(to, notice=_notice(action, result))


@page("GET", "/messages/park", role="OPERATOR", summary="Confirm parking (a dry run)")
def confirm_park(call: Call) -> Page:
    return _confirm(call, PARK)


@page("GET", "/messages/discard", role="OPERATOR", summary="Confirm discarding (a dry run)")
def confirm_discard(call: Call) -> Page:
    return _confirm(call, DISCARD)


@page("POST", "/messages/park", role="OPERATOR", summary="Park messages")
def park_now(call: Call) -> Redirect:
    return _now(call, PARK)


@page("POST", "/messages/discard", role="OPERATOR", summary="Discard messages")
def discard_now(call: Call) -> Redirect:
    return _now(call, DISCARD)
