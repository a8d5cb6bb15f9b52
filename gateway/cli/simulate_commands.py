"""``omgw simulate fulfillment`` and ``omgw simulate subscriber``: a simulated warehouse and a
simulated business-event subscriber, for demos and fault-injection tests.

Passwords are never option values (they would show in ``ps`` and shell history): they come
from an environment variable or a file the options name.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Protocol, TypeVar

import click

__all__ = ["simulate"]

_RATE = click.FloatRange(0.0, 1.0)
_SECONDS = click.FloatRange(0.0, 3600.0)


@click.group(help="Simulated external systems, for demos and tests.")
def simulate() -> None:
    pass


class _Running(Protocol):
    def close(self) -> None: ...


R = TypeVar("R", bound=_Running)


def _serve_until_stopped(
    start: Callable[[], R], banner: Callable[[R], list[str]], address: str
) -> None:
    """Start a simulator, print its banner, and serve until SIGTERM or Ctrl-C."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            running = start()
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {address}: {exc.strerror}") from None
        try:
            for line in banner(running):
                click.echo(line)
            while not stop.wait(0.5):
                pass
            click.echo("stopping")
        finally:
            running.close()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _secret(env_name: str | None, path: Path | None, what: str) -> str | None:
    """A password from the environment variable or the file named (first line)."""
    if env_name and path:
        raise click.UsageError(f"give the {what} password by environment or by file, not both")
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise click.UsageError(
                f"environment variable {env_name} (the {what} password) is empty"
            )
        return value
    if path:
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise click.UsageError(
                f"cannot read the {what} password file: {exc.strerror}"
            ) from None
        if not lines or not lines[0]:
            raise click.UsageError(f"the {what} password file {path} is empty")
        return lines[0]
    return None


@simulate.command(
    "fulfillment",
    help=(
        "Serve a simulated fulfillment system (connectors/wsdl/outbound/"
        "FulfillmentRequest.wsdl) that ships and bills what omgw asks for and calls the "
        "gateway back; it can inject outages, faults, partial shipments, backorders, slow "
        "answers and duplicate callbacks. It answers order changes (Update, Cancel) and "
        "receives returns. State: GET /simulator/state; change rates at run time: "
        "POST /simulator/control with JSON. Stops on SIGTERM or Ctrl-C."
    ),
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=click.IntRange(0, 65535))
@click.option("--system", default="WMS01", show_default=True, help="Its fulfillment system code.")
@click.option(
    "--delay", default=0.2, show_default=True, type=_SECONDS, help="Seconds before callbacks."
)
@click.option("--failure-rate", default=0.0, show_default=True, type=_RATE, help="Answer 503.")
@click.option(
    "--fault-rate", default=0.0, show_default=True, type=_RATE, help="Answer a Client fault."
)
@click.option(
    "--partial-rate", default=0.0, show_default=True, type=_RATE, help="Ship half a line."
)
@click.option(
    "--backorder-rate", default=0.0, show_default=True, type=_RATE, help="Backorder a line."
)
@click.option(
    "--slow", default=0.0, show_default=True, type=_SECONDS, help="Seconds before answering."
)
@click.option("--duplicate-callbacks", is_flag=True, help="Send every callback twice.")
@click.option(
    "--change-answer",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "accept", "reject", "shipped"]),
    help=(
        "How Update and Cancel requests are answered: auto by whether the lines have shipped; "
        "accept, reject (CHANGE_REJECTED) or shipped (ALREADY_SHIPPED) always."
    ),
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds every random draw.")
@click.option(
    "--gateway-url",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Where to call back when a request has no wsa:ReplyTo.",
)
@click.option("--gateway-user", help="User for calling the gateway back (HTTP Basic).")
@click.option(
    "--gateway-password-env", metavar="NAME", help="Environment variable holding its password."
)
@click.option(
    "--gateway-password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File whose first line is its password.",
)
@click.option("--user", "username", help="User callers must authenticate as (default: none).")
@click.option("--password-env", metavar="NAME", help="Environment variable holding its password.")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File whose first line is its password.",
)
def fulfillment(
    host: str,
    port: int,
    system: str,
    delay: float,
    failure_rate: float,
    fault_rate: float,
    partial_rate: float,
    backorder_rate: float,
    slow: float,
    duplicate_callbacks: bool,
    change_answer: str,
    seed: int,
    gateway_url: str,
    gateway_user: str | None,
    gateway_password_env: str | None,
    gateway_password_file: Path | None,
    username: str | None,
    password_env: str | None,
    password_file: Path | None,
) -> None:
    from simulators.fulfillment import serve_simulator
    from simulators.fulfillment_options import SimulatorOptions

    gateway_password = _secret(gateway_password_env, gateway_password_file, "gateway")
    if gateway_password is not None and gateway_user is None:
        raise click.UsageError("a gateway password needs --gateway-user")
    password = _secret(password_env, password_file, "inbound")
    if (username is None) != (password is None):
        raise click.UsageError(
            "--user needs --password-env or --password-file, and they need --user"
        )
    try:
        options = SimulatorOptions(
            system=system,
            delay=delay,
            failure_rate=failure_rate,
            fault_rate=fault_rate,
            partial_rate=partial_rate,
            backorder_rate=backorder_rate,
            slow=slow,
            duplicate_callbacks=duplicate_callbacks,
            change_answer=change_answer,
            username=username,
            password=password,
            gateway_url=gateway_url,
            gateway_user=gateway_user,
            gateway_password=gateway_password,
            seed=seed,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    _serve_until_stopped(
        lambda: serve_simulator(options, host, port),
        lambda sim: [
            f"fulfillment system {options.system}: {sim.url}",
            f"WSDL: {sim.wsdl_url}",
            f"state: {sim.base}/simulator/state",
            f"callbacks without wsa:ReplyTo go to {options.public()['gateway_url']}",
        ],
        f"{host}:{port}",
    )


@simulate.command(
    "subscriber",
    help=(
        "Serve a simulated business-event subscriber (connectors/wsdl/events/"
        "BusinessEventsConnector.wsdl, one-way pushPayload) that validates and records every "
        "event pushed to it, once per wsa:MessageID; it can be down, slow, or answer 503s and "
        "SOAP faults at given rates. State: GET /state (?xml=1 adds the payloads); change "
        "rates at run time: POST /control with JSON. Stops on SIGTERM or Ctrl-C."
    ),
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8082, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--fault-rate", default=0.0, show_default=True, type=_RATE, help="Answer a Server fault."
)
@click.option(
    "--client-fault-rate",
    default=0.0,
    show_default=True,
    type=_RATE,
    help="Answer a Client fault (payload refused).",
)
@click.option("--failure-rate", default=0.0, show_default=True, type=_RATE, help="Answer 503.")
@click.option("--down", is_flag=True, help="Answer every push 503 (until POST /control).")
@click.option(
    "--delay", default=0.0, show_default=True, type=_SECONDS, help="Seconds before answering."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds every random draw.")
@click.option(
    "--username", "--user", "username", help="User pushes must authenticate as (default: none)."
)
@click.option("--password-env", metavar="NAME", help="Environment variable holding its password.")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File whose first line is its password.",
)
@click.option(
    "--record-events",
    "record_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each event's payload to DIR (created if need be).",
)
def subscriber(
    host: str,
    port: int,
    fault_rate: float,
    client_fault_rate: float,
    failure_rate: float,
    down: bool,
    delay: float,
    seed: int,
    username: str | None,
    password_env: str | None,
    password_file: Path | None,
    record_dir: Path | None,
) -> None:
    from simulators.subscriber import SubscriberOptions, serve_subscriber

    password = _secret(password_env, password_file, "subscriber")
    if (username is None) != (password is None):
        raise click.UsageError(
            "--username needs --password-env or --password-file, and they need --username"
        )
    try:
        options = SubscriberOptions(
            fault_rate=fault_rate,
            client_fault_rate=client_fault_rate,
            failure_rate=failure_rate,
            down=down,
            delay=delay,
            seed=seed,
            username=username,
            password=password,
            record_dir=record_dir,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    if record_dir is not None:
        try:
            record_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.ClickException(f"cannot create {record_dir}: {exc.strerror}") from None

    _serve_until_stopped(
        lambda: serve_subscriber(options, host, port),
        lambda sub: [
            f"event subscriber: {sub.url}",
            f"WSDL: {sub.wsdl_url}",
            f"state: {sub.base}/state",
            *([f"payloads are written to {record_dir}"] if record_dir is not None else []),
        ],
        f"{host}:{port}",
    )
