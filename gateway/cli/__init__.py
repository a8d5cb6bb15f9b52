"""The ``omgw`` command line: a thin click group over the services.

Settings are read once, lazily, when a command runs (STYLE §2.7, §2.18).
"""

from __future__ import annotations

import logging

import click
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from connectors.registry import is_plain
from connectors.wallet import WalletError
from gateway.cli import (
    audit,
    connector,
    demo,
    hold,
    jeopardy,
    jeopardy_check,
    messages,
    orders,
    process,
    rule,
    run,
    setup,
    simulate,
    source_system,
    task_type,
    trigger,
    users,
    wallet,
    xref,
)
from gateway.cli.context import Context
from gateway.errors import GatewayError

__all__ = ["cli", "main"]


def _first_line(exc: DBAPIError) -> str:
    """The driver's own first line: names the constraint or column, never a value."""
    return (str(exc.orig).strip().splitlines() or ["no detail"])[0]


class _Group(click.Group):
    """Turns the errors a user can fix (wallet key, bad values) into one clear line."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (WalletError, GatewayError) as exc:
            raise click.ClickException(str(exc)) from None
        except IntegrityError as exc:
            raise click.ClickException(
                f"the database refused the change ({_first_line(exc)}); nothing was written. "
                "If another admin changed the same thing at that moment, run it again"
            ) from None
        except DataError as exc:
            raise click.ClickException(
                f"the database refused a value ({_first_line(exc)}); nothing was written"
            ) from None
        except OperationalError as exc:
            raise click.ClickException(
                f"the database is unreachable or busy: {_first_line(exc)}"
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
    if actor is not None:
        if not is_plain(actor, 100):
            raise click.BadParameter(
                "1 to 100 characters, no control characters", param_hint="--actor"
            )
        context.actor = actor.strip()


for command in (
    run.init,
    run.serve,
    run.background,
    run.worker,
    demo.demo,
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
    rule.rule,
    trigger.trigger,
    hold.hold,
    jeopardy.jeopardy,
    audit.audit,
    users.user,
    simulate.simulate,
    orders.orders,
    messages.messages,
):
    cli.add_command(command)
jeopardy.jeopardy.add_command(jeopardy_check.check)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # every command checks the schema
    cli()
