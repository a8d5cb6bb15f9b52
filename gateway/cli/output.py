"""How commands print: an aligned table for people, ``--json`` for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import click

from gateway.persistence.audit_trail import Change

__all__ = [
    "JSON_ERRORS",
    "MASK",
    "emit_changes",
    "emit_record",
    "emit_table",
    "json_option",
    "shorten",
]

MASK = "********"
#: the key in click's ``ctx.meta`` (shared by every context of one invocation) that says
#: the command was given --json, so its error is printed as JSON too (cli._Group.invoke)
JSON_ERRORS = "omgw.json_errors"
F = TypeVar("F", bound=Callable[..., Any])


def _note_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[JSON_ERRORS] = True
    return value


def json_option(func: F) -> F:
    # eager: noted before the other options are read, so their errors are JSON too
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        is_eager=True,
        expose_value=True,
        callback=_note_json,
        help="Print JSON for scripts (an error too, on standard output).",
    )(func)


def shorten(text: str | None, width: int = 60) -> str | None:
    """``text`` on one line, cut to ``width`` characters with an ellipsis (for tables)."""
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def emit_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], as_json: bool
) -> None:
    """``columns`` are (key, heading) pairs; JSON prints every key of every row."""
    if as_json:
        click.echo(json.dumps(list(rows), indent=2, default=str))
        return
    if not rows:
        click.echo("(none)")
        return
    cells = [[_cell(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (_, h) in enumerate(columns)]
    click.echo("  ".join(h.ljust(w) for (_, h), w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def emit_record(record: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(record, indent=2, default=str))
        return
    _print_nested(record, "")


def _print_nested(record: Mapping[str, Any], indent: str) -> None:
    width = max((len(k) for k in record), default=0)
    for key, value in record.items():
        if isinstance(value, Mapping):
            click.echo(f"{indent}{key}:")
            _print_nested(value, indent + "  ")
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            click.echo(f"{indent}{key}:")
            for item in value:
                click.echo(f"{indent}  - " + ", ".join(f"{k}={_cell(v)}" for k, v in item.items()))
        elif isinstance(value, list):
            click.echo(f"{indent}{key.ljust(width)}  {', '.join(map(str, value)) or '-'}")
        else:
            click.echo(f"{indent}{key.ljust(width)}  {_cell(value)}")


def emit_changes(changes: Iterable[Change | None], as_json: bool, *, dry_run: bool = False) -> None:
    real = [c for c in changes if c is not None]
    if as_json:
        click.echo(
            json.dumps(
                {"dry_run": dry_run, "changes": [c.to_json() for c in real]}, indent=2, default=str
            )
        )
        return
    for change in real:
        click.echo(change.describe())
    if not real:
        click.echo("no changes")
    elif dry_run:
        click.echo(f"dry run: {len(real)} change(s) planned, nothing written")
