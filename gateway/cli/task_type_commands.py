"""``omgw task-type add|list|show|update|remove``."""

from __future__ import annotations

from typing import Any

import click

from gateway.cli.invocation import Context, pass_context
from gateway.cli.option_values import given, with_options
from gateway.cli.output import emit_changes, emit_record, emit_table, json_option
from gateway.orchestration_model import TaskTypeSpec
from gateway.registry.spec_building import build_spec
from gateway.registry.store import Registry

__all__ = ["parse_task", "task_type"]


def parse_task(text: str) -> dict[str, Any]:
    """``"Pick Carton=Pick_From_Ravi_Create,Pick_From_Ravi_Cancel"`` → a task table."""
    name, sep, services = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"{text!r}: write TASK=SERVICE[,SERVICE…]", param_hint="--task")
    return {"name": name.strip(), "services": [s.strip() for s in services.split(",") if s.strip()]}


_options = with_options(
    click.option("--name"),
    click.option("--description"),
    click.option(
        "--task",
        "tasks",
        multiple=True,
        help='TASK=SERVICE[,SERVICE…], repeatable; "Pick Carton=Pick_From_Ravi_Create".',
    ),
)


@click.group("task-type", help="Kinds of fulfillment work, with their tasks and services.")
def task_type() -> None:
    pass


@task_type.command("add", help="Register a custom task type.")
@click.argument("code")
@_options
@json_option
@pass_context
def add(
    ctx: Context,
    code: str,
    name: str | None,
    description: str | None,
    tasks: tuple[str, ...],
    as_json: bool,
) -> None:
    data = {"code": code, **given(name=name, description=description)}
    data["task"] = [parse_task(t) for t in tasks]
    spec = build_spec("task type", data, TaskTypeSpec.from_mapping)
    with ctx.transaction() as (_rt, s):
        change = Registry(s, ctx.actor).put_task_type(spec, mode="create")
    emit_changes([change], as_json)


@task_type.command("update", help="Change a custom task type; --task replaces all its tasks.")
@click.argument("code")
@_options
@json_option
@pass_context
def update(
    ctx: Context,
    code: str,
    name: str | None,
    description: str | None,
    tasks: tuple[str, ...],
    as_json: bool,
) -> None:
    with ctx.transaction() as (_rt, s):
        registry = Registry(s, ctx.actor)
        data = {
            **registry.task_type(code).to_mapping(),
            **given(name=name, description=description),
        }
        if tasks:
            data["task"] = [parse_task(t) for t in tasks]
        spec = build_spec("task type", data, TaskTypeSpec.from_mapping)
        change = registry.put_task_type(spec, mode="update")
    emit_changes([change], as_json)


@task_type.command("list", help="List task types (built-in first).")
@json_option
@pass_context
def list_(ctx: Context, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        specs = Registry(s).task_types()
    rows = [
        {
            **t.to_mapping(),
            "built_in": t.system,
            "tasks": ", ".join(task.name for task in t.tasks),
            "services": sum(len(task.services) for task in t.tasks),
        }
        for t in specs
    ]
    emit_table(
        rows,
        [("code", "CODE"), ("built_in", "BUILT-IN"), ("tasks", "TASKS"), ("services", "SERVICES")],
        as_json,
    )


@task_type.command("show", help="Show a task type with its tasks and services.")
@click.argument("code")
@json_option
@pass_context
def show(ctx: Context, code: str, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        spec = Registry(s).task_type(code)
    emit_record({**spec.to_mapping(), "built_in": spec.system}, as_json)


@task_type.command("remove", help="Remove a custom task type no process uses.")
@click.argument("code")
@json_option
@pass_context
def remove(ctx: Context, code: str, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        change = Registry(s, ctx.actor).remove_task_type(code)
    emit_changes([change], as_json)
