"""``omgw staged list|retry|discard``: staged orders and responses that failed."""

from __future__ import annotations

import click

from gateway.cli.invocation import Context, pass_context
from gateway.cli.output import emit_record, emit_table, json_option, shorten
from gateway.orders.staged_work import KINDS, discard, list_staged, retry

__all__ = ["staged"]

_KIND = click.Choice(sorted(KINDS))


@click.group(
    help="Staged orders (stageOrders) and responses (stageFulfillmentResponse) the "
    "background loop could not process: list them, retry them, discard them."
)
def staged() -> None:
    pass


@staged.command("list", help="List staged rows, newest first (those in ERROR by default).")
@click.option("--kind", type=_KIND, help="Only orders or only responses.")
@click.option(
    "--status",
    type=click.Choice(["error", "staged", "discarded", "all"]),
    default="error",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@json_option
@pass_context
def list_(ctx: Context, kind: str | None, status: str, limit: int, as_json: bool) -> None:
    with ctx.reading() as (_runtime, s):
        items = list_staged(s, kind, None if status == "all" else status, limit)
    rows = [i.to_json() for i in items]
    if not as_json:
        rows = [{**r, "error_message": shorten(r["error_message"], 70)} for r in rows]
    emit_table(
        rows,
        [("kind", "KIND"), ("id", "ID"), ("key", "KEY"), ("status", "STATUS"),
         ("staged_at", "STAGED"), ("error_code", "ERROR"), ("error_message", "WHY")],
        as_json,
    )  # fmt: skip


@staged.command(
    "retry",
    help="Put a staged row in ERROR back in the queue, once its cause is fixed: the "
    "background loop processes it again at its next pass.",
)
@click.argument("kind", type=_KIND)
@click.argument("row_id", type=int)
@json_option
@pass_context
def retry_(ctx: Context, kind: str, row_id: int, as_json: bool) -> None:
    with ctx.transaction() as (_runtime, s):
        item = retry(s, kind, row_id, ctx.actor)
    if as_json:
        emit_record(item.to_json(), True)
    else:
        click.echo(f"staged {kind} {row_id} ({item.key}) is queued again")


@staged.command(
    "discard", help="Set a staged row in ERROR aside for good: its sender sends it anew."
)
@click.argument("kind", type=_KIND)
@click.argument("row_id", type=int)
@click.option("--reason", required=True, help="Why (kept on the row and in the audit log).")
@json_option
@pass_context
def discard_(ctx: Context, kind: str, row_id: int, reason: str, as_json: bool) -> None:
    with ctx.transaction() as (_runtime, s):
        item = discard(s, kind, row_id, ctx.actor, reason)
    if as_json:
        emit_record(item.to_json(), True)
    else:
        click.echo(f"staged {kind} {row_id} ({item.key}) is discarded")
