"""``omgw user add|list|bind|unbind|remove``: API users of the SOAP services, their roles
and the systems they may act for."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.registry import is_plain
from gateway.cli.context import Context, pass_context
from gateway.cli.output import emit_changes, emit_table, json_option
from gateway.errors import ConflictError, NotFoundError, ValidationError, did_you_mean
from gateway.persistence import audit
from gateway.persistence.audit import Change
from gateway.persistence.models import User
from gateway.registry.bindings import binding_of, check_systems, set_binding, stored_systems
from gateway.registry.wallet import seal_user_secret
from gateway.security.passwords import hash_password
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
            _refuse_existing(s, name)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not is_plain(name, 100):
        raise ValidationError(
            "INVALID_VALUE", "a user name is 1 to 100 characters, no control characters"
        )
    if len(password) < 8:
        raise click.ClickException("the password must have at least 8 characters")
    _one_kind(systems, all_systems)
    role_text = " ".join(sorted(set(roles)))
    with ctx.transaction() as (runtime, s):
        check_systems(s, systems)
        sealed = seal_user_secret(s, lambda: runtime.secret_box, name, password)
        if not replace:
            _refuse_existing(s, name)  # again: another admin may have added it meanwhile
        row = s.scalar(select(User).where(User.username == name))
        before = None if row is None else {"roles": row.roles, **binding_of(row)}
        if row is None:
            row = User(username=name, systems="", all_systems=False)
            s.add(row)
        row.password_hash = hash_password(password)
        row.digest_secret = sealed
        row.roles = role_text
        if systems or all_systems:
            row.systems = stored_systems(systems)
            row.all_systems = all_systems
        change = Change(
            "create" if before is None else "update",
            "user",
            name,
            before,
            {"roles": role_text, **binding_of(row), "password": "set"},
        )
        audit.record(s, ctx.actor, change)
    emit_changes([change], as_json)


def _refuse_existing(s: Session, name: str) -> None:
    if s.scalar(select(User.id).where(User.username == name)) is not None:
        raise ConflictError(
            "ALREADY_EXISTS",
            f"user {name} already exists; to change its password or roles, run "
            f"'omgw user add {name} --replace --role ROLE...' (its systems: omgw user bind)",
        )


def _one_kind(systems: tuple[str, ...], all_systems: bool) -> None:
    if systems and all_systems:
        raise click.UsageError("give --system or --all-systems, not both")


def _systems_cell(user: User) -> str:
    if user.all_systems:
        return "(all)"
    return " ".join(user.systems.split()) or "(none)"


@user.command("list", help="List users, roles and systems (never passwords).")
@json_option
@pass_context
def user_list(ctx: Context, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        users = list(s.scalars(select(User).order_by(User.username)))
        if as_json:
            rows = [{"username": u.username, "roles": u.roles, **binding_of(u)} for u in users]
        else:
            rows = [
                {"username": u.username, "roles": u.roles, "systems": _systems_cell(u)}
                for u in users
            ]
    emit_table(
        rows, [("username", "USERNAME"), ("roles", "ROLES"), ("systems", "SYSTEMS")], as_json
    )


def _bound_user(s: Session, name: str) -> User:
    row = s.scalar(select(User).where(User.username == name))
    if row is None:
        like = did_you_mean(name, s.scalars(select(User.username)))
        raise NotFoundError("USER_UNKNOWN", f"there is no user {name!r}{like}")
    return row


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
        row = _bound_user(s, name)
        codes = [*row.systems.split(), *systems]
        change = set_binding(s, ctx.actor, row, codes, row.all_systems or all_systems)
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
        row = _bound_user(s, name)
        codes = [c for c in row.systems.split() if c not in set(systems)]
        change = set_binding(s, ctx.actor, row, codes, row.all_systems and not all_systems)
    emit_changes([change], as_json)


@user.command("remove", help="Remove a user.")
@click.argument("name")
@json_option
@pass_context
def user_remove(ctx: Context, name: str, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        row = _bound_user(s, name)
        change = Change("delete", "user", name, {"roles": row.roles, **binding_of(row)}, None)
        s.delete(row)
        audit.record(s, ctx.actor, change)
    emit_changes([change], as_json)
