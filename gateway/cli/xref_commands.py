"""``omgw xref add|update|list|remove``: value maps of a source system."""

from __future__ import annotations

import click

from connectors.connector_specs import check_domain
from gateway.cli.invocation import Context, pass_context
from gateway.cli.output import emit_changes, emit_table, json_option
from gateway.errors import ConflictError, NotFoundError, ValidationError
from gateway.registry.store import Registry

__all__ = ["xref"]


@click.group(help="Data cross-references: a system's values (items, UOMs, statuses) ↔ ours.")
def xref() -> None:
    pass


def _put(
    ctx: Context, system: str, domain: str, external: str, internal: str, mode: str, as_json: bool
) -> None:
    if why := check_domain(domain):
        raise ValidationError("INVALID_VALUE", why)
    if not external.strip() or not internal.strip():
        raise ValidationError("INVALID_VALUE", "external and internal values must not be empty")
    with ctx.transaction() as (_rt, s):
        registry = Registry(s, ctx.actor)
        existing = {e: i for _s, _d, e, i in registry.xref_entries(system, domain)}
        if mode == "create" and external in existing:
            raise ConflictError(
                "ALREADY_EXISTS",
                f"{system} {domain} {external!r} already maps to {existing[external]!r}; "
                "use 'omgw xref update'",
            )
        if mode == "update" and external not in existing:
            raise NotFoundError(
                "XREF_UNKNOWN",
                f"{system} has no {domain} value {external!r}; use 'omgw xref add'",
            )
        change = registry.put_xref(system, domain, external, internal)
        enabled = registry.source_system(system).cross_reference
    emit_changes([change], as_json)
    if not enabled:
        click.echo(
            f"note: cross-reference is off for {system}; turn it on with "
            f"'omgw source-system update {system} --cross-reference'",
            err=True,
        )


@xref.command("add", help="Map EXTERNAL (the system's value) to INTERNAL (ours) in DOMAIN.")
@click.argument("system")
@click.argument("domain")
@click.argument("external")
@click.argument("internal")
@json_option
@pass_context
def add(
    ctx: Context, system: str, domain: str, external: str, internal: str, as_json: bool
) -> None:
    _put(ctx, system, domain, external, internal, "create", as_json)


@xref.command("update", help="Change what EXTERNAL maps to.")
@click.argument("system")
@click.argument("domain")
@click.argument("external")
@click.argument("internal")
@json_option
@pass_context
def update(
    ctx: Context, system: str, domain: str, external: str, internal: str, as_json: bool
) -> None:
    _put(ctx, system, domain, external, internal, "update", as_json)


@xref.command("list", help="List value maps.")
@click.option("--system")
@click.option("--domain")
@json_option
@pass_context
def list_(ctx: Context, system: str | None, domain: str | None, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        rows = [
            {"system": sy, "domain": d, "external": e, "internal": i}
            for sy, d, e, i in Registry(s).xref_entries(system, domain)
        ]
    emit_table(
        rows,
        [
            ("system", "SYSTEM"),
            ("domain", "DOMAIN"),
            ("external", "EXTERNAL"),
            ("internal", "INTERNAL"),
        ],
        as_json,
    )


@xref.command("remove", help="Remove one value map.")
@click.argument("system")
@click.argument("domain")
@click.argument("external")
@json_option
@pass_context
def remove(ctx: Context, system: str, domain: str, external: str, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        change = Registry(s, ctx.actor).remove_xref(system, domain, external)
    emit_changes([change], as_json)
