"""Inbound security: Basic, UsernameToken (PasswordText and PasswordDigest), roles, replay."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select
from zeep import Client
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from gateway.persistence.models import MessageLog
from tests.common.inquiry import inquiry, ois, oracle_text_header
from tests.common.soap import (
    PASSWORD,
    basic,
    client,
    digest_header,
    fault_code,
    post,
    zeep_fault_code,
)


def test_no_credentials(gateway):
    resp = post(ois(gateway), inquiry())
    assert fault_code(resp.body) == "OMGW-AUTH_REQUIRED"


def test_wrong_password_basic_and_token(gateway):
    assert (
        fault_code(post(ois(gateway), inquiry(), basic("all", "wrong")).body) == "OMGW-AUTH_FAILED"
    )
    resp = post(ois(gateway), inquiry(oracle_text_header("all", "wrong")))
    assert fault_code(resp.body) == "OMGW-AUTH_FAILED"
    resp = post(ois(gateway), inquiry(oracle_text_header("nobody", PASSWORD)))
    assert fault_code(resp.body) == "OMGW-AUTH_FAILED"


def test_a_ws_security_header_in_the_body_is_checked_even_after_a_good_basic_header(gateway):
    """The Basic header is authenticated before the body is read; the body's WS-Security
    header still takes precedence, and is checked, when there is one."""
    good = basic("inquirer")
    assert fault_code(post(ois(gateway), inquiry(), good).body) == "OMGW-ORDER_NOT_FOUND"
    wrong = inquiry(oracle_text_header("inquirer", "wrong"))
    assert fault_code(post(ois(gateway), wrong, good).body) == "OMGW-AUTH_FAILED"
    old = datetime.now(UTC) - timedelta(hours=1)
    expired = inquiry(oracle_text_header("inquirer", PASSWORD, expires=old))
    assert fault_code(post(ois(gateway), expired, good).body) == "OMGW-AUTH_EXPIRED"
    # the token's user, not Basic's, is the caller: a warehouse may not read orders
    other = inquiry(oracle_text_header("warehouse", PASSWORD))
    assert fault_code(post(ois(gateway), other, good).body) == "OMGW-AUTH_FORBIDDEN"


def test_each_service_requires_its_role(gateway):
    # inquirer may read orders, not send fulfillment responses
    assert (
        fault_code(post(ois(gateway), inquiry(), basic("inquirer")).body) == "OMGW-ORDER_NOT_FOUND"
    )
    ofrs = client(gateway.base, "OrderFulfillmentResponseService", user="inquirer")
    with pytest.raises(Fault) as exc:
        ofrs.service.processAcknowledgement(
            fulfillmentRequestAcknowledgement={"FulfillmentSystem": "WMS01"}
        )
    assert zeep_fault_code(exc.value) == "OMGW-AUTH_FORBIDDEN"
    imports = client(gateway.base, "OrderImportService", user="warehouse")
    with pytest.raises(Fault) as exc:
        imports.service.createOrders(request={"Order": [{}]})
    assert zeep_fault_code(exc.value) == "OMGW-AUTH_FORBIDDEN"


def test_oracle_style_password_text_with_timestamp(gateway):
    resp = post(ois(gateway), inquiry(oracle_text_header("inquirer", PASSWORD)))
    assert fault_code(resp.body) == "OMGW-ORDER_NOT_FOUND"  # authenticated, then looked up


def test_expired_timestamp(gateway):
    old = datetime.now(UTC) - timedelta(hours=1)
    resp = post(ois(gateway), inquiry(oracle_text_header("inquirer", PASSWORD, expires=old)))
    assert fault_code(resp.body) == "OMGW-AUTH_EXPIRED"


def test_zeep_username_token_text_and_digest(gateway):
    for digest in (False, True):
        transport = Transport(session=requests.Session(), timeout=30)
        c = Client(
            ois(gateway) + "?WSDL",
            transport=transport,
            wsse=UsernameToken("inquirer", PASSWORD, use_digest=digest),
        )
        with pytest.raises(Fault) as exc:
            c.service.GetOrderDetails(Order=[{"SourceTransactionNumber": "NO-SUCH"}])
        assert zeep_fault_code(exc.value) == "OMGW-ORDER_NOT_FOUND"


def test_digest_nonce_is_accepted_once(gateway):
    nonce = os.urandom(16)
    header = digest_header("inquirer", PASSWORD, nonce=nonce)
    assert fault_code(post(ois(gateway), inquiry(header)).body) == "OMGW-ORDER_NOT_FOUND"
    assert fault_code(post(ois(gateway), inquiry(header)).body) == "OMGW-AUTH_REPLAY"


def test_digest_outside_the_window_and_wrong_digest(gateway):
    stale = digest_header("inquirer", PASSWORD, created=datetime.now(UTC) - timedelta(hours=2))
    assert fault_code(post(ois(gateway), inquiry(stale)).body) == "OMGW-AUTH_EXPIRED"
    wrong = digest_header("inquirer", "not-the-password")
    assert fault_code(post(ois(gateway), inquiry(wrong)).body) == "OMGW-AUTH_FAILED"


def test_message_log_keeps_every_call_and_no_password(gateway, unique):
    marker = f"LOGCHECK-{unique}"
    post(ois(gateway), inquiry(oracle_text_header("inquirer", PASSWORD), number=marker))
    post(ois(gateway), inquiry(oracle_text_header("inquirer", "Wr0ng-" + unique), number=marker))
    post(ois(gateway), inquiry(digest_header("inquirer", PASSWORD), number=marker))
    with gateway.runtime.sessions() as s:
        rows = [
            r
            for r in s.scalars(
                select(MessageLog)
                .where(MessageLog.service == "OrderInformationService")
                .order_by(MessageLog.id)
            )
            if r.payload and marker in r.payload
        ]
    assert [(r.operation, r.fault_code) for r in rows] == [
        ("GetOrderDetails", "ORDER_NOT_FOUND"),
        ("GetOrderDetails", "AUTH_FAILED"),
        ("GetOrderDetails", "ORDER_NOT_FOUND"),
    ]
    assert rows[0].principal == "inquirer" and rows[1].principal is None
    for row in rows:
        assert PASSWORD not in row.payload
        assert "Wr0ng-" not in row.payload
        assert "<wsse:Password" in row.payload and "***" in row.payload
