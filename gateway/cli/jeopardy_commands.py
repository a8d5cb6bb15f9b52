"""``omgw jeopardy thresholds [list|set]``: how late a line may run before it is in
jeopardy, and at which priority."""

from __future__ import annotations

from typing import Any

import click

from connectors.connector_errors import Problem, SpecInvalid
from connectors.trigger_points import JEOPARDY_PRIORITIES, JeopardyThresholdSpec, check_thresholds
from gateway.cli.invocation import Context, pass_context
from gateway.cli.jeopardy_check import check
from gateway.cli.output import emit_changes, emit_table, json_option
from gateway.errors import ValidationError, translate
from gateway.registry.trigger_store import TriggerStore

__all__ = ["jeopardy"]

_RANGE_HELP = (
    "RANGE is FROM-TO=PRIORITY (TO excluded) or FROM-=PRIORITY (no end), durations such as "
    f"30m, 2h, 1d or 1d4h, priorities {', '.join(JEOPARDY_PRIORITIES)}; "
    "e.g. 0m-1h=LOW 1h-1d=MEDIUM 1d-=HIGH."
)


@click.group(help="Jeopardy: lines running late against their planned completion.")
def jeopardy() -> None:
    pass


jeopardy.add_command(check)


def _rows(specs: list[JeopardyThresholdSpec]) -> list[dict[str, Any]]:
    return [
        {
            "task_type": t.task_type or None,
            "from": t.to_mapping()["from"],
            "to": t.to_mapping().get("to"),
            "priority": t.priority,
            "from_minutes": t.from_minutes,
            "to_minutes": t.to_minutes,
        }
        for t in specs
    ]


def _emit_thresholds(ctx: Context, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        rows = _rows(TriggerStore(s).thresholds())
    if not as_json:
        rows = [
            {**r, "task_type": r["task_type"] or "(any)", "to": r["to"] or "open"} for r in rows
        ]
    emit_table(
        rows,
        [("task_type", "TASK TYPE"), ("from", "FROM"), ("to", "TO"), ("priority", "PRIORITY")],
        as_json,
    )


@jeopardy.group(
    "thresholds",
    invoke_without_command=True,
    help="List the delay ranges and the priority each gives (per task type; '(any)' "
    "applies to task types without ranges of their own). 'set' replaces them.",
)
@json_option
@click.pass_context
def thresholds(click_ctx: click.Context, as_json: bool) -> None:
    if click_ctx.invoked_subcommand is None:
        _emit_thresholds(click_ctx.ensure_object(Context), as_json)


@thresholds.command("list", help="List the delay ranges and their priorities.")
@json_option
@pass_context
def list_(ctx: Context, as_json: bool) -> None:
    _emit_thresholds(ctx, as_json)


def _parse(text: str, task_type: str) -> JeopardyThresholdSpec:
    """``FROM-TO=PRIORITY`` or ``FROM-=PRIORITY`` as a spec; SpecInvalid naming the range."""
    span, sep, priority = text.rpartition("=")
    start, dash, end = span.partition("-")
    if not sep or not dash or not start.strip() or not priority.strip():
        raise SpecInvalid(
            [Problem((), f"{text!r} is not a range; write e.g. 0m-1h=LOW or 1d-=HIGH")]
        )
    data: dict[str, Any] = {"from": start.strip(), "priority": priority.strip().upper()}
    if end.strip():
        data["to"] = end.strip()
    if task_type:
        data["task_type"] = task_type
    try:
        return JeopardyThresholdSpec.from_mapping(data)
    except SpecInvalid as exc:
        raise SpecInvalid([Problem((), f"{text}: {p}") for p in exc.problems]) from None


@thresholds.command(
    "set",
    help="Replace the ranges of one task type (or, without --task-type, those that apply "
    "to any task type); the ranges of other task types are kept. " + _RANGE_HELP,
)
@click.argument("ranges", metavar="RANGE...", nargs=-1)
@click.option("--task-type", default="", help="The task type the ranges are for (default: any).")
@click.option("--clear", is_flag=True, help="Remove the ranges of this task type.")
@json_option
@pass_context
def set_(ctx: Context, ranges: tuple[str, ...], task_type: str, clear: bool, as_json: bool) -> None:
    if clear == bool(ranges):
        raise click.UsageError("give at least one RANGE such as 0m-1h=LOW, or --clear")
    task_type = task_type.strip()
    new: list[JeopardyThresholdSpec] = []
    problems: list[Problem] = []
    for text in ranges:
        try:
            new.append(_parse(text, task_type))
        except SpecInvalid as exc:
            problems.extend(exc.problems)
    if problems:
        raise translate(SpecInvalid(problems), "jeopardy thresholds")
    overlaps = check_thresholds(new)
    if overlaps:
        raise ValidationError("INVALID_VALUE", "; ".join(p.message for p in overlaps))
    with ctx.transaction() as (_rt, s):
        store = TriggerStore(s, ctx.actor)
        kept = [t for t in store.thresholds() if t.task_type != task_type]
        change = store.replace_thresholds([*kept, *new])
    emit_changes([change], as_json)
