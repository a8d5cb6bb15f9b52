"""What ``omgw orders show`` prints about an order, as plain data; nothing here prints.

The order's record (:func:`gateway.views.order_history.order_history`) is turned into
the header's fields and, for each table the command prints, its rows and its
(key, heading) columns. :mod:`gateway.cli.orders_commands` prints them in order; keeping
the layout here lets a reader see every section's content without the printing.
"""

from __future__ import annotations

from typing import Any

from gateway.cli.output import shorten

__all__ = [
    "FULFILLMENT_LINE_COLUMNS",
    "HOLD_COLUMNS",
    "LINE_COLUMNS",
    "MESSAGE_COLUMNS",
    "REQUEST_COLUMNS",
    "STATUS_HISTORY_COLUMNS",
    "fulfillment_rows",
    "header_fields",
    "message_row",
    "refused_changes",
]

Columns = list[tuple[str, str]]

LINE_COLUMNS: Columns = [
    ("line_number", "LINE"),
    ("source_line_id", "SOURCE LINE"),
    ("item", "ITEM"),
    ("quantity", "QTY"),
    ("uom", "UOM"),
    ("ship_set", "SHIP SET"),
    ("status", "STATUS"),
]
FULFILLMENT_LINE_COLUMNS: Columns = [
    ("line", "LINE"),
    ("id", "ID"),
    ("number", "NO"),
    ("quantity", "QTY"),
    ("shipped_quantity", "SHIPPED"),
    ("status", "STATUS"),
    ("task_type", "TASK"),
    ("warehouse", "WAREHOUSE"),
    ("scheduled_ship_date", "SHIP DATE"),
    ("request_id", "REQUEST"),
    ("fulfillment_system", "SYSTEM"),
    ("connector", "CONNECTOR"),
    ("routing", "ROUTING"),
    ("tracking_number", "TRACKING"),
    ("billing_number", "BILLING"),
    ("jeopardy_priority", "JEOPARDY"),
    ("change_request_id", "WAITS ON"),
    ("comments", "COMMENTS"),
]
HOLD_COLUMNS: Columns = [
    ("hold", "HOLD"),
    ("line", "LINE"),
    ("comments", "COMMENTS"),
    ("applied_by", "BY"),
    ("applied_at", "APPLIED"),
    ("released_at", "RELEASED"),
]
REQUEST_COLUMNS: Columns = [
    ("id", "ID"),
    ("revision", "REV"),
    ("task_type", "TASK"),
    ("operation", "OPERATION"),
    ("fulfillment_system", "SYSTEM"),
    ("connector", "CONNECTOR"),
    ("status", "STATUS"),
    ("acknowledged", "ACKNOWLEDGED"),
    ("ack_error", "ERROR"),
]
STATUS_HISTORY_COLUMNS: Columns = [
    ("at", "AT"),
    ("revision", "REV"),
    ("entity", "ENTITY"),
    ("entity_id", "ID"),
    ("old_status", "FROM"),
    ("new_status", "TO"),
    ("reason", "REASON"),
]
MESSAGE_COLUMNS: Columns = [
    ("at", "AT"),
    ("direction", "DIR"),
    ("party", "SERVICE/CONNECTOR"),
    ("operation", "OPERATION"),
    ("message_id", "MESSAGE ID"),
    ("state", "STATUS"),
    ("detail", "DETAIL"),
]


def header_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The order's own fields, labelled as the header block shows them."""
    return {
        "order": record["order_number"],
        "status": record["status"],
        "source": f"{record['source_system']} {record['source_order_number']} "
        f"(id {record['source_order_id']})",
        "revision": _revision(record),
        "customer": _customer(record["customer"]),
        "currency": record["currency"],
        "business unit": record["business_unit"],
        "kept as sent": _kept(record),
        "created": record["created"],
        "updated": record["updated"],
    }


def _revision(record: dict[str, Any]) -> str:
    """The current revision, and every revision of the order when there are several."""
    revisions = record["revisions"]
    return record["revision"] + (
        f" (of {', '.join(r['revision'] for r in revisions)})" if len(revisions) > 1 else ""
    )


def _customer(customer: dict[str, Any]) -> str | None:
    """Name, ``#number`` and ``PO number`` of the buying party, those it has."""
    return (
        " ".join(
            p
            for p in (
                customer["name"],
                f"#{customer['number']}" if customer["number"] else None,
                f"PO {customer['po_number']}" if customer["po_number"] else None,
            )
            if p
        )
        or None
    )


def _kept(record: dict[str, Any]) -> str | None:
    """How many attributes beyond omgw's columns the order, its lines and fulfillment
    lines were sent with (``--json`` shows them)."""
    count = len(record["attributes"]) + sum(
        len(line["attributes"]) + sum(len(fl["attributes"]) for fl in line["fulfill_lines"])
        for line in record["lines"]
    )
    return f"{count} attributes (see --json)" if count else None


def fulfillment_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every fulfillment line of every order line, with its order line's number, where
    routing sent it and why its last change was refused, each cut to one table cell."""
    return [
        {
            **fl,
            "line": line["line_number"],
            "routing": shorten(_routing(fl)),
            "comments": shorten(fl["change_error"]),
        }
        for line in record["lines"]
        for fl in line["fulfill_lines"]
    ]


def _routing(fl: dict[str, Any]) -> str | None:
    if fl["routing_error"]:
        return f"error: {fl['routing_error']}"
    if fl["routing_rule"]:
        return f"rule {fl['routing_rule']} (v{fl['routing_version']})"
    if fl["routing_version"] is not None:
        return f"default (v{fl['routing_version']})"
    return None


def refused_changes(flines: list[dict[str, Any]]) -> list[str]:
    """One line of text per fulfillment line whose last change was refused, in full."""
    return [
        f"  fulfillment line {fl['id']}: {fl['change_error']}"
        for fl in flines
        if fl["change_error"]
    ]


def message_row(m: dict[str, Any]) -> dict[str, Any]:
    """A message as a row of the messages table: inbound ones by service and outcome,
    outbound ones by connector, delivery status and attempts."""
    if m["direction"] == "IN":
        return {**m, "party": m["service"], "state": m["outcome"], "detail": m["fault_code"]}
    detail = f"{m['attempts']} attempt(s)"
    if m["uncertain"]:
        detail += ", uncertain"
    if m["last_error"]:
        detail += f"; {shorten(m['last_error'])}"
    return {
        **m,
        "party": m["connector"],
        "state": m["status"],
        "detail": f"#{m['outbox_id']} {detail}",
    }
