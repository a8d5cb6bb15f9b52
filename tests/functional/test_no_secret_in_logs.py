"""No password or Authorization value in any log record, at DEBUG, from any logger.

The suite's main flows run with every logger of the process at DEBUG (spyne, zeep,
urllib3, requests and ours) and every record captured: WSDL fetches with Authorization,
imports, inquiries with UsernameToken text and digest, fulfillment responses with Basic,
text and digest, and outbound dispatch with the wallet's credentials (UsernameToken and
Basic) to the simulated warehouse, which calls back with Basic.
"""

from __future__ import annotations

import base64
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from zeep import Client
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from connectors.connector_specs import ConnectorSpec, RetryPolicy
from connectors.secret_box import Credential
from gateway.persistence.models import User
from gateway.registry.rule_store import RuleStore
from gateway.registry.store import Registry
from gateway.registry.wallet_store import Wallet
from simulators.fulfillment import running
from tests.common.flow import Flow, run_until, simulator_options
from tests.common.inquiry import inquiry, oracle_text_header
from tests.common.processes import started
from tests.common.soap import PASSWORD, basic, client, digest_header, fault_code, post
from tests.conftest import make_settings, seeded, serving

SIM_USER, SIM_PASSWORD = "omgw", "wms-Pa55word-9"
OFRS_TYPES = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/types/"
OFRS = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def _basic_value(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


SECRETS = {
    "the callers' password": PASSWORD,
    "the wallet's password": SIM_PASSWORD,
    "a caller's Authorization value": _basic_value("all", PASSWORD),
    "the outbound Authorization value": _basic_value(SIM_USER, SIM_PASSWORD),
}


@pytest.fixture
def everything_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger that exists now or later at DEBUG, all records into ``caplog``."""
    manager = logging.Logger.manager
    saved = {
        name: (lg.level, lg.propagate, lg.disabled)
        for name, lg in manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    for lg in manager.loggerDict.values():
        if isinstance(lg, logging.Logger):
            lg.setLevel(logging.DEBUG)
            lg.propagate = True
            lg.disabled = False
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        for name, (level, propagate, disabled) in saved.items():
            lg = logging.getLogger(name)
            lg.setLevel(level)
            lg.propagate, lg.disabled = propagate, disabled
        for name in set(manager.loggerDict) - set(saved):
            lg = manager.loggerDict[name]
            if isinstance(lg, logging.Logger):
                lg.setLevel(logging.NOTSET)


def _ack(header: str = "") -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:typ="{OFRS_TYPES}" xmlns:com="{OFRS}">'
        f"{header}<soapenv:Body><typ:processAcknowledgement>"
        "<typ:fulfillmentRequestAcknowledgement><com:FulfillmentSystem>WMS01"
        "</com:FulfillmentSystem><com:FulfillmentRequestIdentifier>1"
        "</com:FulfillmentRequestIdentifier><com:RequestStatusCode>ACCEPTED"
        "</com:RequestStatusCode></typ:fulfillmentRequestAcknowledgement>"
        "</typ:processAcknowledgement></soapenv:Body></soapenv:Envelope>"
    ).encode()


def _zeep_with_token(url: str, user: str, digest: bool) -> Client:
    transport = Transport(session=requests.Session(), timeout=30)
    return Client(url, transport=transport, wsse=UsernameToken(user, PASSWORD, use_digest=digest))


@pytest.mark.parametrize("outbound_auth", ["USERNAME_TOKEN", "HTTP_BASIC"])
def test_no_secret_reaches_any_log_at_debug(
    tmp_path: Path, unique: str, outbound_auth: str, everything_at_debug
):
    caplog = everything_at_debug
    options = simulator_options()
    settings = make_settings(tmp_path / "home", f"sqlite:///{tmp_path / 'omgw.db'}")
    with running(options) as sim, serving(settings) as gw:
        with gw.runtime.sessions() as s, s.begin():
            Wallet(s, lambda: gw.runtime.secret_box, "tests").set(
                "oracle.wsm.security", "SIM_KEY", Credential(SIM_USER, SIM_PASSWORD)
            )
            Registry(s, "tests").put_connector(
                ConnectorSpec(
                    "SIM_LOGS",
                    "WMS01",
                    sim.url,
                    credential_key="SIM_KEY",
                    auth_style=outbound_auth,
                    retry=RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05),
                )
            )
            RuleStore(s, "tests").set_default("Shipment", "SIM_LOGS")
        with gw.runtime.sessions() as s, s.begin():
            assert RuleStore(s, "tests").publish() is not None
        flow = Flow(gw, sim, "SIM_LOGS")

        # WSDL fetches carrying an Authorization header (spyne logs every header)
        for service in ("OrderImportService", "OrderInformationService"):
            got = requests.get(gw.url(service) + "?WSDL", headers=basic("all"), timeout=30)
            assert got.status_code == 200

        # import (Basic), then dispatch with the wallet's credentials; the simulator
        # acknowledges and answers with Basic, until the order is closed
        number = flow.submit(f"L{unique}", [("AS54888", 2)])
        run_until(flow, lambda: flow.status(number) == "CLOSED")
        assert sim.state()["requests"], "the simulator received the requests"

        # inquiry with UsernameToken text and digest
        for digest in (False, True):
            c = _zeep_with_token(gw.url("OrderInformationService") + "?WSDL", "all", digest)
            got = c.service.GetOrderDetails(Order=[{"OrderNumber": number}])
            assert got[0].OrderNumber == number
        with pytest.raises(Fault):
            client(gw.base, "OrderInformationService", wsse=True).service.GetOrderDetails(
                Order=[{"SourceTransactionNumber": "NO-SUCH"}]
            )

        # fulfillment responses with Basic, UsernameToken text and digest, right and wrong
        ofrs = gw.url("OrderFulfillmentResponseService")
        for body, headers in (
            (_ack(), basic("all")),
            (_ack(oracle_text_header("all", PASSWORD)), {}),
            (_ack(digest_header("all", PASSWORD)), {}),
        ):
            assert not (fault_code(post(ofrs, body, headers).body) or "").startswith("OMGW-AUTH")
        for body, headers in (
            (_ack(), basic(f"ghost-{unique}", "wrong-" + unique)),
            (_ack(oracle_text_header(f"ghost-{unique}", "wrong-" + unique)), {}),
        ):
            assert fault_code(post(ofrs, body, headers).body) == "OMGW-AUTH_FAILED"

        with gw.runtime.read_sessions() as s:
            hashes = {u: h for u, h in s.execute(select(User.username, User.password_hash))}

    records = caplog.records
    names = {r.name for r in records}
    # the capture saw the third-party loggers that write headers and envelopes
    assert any(n.startswith("spyne.server") for n in names), sorted(names)
    assert any(n.startswith("zeep.transports") for n in names), sorted(names)
    assert any(n.startswith("urllib3") for n in names), sorted(names)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    secrets = {**SECRETS, "a wrong password": "wrong-" + unique}
    secrets |= {f"{user}'s password hash": h.rsplit("$", 1)[-1] for user, h in hashes.items()}
    for record in records:
        text = formatter.format(record)
        for what, secret in secrets.items():
            assert secret not in text, f"{what} reached the log: {record.name}: {text[:300]}"


def test_omgw_serve_at_debug_writes_no_credential_from_any_process(tmp_path: Path):
    """gunicorn's master and forked workers, spyne's and gunicorn's own loggers."""
    settings = make_settings(
        tmp_path / "home", f"sqlite:///{tmp_path / 'omgw.db'}", log_level="DEBUG"
    )
    with seeded(settings):
        pass  # the database ready and the users there, for omgw serve to read
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env.update(settings.to_env())
    serve = [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--workers", "1"]
    with started(serve, env, new_session=True) as server:
        ois = f"{server.url}/fscmService/OrderInformationService"
        got = requests.get(ois + "?WSDL", headers=basic("all"), timeout=30)
        assert got.status_code == 200
        assert fault_code(post(ois, inquiry(), basic("inquirer")).body) == "OMGW-ORDER_NOT_FOUND"
        body = inquiry(oracle_text_header("inquirer", PASSWORD))
        assert fault_code(post(ois, body).body) == "OMGW-ORDER_NOT_FOUND"
    written = server.output.finish()
    assert "Add http header 'authorization'" in written, written[-2000:]  # spyne, in a worker
    for what, secret in {**SECRETS, "inquirer's": _basic_value("inquirer", PASSWORD)}.items():
        assert secret not in written, f"{what} reached the server log"
