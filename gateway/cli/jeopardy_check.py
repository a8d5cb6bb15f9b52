"""``omgw jeopardy check``: compute every open line's delay and priority now (the
background loop also runs it every ``OMGW_JEOPARDY_INTERVAL_SECONDS``) and raise the events
it asks for;
with ``--at``, report what a check at that time would find, and change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from gateway.cli.invocation import Context, pass_context
from gateway.cli.output import emit_table, json_option
from gateway.orders.jeopardy import JeopardyCheck
from gateway.views.job_reports import jeopardy_rows

__all__ = ["check"]


@click.command(
    "check",
    help="Check every open fulfillment line for jeopardy now, store each line's delay and "
    "priority, and raise JEOPARDY events where the priority rose. Lists the lines in "
    "jeopardy. With --at, a dry run: what a check then would find and raise, with nothing "
    "stored and no event queued.",
)
@click.option(
    "--at",
    "at",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
    help="Report as of this UTC time instead of now, storing nothing and raising no event "
    "(to see what a later check will find).",
)
@json_option
@pass_context
def check(ctx: Context, at: datetime | None, as_json: bool) -> None:
    if at is None:
        with ctx.transaction() as (_rt, s):
            report = JeopardyCheck(s).run()
    else:
        # A check stores what it found as of now; one as of another time would store
        # delays no check at that time has made, and raise events before their time.
        with ctx.reading() as (_rt, s):
            report = JeopardyCheck(s).run(at.replace(tzinfo=UTC), dry_run=True)
    rows = jeopardy_rows(report)
    if not as_json:
        if at is None:
            click.echo(
                f"{report.checked} open line(s) checked; {len(rows)} in jeopardy; "
                f"{len(report.raised)} rose in priority"
            )
        else:
            click.echo(
                f"dry run as of {at.isoformat()} UTC, nothing stored: {report.checked} open "
                f"line(s) checked; {len(rows)} would be in jeopardy; {len(report.raised)} "
                "would rise in priority"
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
