"""``omgw process add|list|show|update|remove``."""

from __future__ import annotations

from typing import Any

import click

from connectors.spec_reader import format_duration
from gateway.cli.invocation import Context, pass_context
from gateway.cli.option_values import given
from gateway.cli.output import emit_changes, emit_record, emit_table, json_option
from gateway.orchestration_model import STEP_KINDS, ProcessSpec
from gateway.registry.spec_building import build_spec
from gateway.registry.store import Registry

__all__ = ["parse_step", "process"]

_STEP_HELP = (
    "NAME=TASK_TYPE/TASK/SERVICE[,INTERNAL|EXTERNAL][,DURATION], repeatable, in order; "
    'e.g. "Ship=Shipment/Ship/Create Shipment Request,EXTERNAL,2d".'
)


def parse_step(text: str) -> dict[str, Any]:
    name, sep, rest = text.partition("=")
    parts = [p.strip() for p in rest.split(",")]
    path = parts[0].split("/")
    if not sep or not name.strip() or len(path) != 3 or len(parts) > 3:
        raise click.BadParameter(f"{text!r}: write {_STEP_HELP.split(',')[0]}", param_hint="--step")
    step: dict[str, Any] = {
        "name": name.strip(),
        "task_type": path[0].strip(),
        "task": path[1].strip(),
        "service": path[2].strip(),
    }
    for extra in parts[1:]:
        if extra.upper() in STEP_KINDS:
            step["kind"] = extra.upper()
        elif extra:
            step["planned_duration"] = extra
    return step


def _options(func: Any) -> Any:
    func = click.option("--step", "steps", multiple=True, help=_STEP_HELP)(func)
    return click.option("--description")(func)


@click.group(help="Orchestration process definitions (each change is a new version).")
def process() -> None:
    pass


@process.command("add", help="Define a process.")
@click.argument("name")
@_options
@json_option
@pass_context
def add(
    ctx: Context, name: str, description: str | None, steps: tuple[str, ...], as_json: bool
) -> None:
    data = {"name": name, **given(description=description), "step": [parse_step(t) for t in steps]}
    spec = build_spec("process", data, ProcessSpec.from_mapping)
    with ctx.transaction() as (_rt, s):
        change = Registry(s, ctx.actor).put_process(spec, mode="create")
    emit_changes([change], as_json)


@process.command("update", help="Make a new version; --step replaces all steps.")
@click.argument("name")
@_options
@json_option
@pass_context
def update(
    ctx: Context, name: str, description: str | None, steps: tuple[str, ...], as_json: bool
) -> None:
    with ctx.transaction() as (_rt, s):
        registry = Registry(s, ctx.actor)
        _version, current = registry.process(name)
        data = {**current.to_mapping(), **given(description=description)}
        if steps:
            data["step"] = [parse_step(t) for t in steps]
        spec = build_spec("process", data, ProcessSpec.from_mapping)
        change = registry.put_process(spec, mode="update")
    emit_changes([change], as_json)


@process.command("list", help="List processes at their newest version.")
@json_option
@pass_context
def list_(ctx: Context, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        registry = Registry(s)
        rows = [
            {
                "name": spec.name,
                "version": version,
                "built_in": registry.is_builtin_process(spec.name),
                "steps": " → ".join(step.name for step in spec.steps),
            }
            for version, spec in registry.processes()
        ]
    emit_table(
        rows,
        [("name", "NAME"), ("version", "VERSION"), ("built_in", "BUILT-IN"), ("steps", "STEPS")],
        as_json,
    )


@process.command("show", help="Show a process's steps (the newest version unless --version).")
@click.argument("name")
@click.option("--version", type=int)
@json_option
@pass_context
def show(ctx: Context, name: str, version: int | None, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        registry = Registry(s)
        number, spec = registry.process(name, version)
        versions = registry.process_versions(name)
    if as_json:
        emit_record({**spec.to_mapping(), "version": number, "versions": versions}, True)
        return
    click.echo(f"{spec.name} version {number} (versions: {', '.join(map(str, versions))})")
    if spec.description:
        click.echo(spec.description)
    emit_table(
        [
            {
                "n": i,
                "name": st.name,
                "task_type": st.task_type,
                "task": st.task,
                "service": st.service,
                "kind": st.kind,
                "planned": None
                if st.planned_minutes is None
                else format_duration(st.planned_minutes),
            }
            for i, st in enumerate(spec.steps, start=1)
        ],
        [
            ("n", "#"),
            ("name", "STEP"),
            ("task_type", "TASK TYPE"),
            ("task", "TASK"),
            ("service", "SERVICE"),
            ("kind", "KIND"),
            ("planned", "PLANNED"),
        ],
        False,
    )


@process.command("remove", help="Remove every version of a process.")
@click.argument("name")
@json_option
@pass_context
def remove(ctx: Context, name: str, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        change = Registry(s, ctx.actor).remove_process(name)
    emit_changes([change], as_json)
