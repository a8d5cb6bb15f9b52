"""The dashboard: what needs a person, each connector's queue and breaker, and traffic
per minute, refreshed in the page from the status and activity APIs."""

from __future__ import annotations

from gateway.manage.api_status import activity_of, health, status_of
from gateway.manage.web_routes import Call, Page, page

__all__ = ["dashboard"]


@page("GET", "/", role="VIEWER", summary="The dashboard")
def dashboard(call: Call) -> Page:
    return Page(
        "dashboard.html",
        {
            "status": status_of(call),
            "activity": activity_of(call, 60),
            "health": health(call),
            "title": "Dashboard",
        },
    )
