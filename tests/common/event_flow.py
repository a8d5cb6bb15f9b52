"""Business events end to end, as the tests drive them: a :class:`Flow` (gateway, outbox
worker, simulated fulfillment system) with simulated subscribers registered as
``BUSINESS_EVENT`` connectors, and what each subscriber received."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.connector_specs import ConnectorSpec, RetryPolicy
from connectors.push_payload_reader import parse_push
from connectors.secret_box import Credential
from connectors.trigger_points import TriggerPointSpec
from gateway.registry.store import Registry
from gateway.registry.trigger_store import TriggerStore
from gateway.registry.wallet_store import Wallet
from simulators.subscriber import RunningSubscriber, SubscriberOptions, serve_subscriber
from tests.common.flow import Flow, flow
from tests.common.orders import order
from tests.common.soap import client

__all__ = ["SUB_PASSWORD", "SUB_USER", "Events", "events_flow"]

SUB_USER, SUB_PASSWORD = "events", "sub-Pa55word-3"


@dataclass
class Events:
    f: Flow
    subs: dict[str, RunningSubscriber]

    def triggers(self, *points: dict[str, Any]) -> None:
        with self.f.gw.runtime.sessions() as s, s.begin():
            store = TriggerStore(s, "tests")
            for p in points:
                store.put_trigger_point(TriggerPointSpec.from_mapping(p))

    def received(self, name: str, number: str | None = None) -> list[str]:
        """The event codes one subscriber recorded (for one order), in arrival order."""
        return [
            e["event_code"]
            for e in self.subs[name].state()["events"]
            if number is None or e["orchestration_order_number"] == number
        ]

    def payloads(self, name: str) -> list[Any]:
        return [
            parse_push(_envelope(e["xml"])).headers[0]
            for e in self.subs[name].state(xml=True)["events"]
        ]

    def submit(self, key: str, lines: list[tuple[str, int]], **extra: Any) -> str:
        body = order(key, lines)
        body.update(extra)
        created = client(self.f.gw.base, "OrderImportService").service.createOrders(
            request={"Order": [body]}
        )
        return str(created[0].OrderNumber)

    def events_settled(self) -> bool:
        return all(m.status != "READY" for m in self.f.outbox() if m.kind != "FULFILLMENT_REQUEST")


def _envelope(results_xml: str) -> bytes:
    return (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        + results_xml.encode()
        + b"</s:Body></s:Envelope>"
    )


@contextmanager
def events_flow(database_url: str, home: Path, subscribers: tuple[str, ...] = ("SUB_A",),
                **sim: Any) -> Iterator[Events]:  # fmt: skip
    with flow(database_url, home, **sim) as f:
        subs: dict[str, RunningSubscriber] = {}
        try:
            for name in subscribers:
                subs[name] = serve_subscriber(
                    SubscriberOptions(username=SUB_USER, password=SUB_PASSWORD)
                )
            with f.gw.runtime.sessions() as s, s.begin():
                Wallet(s, lambda: f.gw.runtime.secret_box, "tests").set(
                    "oracle.wsm.security", "SUB_KEY", Credential(SUB_USER, SUB_PASSWORD)
                )
                for name, sub in subs.items():
                    Registry(s, "tests").put_connector(
                        ConnectorSpec(
                            name,
                            "WMSANY",
                            sub.url,
                            credential_key="SUB_KEY",
                            invocation_mode="BUSINESS_EVENT",
                            timeout=2.0,
                            retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
                        )
                    )
            yield Events(f, subs)
        finally:
            for sub in subs.values():
                sub.close()
