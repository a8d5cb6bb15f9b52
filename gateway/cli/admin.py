"""``omgw user …`` and ``omgw source-system …``."""

from __future__ import annotations

import sys

import click
from sqlalchemy import delete, select

from gateway.cli.context import Context, pass_context
from gateway.orders.responses import PROCESSING_OPTIONS
from gateway.persistence.models import SourceSystem, User
from gateway.runtime import Runtime
from gateway.security.passwords import hash_password
from gateway.security.roles import ROLES

__all__ = ["source_system", "user"]


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


@click.group("source-system", help="Systems known to the hub.")
def source_system() -> None:
    pass


@source_system.command("add", help="Add or update a source system.")
@click.argument("code")
@click.option("--name", default="")
@click.option("--type", "system_type", type=click.Choice(["SPOKE", "PURCHASED"]), default="SPOKE")
@click.option("--order-capture", is_flag=True, help="Sends orders in.")
@click.option("--fulfillment", is_flag=True, help="Receives fulfillment requests, sends responses.")
@click.option(
    "--response-processing",
    type=click.Choice(PROCESSING_OPTIONS),
    default="REJECT_ALL_ON_FIRST_ERROR",
    show_default=True,
)
@pass_context
def source_system_add(
    ctx: Context,
    code: str,
    name: str,
    system_type: str,
    order_capture: bool,
    fulfillment: bool,
    response_processing: str,
) -> None:
    if not (order_capture or fulfillment):
        raise click.ClickException("say --order-capture, --fulfillment, or both")
    runtime = Runtime(ctx.settings)
    try:
        with runtime.sessions() as s, s.begin():
            row = s.scalar(select(SourceSystem).where(SourceSystem.code == code))
            if row is None:
                row = SourceSystem(code=code)
                s.add(row)
            row.name = name or row.name or code
            row.system_type = system_type
            row.order_capture = order_capture
            row.fulfillment = fulfillment
            row.response_processing_option = response_processing
    finally:
        runtime.close()
    roles = [r for r, on in (("order capture", order_capture), ("fulfillment", fulfillment)) if on]
    click.echo(f"source system {code}: {', '.join(roles)}; {response_processing}")


@source_system.command("list", help="List source systems.")
@pass_context
def source_system_list(ctx: Context) -> None:
    runtime = Runtime(ctx.settings)
    try:
        with runtime.sessions() as s:
            for row in s.scalars(select(SourceSystem).order_by(SourceSystem.code)):
                uses = "+".join(
                    u
                    for u, on in (("capture", row.order_capture), ("fulfillment", row.fulfillment))
                    if on
                )
                click.echo(
                    f"{row.code}\t{row.system_type}\t{uses}\t{row.response_processing_option}"
                )
    finally:
        runtime.close()
