"""The ``omgw`` command line: a thin click group over the services.

Settings are read once, lazily, when a command runs (STYLE §2.7, §2.18). So are the
commands: each group lives in a module of this package named for it (``hold_commands``
holds ``omgw hold``), imported only when it runs (or when its own help is asked for), so
``omgw --help`` and a command's start import no more than that command needs; the
summaries ``omgw --help`` lists are in :data:`COMMANDS` (a test holds them equal to the
commands' own help). The other modules here are what the commands share.
"""

from __future__ import annotations

import importlib
import json
import logging
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError

__all__ = ["COMMANDS", "cli", "main"]

#: name -> (module of this package, attribute, the summary ``omgw --help`` lists)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "apply": (
        "setup_commands",
        "apply",
        ("Create or update everything a setup file declares, all or nothing."),
    ),
    "audit": ("audit_commands", "audit", "Who changed the setup, what, when, before and after."),
    "background": (
        "run_commands",
        "background",
        (
            "Run the background loop (staged orders and responses) and an outbox worker until"
            " stopped."
        ),
    ),
    "connector": (
        "connector_commands",
        "connector",
        ("Endpoints of target systems: URL, credentials, invocation mode, retries."),
    ),
    "demo": (
        "demo_commands",
        "demo",
        (
            "Set up the embedded default in OMGW_HOME, start the gateway, two simulated "
            "warehouses (one asynchronous, one synchronous), a business-event subscriber and "
            "a worker, import a batch of orders and follow each one until it closes; then "
            "cancel a line and change a quantity in flight, return 2 of 5 shipped units twice "
            "(a third return is refused) and print a summary with the events received."
        ),
    ),
    "export": (
        "setup_commands",
        "export",
        ("Write the current setup in the apply format (secrets by reference only)."),
    ),
    "hold": (
        "hold_commands",
        "hold",
        "Holds on orders and order lines (a held line does not progress).",
    ),
    "import-staged": (
        "run_commands",
        "import_staged",
        ("Import the orders staged by stageOrders, then exit."),
    ),
    "init": (
        "run_commands",
        "init",
        "Create the home directory, the database and the wallet key file.",
    ),
    "jeopardy": (
        "jeopardy_commands",
        "jeopardy",
        ("Jeopardy: lines running late against their planned completion."),
    ),
    "messages": (
        "messages_commands",
        "messages",
        ("Messages in and out: the inbound log, the outbox, replay, park and discard."),
    ),
    "orders": (
        "orders_commands",
        "orders",
        ("Orders: their lines, fulfillment, status history and messages."),
    ),
    "process": (
        "process_commands",
        "process",
        ("Orchestration process definitions (each change is a new version)."),
    ),
    "process-responses": (
        "run_commands",
        "process_responses",
        ("Process responses staged by stageFulfillmentResponse, then exit."),
    ),
    "rule": (
        "rule_commands",
        "rule",
        "Routing rules: which connector each fulfillment request goes to.",
    ),
    "serve": (
        "run_commands",
        "serve",
        "Serve the SOAP services (gunicorn) with the background loop.",
    ),
    "simulate": (
        "simulate_commands",
        "simulate",
        "Simulated external systems, for demos and tests.",
    ),
    "source-system": (
        "source_system_commands",
        "source_system",
        ("Systems known to the hub (order capture, fulfillment, business events only)."),
    ),
    "staged": (
        "staged_commands",
        "staged",
        (
            "Staged orders (stageOrders) and responses (stageFulfillmentResponse) the "
            "background loop could not process: list them, retry them, discard them."
        ),
    ),
    "status": (
        "status_commands",
        "status",
        ("What is waiting, what is broken, and what needs a person, on one screen."),
    ),
    "task-type": (
        "task_type_commands",
        "task_type",
        ("Kinds of fulfillment work, with their tasks and services."),
    ),
    "trigger": (
        "trigger_commands",
        "trigger",
        (
            "Trigger points: which order changes raise business events (pushPayload to "
            "BUSINESS_EVENT connectors) or e-mail."
        ),
    ),
    "user": ("users_commands", "user", "API users, their roles and the systems they may act for."),
    "wallet": (
        "wallet_commands",
        "wallet",
        ("Encrypted credentials that connectors name by (credential map, key)."),
    ),
    "worker": (
        "run_commands",
        "worker",
        ("Deliver the outbox: claim due messages with a lease, send them, retry or park."),
    ),
    "wsdl": ("run_commands", "wsdl", "Write the published WSDLs to a directory (default ./wsdl)."),
    "xref": (
        "xref_commands",
        "xref",
        ("Data cross-references: a system's values (items, UOMs, statuses) ↔ ours."),
    ),
}


def _first_line(exc: DBAPIError) -> str:
    """The driver's own first line: names the constraint or column, never a value."""
    return (str(exc.orig).strip().splitlines() or ["no detail"])[0]


class _Group(click.Group):
    """Loads each command when it is used, and turns the errors a user can fix (wallet
    key, bad values) into one clear line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute, _summary = COMMANDS[cmd_name]
        command: click.Command = getattr(
            importlib.import_module(f"gateway.cli.{module}"), attribute
        )
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(n, click.Command(n, help=COMMANDS[n][2]).get_short_help_str(limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        """Runs the command. The failure of one given ``--json`` is printed as
        ``{"error": {"code", "message"}}`` on standard output (where its JSON goes), with
        the same exit code: a usage mistake is ``USAGE_ERROR`` (exit 2), a failure with no
        code of its own ``COMMAND_FAILED``."""
        from gateway.cli.output import JSON_ERRORS

        try:
            return self._invoke(ctx)
        except click.ClickException as exc:
            if not ctx.meta.get(JSON_ERRORS):
                raise
            if isinstance(getattr(exc, "code", None), str):  # _Failed, or a command's own
                code = exc.code  # type: ignore[attr-defined]
            elif isinstance(exc, click.UsageError):
                code = "USAGE_ERROR"
            else:
                code = "COMMAND_FAILED"
            error = {"code": code, "message": exc.format_message()}
            click.echo(json.dumps({"error": error}, indent=2))
            ctx.exit(exc.exit_code)

    def _invoke(self, ctx: click.Context) -> object:
        from sqlalchemy.exc import DataError, IntegrityError, OperationalError

        from connectors.connector_errors import ConnectorError
        from gateway.errors import GatewayError, translate
        from routing.routing_errors import RoutingError

        try:
            return super().invoke(ctx)
        except GatewayError as exc:
            raise _Failed(exc.code, str(exc)) from None
        except (ConnectorError, RoutingError) as exc:
            error = translate(exc)
            raise _Failed(error.code, error.message) from None
        except IntegrityError as exc:
            raise _Failed(
                "DATABASE_REFUSED",
                f"the database refused the change ({_first_line(exc)}); nothing was written. "
                "If another admin changed the same thing at that moment, run it again",
            ) from None
        except DataError as exc:
            raise _Failed(
                "DATABASE_REFUSED",
                f"the database refused a value ({_first_line(exc)}); nothing was written",
            ) from None
        except OperationalError as exc:
            raise _Failed(
                "DATABASE_UNAVAILABLE", f"the database is unreachable or busy: {_first_line(exc)}"
            ) from None


class _Failed(click.ClickException):
    """A command's failure with the code ``--json`` reports it under."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@click.group(cls=_Group, help="omgw: the Order Management SOAP gateway.")
@click.version_option(package_name="omgw", prog_name="omgw", message="%(prog)s %(version)s")
@click.option(
    "--actor",
    envvar="OMGW_ACTOR",
    help="Who makes the change, for the audit log (default: the OS user).",
)
@click.pass_context
def cli(ctx: click.Context, actor: str | None) -> None:
    from connectors.spec_reader import is_plain
    from gateway.cli.invocation import Context

    context = ctx.ensure_object(Context)
    if actor is not None:
        if not is_plain(actor, 100):
            raise click.BadParameter(
                "1 to 100 characters, no control characters", param_hint="--actor"
            )
        context.actor = actor.strip()


def main() -> None:
    from gateway.observe.logs import TEXT_FORMAT

    logging.basicConfig(level=logging.INFO, format=TEXT_FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # every command checks the schema
    cli()
