"""``omgw rule add|update|list|show|remove|default|publish|versions|rollback|explain|reroute``.

Edits change the draft; ``publish`` makes it the version routing uses.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from gateway.cli.invocation import Context, pass_context
from gateway.cli.option_values import with_options
from gateway.cli.output import emit_changes, emit_record, emit_table, json_option
from gateway.errors import NotFoundError
from gateway.orders.intake import OrderIntake
from gateway.registry.rule_draft import build_rule, rule_row
from gateway.registry.rule_store import RuleStore
from gateway.views.job_reports import reroute_rows
from gateway.views.rule_explain import explain_line
from routing.rule_attributes import ATTRIBUTES
from routing.rule_set import RuleSet, parse_instant

__all__ = ["rule"]

_options = with_options(
    click.option("--condition", help='e.g. \'Item = "CM5008" and TaskType = "Invoice"\''),
    click.option("--connector", help="The connector the rule routes to."),
    click.option("--priority", type=int, help="Higher wins (default 0)."),
    click.option("--description"),
    click.option("--active/--inactive", default=None, help="Default: active."),
    click.option("--from", "active_from", help='ISO 8601 with a time zone; "" for open.'),
    click.option("--until", "active_until", help='ISO 8601 with a time zone; "" for open.'),
    click.option("--operation", help="Override operation (custom task types)."),
    click.option("--interface-type", help="Interface type to set."),
)


@click.group(help="Routing rules: which connector each fulfillment request goes to.")
def rule() -> None:
    pass


@rule.command("add", help="Add a rule to the draft.")
@click.argument("rule_id")
@_options
@json_option
@pass_context
def add(ctx: Context, rule_id: str, as_json: bool, **values: Any) -> None:
    new = build_rule({"id": rule_id}, values)
    with ctx.transaction() as (_rt, s):
        change = RuleStore(s, ctx.actor).put_rule(new, mode="create")
    emit_changes([change], as_json)


@rule.command("update", help="Change the given fields of a draft rule.")
@click.argument("rule_id")
@_options
@json_option
@pass_context
def update(ctx: Context, rule_id: str, as_json: bool, **values: Any) -> None:
    with ctx.transaction() as (_rt, s):
        store = RuleStore(s, ctx.actor)
        changed = build_rule(store.rule(rule_id).to_dict(), values)
        change = store.put_rule(changed, mode="update")
    emit_changes([change], as_json)


@rule.command("remove", help="Remove a rule from the draft.")
@click.argument("rule_id")
@json_option
@pass_context
def remove(ctx: Context, rule_id: str, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        change = RuleStore(s, ctx.actor).remove_rule(rule_id)
    emit_changes([change], as_json)


@rule.command("default", help="Set (or --clear) the draft's default connector for a task type.")
@click.argument("task_type")
@click.argument("connector", required=False)
@click.option("--clear", is_flag=True, help="Remove the default.")
@json_option
@pass_context
def default(
    ctx: Context, task_type: str, connector: str | None, clear: bool, as_json: bool
) -> None:
    if clear == (connector is not None):
        raise click.UsageError("give a CONNECTOR, or --clear")
    with ctx.transaction() as (_rt, s):
        change = RuleStore(s, ctx.actor).set_default(task_type, connector)
    emit_changes([change], as_json)


def _rule_set(store: RuleStore, version: int | None) -> tuple[str, RuleSet]:
    if version is None:
        return "draft", store.draft()
    info, rule_set = store.version(version)
    return f"version {info.version}", rule_set


@rule.command("list", help="List the draft's rules (or a published version's) by rank.")
@click.option("--version", type=int, help="A published version instead of the draft.")
@json_option
@pass_context
def list_(ctx: Context, version: int | None, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        _, rule_set = _rule_set(RuleStore(s), version)
    ranked = sorted(rule_set.rules, key=lambda r: (-r.priority, r.rule_id))
    rows = [rule_row(r) for r in ranked]
    if as_json:
        click.echo(json.dumps({"rules": rows, "defaults": dict(rule_set.defaults)}, indent=2))
        return
    emit_table(
        rows,
        [
            ("id", "ID"),
            ("priority", "PRIORITY"),
            ("active", "ACTIVE"),
            ("connector", "CONNECTOR"),
            ("window", "WINDOW"),
            ("condition", "CONDITION"),
        ],
        False,
    )
    for task_type, connector in rule_set.defaults.items():
        click.echo(f"default for {task_type}: {connector}")


@rule.command("show", help="Show one rule of the draft (or of a published version).")
@click.argument("rule_id")
@click.option("--version", type=int, help="A published version instead of the draft.")
@json_option
@pass_context
def show(ctx: Context, rule_id: str, version: int | None, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        where, rule_set = _rule_set(RuleStore(s), version)
    found = [r for r in rule_set.rules if r.rule_id == rule_id]
    if not found:
        raise NotFoundError("RULE_UNKNOWN", f"the {where} has no rule {rule_id!r}")
    emit_record(found[0].to_dict(), as_json)


@rule.command("publish", help="Check the whole draft and make it the version routing uses.")
@json_option
@pass_context
def publish(ctx: Context, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        store = RuleStore(s, ctx.actor)
        info = store.publish()
        current = store.current()
    if info is None:
        assert current is not None
        message = f"nothing to publish: the draft is version {current[0].version}"
        record: dict[str, Any] = {"published": None, "current": current[0].version}
    else:
        count = f"{info.rule_count} rule{'s' if info.rule_count != 1 else ''}"
        message = f"published routing version {info.version} ({count})"
        record = {"published": info.to_mapping(), "current": info.version}
    click.echo(json.dumps(record, indent=2) if as_json else message)


@rule.command("versions", help="List published versions; the highest is the one in use.")
@json_option
@pass_context
def versions(ctx: Context, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        rows = [v.to_mapping() for v in RuleStore(s).versions()]
    for row in rows:
        row["in_use"] = row is rows[-1]
    emit_table(
        rows,
        [
            ("version", "VERSION"),
            ("in_use", "IN USE"),
            ("rules", "RULES"),
            ("published_at", "PUBLISHED"),
            ("published_by", "BY"),
            ("rollback_of", "ROLLBACK OF"),
        ],
        as_json,
    )


@rule.command("rollback", help="Re-publish an older version (it becomes the draft too).")
@click.argument("version", type=int)
@click.option(
    "--discard-draft", is_flag=True, help="Drop unpublished draft edits (refused otherwise)."
)
@json_option
@pass_context
def rollback(ctx: Context, version: int, discard_draft: bool, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        info, dropped = RuleStore(s, ctx.actor).rollback(version, discard_draft)
    if as_json:
        record = {**info.to_mapping(), "draft_changes": [c.to_json() for c in dropped]}
        click.echo(json.dumps(record, indent=2))
        return
    for change in dropped:
        click.echo(change.describe())
    click.echo(f"published routing version {info.version} (the rules of version {version})")


@rule.command("attributes", help="List the attributes conditions can use, with their types.")
@json_option
def attributes(as_json: bool) -> None:
    rows = [
        {"attribute": name, "type": kind, "from": group}
        for group, names in ATTRIBUTES.items()
        for name, kind in names.items()
    ]
    emit_table(rows, [("attribute", "ATTRIBUTE"), ("type", "TYPE"), ("from", "FROM")], as_json)


def _pairs(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r}: write Attribute=value", param_hint="--set")
        out[name.strip()] = value
    return out


@rule.command(
    "explain",
    help="Show how routing decides for a line: every rule considered, why it did not "
    "match, and the winner. Give attributes with --set, or an order and line.",
)
@click.option("--set", "sets", multiple=True, help="Attribute=value (repeat).")
@click.option("--order", help="An order number: take the line's attributes from it.")
@click.option("--line", "line_number", type=int, default=1, show_default=True)
@click.option(
    "--version",
    type=int,
    help="A published version (default: the one that routed the order's line, else the one "
    "in use).",
)
@click.option("--draft", is_flag=True, help="Explain with the unpublished draft.")
@click.option("--at", "at_text", help="Routing time, ISO 8601 with a time zone (default: now).")
@json_option
@pass_context
def explain(
    ctx: Context,
    sets: tuple[str, ...],
    order: str | None,
    line_number: int,
    version: int | None,
    draft: bool,
    at_text: str | None,
    as_json: bool,
) -> None:
    if draft and version is not None:
        raise click.UsageError("give --draft or --version, not both")
    if not sets and order is None:
        raise click.UsageError("give attributes with --set Attribute=value, or --order NUMBER")
    try:
        at = parse_instant(at_text) if at_text else datetime.now(UTC)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None
    with ctx.reading() as (_rt, s):
        found = explain_line(
            s,
            _pairs(sets),
            at,
            order=order,
            line_number=line_number,
            version=version,
            draft=draft,
        )
    if as_json:
        click.echo(json.dumps(found.record, indent=2))
        return
    click.echo(f"routing {found.label} at {at.isoformat()}")
    shown = ", ".join(f"{k}={v}" for k, v in found.values.items() if v is not None)
    click.echo(f"attributes: {shown or '(none)'}")
    emit_table(
        found.rows,
        [("rule", "RULE"), ("priority", "PRIORITY"), ("outcome", "OUTCOME"), ("detail", "DETAIL")],
        False,
    )
    click.echo(f"decision: {found.outcome}")


@rule.command("reroute", help="Route an order's ROUTING_ERROR lines again (after a publish).")
@click.argument("order_number")
@json_option
@pass_context
def reroute(ctx: Context, order_number: str, as_json: bool) -> None:
    with ctx.transaction() as (runtime, s):
        intake = OrderIntake(
            s, runtime.settings.default_fulfillment_system, runtime.settings.reply_to
        )
        _header, tried, unrouted = intake.reroute(order_number)
        rows = reroute_rows(tried)
    emit_table(
        rows,
        [
            ("fulfill_line", "FULFILL LINE"),
            ("status", "STATUS"),
            ("version", "VERSION"),
            ("rule", "RULE"),
            ("error", "ERROR"),
        ],
        as_json,
    )
    if not as_json:
        click.echo(f"{len(tried) - len(unrouted)} of {len(tried)} line(s) routed")
