"""``omgw trigger list|set|remove``: which changes raise business events, and to whom.

A trigger point is kept per (event, criterion): ``set`` creates one or changes the
options given, keeping the stored values of the others.
"""

from __future__ import annotations

import click

from connectors.trigger_points import (
    ORDER_ATTRIBUTES,
    TRIGGER_EVENTS,
    canonical_criterion,
)
from gateway.cli.invocation import Context, pass_context
from gateway.cli.output import emit_changes, emit_table, json_option
from gateway.registry.trigger_store import TriggerStore, trigger_record

__all__ = ["trigger"]


@click.group(
    help="Trigger points: which order changes raise business events (pushPayload to "
    f"BUSINESS_EVENT connectors) or e-mail. Events: {', '.join(TRIGGER_EVENTS)}."
)
def trigger() -> None:
    pass


@trigger.command("list", help="List trigger points.")
@json_option
@pass_context
def list_(ctx: Context, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        rows = [trigger_record(p) for p in TriggerStore(s).trigger_points()]
    if not as_json:
        rows = [
            {**r, "email_to": ", ".join(r["email_to"]) or None,
             "connectors": ", ".join(r["connectors"]) or None}
            for r in rows
        ]  # fmt: skip
    emit_table(
        rows,
        [
            ("event", "EVENT"),
            ("criterion", "CRITERION"),
            ("raise_event", "RAISE"),
            ("send_email", "E-MAIL"),
            ("email_to", "RECIPIENTS"),
            ("connectors", "CONNECTORS"),
        ],
        as_json,
    )


@trigger.command(
    "set",
    help="Create a trigger point, or change the given options of one (the others keep "
    "their stored values). CRITERION is the status value for ORDER_STATUS_UPDATE and "
    "FLINE_STATUS_UPDATE, the priority (LOW, MEDIUM, HIGH) for JEOPARDY, an attribute "
    f"({', '.join(ORDER_ATTRIBUTES)}) or nothing (every attribute) for "
    "ORDER_ATTRIBUTE_UPDATE, and absent for FLINE_CLOSED, HOLD and SPLIT.",
)
@click.argument("event")
@click.argument("criterion", required=False, default="")
@click.option("--raise/--no-raise", "raise_event", default=None, help="Raise the event (default).")
@click.option("--email/--no-email", "send_email", default=None, help="Also send an e-mail.")
@click.option(
    "--email-to",
    multiple=True,
    help="An e-mail recipient (repeatable; replaces the stored recipients).",
)
@click.option("--no-email-to", is_flag=True, help="Clear the stored recipients.")
@click.option(
    "--connector",
    "connectors",
    multiple=True,
    help="A BUSINESS_EVENT connector to push to (repeatable; replaces the stored ones).",
)
@click.option("--no-connectors", is_flag=True, help="Push to no connector.")
@json_option
@pass_context
def set_(
    ctx: Context,
    event: str,
    criterion: str,
    raise_event: bool | None,
    send_email: bool | None,
    email_to: tuple[str, ...],
    no_email_to: bool,
    connectors: tuple[str, ...],
    no_connectors: bool,
    as_json: bool,
) -> None:
    if email_to and no_email_to:
        raise click.UsageError("give --email-to or --no-email-to, not both")
    if connectors and no_connectors:
        raise click.UsageError("give --connector or --no-connectors, not both")
    with ctx.transaction() as (_rt, s):
        change = TriggerStore(s, ctx.actor).set_trigger_point(
            event,
            criterion,
            raise_event=raise_event,
            send_email=send_email,
            email_to=email_to if email_to or no_email_to else None,
            connectors=connectors if connectors or no_connectors else None,
        )
    emit_changes([change], as_json)


@trigger.command("remove", help="Remove a trigger point: the change raises nothing any more.")
@click.argument("event")
@click.argument("criterion", required=False, default="")
@json_option
@pass_context
def remove(ctx: Context, event: str, criterion: str, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        event = event.strip().upper()
        change = TriggerStore(s, ctx.actor).remove_trigger_point(
            event, canonical_criterion(event, criterion)
        )
    emit_changes([change], as_json)
