"""``omgw audit list``: the admin audit log."""

from __future__ import annotations

from datetime import datetime

import click

from gateway.cli.invocation import Context, pass_context
from gateway.cli.output import emit_table, json_option
from gateway.persistence import audit_trail

__all__ = ["audit"]


@click.group(help="Who changed the setup, what, when, before and after.")
def audit() -> None:
    pass


@audit.command("list", help="List admin changes, newest first.")
@click.option("--entity", help="source_system, connector, wallet, task_type, process, xref.")
@click.option("--actor")
@click.option("--since", type=click.DateTime(), help="Only changes at or after this time (UTC).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@json_option
@pass_context
def list_(
    ctx: Context,
    entity: str | None,
    actor: str | None,
    since: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    with ctx.reading() as (_rt, s):
        rows = [
            audit_trail.entry_record(e)
            for e in audit_trail.entries(
                s,
                limit=limit,
                entity=entity,
                actor=actor,
                since=None if since is None else audit_trail.utc(since),
            )
        ]
    emit_table(
        rows,
        [
            ("id", "ID"),
            ("at", "AT"),
            ("actor", "ACTOR"),
            ("action", "ACTION"),
            ("entity", "ENTITY"),
            ("key", "KEY"),
        ],
        as_json,
    )
