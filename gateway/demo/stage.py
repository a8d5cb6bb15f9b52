"""The parties of a demo run, started in this process on free 127.0.0.1 ports.

:func:`set_stage` starts a simulated mail server, the gateway (in the demo's home, with its
setup applied), an asynchronous and a synchronous simulated warehouse and a simulated
business-event subscriber (a CRM), each with a fresh password; :meth:`Stage.start_worker`
adds the outbox worker that delivers between them. Everything started is stopped by the
``ExitStack`` it was started on, in the reverse order.
"""

from __future__ import annotations

import functools
import random
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

import requests

from gateway.config import Settings
from gateway.demo.home import (
    DEMO_ALERTS,
    DEMO_MARK,
    DEMO_USER,
    SUBSCRIBER,
    WAREHOUSES,
    apply_demo_setup,
    ensure_callback_user,
    ensure_key,
)
from gateway.outbox.worker import OutboxWorker
from gateway.runtime import Runtime
from simulators.fulfillment import RunningSimulator, serve_simulator
from simulators.fulfillment_options import SimulatorOptions
from simulators.harness import QuietHandler
from simulators.mailbox import RunningMailbox, serve_mailbox
from simulators.subscriber import RunningSubscriber, SubscriberOptions, serve_subscriber

__all__ = ["Stage", "set_stage"]


@dataclass
class Stage:
    """The parties serving for one demo run, and how to reach the gateway."""

    runtime: Runtime
    #: the gateway's base URL
    base: str
    #: the simulated warehouses, by the name of the connector that calls them
    warehouses: dict[str, RunningSimulator]
    subscriber: RunningSubscriber
    mailbox: RunningMailbox
    #: :data:`~gateway.demo.home.DEMO_USER`'s password for this run
    callback_password: str

    def announce(self, echo: Callable[[str], None], record_events: Path | None) -> None:
        """Say where each party is, and where to look while the demo runs."""
        base = self.base
        echo(f"gateway:    {base}/fscmService/OrderImportService?WSDL")
        for name, sim in self.warehouses.items():
            echo(f"simulator:  {name} at {sim.url}")
        echo(f"subscriber: {SUBSCRIBER[1]} at {self.subscriber.url}")
        echo(f"mail:       127.0.0.1:{self.mailbox.port} (alerts to {DEMO_ALERTS})")
        echo(f"metrics:    {base}/metrics   health: {base}/readyz")
        echo(f"status:     OMGW_HOME={self.runtime.settings.home} omgw status")
        if record_events is not None:
            echo(f"recording every event payload to {record_events}")

    def start_worker(self, stack: ExitStack) -> None:
        """An outbox worker on a thread of its own, until ``stack`` stops it."""
        stop = threading.Event()
        worker = OutboxWorker(self.runtime, name="demo-worker")
        thread = threading.Thread(target=worker.run, args=(stop, 0.05), daemon=True)
        thread.start()
        stack.callback(thread.join, 30)
        stack.callback(stop.set)

    @functools.cached_property
    def _session(self) -> requests.Session:
        """One HTTP session, signed in as the demo's user, for every client of the run."""
        session = requests.Session()
        session.auth = (DEMO_USER, self.callback_password)
        return session

    def soap_client(self, service: str) -> Any:
        """A zeep client of the gateway's ``service``, signed in as the demo's user."""
        from zeep import Client
        from zeep.transports import Transport

        return Client(
            f"{self.base}/fscmService/{service}?WSDL",
            transport=Transport(session=self._session, timeout=30, operation_timeout=30),
        )


def set_stage(
    stack: ExitStack, settings: Settings, rng: random.Random, record_events: Path | None
) -> Stage:
    """Start the mail server, the gateway, both warehouses and the subscriber, and point
    the demo's connectors at them; ``stack`` stops them all."""
    callback_password = secrets.token_urlsafe(18)
    passwords = {key: secrets.token_urlsafe(18) for key, *_ in (*WAREHOUSES, SUBSCRIBER)}
    mailbox = serve_mailbox()
    stack.callback(mailbox.close)
    settings = replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        alert_email=DEMO_ALERTS,
        # the run lasts seconds and its database is small: each scrape reads afresh
        metrics_cache_seconds=0.0,
    )
    runtime, base = stack.enter_context(_gateway(settings))
    (settings.home / DEMO_MARK).write_text("set up by omgw demo\n")
    ensure_callback_user(runtime, callback_password)
    warehouses: dict[str, RunningSimulator] = {}
    for key, name, system, user in WAREHOUSES:
        # the asynchronous warehouse is down for its first requests, then refuses one
        trouble = system == "WMS01"
        sim = serve_simulator(
            SimulatorOptions(
                system=system,
                delay=0.05,
                fail_first=2 if trouble else 0,
                fault_first=1 if trouble else 0,
                username=user,
                password=passwords[key],
                gateway_url=base,
                gateway_user=DEMO_USER,
                gateway_password=callback_password,
                seed=rng.randint(0, 2**31),
            )
        )
        stack.callback(sim.close)
        warehouses[name] = sim
    subscriber = serve_subscriber(
        SubscriberOptions(
            username=SUBSCRIBER[2],
            password=passwords[SUBSCRIBER[0]],
            record_dir=record_events,
        )
    )
    stack.callback(subscriber.close)
    urls = {name: sim.url for name, sim in warehouses.items()}
    urls[SUBSCRIBER[1]] = subscriber.url
    apply_demo_setup(runtime, urls, passwords)
    return Stage(runtime, base, warehouses, subscriber, mailbox, callback_password)


@contextmanager
def _gateway(settings: Settings) -> Iterator[tuple[Runtime, str]]:
    """The gateway serving on a free port of 127.0.0.1; its runtime and base URL."""
    from gateway.server import build_app, prepare

    prepare(settings)
    ensure_key(settings)
    server = make_server("127.0.0.1", 0, lambda env, start: [], handler_class=QuietHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    runtime = Runtime(replace(settings, public_url=base))
    server.set_app(build_app(runtime))
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield runtime, base
    finally:
        server.shutdown()
        server.server_close()
        runtime.close()
