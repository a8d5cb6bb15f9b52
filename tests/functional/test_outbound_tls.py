"""Mutual TLS end to end: a real gateway and its outbox worker send fulfillment requests
to the simulated fulfillment system served over HTTPS on 127.0.0.1, which requires a
client certificate issued by the partner's CA; on SQLite and PostgreSQL (the wallet and
the connector's settings are read from the database).

The connector is set up as an admin does it (``omgw wallet set … --client-certificate``,
``omgw connector update … --client-certificate``); each handshake is real. What the
worker records says which TLS check failed, and ``omgw orders show`` shows a request
whose message is parked as ``PARKED``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.connector_specs import ConnectorSpec, RetryPolicy, TlsSettings
from connectors.secret_box import Credential
from gateway.events.publisher import EVENT_KIND
from gateway.outbox.worker import OutboxWorker, Pass
from gateway.persistence.models import (
    Connector,
    DeliveryAttempt,
    OutboxMessage,
    WalletEntry,
    utcnow,
)
from gateway.registry.rule_store import RuleStore
from gateway.registry.store import Registry
from gateway.registry.wallet_store import Wallet
from simulators.fulfillment import ENDPOINT_PATH, FulfillmentSimulator
from tests.common.flow import Flow, run_until, simulator_options
from tests.common.pki import Authority, authority, https_serving, server_context
from tests.conftest import Admin, Gateway, make_settings, serving

SIM_USER, SIM_PASSWORD = "omgw", "wms-Pa55word-9"
MAP = "oracle.wsm.security"
CONNECTOR = "WMS01_MTLS"


@dataclass
class Partner:
    """The fulfillment system's side: its CA and the simulator behind TLS."""

    ca: Authority
    ca_file: Path
    sim: FulfillmentSimulator
    port: int

    def url(self, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{ENDPOINT_PATH}"


@dataclass
class Hub:
    flow: Flow
    admin: Admin
    partner: Partner
    files: Path

    def client_certificate(self, key: str, ca: Authority) -> None:
        """A wallet entry holding a client certificate issued by ``ca``, set with the CLI."""
        issued = ca.issue("omgw-client")
        cert, pem_key = self.files / f"{key}.crt", self.files / f"{key}.key"
        cert.write_text(issued.certificate)
        pem_key.write_text(issued.key)
        self.admin.ok("wallet", "set", MAP, key, "--username", "tls", "--password-stdin",
                      "--client-certificate", str(cert), "--client-key", str(pem_key),
                      input="unused-Pa55")  # fmt: skip
        pem_key.unlink()

    def sent(self) -> list[OutboxMessage]:
        return self.flow.outbox()

    def errors(self, outbox_id: int) -> list[str | None]:
        with self.flow.gw.runtime.read_sessions() as s:
            return list(
                s.scalars(
                    select(DeliveryAttempt.error)
                    .where(DeliveryAttempt.outbox_id == outbox_id)
                    .order_by(DeliveryAttempt.id)
                )
            )


@contextmanager
def partner_over_mtls(files: Path, gw: Gateway) -> Iterator[Partner]:
    ca = authority("Partner CA")
    options = simulator_options()
    server = ca.issue("wms", server=True, ips=("127.0.0.1",))
    sim = FulfillmentSimulator(options)
    try:
        with https_serving(sim, server_context(files, server, clients_from=ca)) as port:
            yield Partner(ca, ca.write(files), sim, port)
    finally:
        sim.close()


@pytest.fixture
def hub(fresh_database_url: str, tmp_path: Path) -> Iterator[Hub]:
    """A gateway whose Shipment and Invoice steps go to ``WMS01_MTLS``: the simulator over
    HTTPS, its CA pinned, UsernameToken from the wallet, and no client certificate yet."""
    files = tmp_path / "files"
    files.mkdir()
    settings = make_settings(tmp_path / "home", fresh_database_url)
    with serving(settings) as gw, partner_over_mtls(files, gw) as partner:
        with gw.runtime.sessions() as s, s.begin():
            Wallet(s, lambda: gw.runtime.secret_box, "tests").set(
                MAP, "SIM_KEY", Credential(SIM_USER, SIM_PASSWORD)
            )
            Registry(s, "tests").put_connector(
                ConnectorSpec(
                    CONNECTOR,
                    "WMS01",
                    partner.url(),
                    credential_key="SIM_KEY",
                    timeout=5.0,
                    retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
                    tls=TlsSettings(ca_bundle=str(partner.ca_file)),
                )
            )
        with gw.runtime.sessions() as s, s.begin():
            store = RuleStore(s, "tests")
            store.set_default("Shipment", CONNECTOR)
            store.set_default("Invoice", CONNECTOR)
            assert store.publish() is not None
        env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OMGW_")}
        env.update(gw.runtime.settings.to_env())  # the same database and wallet key
        flow = Flow(gw, None, CONNECTOR)  # type: ignore[arg-type]
        yield Hub(flow, Admin(env, settings.home), partner, files)


def shown_request(admin: Admin, number: str) -> tuple[str, str | None]:
    """The order's first fulfillment request (its Shipment) as ``orders show`` shows it:
    status, and its message's status."""
    request = admin.json("orders", "show", number)["requests"][0]  # type: ignore[index]
    return request["status"], request["delivery"]


@pytest.mark.parametrize("mode", ["ASYNC_SERVICE", "SYNC_SERVICE"])
def test_the_client_certificate_is_presented_and_the_order_closes(hub, unique, mode):
    hub.client_certificate("SIM_TLS", hub.partner.ca)
    hub.admin.ok("connector", "update", CONNECTOR, "--client-certificate", "SIM_TLS",
                 "--invocation-mode", mode)  # fmt: skip
    number = hub.flow.submit(f"T{unique}", [("AS54888", 3)])
    run_until(hub.flow, lambda: hub.flow.status(number) == "CLOSED")
    sent = hub.sent()
    assert [(m.task_type, m.status, m.attempts) for m in sent] == [
        ("Shipment", "DELIVERED", 1),
        ("Invoice", "DELIVERED", 1),
    ]
    state = hub.partner.sim.state()
    assert [r["message_id"] for r in state["requests"]] == [m.message_id for m in sent]
    # the certificate and key never sit in the database in clear
    with hub.flow.gw.runtime.read_sessions() as s:
        sealed = s.scalar(select(WalletEntry.sealed).where(WalletEntry.key == "SIM_TLS"))
    assert sealed is not None and b"PRIVATE KEY" not in sealed and b"CERTIFICATE" not in sealed


def test_without_a_client_certificate_the_request_parks_saying_so_and_a_replay_delivers(
    hub, unique
):
    number = hub.flow.submit(f"N{unique}", [("AS54888", 2)])
    worker = OutboxWorker(hub.flow.gw.runtime, name="tls-worker")
    assert worker.run_once() == Pass(parked=1)  # retrying cannot help: a setting must change
    (message,) = hub.sent()
    assert message.status == "PARKED" and not message.uncertain
    reason = message.last_error or ""
    assert "the endpoint requires a client certificate and the connector presents none" in reason
    assert "client_certificate" in reason and hub.errors(message.id) == [reason]
    assert hub.partner.sim.state()["counters"]["received"] == 0
    # the order shows the request as parked, not sent
    assert shown_request(hub.admin, number) == ("PARKED", "PARKED")
    table = hub.admin.ok("orders", "show", number)
    requests = table.split("\nfulfillment requests:\n", 1)[1].split("\n\n", 1)[0]
    assert "PARKED" in requests and "SENT" not in requests

    # the admin stores a certificate, points the connector at it and replays
    hub.client_certificate("SIM_TLS", hub.partner.ca)
    hub.admin.ok("connector", "update", CONNECTOR, "--client-certificate", "SIM_TLS")
    hub.admin.ok("messages", "replay", "--order", number)
    run_until(hub.flow, lambda: hub.flow.status(number) == "CLOSED")
    (first, *_rest) = hub.sent()
    assert (first.id, first.status, first.message_id) == (
        message.id,
        "DELIVERED",
        message.message_id,
    )
    assert shown_request(hub.admin, number) == ("ACCEPTED", "DELIVERED")


def test_a_client_certificate_from_another_ca_is_refused_with_a_clear_reason(hub, unique):
    hub.client_certificate("OTHER_TLS", authority("Some Other CA"))
    hub.admin.ok("connector", "update", CONNECTOR, "--client-certificate", "OTHER_TLS")
    number = hub.flow.submit(f"O{unique}", [("AS54888", 1)])
    assert OutboxWorker(hub.flow.gw.runtime).run_once() == Pass(parked=1)
    (message,) = hub.sent()
    assert "the endpoint does not trust the CA that issued the connector's client certificate " \
           "(unknown CA)" in (message.last_error or "")  # fmt: skip
    assert hub.partner.sim.state()["counters"]["received"] == 0
    assert shown_request(hub.admin, number) == ("PARKED", "PARKED")


def test_a_host_name_mismatch_and_an_unknown_ca_are_recorded_apart(hub, unique):
    """The endpoint's certificate names 127.0.0.1: called as localhost, the host name does
    not match; without the partner's CA pinned, its issuer is unknown."""
    hub.client_certificate("SIM_TLS", hub.partner.ca)
    hub.admin.ok("connector", "update", CONNECTOR, "--client-certificate", "SIM_TLS",
                 "--url", hub.partner.url("localhost"))  # fmt: skip
    number = hub.flow.submit(f"H{unique}", [("AS54888", 1)])
    worker = OutboxWorker(hub.flow.gw.runtime)
    assert worker.run_once() == Pass(parked=1)
    with hub.flow.gw.runtime.sessions() as s, s.begin():
        Registry(s, "tests").put_connector(
            ConnectorSpec(
                CONNECTOR,
                "WMS01",
                hub.partner.url(),
                credential_key="SIM_KEY",
                timeout=5.0,
                retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
                tls=TlsSettings(client_certificate="SIM_TLS"),  # no CA pinned
            )
        )
    hub.admin.ok("messages", "replay", "--order", number)
    assert worker.run_once() == Pass(parked=1)
    (message,) = hub.sent()
    mismatch, unknown = hub.errors(message.id)
    assert mismatch is not None and unknown is not None
    assert mismatch.startswith("TLS verification of the endpoint failed: host name mismatch")
    assert "'localhost'" in mismatch and "unknown CA" not in mismatch
    assert unknown.startswith("TLS verification of the endpoint failed: unknown CA")
    assert "ca_bundle" in unknown and "mismatch" not in unknown
    assert hub.partner.sim.state()["counters"]["received"] == 0


class _Accepting:
    """A subscriber's ``pushPayload`` endpoint: takes every POST (202)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.bodies.append(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        start_response("202 Accepted", [("Content-Length", "0")])
        return []


def test_business_events_present_the_subscriber_connectors_client_certificate(hub):
    partner = hub.partner
    hub.client_certificate("SUB_TLS", partner.ca)
    subscriber = _Accepting()
    context = server_context(
        hub.files, partner.ca.issue("subscriber", server=True, ips=("127.0.0.1",)), partner.ca
    )
    with https_serving(subscriber, context) as port:
        for name, certificate in (("EVENTS_NO_CERT", None), ("EVENTS_MTLS", "SUB_TLS")):
            with hub.flow.gw.runtime.sessions() as s, s.begin():
                Registry(s, "tests").put_connector(
                    ConnectorSpec(
                        name,
                        "WMS01",
                        f"https://127.0.0.1:{port}/events",
                        invocation_mode="BUSINESS_EVENT",
                        timeout=5.0,
                        tls=TlsSettings(
                            ca_bundle=str(partner.ca_file), client_certificate=certificate
                        ),
                    )
                )
                cid = s.scalar(select(Connector.id).where(Connector.name == name))
                s.add(
                    OutboxMessage(
                        message_id=f"urn:uuid:{uuid.uuid4()}",
                        kind=EVENT_KIND,
                        connector_id=cid,
                        order_number=f"E-{name}",
                        invocation_mode="BUSINESS_EVENT",
                        operation="pushPayload",
                        soap_action="pushPayload",
                        payload=b"<?xml version='1.0' encoding='utf-8'?>\n<event/>",
                        status="READY",
                        attempts=0,
                        next_attempt_at=utcnow(),
                        uncertain=False,
                        replays=0,
                        created_at=utcnow(),
                    )
                )
        assert OutboxWorker(hub.flow.gw.runtime).run_once(limit=10) == Pass(delivered=1, parked=1)
    by_connector = {m.connector.name: m for m in hub.sent() if m.connector is not None}
    assert by_connector["EVENTS_MTLS"].status == "DELIVERED"
    refused = by_connector["EVENTS_NO_CERT"]
    assert refused.status == "PARKED"
    assert "requires a client certificate and the connector presents none" in (
        refused.last_error or ""
    )
    assert len(subscriber.bodies) == 1
