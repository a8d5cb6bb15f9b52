"""The orders pages: a search form with its results, and one order with everything that
happened to it, its timeline drawn as a picture, and (for operators) its holds."""

from __future__ import annotations

from urllib.parse import quote

from gateway.manage.api_orders import (
    HEADER_STATUSES,
    LINE_STATUSES,
    apply_hold,
    find_orders,
    hold_applied,
    hold_released,
    order_of,
    release_hold,
)
from gateway.manage.timeline_layout import layout, timeline_of
from gateway.manage.web_routes import Call, Page, Redirect, page

__all__ = ["order_page", "orders_page", "page_apply_hold", "page_release_hold"]

_FIELDS = ("number", "source_number", "source_system", "po", "status", "line_status",
           "since", "until")  # fmt: skip


@page("GET", "/orders", role="VIEWER", summary="Find orders")
def orders_page(call: Call) -> Page:
    asked = {name: call.arg(name) or "" for name in _FIELDS}
    asked["all_revisions"] = "1" if call.flag("all_revisions") else ""
    return Page(
        "orders.html",
        {
            "title": "Orders",
            "asked": asked,
            "rows": find_orders(call),
            "statuses": HEADER_STATUSES,
            "line_statuses": LINE_STATUSES,
        },
    )


@page("GET", "/orders/<number>", role="VIEWER", summary="One order and its timeline")
def order_page(call: Call, number: str) -> Page:
    record = order_of(call, number, lines=True)
    lanes, events = timeline_of(record, record.pop("message_lines"))
    flines = [
        {**fl, "line": line["line_number"], "item": line["item"]}
        for line in record["lines"]
        for fl in line["fulfill_lines"]
    ]
    return Page(
        "order.html",
        {
            "title": f"Order {record['order_number']}",
            "o": record,
            "flines": flines,
            "drawing": layout(lanes, events),
            "active_holds": [h for h in record["holds"] if not h["released_at"]],
        },
    )


def _back(number: str) -> str:
    return f"/orders/{quote(number, safe='')}"


@page("POST", "/orders/<number>/holds", role="OPERATOR", summary="Apply a hold")
def page_apply_hold(call: Call, number: str) -> Redirect:
    return Redirect(_back(number), notice=hold_applied(apply_hold(call, number, call.body())))


@page("POST", "/orders/<number>/holds/release", role="OPERATOR", summary="Release a hold")
def page_release_hold(call: Call, number: str) -> Redirect:
    done = release_hold(call, number, call.body())
    return Redirect(_back(number), notice=hold_released(done))
