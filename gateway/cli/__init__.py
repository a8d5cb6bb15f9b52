"""The ``omgw`` command line: a thin click group over the services.

Settings are read once, lazily, when a command runs (STYLE §2.7, §2.18).
"""

from __future__ import annotations

import logging

import click
from sqlalchemy.exc import IntegrityError, OperationalError

from connectors.wallet import WalletError
from gateway.cli import (
    audit,
    connector,
    process,
    run,
    setup,
    source_system,
    task_type,
    users,
    wallet,
    xref,
)
from gateway.cli.context import Context
from gateway.errors import GatewayError

__all__ = ["cli", "main"]


class _Group(click.Group):
    """Turns the errors a user can fix (wallet key, bad values) into one clear line."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (WalletError, GatewayError) as exc:
            raise click.ClickException(str(exc)) from None
        except IntegrityError:
            raise click.ClickException(
                "the database refused the change because another one got there first "
                "(two admins at once?); nothing was written, run the command again"
            ) from None
        except OperationalError as exc:
            raise click.ClickException(
                "the database is unreachable or busy: "
                + (str(exc.orig).strip().splitlines() or ["no detail"])[0]
            ) from None


@click.group(cls=_Group, help="omgw: the Order Management SOAP gateway.")
@click.option(
    "--actor",
    envvar="OMGW_ACTOR",
    help="Who makes the change, for the audit log (default: the OS user).",
)
@click.pass_context
def cli(ctx: click.Context, actor: str | None) -> None:
    context = ctx.ensure_object(Context)
    if actor:
        context.actor = actor


for command in (
    run.init,
    run.serve,
    run.background,
    run.import_staged,
    run.process_responses,
    run.wsdl,
    setup.apply,
    setup.export,
    source_system.source_system,
    xref.xref,
    connector.connector,
    wallet.wallet,
    task_type.task_type,
    process.process,
    audit.audit,
    users.user,
):
    cli.add_command(command)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # every command checks the schema
    cli()
