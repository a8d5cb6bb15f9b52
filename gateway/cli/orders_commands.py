"""``omgw orders list|show``: orders, their lines and everything that happened to them."""

from __future__ import annotations

from typing import Any

import click

from gateway.cli.invocation import Context, pass_context
from gateway.cli.output import emit_record, emit_table, json_option, shorten
from gateway.lifecycle import FLINE_TRANSITIONS, HEADER_TRANSITIONS
from gateway.views.order_history import list_orders, order_history
from gateway.views.order_lookup import OrderKey, find_order_number

__all__ = ["orders"]


@click.group(help="Orders: their lines, fulfillment, status history and messages.")
def orders() -> None:
    pass


@orders.command("list", help="List orders, newest first (current revisions only by default).")
@click.option(
    "--status",
    type=click.Choice(sorted(HEADER_TRANSITIONS), case_sensitive=False),
    help="Only orders in this status (the order's own; see --line-status).",
)
@click.option(
    "--line-status",
    type=click.Choice(sorted(FLINE_TRANSITIONS), case_sensitive=False),
    help="Only orders with an order line or fulfillment line in this status.",
)
@click.option("--source-system", help="Only orders captured from this source system.")
@click.option(
    "--source-number", help="Only orders with this source number (SourceTransactionNumber)."
)
@click.option("--po", "po_number", help="Only orders with this customer PO (CustomerPONumber).")
@click.option("--all-revisions", is_flag=True, help="Include revisions a newer one superseded.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@json_option
@pass_context
def list_(
    ctx: Context,
    status: str | None,
    line_status: str | None,
    source_system: str | None,
    source_number: str | None,
    po_number: str | None,
    all_revisions: bool,
    limit: int,
    as_json: bool,
) -> None:
    key = OrderKey(source_number=source_number, source_system=source_system, po_number=po_number)
    with ctx.reading() as (_rt, s):
        rows = list_orders(
            s,
            status=status,
            key=key,
            line_status=line_status,
            limit=limit,
            all_revisions=all_revisions,
        )
    emit_table(
        rows,
        [
            ("order_number", "ORDER"),
            ("source_system", "SOURCE"),
            ("source_order_id", "SOURCE ID"),
            ("source_order_number", "SOURCE NUMBER"),
            ("revision", "REV"),
            ("status", "STATUS"),
            ("lines", "LINES"),
            ("fulfill_lines_open", "FL OPEN"),
            ("fulfill_lines_closed", "FL CLOSED"),
            ("created", "CREATED"),
        ],
        as_json,
    )


def _routing(fl: dict[str, Any]) -> str | None:
    if fl["routing_error"]:
        return f"error: {fl['routing_error']}"
    if fl["routing_rule"]:
        return f"rule {fl['routing_rule']} (v{fl['routing_version']})"
    if fl["routing_version"] is not None:
        return f"default (v{fl['routing_version']})"
    return None


def _section(title: str) -> None:
    click.echo("")
    click.echo(f"{title}:")


def _kept(record: dict[str, Any]) -> str | None:
    """How many attributes beyond omgw's columns the order, its lines and fulfillment
    lines were sent with (``--json`` shows them)."""
    count = len(record["attributes"]) + sum(
        len(line["attributes"]) + sum(len(fl["attributes"]) for fl in line["fulfill_lines"])
        for line in record["lines"]
    )
    return f"{count} attributes (see --json)" if count else None


@orders.command(
    "show",
    help="Show an order: lines, fulfillment, history and messages. Name it by its order "
    "number, or by its source number (with --source-system when several systems use it) "
    "or customer PO.",
)
@click.argument("order_number", required=False)
@click.option("--source-number", help="The source system's number (SourceTransactionNumber).")
@click.option("--source-system", help="The source system of --source-number or --po.")
@click.option("--po", "po_number", help="The customer's PO number (CustomerPONumber).")
@json_option
@pass_context
def show(
    ctx: Context,
    order_number: str | None,
    source_number: str | None,
    source_system: str | None,
    po_number: str | None,
    as_json: bool,
) -> None:
    key = OrderKey(source_number=source_number, source_system=source_system, po_number=po_number)
    if order_number is not None and key.given:
        raise click.UsageError(
            "name the order by ORDER_NUMBER or by --source-number/--po, not both"
        )
    if order_number is None and not (source_number or po_number):
        raise click.UsageError(
            "say which order: ORDER_NUMBER, --source-number or --po"
            + (" (--source-system only narrows those)" if source_system else "")
        )
    with ctx.reading() as (runtime, s):
        number = order_number if order_number is not None else find_order_number(s, key)
        record = order_history(s, number, keys=lambda: runtime.secret_box)
    if as_json:
        emit_record(record, True)
        return
    customer = record["customer"]
    revisions = record["revisions"]
    emit_record(
        {
            "order": record["order_number"],
            "status": record["status"],
            "source": f"{record['source_system']} {record['source_order_number']} "
            f"(id {record['source_order_id']})",
            "revision": record["revision"]
            + (
                f" (of {', '.join(r['revision'] for r in revisions)})" if len(revisions) > 1 else ""
            ),
            "customer": " ".join(
                p
                for p in (
                    customer["name"],
                    f"#{customer['number']}" if customer["number"] else None,
                    f"PO {customer['po_number']}" if customer["po_number"] else None,
                )
                if p
            )
            or None,
            "currency": record["currency"],
            "business unit": record["business_unit"],
            "kept as sent": _kept(record),
            "created": record["created"],
            "updated": record["updated"],
        },
        False,
    )
    _section("lines")
    emit_table(
        record["lines"],
        [
            ("line_number", "LINE"),
            ("source_line_id", "SOURCE LINE"),
            ("item", "ITEM"),
            ("quantity", "QTY"),
            ("uom", "UOM"),
            ("ship_set", "SHIP SET"),
            ("status", "STATUS"),
        ],
        False,
    )
    _section("fulfillment lines")
    flines = [
        {
            **fl,
            "line": line["line_number"],
            "routing": shorten(_routing(fl)),
            "comments": shorten(fl["change_error"]),
        }
        for line in record["lines"]
        for fl in line["fulfill_lines"]
    ]
    emit_table(
        flines,
        [
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
        ],
        False,
    )
    refused = [fl for fl in flines if fl["change_error"]]
    if refused:
        _section("changes refused")
        for fl in refused:
            click.echo(f"  fulfillment line {fl['id']}: {fl['change_error']}")
    if record["holds"]:
        _section("holds")
        emit_table(
            record["holds"],
            [
                ("hold", "HOLD"),
                ("line", "LINE"),
                ("comments", "COMMENTS"),
                ("applied_by", "BY"),
                ("applied_at", "APPLIED"),
                ("released_at", "RELEASED"),
            ],
            False,
        )
    _section("fulfillment requests")
    emit_table(
        record["requests"],
        [
            ("id", "ID"),
            ("revision", "REV"),
            ("task_type", "TASK"),
            ("operation", "OPERATION"),
            ("fulfillment_system", "SYSTEM"),
            ("connector", "CONNECTOR"),
            ("status", "STATUS"),
            ("acknowledged", "ACKNOWLEDGED"),
            ("ack_error", "ERROR"),
        ],
        False,
    )
    _section("status history")
    emit_table(
        record["status_history"],
        [
            ("at", "AT"),
            ("revision", "REV"),
            ("entity", "ENTITY"),
            ("entity_id", "ID"),
            ("old_status", "FROM"),
            ("new_status", "TO"),
            ("reason", "REASON"),
        ],
        False,
    )
    _section("messages")
    emit_table(
        [_message_row(m) for m in record["messages"]],
        [
            ("at", "AT"),
            ("direction", "DIR"),
            ("party", "SERVICE/CONNECTOR"),
            ("operation", "OPERATION"),
            ("message_id", "MESSAGE ID"),
            ("state", "STATUS"),
            ("detail", "DETAIL"),
        ],
        False,
    )


def _message_row(m: dict[str, Any]) -> dict[str, Any]:
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
