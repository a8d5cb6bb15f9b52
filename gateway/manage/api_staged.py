"""Staged orders and responses the background loop could not process, as ``omgw staged
list|retry|discard`` look after them (:mod:`gateway.orders.staged_work`), as JSON and as
a page with a retry and a discard button per row."""

from __future__ import annotations

from typing import Any

from gateway.errors import ValidationError
from gateway.manage.web_routes import Call, Page, Param, Redirect, api, page
from gateway.orders.staged_work import KINDS, discard, list_staged, retry

__all__ = [
    "discard_staged",
    "page_discard_staged",
    "page_retry_staged",
    "retry_staged",
    "staged",
    "staged_page",
]

_TAG = "staged"
_STATUSES = ("error", "staged", "discarded", "all")
_DISCARD_BODY = {
    "type": "object",
    "required": ["reason"],
    "properties": {"reason": {"type": "string", "description": "Why (kept and audited)"}},
}


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValidationError(
            "PARAMETER_INVALID", f"kind must be one of {', '.join(sorted(KINDS))}, not {kind!r}"
        )
    return kind


def _rows(call: Call) -> list[dict[str, Any]]:
    kind = call.arg("kind")
    status = (call.arg("status") or "error").lower()
    if status not in _STATUSES:
        raise ValidationError(
            "PARAMETER_INVALID", f"status must be one of {', '.join(_STATUSES)}, not {status!r}"
        )
    limit = call.number("limit", 100, least=1, most=10_000)
    with call.reading() as s:
        items = list_staged(
            s, _kind(kind) if kind else None, None if status == "all" else status, limit
        )
    return [i.to_json() for i in items]


def _reason(values: dict[str, Any]) -> str:
    reason = str(values.get("reason") or "").strip()
    if not reason:
        raise ValidationError("MISSING_KEY", "say why it is discarded: reason")
    return reason


@api(
    "GET",
    "/staged",
    role="VIEWER",
    tag=_TAG,
    summary="Staged orders and responses, newest first; those in ERROR by default "
    "(omgw staged list)",
    params=(
        Param("kind", "Only orders or only responses", enum=tuple(sorted(KINDS))),
        Param("status", "error (default), staged, discarded or all", enum=_STATUSES),
        Param("limit", "How many at most (1 to 10000; 100)", "integer"),
    ),
    answer={"type": "array", "items": {"type": "object"}},
)
def staged(call: Call) -> list[dict[str, Any]]:
    return _rows(call)


@api(
    "POST",
    "/staged/<kind>/<int:id>/retry",
    role="OPERATOR",
    tag=_TAG,
    summary="Put a staged row in ERROR back in the queue (omgw staged retry)",
)
def retry_staged(call: Call, kind: str, id: int) -> dict[str, Any]:
    with call.writing() as s:
        return retry(s, _kind(kind), id, call.actor).to_json()


@api(
    "POST",
    "/staged/<kind>/<int:id>/discard",
    role="OPERATOR",
    tag=_TAG,
    summary="Set a staged row in ERROR aside for good: its sender sends it anew "
    "(omgw staged discard)",
    body=_DISCARD_BODY,
)
def discard_staged(call: Call, kind: str, id: int) -> dict[str, Any]:
    reason = _reason(call.body())
    with call.writing() as s:
        return discard(s, _kind(kind), id, call.actor, reason).to_json()


@page("GET", "/staged", role="VIEWER", summary="Staged work in error")
def staged_page(call: Call) -> Page:
    asked = {"kind": call.arg("kind") or "", "status": (call.arg("status") or "error").lower()}
    return Page(
        "staged.html",
        {
            "title": "Staged work",
            "rows": _rows(call),
            "asked": asked,
            "kinds": sorted(KINDS),
            "statuses": _STATUSES,
        },
    )


@page("POST", "/staged/<kind>/<int:id>/retry", role="OPERATOR", summary="Retry staged work")
def page_retry_staged(call: Call, kind: str, id: int) -> Redirect:
    done = retry_staged(call, kind, id)
    return Redirect("/staged", notice=f"staged {kind} {id} ({done['key']}) is queued again")


@page("POST", "/staged/<kind>/<int:id>/discard", role="OPERATOR", summary="Discard staged work")
def page_discard_staged(call: Call, kind: str, id: int) -> Redirect:
    done = discard_staged(call, kind, id)
    return Redirect("/staged", notice=f"staged {kind} {id} ({done['key']}) is discarded")
