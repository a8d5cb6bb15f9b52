"""``omgw messages park|discard``: set outbox messages aside, for a while (park: the worker
stops sending them until they are replayed) or for good (discard: never sent or replayed
again). The rules are :mod:`gateway.outbox.set_aside`'s; this module only reads the
options and prints the verdicts."""

from __future__ import annotations

import json

import click

from gateway.cli.invocation import Context, pass_context
from gateway.cli.outbox_filters import emit_verdicts, selection_options
from gateway.cli.output import json_option
from gateway.outbox.message_filter import MessageFilter
from gateway.outbox.set_aside import DISCARD, PARK, SetAside, SetAsideResult

__all__ = ["discard", "park"]

_REASON_HELP = "Why (kept as the message's last error and in the audit log)."


@click.command(
    "park",
    help="Set queued messages aside: the worker stops sending them (e.g. while a receiver "
    "asks for a pause) until `messages replay` puts them back. Name them with "
    "--id/--message-id or select them with --kind, --connector, --order, --since, --until "
    "(READY ones unless --status says otherwise). A message being sent right now is "
    "refused: try again once its send is recorded.",
)
@selection_options(PARK, default_status="READY")
@click.option("--reason", required=True, help=_REASON_HELP)
@click.option("--dry-run", is_flag=True, help="Say what would be parked; change nothing.")
@json_option
@pass_context
def park(
    ctx: Context,
    selection: MessageFilter,
    reason: str,
    dry_run: bool,
    as_json: bool,
) -> None:
    with ctx.transaction() as (_rt, s):
        result = SetAside(s, ctx.actor).park(selection, reason=reason, dry_run=dry_run)
    _report(result, as_json)


@click.command(
    "discard",
    help="Set messages aside for good: never sent or replayed again. Name them with "
    "--id/--message-id (a READY one too) or select them with --kind, --connector, --order, "
    "--since, --until (PARKED ones unless --status says otherwise). A fulfillment request "
    "needs --force: its lines then wait on a request that is never sent, and the order "
    "must be handled by hand. Business events and e-mails are notifications: they need "
    "no --force.",
)
@selection_options(DISCARD, default_status="PARKED")
@click.option("--reason", required=True, help=_REASON_HELP)
@click.option(
    "--force",
    is_flag=True,
    help="Also discard fulfillment requests: their lines wait on nothing, and their "
    "orders must be handled by hand (cancelled or revised, or the system told).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be discarded; change nothing.")
@json_option
@pass_context
def discard(
    ctx: Context,
    selection: MessageFilter,
    reason: str,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    with ctx.transaction() as (_rt, s):
        result = SetAside(s, ctx.actor).discard(
            selection, reason=reason, force=force, dry_run=dry_run
        )
    _report(result, as_json)


def _report(result: SetAsideResult, as_json: bool) -> None:
    """Print the verdicts; exit 1 when a message was refused or skipped (with --json, the
    report holds the error: one JSON document, then the exit code)."""
    problem = result.problem
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        if problem:
            click.get_current_context().exit(1)
        return
    done = "parked" if result.action == PARK else "discarded"
    if not result.items:
        click.echo(f"nothing to {result.action}: no message matches ({result.selection})")
        return
    label = {done.upper(): f"would {result.action}" if result.dry_run else done}
    emit_verdicts(result.items, label)
    n = len(result.changed)
    if result.dry_run:
        click.echo(f"dry run: {n} message(s) would be {done}; nothing was changed")
    elif result.action == PARK:
        click.echo(f"{n} message(s) parked: the worker does not send them until replayed")
    else:
        click.echo(f"{n} message(s) discarded: they are never sent or replayed again")
    if problem:
        raise click.ClickException(problem)
