"""``omgw source-system add|list|show|update|remove``."""

from __future__ import annotations

from typing import Any

import click

from connectors.connector_specs import SYSTEM_TYPES, SourceSystemSpec
from gateway.cli.invocation import Context, pass_context
from gateway.cli.option_values import given, with_options
from gateway.cli.output import emit_changes, emit_record, emit_table, json_option
from gateway.registry.spec_building import build_spec
from gateway.registry.store import Registry

__all__ = ["source_system"]


_options = with_options(
    click.option("--name"),
    click.option("--type", "system_type", type=click.Choice(SYSTEM_TYPES)),
    click.option("--order-capture/--no-order-capture", default=None, help="Sends orders in."),
    click.option(
        "--fulfillment/--no-fulfillment",
        default=None,
        help="Receives fulfillment requests and sends responses.",
    ),
    click.option(
        "--events-only/--no-events-only",
        default=None,
        help="Only receives business events (a subscriber): neither captures orders nor "
        "fulfills them.",
    ),
    click.option(
        "--cross-reference/--no-cross-reference",
        default=None,
        help="Apply this system's value maps (omgw xref) to its messages.",
    ),
    click.option("--time-zone", help="IANA name, e.g. Europe/Paris (default UTC)."),
    click.option("--collections-allowed/--no-collections-allowed", default=None),
)


def _given(**values: Any) -> dict[str, Any]:
    return given({"system_type": "type"}, **values)


@click.group(
    "source-system",
    help="Systems known to the hub (order capture, fulfillment, business events only).",
)
def source_system() -> None:
    pass


@source_system.command("add", help="Register a source system.")
@click.argument("code")
@_options
@json_option
@pass_context
def add(ctx: Context, code: str, as_json: bool, **values: Any) -> None:
    spec = build_spec(
        "source system", {"code": code, **_given(**values)}, SourceSystemSpec.from_mapping
    )
    with ctx.transaction() as (_rt, s):
        change = Registry(s, ctx.actor).put_source_system(spec, mode="create")
    emit_changes([change], as_json)


@source_system.command("update", help="Change the given settings of a source system.")
@click.argument("code")
@_options
@json_option
@pass_context
def update(ctx: Context, code: str, as_json: bool, **values: Any) -> None:
    with ctx.transaction() as (_rt, s):
        registry = Registry(s, ctx.actor)
        changes = _given(**values)
        data = {**registry.source_system(code).to_mapping(), **changes}
        if changes.get("order_capture") or changes.get("fulfillment"):
            data.pop("events_only", None)  # given a role, it is no longer events only
        elif changes.get("events_only"):
            data.update(order_capture=False, fulfillment=False)
        spec = build_spec("source system", data, SourceSystemSpec.from_mapping)
        change = registry.put_source_system(spec, mode="update")
    emit_changes([change], as_json)


@source_system.command("list", help="List source systems.")
@json_option
@pass_context
def list_(ctx: Context, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        rows = [
            {**spec.to_mapping(), "events_only": spec.events_only}
            for spec in Registry(s).source_systems()
        ]
    emit_table(
        rows,
        [
            ("code", "CODE"),
            ("name", "NAME"),
            ("type", "TYPE"),
            ("order_capture", "CAPTURE"),
            ("fulfillment", "FULFILLMENT"),
            ("events_only", "EVENTS ONLY"),
            ("cross_reference", "XREF"),
            ("time_zone", "TIME ZONE"),
        ],
        as_json,
    )


@source_system.command("show", help="Show a source system, its connectors and value maps.")
@click.argument("code")
@json_option
@pass_context
def show(ctx: Context, code: str, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        registry = Registry(s)
        record = registry.source_system(code).to_mapping()
        record["connectors"] = [c.name for c in registry.connectors_for(code)]
        record["value_maps"] = len(registry.xref_entries(code))
    emit_record(record, as_json)


@source_system.command("remove", help="Remove a source system nothing references.")
@click.argument("code")
@json_option
@pass_context
def remove(ctx: Context, code: str, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        change = Registry(s, ctx.actor).remove_source_system(code)
    emit_changes([change], as_json)
