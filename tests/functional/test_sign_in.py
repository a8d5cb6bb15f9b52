"""Sign-in limits, equal answer times and revocation, through real servers.

Each test runs its own gateway (two, where it is about every process seeing the same
state) on a fresh SQLite file or PostgreSQL database. Calls come from distinct loopback
addresses (127.0.0.x) so that per-address counting is exercised for real.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.runtime import Runtime
from gateway.server import build_app
from tests.common.soap import PASSWORD, basic, fault_code
from tests.conftest import Admin, Gateway, _QuietHandler, _ThreadingServer, make_settings, serving

OIS_TYPES = "http://xmlns.oracle.com/apps/scm/doo/decomposition/orderDetailServices/orderInformationService/types/"
OIS = "http://xmlns.oracle.com/apps/scm/doo/decomposition/orderDetailServices/orderInformationService/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordDigest"
)
SERVICE = "/fscmService/OrderInformationService"


def inquiry(header: str = "") -> bytes:
    return f"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
      xmlns:typ="{OIS_TYPES}" xmlns:ord="{OIS}">{header}<soapenv:Body><typ:GetOrderDetails>
      <typ:Order><ord:SourceTransactionNumber>NO-SUCH</ord:SourceTransactionNumber></typ:Order>
      </typ:GetOrderDetails></soapenv:Body></soapenv:Envelope>""".encode()


def digest_token(user: str, password: str) -> str:
    nonce = os.urandom(16)
    created = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
    digest = base64.b64encode(
        hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    ).decode()
    return f"""<soapenv:Header><wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">
      <wsse:UsernameToken><wsse:Username>{user}</wsse:Username>
      <wsse:Password Type="{DIGEST}">{digest}</wsse:Password>
      <wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>
      <wsu:Created>{created}</wsu:Created></wsse:UsernameToken>
      </wsse:Security></soapenv:Header>"""


def call(
    base: str, user: str, password: str = PASSWORD, source: str = "127.0.0.1", header: str = ""
) -> tuple[str | None, str, float]:
    """GetOrderDetails from ``source``: (fault code or None, fault message, seconds)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=60, source_address=(source, 0)
    )
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if not header:
        headers.update(basic(user, password))
    body = inquiry(header)
    started = time.perf_counter()
    try:
        conn.request("POST", SERVICE, body=body, headers=headers)
        answer = conn.getresponse().read()
    finally:
        conn.close()
    elapsed = time.perf_counter() - started
    code = fault_code(answer)
    message = answer.decode("utf-8", "replace")
    return code, message, elapsed


def signed_in(result: tuple[str | None, str, float]) -> bool:
    # GetOrderDetails of an order that does not exist: the call got past authentication.
    return result[0] == "OMGW-ORDER_NOT_FOUND"


@contextmanager
def guarded(tmp_path: Path, url: str, **limits: Any) -> Iterator[Gateway]:
    settings = make_settings(tmp_path / "home", url, **limits)
    with serving(settings) as running:
        yield running


@contextmanager
def another_process(runtime: Runtime) -> Iterator[str]:
    """A second gateway front on the same database and settings, as a second gunicorn
    worker would be: its own runtime, authenticator and cache."""
    from wsgiref.simple_server import make_server

    second = Runtime(runtime.settings)
    server = make_server(
        "127.0.0.1",
        0,
        build_app(second),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        second.close()


# --- equal answer times ----------------------------------------------------------------


def _medians(base: str, unknown: dict[str, str], known: dict[str, str], rounds: int) -> Any:
    times: dict[str, list[float]] = {"unknown": [], "known": []}
    for _ in range(rounds):  # interleaved, so both kinds see the same load
        for kind, kwargs in (("unknown", unknown), ("known", known)):
            code, _, seconds = call(base, **kwargs)
            assert code == "OMGW-AUTH_FAILED"
            times[kind].append(seconds)
    return statistics.median(times["unknown"]), statistics.median(times["known"])


def test_an_unknown_user_takes_as_long_as_a_wrong_password(tmp_path, fresh_database_url):
    with guarded(
        tmp_path,
        fresh_database_url,
    ) as gw:
        unknown, wrong = _medians(
            gw.base,
            {"user": "no-such-user", "password": "guess"},
            {"user": "inquirer", "password": "guess"},
            rounds=21,
        )
        assert 0.75 < unknown / wrong < 1.33, (unknown, wrong)


def test_an_unknown_digest_user_takes_as_long_as_a_wrong_digest(tmp_path, fresh_database_url):
    with guarded(
        tmp_path,
        fresh_database_url,
    ) as gw:
        rounds = 30
        times: dict[str, list[float]] = {"unknown": [], "known": []}
        for _ in range(rounds):
            for kind, name in (("unknown", "no-such-user"), ("known", "inquirer")):
                code, _, seconds = call(gw.base, "", header=digest_token(name, "guess"))
                assert code == "OMGW-AUTH_FAILED"
                times[kind].append(seconds)
        unknown, wrong = statistics.median(times["unknown"]), statistics.median(times["known"])
        assert 0.75 < unknown / wrong < 1.33, (unknown, wrong)


# --- revocation --------------------------------------------------------------------------


def _admin(gw: Gateway) -> Admin:
    settings = gw.runtime.settings
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OMGW_")}
    env.update(
        OMGW_HOME=str(settings.home),
        OMGW_DATABASE_URL=settings.database_url,
        OMGW_WALLET_KEY=settings.wallet_key_b64,
    )
    return Admin(env, settings.home)


def test_a_removed_user_is_refused_at_once_in_every_process(tmp_path, fresh_database_url):
    with guarded(tmp_path, fresh_database_url) as gw, another_process(gw.runtime) as other:
        admin = _admin(gw)
        admin.ok("user", "add", "leaver", "--role", "ORDER_INQUIRY", "--password-stdin",
                 input=PASSWORD + "\n")  # fmt: skip
        for base in (gw.base, other):  # signed in: both caches hold it
            assert signed_in(call(base, "leaver"))
        admin.ok("user", "remove", "leaver")
        for base in (gw.base, other):
            assert call(base, "leaver")[0] == "OMGW-AUTH_FAILED"


def test_a_changed_password_or_role_applies_at_once_in_every_process(tmp_path, fresh_database_url):
    with guarded(tmp_path, fresh_database_url) as gw, another_process(gw.runtime) as other:
        admin = _admin(gw)
        new_password = "an0ther-Pa55word"
        admin.ok("user", "add", "mover", "--role", "ORDER_INQUIRY", "--password-stdin",
                 input=PASSWORD + "\n")  # fmt: skip
        for base in (gw.base, other):
            assert signed_in(call(base, "mover"))
        admin.ok("user", "add", "mover", "--role", "ORDER_INQUIRY", "--password-stdin",
                 input=new_password + "\n")  # fmt: skip
        for base in (gw.base, other):
            assert call(base, "mover")[0] == "OMGW-AUTH_FAILED"
            assert signed_in(call(base, "mover", new_password))
        admin.ok("user", "add", "mover", "--role", "ORDER_IMPORT", "--password-stdin",
                 input=new_password + "\n")  # fmt: skip
        for base in (gw.base, other):
            assert call(base, "mover", new_password)[0] == "OMGW-AUTH_FORBIDDEN"
