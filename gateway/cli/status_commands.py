"""``omgw status``: one screen of what is waiting, what is broken, and what needs a person."""

from __future__ import annotations

import json
from datetime import datetime

import click

from gateway.cli.invocation import Context, pass_context
from gateway.cli.output import emit_table, json_option, shorten
from gateway.observe.findings import Finding, age_text, exit_code, findings
from gateway.observe.ops_snapshot import OpsSnapshot, read_snapshot, thresholds
from gateway.outbox.message_filter import iso
from gateway.persistence.models import utcnow
from gateway.security.log_redaction import first_line
from gateway.views.status_report import connector_rows, status_record

__all__ = ["status"]

_COLUMNS = [
    ("connector", "CONNECTOR"),
    ("mode", "MODE"),
    ("ready", "READY"),
    ("oldest_ready", "OLDEST"),
    ("parked", "PARKED"),
    ("breaker", "BREAKER"),
    ("breaker_for", "SINCE"),
    ("unacknowledged", "UNACKED"),
    ("no_response", "NO-RESP"),
    ("late_events", "LATE-EV"),
]


def _age(now: datetime, at: datetime | None) -> str | None:
    return None if at is None else age_text(now, at, compact=True)


def _print(snap: OpsSnapshot, found: list[Finding]) -> None:
    now = snap.now
    critical = sum(1 for f in found if f.severity == "critical")
    head = "nothing needs a person" if not found else f"{len(found)} need a person"
    if critical:
        head += f" ({critical} critical)"
    click.echo(f"omgw status at {iso(now)}: {head}")
    click.echo()
    emit_table(connector_rows(snap, as_json=False), _COLUMNS, as_json=False)
    click.echo()
    latest = snap.latest_worker()
    workers = ", ".join(
        f"{w} ({_age(now, at)} ago)"
        for w, at in sorted(snap.workers.items(), key=lambda x: x[1])[-3:]
    )
    click.echo(f"outbox workers:   {workers if latest else 'none seen'}")
    for job in ("jeopardy", "monitor"):
        ran = snap.jobs.get(job)
        shown = f"{_age(now, ran[0])} ago: {ran[1] or '-'}" if ran else "never"
        click.echo(f"last {job + ':':<13}{shown}")
    # backordered lines wait on the warehouse's stock: no finding, but worth a glance
    click.echo(
        f"lines:            {snap.routing_errors} in ROUTING_ERROR, "
        f"{snap.stuck_before_routing} not routed past {int(snap.thresholds.stuck)} s, "
        f"{snap.lines_by_status.get('BACKORDERED', 0)} BACKORDERED"
    )
    click.echo(
        f"staged in error:  {snap.staged_order_errors} order(s), "
        f"{snap.staged_response_errors} response(s)"
    )
    orders = ", ".join(f"{k} {v}" for k, v in sorted(snap.orders_by_status.items())) or "none"
    click.echo(f"orders:           {orders}")
    if found:
        click.echo()
        click.echo("NEEDS A PERSON")
        for f in found:
            click.echo(f"  {f.severity.upper():<8}  {shorten(f.summary, 200)}")
            click.echo(f"            runbook: docs/runbooks/{f.runbook}.md")


class _Unknown(click.ClickException):
    """The status could not be read: exit 3, as monitoring plugins say UNKNOWN."""

    exit_code = 3
    code = "STATUS_UNKNOWN"


@click.command(
    help="What is waiting, what is broken, and what needs a person, on one screen. "
    "Exit code 0: nothing needs a person; 1: warnings; 2: something critical; 3: the "
    "status could not be read (for cron or a monitor)."
)
@json_option
@pass_context
def status(ctx: Context, as_json: bool) -> None:
    try:
        settings = ctx.settings
        with ctx.reading() as (_runtime, s):
            snap = read_snapshot(s, utcnow(), thresholds(settings))
    except Exception as exc:
        # a status that cannot be read is UNKNOWN to a monitor, never a mere warning
        failure = exc if isinstance(exc, click.ClickException) else None
        text = failure.message if failure else f"cannot read the status: {first_line(exc, 300)}"
        raise _Unknown(text) from None
    found = findings(snap)
    if as_json:
        click.echo(json.dumps(status_record(snap, found), indent=2, default=str))
    else:
        _print(snap, found)
    ctx_exit = exit_code(found)
    if ctx_exit:
        raise SystemExit(ctx_exit)
