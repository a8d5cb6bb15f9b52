"""A dispatch flow for tests: a gateway on 127.0.0.1, the simulated fulfillment system,
a connector to it in the wallet and the registry, and routing that sends every shipment
there; with helpers to drive an outbox worker and read what happened."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from connectors.connector_specs import ConnectorSpec, RetryPolicy
from connectors.resilience import BreakerSettings
from connectors.secret_box import Credential
from gateway.outbox.worker import OutboxWorker
from gateway.persistence.models import FulfillLine, OrderHeader, OutboxMessage
from gateway.registry.rule_store import RuleStore
from gateway.registry.store import Registry
from gateway.registry.wallet_store import Wallet
from simulators.fulfillment import RunningSimulator, running
from simulators.fulfillment_options import SimulatorOptions
from tests.common.orders import order
from tests.common.processes import until
from tests.common.soap import PASSWORD, client
from tests.conftest import Admin, Gateway, make_settings, serving

__all__ = ["SIM_PASSWORD", "SIM_USER", "Flow", "flow", "run_until", "simulator_options"]

SIM_USER, SIM_PASSWORD = "omgw", "wms-Pa55word-9"


@dataclass
class Flow:
    gw: Gateway
    sim: RunningSimulator
    connector: str

    def submit(self, key: str, lines: list[tuple[str, int]]) -> str:
        imports = client(self.gw.base, "OrderImportService")
        created = imports.service.createOrders(request={"Order": [order(key, lines)]})
        return str(created[0].OrderNumber)

    cool_down: float = 0.3

    def worker(self, **kw: Any) -> OutboxWorker:
        kw.setdefault("breaker", BreakerSettings(failure_threshold=3, cool_down=self.cool_down))
        return OutboxWorker(self.gw.runtime, **kw)

    def admin(self, **env: str) -> Admin:
        """The ``omgw`` command line on this gateway's database and wallet key (``env``
        adds or overrides settings, e.g. ``OMGW_NO_RESPONSE_SECONDS``)."""
        environ: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OMGW_")}
        environ.update(self.gw.runtime.settings.to_env())
        environ.update(env)
        return Admin(environ, self.gw.runtime.settings.home)

    def status(self, number: str) -> str:
        with self.gw.runtime.read_sessions() as s:
            return str(
                s.scalar(
                    select(OrderHeader.status).where(
                        OrderHeader.order_number == number, OrderHeader.status != "DOO_REFERENCE"
                    )
                )
            )

    def outbox(self) -> list[OutboxMessage]:
        with self.gw.runtime.read_sessions() as s:
            return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def settled(self) -> bool:
        """Whether every outbox row is finished (none queued or in flight)."""
        return all(m.status != "READY" for m in self.outbox())

    def flines(self, number: str) -> list[FulfillLine]:
        with self.gw.runtime.read_sessions() as s:
            return list(
                s.scalars(
                    select(FulfillLine)
                    .join(OrderHeader, OrderHeader.id == FulfillLine.header_id)
                    .where(OrderHeader.order_number == number)
                    .order_by(FulfillLine.id)
                )
            )


def run_until(flow: Flow, done: Callable[[], bool], seconds: float = 30.0) -> OutboxWorker:
    """Drive a worker (in this thread) until ``done``; callbacks arrive meanwhile."""
    worker = flow.worker()
    drive(worker, done, seconds)
    return worker


def drive(worker: OutboxWorker, done: Callable[[], bool], seconds: float = 30.0) -> None:
    """Run ``worker`` until ``done``: while it finds work, at once; once idle, polled
    by :func:`until`."""

    def finished() -> bool:
        while not done():
            if not worker.run_once().total:
                return False
        return True

    until(finished, "the flow to finish", timeout=seconds)


def simulator_options(**overrides: Any) -> SimulatorOptions:
    """The simulated warehouse the tests use: it answers as the wallet entry ``flow``
    writes expects, calls back as the tests' user bound to every system, and is quick."""
    return SimulatorOptions(
        **{
            "delay": 0.02,
            "username": SIM_USER,
            "password": SIM_PASSWORD,
            "gateway_user": "all",
            "gateway_password": PASSWORD,
            "callback_backoff": 0.05,
            **overrides,
        }
    )


@contextmanager
def flow(
    database_url: str,
    home: Path,
    mode: str = "ASYNC_SERVICE",
    timeout: float = 5.0,
    retry: RetryPolicy | None = None,
    settings: dict[str, Any] | None = None,
    **sim_options: Any,
) -> Iterator[Flow]:
    """The flow; ``settings`` overrides the gateway's (``make_settings``)."""
    with (
        running(simulator_options(**sim_options)) as sim,
        serving(make_settings(home, database_url, **(settings or {}))) as gw,
    ):
        name = f"SIM_{mode}"
        with gw.runtime.sessions() as s, s.begin():
            Wallet(s, lambda: gw.runtime.secret_box, "tests").set(
                "oracle.wsm.security", "SIM_KEY", Credential(SIM_USER, SIM_PASSWORD)
            )
            Registry(s, "tests").put_connector(
                ConnectorSpec(
                    name,
                    "WMS01",
                    sim.url,
                    credential_key="SIM_KEY",
                    invocation_mode=mode,
                    timeout=timeout,
                    retry=retry or RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05),
                )
            )
        with gw.runtime.sessions() as s, s.begin():
            store = RuleStore(s, "tests")
            store.set_default("Shipment", name)
            assert store.publish() is not None
        yield Flow(gw, sim, name)
