"""``omgw user add|list|remove``: API users of the SOAP services and their roles."""

from __future__ import annotations

import sys

import click
from sqlalchemy import delete, select

from gateway.cli.context import Context, pass_context
from gateway.persistence.models import User
from gateway.runtime import Runtime
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
@pass_context
def user_add(ctx: Context, name: str, roles: tuple[str, ...], password_stdin: bool) -> None:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.ClickException("the password must have at least 8 characters")
    runtime = Runtime(ctx.settings)
    try:
        sealed = runtime.secret_box.seal(password.encode(), f"user:{name}")
        with runtime.sessions() as s, s.begin():
            row = s.scalar(select(User).where(User.username == name))
            if row is None:
                row = User(username=name)
                s.add(row)
            row.password_hash = hash_password(password)
            row.digest_secret = sealed
            row.roles = " ".join(sorted(set(roles)))
    finally:
        runtime.close()
    click.echo(f"user {name}: roles {' '.join(sorted(set(roles)))}")


@user.command("list", help="List users and roles (never passwords).")
@pass_context
def user_list(ctx: Context) -> None:
    runtime = Runtime(ctx.settings)
    try:
        with runtime.sessions() as s:
            for row in s.scalars(select(User).order_by(User.username)):
                click.echo(f"{row.username}\t{row.roles}")
    finally:
        runtime.close()


@user.command("remove", help="Remove a user.")
@click.argument("name")
@pass_context
def user_remove(ctx: Context, name: str) -> None:
    runtime = Runtime(ctx.settings)
    try:
        with runtime.sessions() as s, s.begin():
            result = s.execute(delete(User).where(User.username == name))
            count = getattr(result, "rowcount", 0)
    finally:
        runtime.close()
    if not count:
        raise click.ClickException(f"no user {name}")
    click.echo(f"removed {name}")
