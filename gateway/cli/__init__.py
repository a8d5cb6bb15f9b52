"""The ``omgw`` command line: a thin click group over the services.

Settings are read once, lazily, when a command runs (STYLE §2.7, §2.18).
"""

from __future__ import annotations

import logging

import click

from connectors.wallet import WalletError
from gateway.cli import admin, run
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


@click.group(cls=_Group, help="omgw: the Order Management SOAP gateway.")
@click.pass_context
def cli(ctx: click.Context) -> None:
    ctx.ensure_object(Context)


for command in (
    run.init,
    run.serve,
    run.background,
    run.import_staged,
    run.process_responses,
    run.wsdl,
    admin.user,
    admin.source_system,
):
    cli.add_command(command)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cli()
