"""``omgw jeopardy check``: compute every open line's delay and priority now (the worker
also runs it every ``OMGW_JEOPARDY_INTERVAL_SECONDS``) and raise the events it asks for."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from gateway.cli.context import Context, pass_context
from gateway.cli.output import emit_table, json_option
from gateway.orders.jeopardy import JeopardyCheck
from gateway.outbox.replay import iso

__all__ = ["check"]


@click.command(
    "check",
    help="Check every open fulfillment line for jeopardy now, store each line's delay and "
    "priority, and raise JEOPARDY events where the priority rose. Lists the lines in "
    "jeopardy.",
)
@click.option(
    "--at",
    "at",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
    help="Check as of this UTC time instead of now (to see what a later check will find).",
)
@json_option
@pass_context
def check(ctx: Context, at: datetime | None, as_json: bool) -> None:
    when = at.replace(tzinfo=UTC) if at is not None else None
    with ctx.transaction() as (_rt, s):
        report = JeopardyCheck(s).run(when)
    rows = [
        {
            "order": ln.order_number,
            "line": ln.line_number,
            "fulfill_line": ln.fulfill_line_id,
            "task_type": ln.task_type,
            "status": ln.status,
            "step_due": iso(ln.step_due),
            "delay_minutes": ln.delay_minutes,
            "priority": ln.priority,
            "raised": ln.rose,
        }
        for ln in report.in_jeopardy
    ]
    if not as_json:
        click.echo(
            f"{report.checked} open line(s) checked; {len(rows)} in jeopardy; "
            f"{len(report.raised)} rose in priority"
        )
    emit_table(
        rows,
        [
            ("order", "ORDER"),
            ("line", "LINE"),
            ("fulfill_line", "FL"),
            ("task_type", "TASK"),
            ("status", "STATUS"),
            ("step_due", "STEP DUE"),
            ("delay_minutes", "DELAY (MIN)"),
            ("priority", "PRIORITY"),
            ("raised", "RAISED"),
        ],
        as_json,
    )
