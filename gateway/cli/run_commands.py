"""``omgw init``, ``serve``, ``background``, ``import-staged``, ``process-responses``, ``wsdl``."""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click
from sqlalchemy import make_url, select

from connectors.connector_specs import DEFAULT_CREDENTIAL_MAP
from connectors.secret_box import Credential, KeyFile, MasterKey
from gateway.cli.invocation import Context, pass_context
from gateway.config import Settings
from gateway.persistence.models import User, WalletState
from gateway.registry.wallet_store import Wallet, key_problem, seal_user_secret
from gateway.runtime import Runtime, limit_malloc_retention
from gateway.security.passwords import hash_password
from gateway.security.roles import ROLES

__all__ = ["background", "import_staged", "init", "process_responses", "serve", "worker", "wsdl"]

SAMPLE_USER = "omgw-demo"
SAMPLE_WALLET_KEY = "WMS01_KEY"
#: the systems of gateway/setup/sample.toml the sample user acts for: it imports for LEGACY and
#: CSS01, and the simulated warehouse answers as WMS01 with its credentials
SAMPLE_SYSTEMS = ("CSS01", "LEGACY", "WMS01")
#: the sample's connectors to what ``serve --simulate`` runs, and the path each calls
SAMPLE_SIMULATOR_CONNECTOR = ("WMS01_Fulfillment", "/simulator/FulfillmentService")
SAMPLE_SUBSCRIBER_CONNECTOR = ("LEGACY_Events", "/events/OrderEventService")


@click.command(help="Create the home directory, the database and the wallet key file.")
@click.option("--sample", is_flag=True, help="Also add a demo user and the sample wallet entry.")
@pass_context
def init(ctx: Context, sample: bool) -> None:
    from gateway.startup import prepare

    ctx.makes_home = True
    settings = ctx.settings
    prepare(settings)
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    click.echo(f"database: {shown}")
    runtime = Runtime(settings)
    try:
        with runtime.read_sessions() as s:
            sealed_here = s.get(WalletState, 1) is not None
            if settings.wallet_key_b64 or settings.key_file.exists():
                # A broken, loose or foreign key is reported now, not at the first secret.
                why = key_problem(s, runtime.secret_box)
                if why is not None:
                    raise click.ClickException(why)
    finally:
        runtime.close()
    if settings.wallet_key_b64:
        click.echo("wallet key: from OMGW_WALLET_KEY")
    elif settings.key_file.exists():
        click.echo(f"wallet key: {settings.key_file} (kept)")
    elif sealed_here:
        raise click.ClickException(
            f"this database already holds secrets sealed with a wallet key, and there is no "
            f"key file at {settings.key_file}: copy wallet.key from a host that uses this "
            "database (mode 0600), or set OMGW_WALLET_KEY"
        )
    else:
        KeyFile(settings.key_file).create(MasterKey.generate())
        click.echo(f"wallet key: {settings.key_file} (created, mode 0600)")
    if sample:
        _sample(ctx)


def _sample(ctx: Context) -> None:
    """A demo API user, bound to the sample setup's systems, and the wallet entry the
    sample setup's connector names.

    The source systems, connectors and process come from ``gateway/setup/sample.toml``
    (``omgw apply``), so that what ``make run`` sets up is the commented sample file.
    """
    runtime = Runtime(ctx.settings)
    try:
        with runtime.sessions() as s, s.begin():
            if s.scalar(select(User).where(User.username == SAMPLE_USER)) is None:
                password = secrets.token_urlsafe(18)
                s.add(
                    User(
                        username=SAMPLE_USER,
                        password_hash=hash_password(password),
                        digest_secret=seal_user_secret(
                            s, lambda: runtime.secret_box, SAMPLE_USER, password
                        ),
                        roles=" ".join(ROLES),
                        # bound before the sample registers them: `omgw apply` follows
                        systems=" ".join(SAMPLE_SYSTEMS),
                        all_systems=False,
                    )
                )
                path = ctx.settings.home / "demo-user.txt"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(f"{SAMPLE_USER}:{password}\n")
                click.echo(f"sample user {SAMPLE_USER}: credentials in {path} (mode 0600)")
            wallet = Wallet(s, lambda: runtime.secret_box, ctx.actor)
            if not wallet.exists(DEFAULT_CREDENTIAL_MAP, SAMPLE_WALLET_KEY):
                wallet.set(
                    DEFAULT_CREDENTIAL_MAP,
                    SAMPLE_WALLET_KEY,
                    Credential("omgw", secrets.token_urlsafe(18)),
                )
                click.echo(
                    f"sample wallet entry ({DEFAULT_CREDENTIAL_MAP}, {SAMPLE_WALLET_KEY}): "
                    "a random password for the simulated warehouse"
                )
    finally:
        runtime.close()


@click.command(help="Serve the SOAP services (gunicorn) with the background loop.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 takes a free port; the WSDL lines printed at start say which.",
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    help="Threads per worker that run requests (default OMGW_THREADS, else 2).",
)
@click.option("--no-background", is_flag=True, help="Do not start the background loop.")
@click.option(
    "--simulate",
    is_flag=True,
    help="Also run the simulated warehouse of the sample setup (WMS01) on --simulator-port, "
    "answering as the sample wallet entry and calling back as the sample user, and a "
    "simulated event subscriber on --subscriber-port; the sample's connectors "
    "WMS01_Fulfillment and LEGACY_Events are pointed at them.",
)
@click.option(
    "--simulator-port",
    type=click.IntRange(1, 65535),
    help="With --simulate: the simulated warehouse's port (default: the gateway's + 1).",
)
@click.option(
    "--subscriber-port",
    type=click.IntRange(1, 65535),
    help="With --simulate: the simulated subscriber's port (default: the gateway's + 2).",
)
@pass_context
def serve(
    ctx: Context,
    host: str,
    port: int,
    workers: int,
    threads: int | None,
    no_background: bool,
    simulate: bool,
    simulator_port: int | None,
    subscriber_port: int | None,
) -> None:
    from gateway.server import SERVICE_MODULES, listen
    from gateway.server import serve as run_server

    try:
        listener = listen(host, port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {os.strerror(exc.errno) if exc.errno else exc}; "
            "stop what holds the port, or choose another with --port (0 takes a free one)"
        ) from None
    port = listener.getsockname()[1]
    settings = ctx.settings
    listeners = [listener]
    if settings.console and settings.console_port:
        try:
            listeners.append(listen(host, settings.console_port))
        except OSError as exc:
            listener.close()
            raise click.ClickException(
                f"cannot listen on {host}:{settings.console_port} for the console: "
                f"{os.strerror(exc.errno) if exc.errno else exc}; choose another "
                "OMGW_CONSOLE_PORT, or unset it to serve the console on --port"
            ) from None
    if settings.public_url is None:
        reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        settings = dataclasses.replace(settings, public_url=f"http://{reachable}:{port}")
    if threads is not None:
        settings = dataclasses.replace(settings, threads=threads)
    sim_port, sub_port = simulator_port or port + 1, subscriber_port or port + 2
    if simulate:  # before the readiness signal: no request goes out to the old ports
        _point_sample_connectors(ctx, sim_port, sub_port)
    # The process's readiness signal: printed once the port listens (a call made now waits
    # in the kernel's queue until a worker takes it).
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL
    for name in SERVICE_MODULES:
        click.echo(f"WSDL: http://{shown}:{port}/fscmService/{name}?WSDL")
    click.echo(_console_line(settings, f"http://{shown}:{settings.console_port or port}"))
    children = []
    if simulate:
        children = [
            _start_simulator(settings, host, port, sim_port),
            _start_subscriber(sub_port),
        ]
    try:
        run_server(settings, listeners, workers, background=not no_background)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=10)


def _console_line(settings: Settings, base: str) -> str:
    """Where the console is, and who can sign in; or why it is off."""
    if not settings.console:
        return "console: off (OMGW_CONSOLE=0)"
    runtime = Runtime(settings)
    try:
        with runtime.read_sessions() as s:
            admins = [
                u.username
                for u in s.scalars(select(User).where(User.roles.like("%ADMIN%")))
                if "ADMIN" in u.roles.split()
            ]
    finally:
        runtime.close()
    if not admins:
        return "console: off until a user holds the ADMIN role (omgw user add NAME --role ADMIN)"
    line = f"console: {base}/manage/"
    sample = settings.home / "demo-user.txt"
    if SAMPLE_USER in admins and sample.exists():
        line += f" (sign in as {SAMPLE_USER}: its password is in {sample})"
    return line


def _point_sample_connectors(ctx: Context, simulator_port: int, subscriber_port: int) -> None:
    """Point the sample's connectors at the simulators' ports (each keeps its path), so
    a gateway on another port gets its own simulators rather than those of one on the
    default ports. Each change is printed and audited; a connector the home does not
    have is left alone."""
    from gateway.registry.store import Registry

    wanted = (
        (SAMPLE_SIMULATOR_CONNECTOR, simulator_port),
        (SAMPLE_SUBSCRIBER_CONNECTOR, subscriber_port),
    )
    with ctx.transaction() as (_rt, s):
        registry = Registry(s, ctx.actor)
        for (name, path), sim_port in wanted:
            spec = registry.connector(name)
            if spec is None:
                continue
            url = f"http://127.0.0.1:{sim_port}{path}"
            if registry.put_connector(dataclasses.replace(spec, url=url)) is not None:
                click.echo(f"simulate: connector {name} now points at {url}")


def _start_simulator(
    settings: Settings, host: str, port: int, simulator_port: int
) -> subprocess.Popen[bytes]:
    """``omgw simulate fulfillment`` for the sample setup, its passwords passed through
    the child's environment only (never on its command line)."""
    runtime = Runtime(settings)
    try:
        with runtime.read_sessions() as s:
            credential = Wallet(s, lambda: runtime.secret_box).credential(
                DEFAULT_CREDENTIAL_MAP, SAMPLE_WALLET_KEY
            )
    finally:
        runtime.close()
    user_file = settings.home / "demo-user.txt"
    try:
        user, _, password = user_file.read_text(encoding="utf-8").strip().partition(":")
    except OSError:
        raise click.ClickException(
            f"{user_file} is missing: run 'omgw init --sample' first"
        ) from None
    env = {
        **os.environ,
        "OMGW_SIM_INBOUND_PASSWORD": credential.password,
        "OMGW_SIM_GATEWAY_PASSWORD": password,
    }
    args = [
        sys.executable, "-m", "gateway.cli", "simulate", "fulfillment",
        "--host", "127.0.0.1", "--port", str(simulator_port), "--system", "WMS01",
        "--user", credential.username, "--password-env", "OMGW_SIM_INBOUND_PASSWORD",
        "--gateway-url", f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}",
        "--gateway-user", user, "--gateway-password-env", "OMGW_SIM_GATEWAY_PASSWORD",
    ]  # fmt: skip
    return subprocess.Popen(args, env=env)


def _start_subscriber(port: int) -> subprocess.Popen[bytes]:
    """``omgw simulate subscriber`` where the sample's ``LEGACY_Events`` pushes."""
    args = [sys.executable, "-m", "gateway.cli", "simulate", "subscriber", "--port", str(port)]
    return subprocess.Popen(args)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


@click.command(
    help="Run the background loop (staged orders and responses) and an outbox worker until stopped."
)
@click.option("--no-worker", is_flag=True, help="Do not deliver the outbox here.")
@pass_context
def background(ctx: Context, no_worker: bool) -> None:
    from gateway.background import run_loop
    from gateway.outbox.worker import OutboxWorker
    from gateway.server import build_authenticator

    limit_malloc_retention()  # before any thread starts: see its docstring
    runtime = Runtime(ctx.settings)
    stop = _stop_on_signals()
    auth = build_authenticator(runtime)
    sender = None
    if not no_worker:
        sender = threading.Thread(
            target=OutboxWorker(runtime).run, args=(stop,), name="omgw-outbox", daemon=True
        )
        sender.start()
    try:
        run_loop(runtime, stop, auth.purge)
    finally:
        stop.set()
        if sender is not None:
            sender.join()
        runtime.close()


@click.command(
    help="Deliver the outbox: claim due messages with a lease, send them, retry or park. "
    "Run as many as you like, on as many machines; SIGTERM finishes the sends under way."
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    help="Sends in flight (default OMGW_WORKER_CONCURRENCY).",
)
@click.option("--name", help="This worker's name in leases and attempts (default host:pid).")
@click.option("--once", is_flag=True, help="Deliver what is due now, print the counts, exit.")
@pass_context
def worker(ctx: Context, concurrency: int | None, name: str | None, once: bool) -> None:
    from gateway.outbox.worker import OutboxWorker

    limit_malloc_retention()  # before the sender threads start: see its docstring
    runtime = Runtime(ctx.settings)
    try:
        outbox = OutboxWorker(runtime, name=name, concurrency=concurrency)
        if once:
            done = outbox.drain()
            click.echo(f"delivered {done.delivered}, retried {done.retried}, parked {done.parked}")
            return
        click.echo(f"worker {outbox.name}: {outbox.concurrency} sends in flight at most")
        outbox.run(_stop_on_signals())
    finally:
        runtime.close()


def _drain(ctx: Context, what: str, verb: str) -> None:
    from gateway import background

    work = {
        "orders": background.import_staged_orders,
        "responses": background.process_staged_responses,
    }
    runtime = Runtime(ctx.settings)
    try:
        counts = work[what](runtime, limit=1_000_000)
    finally:
        runtime.close()
    click.echo(f"{verb} {counts.done}, failed {counts.failed}")


@click.command("import-staged", help="Import the orders staged by stageOrders, then exit.")
@pass_context
def import_staged(ctx: Context) -> None:
    _drain(ctx, "orders", "imported")


@click.command(
    "process-responses", help="Process responses staged by stageFulfillmentResponse, then exit."
)
@pass_context
def process_responses(ctx: Context) -> None:
    _drain(ctx, "responses", "processed")


@click.command(help="Write the published WSDLs to a directory (default ./wsdl).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("wsdl"))
def wsdl(out: Path) -> None:
    from gateway.server import render_wsdl
    from gateway.wsdl import SERVICE_NAMES

    out.mkdir(parents=True, exist_ok=True)
    for name in SERVICE_NAMES:
        path = out / f"{name}.wsdl"
        path.write_bytes(render_wsdl(name))
        click.echo(f"wrote {path}")
