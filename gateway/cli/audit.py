"""``omgw audit list``: the admin audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from gateway.cli.context import Context, pass_context
from gateway.cli.output import emit_table, json_option
from gateway.persistence import audit as audit_log

__all__ = ["audit"]


def _utc(value: datetime) -> datetime:
    """Times are UTC on both databases (SQLite hands back naive values)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
            {
                "id": e.id,
                "at": _utc(e.at).isoformat(timespec="seconds"),
                "actor": e.actor,
                "action": e.action,
                "entity": e.entity,
                "key": e.entity_key,
                "before": None if e.before_json is None else json.loads(e.before_json),
                "after": None if e.after_json is None else json.loads(e.after_json),
            }
            for e in audit_log.entries(
                s,
                limit=limit,
                entity=entity,
                actor=actor,
                since=None if since is None else _utc(since),
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
