"""The operator's jobs: a jeopardy check now (or a dry run as of a time), and routing an
order's lines in ``ROUTING_ERROR`` again after a rule is fixed; as the CLI's
``omgw jeopardy check`` and ``omgw rule reroute`` do, API and buttons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.errors import ValidationError
from gateway.manage.web_routes import Call, Page, Param, Redirect, api, page
from gateway.orders.intake import OrderIntake
from gateway.orders.jeopardy import JeopardyCheck
from gateway.views.job_reports import jeopardy_rows, reroute_rows

__all__ = [
    "jeopardy_button",
    "jeopardy_check",
    "jeopardy_page",
    "jeopardy_preview",
    "reroute",
    "reroute_button",
    "run_jeopardy",
    "run_reroute",
]


def _at(call: Call) -> datetime | None:
    text = call.arg("at")
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            "PARAMETER_INVALID", f"at must be an ISO 8601 time (2026-12-05T10:00), not {text!r}"
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def run_jeopardy(call: Call, at: datetime | None) -> dict[str, Any]:
    """A check now (stored, events raised), or as of ``at`` (a dry run: nothing changes)."""
    if at is None:
        with call.writing() as s:
            report = JeopardyCheck(s).run()
    else:
        with call.reading() as s:
            report = JeopardyCheck(s).run(at, dry_run=True)
    return {
        "dry_run": at is not None,
        "checked": report.checked,
        "raised": len(report.raised),
        "in_jeopardy": jeopardy_rows(report),
    }


def run_reroute(call: Call, number: str) -> dict[str, Any]:
    settings = call.runtime.settings
    with call.writing() as s:
        intake = OrderIntake(s, settings.default_fulfillment_system, settings.reply_to)
        _header, tried, unrouted = intake.reroute(number)
        rows = reroute_rows(tried)
    return {"order": number, "tried": len(tried), "unrouted": len(unrouted), "lines": rows}


@api(
    "GET",
    "/jeopardy",
    role="VIEWER",
    tag="jobs",
    summary="Lines in jeopardy as a check now would find them (a dry run: nothing stored)",
    params=(Param("at", "Report as of this UTC time (ISO 8601) instead of now"),),
)
def jeopardy_preview(call: Call) -> dict[str, Any]:
    return run_jeopardy(call, _at(call) or datetime.now(UTC))


@api(
    "POST",
    "/jeopardy/check",
    role="OPERATOR",
    tag="jobs",
    summary="Run the jeopardy check now: store each open line's delay, raise its events",
)
def jeopardy_check(call: Call) -> dict[str, Any]:
    return run_jeopardy(call, None)


@api(
    "POST",
    "/orders/<number>/reroute",
    role="OPERATOR",
    tag="jobs",
    summary="Route an order's ROUTING_ERROR lines again (after a rule is published)",
)
def reroute(call: Call, number: str) -> dict[str, Any]:
    return run_reroute(call, number)


@page("GET", "/jeopardy", role="VIEWER", summary="Lines in jeopardy")
def jeopardy_page(call: Call) -> Page:
    return Page(
        "jeopardy.html",
        {"report": run_jeopardy(call, _at(call) or datetime.now(UTC)), "title": "Jeopardy"},
    )


@page("POST", "/jeopardy/check", role="OPERATOR", summary="Run the jeopardy check now")
def jeopardy_button(call: Call) -> Redirect:
    done = run_jeopardy(call, None)
    return Redirect(
        "/jeopardy",
        f"checked {done['checked']} open line(s): {len(done['in_jeopardy'])} in jeopardy, "
        f"{done['raised']} rose in priority",
    )


@page("POST", "/orders/<number>/reroute", role="OPERATOR", summary="Route lines again")
def reroute_button(call: Call, number: str) -> Redirect:
    done = run_reroute(call, number)
    routed = done["tried"] - done["unrouted"]
    return Redirect(f"/orders/{number}", f"{routed} of {done['tried']} line(s) routed")
