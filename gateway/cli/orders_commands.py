"""``omgw orders list|show``: orders, their lines and everything that happened to them."""

from __future__ import annotations

from typing import Any

import click

from gateway.cli.invocation import Context, pass_context
from gateway.cli.order_text import (
    FULFILLMENT_LINE_COLUMNS,
    HOLD_COLUMNS,
    LINE_COLUMNS,
    MESSAGE_COLUMNS,
    REQUEST_COLUMNS,
    STATUS_HISTORY_COLUMNS,
    fulfillment_rows,
    header_fields,
    message_row,
    refused_changes,
)
from gateway.cli.output import emit_record, emit_table, json_option
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
    _print_order(record)


def _print_order(record: dict[str, Any]) -> None:
    """The order as text: its header, then one titled section per kind of thing."""
    emit_record(header_fields(record), False)
    _section("lines")
    emit_table(record["lines"], LINE_COLUMNS, False)
    flines = fulfillment_rows(record)
    _section("fulfillment lines")
    emit_table(flines, FULFILLMENT_LINE_COLUMNS, False)
    _print_refused_changes(flines)
    _print_holds(record["holds"])
    _section("fulfillment requests")
    emit_table(record["requests"], REQUEST_COLUMNS, False)
    _section("status history")
    emit_table(record["status_history"], STATUS_HISTORY_COLUMNS, False)
    _section("messages")
    emit_table([message_row(m) for m in record["messages"]], MESSAGE_COLUMNS, False)


def _section(title: str) -> None:
    click.echo("")
    click.echo(f"{title}:")


def _print_refused_changes(flines: list[dict[str, Any]]) -> None:
    """Each refused change in full (the table's COMMENTS cut it short); nothing when none."""
    refused = refused_changes(flines)
    if refused:
        _section("changes refused")
        for text in refused:
            click.echo(text)


def _print_holds(holds: list[dict[str, Any]]) -> None:
    """The order's holds; the section is left out when it has none."""
    if holds:
        _section("holds")
        emit_table(holds, HOLD_COLUMNS, False)
