"""``omgw apply -f setup.toml [--dry-run]`` and ``omgw export``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import select

from gateway.cli.invocation import Context, pass_context
from gateway.cli.output import emit_changes, json_option
from gateway.persistence.models import WalletEntry
from gateway.registry.setup_file import apply_setup, export_setup
from gateway.registry.setup_reading import load_setup
from gateway.registry.store import Registry

__all__ = ["apply", "export"]


@click.command(help="Create or update everything a setup file declares, all or nothing.")
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@json_option
@pass_context
def apply(ctx: Context, path: Path, dry_run: bool, as_json: bool) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    with ctx.runtime() as runtime, runtime.sessions() as s:
        s.begin()
        try:
            registry = Registry(s, ctx.actor)
            connectors = registry.connectors()
            doc = load_setup(
                text,
                str(path),
                known_systems={x.code for x in registry.source_systems()},
                known_wallet={
                    (m, k)
                    for m, k in s.execute(select(WalletEntry.credential_map, WalletEntry.key))
                },
                known_task_types={t.code: t for t in registry.task_types()},
                known_connectors={c.name: c.enabled for c in connectors},
                base_dir=path.parent,
                known_connector_modes={c.name: c.invocation_mode for c in connectors},
            )
            changes = apply_setup(s, lambda: runtime.secret_box, ctx.actor, doc, path.parent)
            if dry_run:
                s.rollback()
            else:
                s.commit()
        except BaseException:
            s.rollback()
            raise
    emit_changes(changes, as_json, dry_run=dry_run)


@click.command(help="Write the current setup in the apply format (secrets by reference only).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout."
)
@pass_context
def export(ctx: Context, output: Path | None) -> None:
    with ctx.reading() as (_rt, s):
        text = export_setup(s)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
        click.echo(f"wrote {output}")
