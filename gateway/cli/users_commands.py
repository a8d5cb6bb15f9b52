"""``omgw user add|list|bind|unbind|remove``: API users of the SOAP services, their roles
and the systems they may act for (the changes are :mod:`gateway.registry.user_admin`'s)."""

from __future__ import annotations

import sys

import click

from gateway.cli.invocation import Context, pass_context
from gateway.cli.output import emit_changes, emit_table, json_option
from gateway.registry.user_admin import (
    MIN_PASSWORD,
    bind_systems,
    check_name,
    put_user,
    refuse_existing,
    remove_user,
    unbind_systems,
    user_records,
)
from gateway.security.roles import ROLES

__all__ = ["user"]


@click.group(help="API users, their roles and the systems they may act for.")
def user() -> None:
    pass


@user.command(
    "add",
    help="Add a user. An existing user is refused unless --replace is given, which sets its "
    "password and roles anew (the way to change a password).",
)
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(ROLES),
    help="Repeat for several roles.",
)
@click.option(
    "--system",
    "systems",
    multiple=True,
    help="A source or fulfillment system (code) the user may act for; repeat for several. "
    "Replaces the user's systems; without it (and --all-systems) they are kept, and a new "
    "user is bound to none.",
)
@click.option("--all-systems", is_flag=True, help="Let the user act for every system (admins).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--replace",
    is_flag=True,
    help="Replace an existing user's password and roles (its systems are kept unless given).",
)
@json_option
@pass_context
def user_add(
    ctx: Context,
    name: str,
    roles: tuple[str, ...],
    systems: tuple[str, ...],
    all_systems: bool,
    password_stdin: bool,
    replace: bool,
    as_json: bool,
) -> None:
    if not replace:  # before the password prompt: say so before one is typed
        with ctx.reading() as (_rt, s):
            refuse_existing(s, name)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    check_name(name)
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"the password must have at least {MIN_PASSWORD} characters")
    _one_kind(systems, all_systems)
    with ctx.transaction() as (runtime, s):
        change = put_user(
            s,
            lambda: runtime.secret_box,
            ctx.actor,
            name,
            password,
            roles,
            systems,
            all_systems,
            replace=replace,
        )
    emit_changes([change], as_json)


def _one_kind(systems: tuple[str, ...], all_systems: bool) -> None:
    if systems and all_systems:
        raise click.UsageError("give --system or --all-systems, not both")


def _systems_cell(record: dict[str, object]) -> str:
    if record["all_systems"]:
        return "(all)"
    return " ".join(record["systems"]) or "(none)"  # type: ignore[arg-type]


@user.command("list", help="List users, roles and systems (never passwords).")
@json_option
@pass_context
def user_list(ctx: Context, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        records = user_records(s)
    rows = records
    if not as_json:
        rows = [
            {"username": r["username"], "roles": r["roles"], "systems": _systems_cell(r)}
            for r in records
        ]
    emit_table(
        rows, [("username", "USERNAME"), ("roles", "ROLES"), ("systems", "SYSTEMS")], as_json
    )


_SYSTEM = click.option(
    "--system", "systems", multiple=True, help="A system code; repeat for several."
)


@user.command("bind", help="Let a user act for more systems, or for every system.")
@click.argument("name")
@_SYSTEM
@click.option("--all-systems", is_flag=True, help="Grant every system, present and future.")
@json_option
@pass_context
def user_bind(
    ctx: Context, name: str, systems: tuple[str, ...], all_systems: bool, as_json: bool
) -> None:
    _one_kind(systems, all_systems)
    if not systems and not all_systems:
        raise click.UsageError("give --system CODE (repeatable) or --all-systems")
    with ctx.transaction() as (_rt, s):
        change = bind_systems(s, ctx.actor, name, systems, all_systems)
    emit_changes([change], as_json)


@user.command("unbind", help="Stop a user acting for systems, or revoke --all-systems.")
@click.argument("name")
@_SYSTEM
@click.option("--all-systems", is_flag=True, help="Revoke the grant of every system.")
@json_option
@pass_context
def user_unbind(
    ctx: Context, name: str, systems: tuple[str, ...], all_systems: bool, as_json: bool
) -> None:
    if not systems and not all_systems:
        raise click.UsageError("give --system CODE (repeatable) or --all-systems")
    with ctx.transaction() as (_rt, s):
        change = unbind_systems(s, ctx.actor, name, systems, all_systems)
    emit_changes([change], as_json)


@user.command("remove", help="Remove a user.")
@click.argument("name")
@json_option
@pass_context
def user_remove(ctx: Context, name: str, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        change = remove_user(s, ctx.actor, name)
    emit_changes([change], as_json)
