"""``omgw messages list|show|replay|park|discard|prune``: the outbox, its parking lot,
selective replay, setting messages aside (``park`` and ``discard``, in
:mod:`gateway.cli.parking`) and pruning what has outlived its retention;
``list|show --inbound``: the inbound message log (every SOAP call omgw answered,
refusals included).

The outbox holds fulfillment requests (``--kind REQUEST``), business events
(``EVENT``: pushPayload to a BUSINESS_EVENT connector) and e-mails (``EMAIL``: no
connector, they go to the SMTP server; shown as connector ``smtp``).
"""

from __future__ import annotations

import json
from datetime import datetime

import click

from gateway.cli.invocation import Context, pass_context
from gateway.cli.outbox_filters import (
    emit_verdicts,
    filter_options,
    kind_value,
    selection_options,
    task_cell,
)
from gateway.cli.output import emit_record, emit_table, json_option, shorten
from gateway.cli.parking import discard, park
from gateway.outbox.message_filter import STATUSES, MessageFilter
from gateway.outbox.message_listing import list_messages, message_detail
from gateway.outbox.replay import Replayer
from gateway.outbox.replay_verdicts import ReplayResult
from gateway.persistence.models import utcnow
from gateway.persistence.retention import BATCH_SIZE, prune
from gateway.views.inbound_messages import InboundFilter, inbound_detail, list_inbound

__all__ = ["messages"]


@click.group(help="Messages in and out: the inbound log, the outbox, replay, park and discard.")
def messages() -> None:
    pass


messages.add_command(park)
messages.add_command(discard)


def _refuse(given: dict[str, object], why: str) -> None:
    """A usage error naming each option of ``given`` that was used, and ``why`` it does
    not apply (an outbound option with --inbound, or an inbound one without it)."""
    named = [name for name, value in given.items() if value]
    if named:
        raise click.UsageError(f"{', '.join(named)}: {why}")


@messages.command(
    "list",
    help="List outbound messages, newest first; with --inbound, the inbound message log "
    "(every call answered, refusals included).",
)
@click.option("--inbound", is_flag=True, help="List the inbound message log instead.")
@click.option("--status", type=click.Choice(STATUSES, case_sensitive=False))
@filter_options
@click.option("--operation", help="Inbound: only calls of this operation (e.g. createOrders).")
@click.option("--user", help="Inbound: only calls this API user made.")
@click.option(
    "--fault-code", help="Inbound: only calls answered with this fault (e.g. AUTH_FAILED)."
)
@click.option("--faults", is_flag=True, help="Inbound: only calls answered with a fault.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@json_option
@pass_context
def list_(
    ctx: Context,
    inbound: bool,
    status: str | None,
    kind: str | None,
    connector: str | None,
    order_number: str | None,
    message_ids: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    operation: str | None,
    user: str | None,
    fault_code: str | None,
    faults: bool,
    limit: int,
    as_json: bool,
) -> None:
    if inbound:
        _refuse(
            {"--status": status, "--kind": kind, "--connector": connector},
            "these are for outbound messages; drop --inbound",
        )
        inbound_filter = InboundFilter(
            operation=operation,
            user=user,
            fault_code=fault_code,
            faults=faults,
            order_number=order_number,
            message_ids=message_ids,
            since=since,
            until=until,
        )
        _list_inbound(ctx, inbound_filter, limit, as_json)
        return
    _refuse(
        {"--operation": operation, "--user": user, "--fault-code": fault_code, "--faults": faults},
        "these are for the inbound message log; add --inbound",
    )
    f = MessageFilter(
        message_ids=message_ids,
        status=status,
        kind=kind_value(kind),
        connector=connector,
        order_number=order_number,
        since=since,
        until=until,
    )
    with ctx.reading() as (runtime, s):
        rows = list_messages(s, f, limit=limit, keys=lambda: runtime.secret_box)
    if not as_json:
        rows = [
            {**r, "last_error": shorten(r["last_error"]), "task_type": task_cell(r)} for r in rows
        ]
    emit_table(
        rows,
        [
            ("id", "ID"),
            ("message_id", "MESSAGE ID"),
            ("created", "CREATED"),
            ("connector", "CONNECTOR"),
            ("order_number", "ORDER"),
            ("task_type", "TASK"),
            ("operation", "OPERATION"),
            ("status", "STATUS"),
            ("attempts", "ATTEMPTS"),
            ("uncertain", "UNCERTAIN"),
            ("last_error", "LAST ERROR"),
        ],
        as_json,
    )


def _list_inbound(ctx: Context, f: InboundFilter, limit: int, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        entries = list_inbound(s, f, limit=limit)
    rows = [e.to_json() for e in entries]
    if not as_json:
        rows = [{**r, "order_numbers": ",".join(r["order_numbers"]) or None} for r in rows]
    emit_table(
        rows,
        [
            ("id", "ID"),
            ("received", "RECEIVED"),
            ("service", "SERVICE"),
            ("operation", "OPERATION"),
            ("client", "CLIENT"),
            ("user", "USER"),
            ("message_id", "MESSAGE ID"),
            ("order_numbers", "ORDER"),
            ("outcome", "OUTCOME"),
            ("fault_code", "FAULT"),
            ("http_status", "HTTP"),
            ("duration_ms", "MS"),
        ],
        as_json,
    )


@messages.command(
    "show",
    help="Show an outbound message (by id or MessageID) and its delivery attempts; with "
    "--inbound, a message-log entry (by id) and its payload as logged.",
)
@click.argument("key", metavar="ID_OR_MESSAGE_ID")
@click.option(
    "--inbound", is_flag=True, help="Show the inbound message-log entry of this id instead."
)
@click.option(
    "--payload",
    is_flag=True,
    help="Also print the stored envelope (no credentials), or an e-mail's subject and text.",
)
@json_option
@pass_context
def show(ctx: Context, key: str, inbound: bool, payload: bool, as_json: bool) -> None:
    if inbound:
        _show_inbound(ctx, key, as_json)
        return
    with ctx.reading() as (runtime, s):
        record = message_detail(s, key, payload=payload, keys=lambda: runtime.secret_box)
    if record is None:
        raise click.ClickException(f"no outbound message with id or message id {key}")
    if as_json:
        emit_record(record, True)
        return
    attempts = record.pop("delivery_attempts")
    envelope = record.pop("payload", None)
    email = record["kind"] == "EMAIL"
    emit_record(record, False)
    click.echo("")
    click.echo("attempts:")
    emit_table(
        attempts,
        [
            ("attempt", "#"),
            ("started", "STARTED"),
            ("worker", "WORKER"),
            ("duration_ms", "MS"),
            ("outcome", "OUTCOME"),
            ("http_status", "HTTP"),
            ("error", "ERROR"),
        ],
        False,
    )
    if envelope is not None:
        click.echo("")
        click.echo(
            "e-mail (as stored; addressed at each send):"
            if email
            else "payload (as stored; WS-Security is added at each send):"
        )
        click.echo(envelope.rstrip("\n"))


def _show_inbound(ctx: Context, key: str, as_json: bool) -> None:
    if not key.strip().isdigit():
        raise click.UsageError(
            f"an inbound entry is shown by its id, not {key!r} "
            "(messages list --inbound --message-id finds it)"
        )
    with ctx.reading() as (_rt, s):
        detail = inbound_detail(s, int(key))
    if detail is None:
        raise click.ClickException(f"no inbound message with id {key.strip()}")
    record = detail.to_json()
    if as_json:
        emit_record(record, True)
        return
    payload = record.pop("payload")
    record["order_numbers"] = ", ".join(record["order_numbers"]) or None
    emit_record(record, False)
    click.echo("")
    if payload is None:
        # OMGW_LOG_PAYLOADS=0, or refused before its body was read (wrong Basic credentials)
        click.echo("payload: none logged")
        return
    click.echo("payload (as logged; secrets blanked):")
    click.echo(payload.rstrip("\n"))


@messages.command(
    "replay",
    help="Put messages back in the queue with the same MessageID and a fresh retry budget. "
    "Name them with --id/--message-id or select them with --kind, --connector, --order, "
    "--since, --until (PARKED ones unless --status says otherwise). Business events and "
    "e-mails are notifications: they need no --force.",
)
@selection_options("replay", default_status="PARKED")
@click.option(
    "--force",
    is_flag=True,
    help="Also replay DELIVERED messages and uncertain Shipment/Invoice ones, which may "
    "create a second shipment or invoice.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be replayed; change nothing.")
@json_option
@pass_context
def replay(
    ctx: Context,
    selection: MessageFilter,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    with ctx.transaction() as (_rt, s):
        result = Replayer(s, ctx.actor).replay(selection, force=force, dry_run=dry_run)
    problem = result.problem()
    _emit_result(result, selection, as_json, problem)
    if problem:
        if as_json:  # the report holds the error: one JSON document, then exit 1
            click.get_current_context().exit(1)
        raise click.ClickException(problem)


def _emit_result(
    result: ReplayResult, f: MessageFilter, as_json: bool, problem: str | None
) -> None:
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    if not result.items:
        click.echo(f"nothing to replay: no message matches ({f.describe()})")
        return
    label = {"REPLAYED": "would replay" if result.dry_run else "replayed"}
    emit_verdicts(result.items, label)
    n = len(result.replayed)
    if result.dry_run:
        click.echo(f"dry run: {n} message(s) would be replayed; nothing was changed")
    else:
        click.echo(f"{n} message(s) replayed: the worker sends them again with the same MessageID")


@messages.command(
    "prune",
    help="Delete message-log rows and delivered outbox messages of finished orders older than "
    "their retention (OMGW_MESSAGE_LOG_RETENTION_DAYS, OMGW_OUTBOX_RETENTION_DAYS; 0 keeps "
    "them forever), in short transactions of --batch rows. The background loop does the same "
    "every minute; this is for a server run without it, or to prune now.",
)
@click.option(
    "--message-log-days",
    type=click.IntRange(0),
    help="Keep message-log rows this many days (default OMGW_MESSAGE_LOG_RETENTION_DAYS).",
)
@click.option(
    "--outbox-days",
    type=click.IntRange(0),
    help="Keep delivered messages this many days (default OMGW_OUTBOX_RETENTION_DAYS).",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 100_000),
    default=BATCH_SIZE,
    show_default=True,
    help="Rows deleted per transaction.",
)
@json_option
@pass_context
def prune_command(
    ctx: Context,
    message_log_days: int | None,
    outbox_days: int | None,
    batch: int,
    as_json: bool,
) -> None:
    settings = ctx.settings
    with ctx.runtime() as runtime:
        pruned = prune(
            runtime.read_sessions,
            runtime.sessions,
            utcnow(),
            settings.message_log_retention_days if message_log_days is None else message_log_days,
            settings.outbox_retention_days if outbox_days is None else outbox_days,
            batch_size=batch,
        )
    record = {
        "message_log": pruned.message_log,
        "outbox": pruned.outbox,
        "delivery_attempts": pruned.delivery_attempts,
    }
    if as_json:
        emit_record(record, True)
        return
    click.echo(
        f"- {pruned.message_log} message-log rows, {pruned.outbox} delivered outbox messages "
        f"({pruned.delivery_attempts} delivery attempts)"
    )
