"""The ``omgw`` command line: a thin click group over the services.

Settings are read once, lazily, when a command runs (STYLE §2.7, §2.18).
"""

from __future__ import annotations

import logging

import click

from connectors.wallet import WalletError
from gateway.config import Settings
from gateway.errors import GatewayError

__all__ = ["cli", "main"]


class Context:
    """Lazily built settings shared by the commands of one invocation."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings


pass_context = click.make_pass_decorator(Context, ensure=True)


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


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cli()


from gateway.cli import admin, run  # noqa: E402  (commands register on import)

cli.add_command(run.init)
cli.add_command(run.serve)
cli.add_command(run.background)
cli.add_command(run.import_staged)
cli.add_command(run.process_responses)
cli.add_command(run.wsdl)
cli.add_command(admin.user)
cli.add_command(admin.source_system)
