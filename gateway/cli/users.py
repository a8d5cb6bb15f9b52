"""``omgw user add|list|remove``: API users of the SOAP services and their roles."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from connectors.registry import is_plain
from gateway.cli.context import Context, pass_context
from gateway.cli.output import emit_changes, emit_table, json_option
from gateway.errors import NotFoundError, ValidationError
from gateway.persistence.models import User
from gateway.registry import audit
from gateway.registry.audit import Change
from gateway.registry.wallet import seal_user_secret
from gateway.security.passwords import hash_password
from gateway.security.roles import ROLES

__all__ = ["user"]


@click.group(help="API users and their roles.")
def user() -> None:
    pass


@user.command("add", help="Add a user (or replace its password and roles).")
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(ROLES),
    help="Repeat for several roles.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@json_option
@pass_context
def user_add(
    ctx: Context, name: str, roles: tuple[str, ...], password_stdin: bool, as_json: bool
) -> None:
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
    role_text = " ".join(sorted(set(roles)))
    with ctx.transaction() as (runtime, s):
        sealed = seal_user_secret(s, lambda: runtime.secret_box, name, password)
        row = s.scalar(select(User).where(User.username == name))
        before = None if row is None else {"roles": row.roles}
        if row is None:
            row = User(username=name)
            s.add(row)
        row.password_hash = hash_password(password)
        row.digest_secret = sealed
        row.roles = role_text
        change = Change(
            "create" if before is None else "update",
            "user",
            name,
            before,
            {"roles": role_text, "password": "set"},
        )
        audit.record(s, ctx.actor, change)
    emit_changes([change], as_json)


@user.command("list", help="List users and roles (never passwords).")
@json_option
@pass_context
def user_list(ctx: Context, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        rows = [
            {"username": u.username, "roles": u.roles}
            for u in s.scalars(select(User).order_by(User.username))
        ]
    emit_table(rows, [("username", "USERNAME"), ("roles", "ROLES")], as_json)


@user.command("remove", help="Remove a user.")
@click.argument("name")
@json_option
@pass_context
def user_remove(ctx: Context, name: str, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        row = s.scalar(select(User).where(User.username == name))
        if row is None:
            raise NotFoundError("USER_UNKNOWN", f"there is no user {name!r}")
        change = Change("delete", "user", name, {"roles": row.roles}, None)
        s.delete(row)
        audit.record(s, ctx.actor, change)
    emit_changes([change], as_json)
