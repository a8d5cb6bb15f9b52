"""``omgw hold apply|release|list``: stop an order or a line where it is, and let it go on.

Apply and release go through :class:`~gateway.orders.hold_service.HoldService`, as
``OrderHoldService`` does over SOAP; here a repeat is refused rather than answered.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select

from gateway.cli.invocation import Context, pass_context
from gateway.cli.output import emit_record, emit_table, json_option
from gateway.orders.hold_service import HoldService, HoldTarget
from gateway.outbox.message_filter import iso
from gateway.persistence.models import Hold, OrderHeader, OrderLine

__all__ = ["hold"]


@click.group(help="Holds on orders and order lines (a held line does not progress).")
def hold() -> None:
    pass


def _service(ctx: Context, runtime: Any, session: Any) -> HoldService:
    settings = runtime.settings
    return HoldService(session, ctx.actor, settings.default_fulfillment_system, settings.reply_to)


@hold.command("apply", help="Apply hold CODE to ORDER (or one of its lines with --line).")
@click.argument("order_number")
@click.argument("code")
@click.option("--line", "line_number", type=click.IntRange(1), help="The order line number.")
@click.option("--comments", help="Why (sent with the HOLD event).")
@json_option
@pass_context
def apply_(
    ctx: Context, order_number: str, code: str, line_number: int | None, comments: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    target = HoldTarget(order_number=order_number, line_number=line_number)
    with ctx.transaction() as (runtime, s):
        row = _service(ctx, runtime, s).apply_to(target, code, comments).hold
        record = {"order": order_number, "line": line_number, "hold": row.hold_code,
                  "applied_by": row.applied_by}  # fmt: skip
    if as_json:
        emit_record(record, True)
    else:
        where = f"order {order_number}" + (f" line {line_number}" if line_number else "")
        click.echo(f"hold {record['hold']} applied to {where}")


@hold.command("release", help="Release hold CODE from ORDER (or from one line with --line).")
@click.argument("order_number")
@click.argument("code")
@click.option("--line", "line_number", type=click.IntRange(1), help="The order line number.")
@click.option("--comments", help="Why it is released (sent with the HOLD event).")
@click.option("--reason", help="A release reason code, kept before the comments.")
@json_option
@pass_context
def release(
    ctx: Context, order_number: str, code: str, line_number: int | None, comments: str | None,
    reason: str | None, as_json: bool,
) -> None:  # fmt: skip
    target = HoldTarget(order_number=order_number, line_number=line_number)
    with ctx.transaction() as (runtime, s):
        outcome = _service(ctx, runtime, s).release_from(target, code, comments, reason=reason)
        row, requested = outcome.hold, outcome.requested
        record = {"order": order_number, "line": line_number, "hold": row.hold_code,
                  "requested_fulfill_lines": [f.id for f in requested]}  # fmt: skip
    if as_json:
        emit_record(record, True)
        return
    where = f"order {order_number}" + (f" line {line_number}" if line_number else "")
    click.echo(f"hold {record['hold']} released from {where}")
    if requested:
        click.echo(f"{len(requested)} fulfillment line(s) requested now")


@hold.command("list", help="List holds (active ones unless --all).")
@click.option("--order", "order_number", help="Only this order's holds.")
@click.option("--all", "show_all", is_flag=True, help="Include released holds.")
@json_option
@pass_context
def list_(ctx: Context, order_number: str | None, show_all: bool, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        stmt = (
            select(Hold, OrderHeader.order_number, OrderLine.line_number)
            .join(OrderHeader, OrderHeader.id == Hold.header_id)
            .outerjoin(OrderLine, OrderLine.id == Hold.order_line_id)
            .order_by(Hold.id)
        )
        if order_number:
            stmt = stmt.where(OrderHeader.order_number == order_number)
        if not show_all:
            stmt = stmt.where(Hold.released_at.is_(None))
        rows = [
            {
                "order": number,
                "line": line,
                "hold": h.hold_code,
                "comments": h.comments,
                "applied_by": h.applied_by,
                "applied_at": iso(h.applied_at),
                "released_at": iso(h.released_at),
                "released_by": h.released_by,
            }
            for h, number, line in s.execute(stmt)
        ]
    emit_table(
        rows,
        [
            ("order", "ORDER"),
            ("line", "LINE"),
            ("hold", "HOLD"),
            ("comments", "COMMENTS"),
            ("applied_by", "BY"),
            ("applied_at", "APPLIED"),
            ("released_at", "RELEASED"),
        ],
        as_json,
    )
