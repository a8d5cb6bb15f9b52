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
import re
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from gateway.config import Settings
from gateway.persistence.models import AuditEntry, AuthFailure, User
from gateway.runtime import Runtime
from gateway.security.passwords import hash_password
from gateway.server import build_authenticator
from tests.common.inquiry import OIS, OIS_TYPES
from tests.common.soap import PASSWORD, basic, fault_code
from tests.conftest import Admin, Gateway, make_settings, served, serving

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases

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


def add_user(runtime: Runtime, name: str, password: str = PASSWORD) -> None:
    with runtime.sessions() as s, s.begin():
        s.add(
            User(
                username=name,
                password_hash=hash_password(password),
                digest_secret=runtime.secret_box.seal(password.encode(), f"user:{name}"),
                roles="ORDER_INQUIRY",
            )
        )


def audit_rows(runtime: Runtime, action: str) -> list[tuple[str, str]]:
    with runtime.read_sessions() as s:
        return [
            (row.entity, row.entity_key)
            for row in s.scalars(select(AuditEntry).where(AuditEntry.action == action))
        ]


@contextmanager
def guarded(tmp_path: Path, url: str, **limits: Any) -> Iterator[Gateway]:
    """A gateway with the sign-in limits at their defaults but for ``limits``."""
    defaults = {
        "auth_max_failures": Settings.auth_max_failures,
        "auth_address_max_failures": Settings.auth_address_max_failures,
    }
    settings = make_settings(tmp_path / "home", url, **{**defaults, **limits})
    with serving(settings) as running:
        yield running


@contextmanager
def another_process(runtime: Runtime) -> Iterator[str]:
    """A second gateway front on the same database and settings, as a second gunicorn
    worker would be: its own runtime, authenticator and cache."""
    second = Runtime(runtime.settings)
    try:
        with served(second) as base:
            yield base
    finally:
        second.close()


# --- lockout and throttling ------------------------------------------------------------


def test_wrong_passwords_lock_the_user_in_every_process(tmp_path, fresh_database_url):
    with guarded(tmp_path, fresh_database_url, auth_max_failures=3) as gw:
        add_user(gw.runtime, "mallory-target")
        with another_process(gw.runtime) as other:
            for _ in range(3):
                assert call(gw.base, "mallory-target", "guess", "127.0.0.2")[0] == (
                    "OMGW-AUTH_FAILED"
                )
            # the right password, from another address, at another process: still locked
            code, message, _ = call(other, "mallory-target", PASSWORD, "127.0.0.3")
            assert code == "OMGW-AUTH_LOCKED"
            assert "retry after" in message and "(in 9" in message  # 900 s by default
            assert call(gw.base, "mallory-target", PASSWORD, "127.0.0.3")[0] == "OMGW-AUTH_LOCKED"
            # other users are not affected
            assert signed_in(call(other, "inquirer", PASSWORD, "127.0.0.3"))
        assert audit_rows(gw.runtime, "lock") == [("user", "mallory-target")]
        (entry,) = [e for e in _admin(gw).json("audit", "list") if e["action"] == "lock"]
        assert entry["actor"] == "omgw-auth" and entry["key"] == "mallory-target"
        assert entry["after"]["from"] == "127.0.0.2" and entry["after"]["locked_until"]


def test_an_unknown_user_is_locked_like_a_known_one(tmp_path, fresh_database_url):
    with guarded(tmp_path, fresh_database_url, auth_max_failures=3) as gw:
        add_user(gw.runtime, "known")
        answers = {}
        for name in ("known", "nobody-of-that-name"):
            codes = [call(gw.base, name, "guess", "127.0.0.4")[0] for _ in range(4)]
            _code, message, _ = call(gw.base, name, PASSWORD, "127.0.0.4")
            # the same answer but for the name and the time the lock ends
            message = re.sub(r"\d{4}-\d\d-\d\dT[\d:]+Z \(in \d+ s\)", "WHEN", message)
            answers[name] = (codes, message.replace(name, "NAME"))
        assert answers["known"][0] == ["OMGW-AUTH_FAILED"] * 3 + ["OMGW-AUTH_LOCKED"]
        assert answers["known"] == answers["nobody-of-that-name"]
        assert sorted(audit_rows(gw.runtime, "lock")) == [
            ("user", "known"),
            ("user", "nobody-of-that-name"),
        ]


def test_an_address_that_keeps_failing_is_throttled(tmp_path, fresh_database_url):
    with guarded(
        tmp_path, fresh_database_url, auth_max_failures=3, auth_address_max_failures=5
    ) as gw:
        # one guess at each of five names: no name reaches its limit, the address does
        for n in range(5):
            assert call(gw.base, f"user{n}", "guess", "127.0.0.5")[0] == "OMGW-AUTH_FAILED"
        code, message, _ = call(gw.base, "inquirer", PASSWORD, "127.0.0.5")
        assert code == "OMGW-AUTH_THROTTLED" and "127.0.0.5" in message
        assert signed_in(call(gw.base, "inquirer", PASSWORD, "127.0.0.6"))
        assert audit_rows(gw.runtime, "throttle") == [("address", "127.0.0.5")]
        # digest tokens are throttled too
        code, _, _ = call(
            gw.base, "", source="127.0.0.5", header=digest_token("inquirer", PASSWORD)
        )
        assert code == "OMGW-AUTH_THROTTLED"


def test_a_sign_in_clears_the_users_failures(tmp_path, fresh_database_url):
    with guarded(tmp_path, fresh_database_url, auth_max_failures=3) as gw:
        for _ in range(3):
            assert call(gw.base, "inquirer", "guess")[0] == "OMGW-AUTH_FAILED"
            assert call(gw.base, "inquirer", "guess")[0] == "OMGW-AUTH_FAILED"
            assert signed_in(call(gw.base, "inquirer"))


def test_a_lock_ends_after_the_lockout_time(tmp_path, fresh_database_url):
    with guarded(tmp_path, fresh_database_url, auth_max_failures=2, auth_lockout_seconds=3) as gw:
        call(gw.base, "inquirer", "guess")
        call(gw.base, "inquirer", "guess")
        locked = time.monotonic()
        assert call(gw.base, "inquirer")[0] == "OMGW-AUTH_LOCKED"
        time.sleep(max(0.0, locked + 3.5 - time.monotonic()))
        assert signed_in(call(gw.base, "inquirer"))


def test_failures_sent_at_once_are_all_counted(tmp_path, fresh_database_url):
    """Concurrent failures at two processes: none is lost, and the lock is written once."""
    with guarded(tmp_path, fresh_database_url, auth_max_failures=8) as gw:
        with another_process(gw.runtime) as other:
            start = threading.Barrier(8)
            codes: list[str | None] = []

            def guess(base: str) -> None:
                start.wait()
                codes.append(call(base, "inquirer", "guess", "127.0.0.8")[0])

            threads = [
                threading.Thread(target=guess, args=(gw.base if n % 2 else other,))
                for n in range(8)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert codes == ["OMGW-AUTH_FAILED"] * 8
            assert call(other, "inquirer", PASSWORD, "127.0.0.9")[0] == "OMGW-AUTH_LOCKED"
        assert audit_rows(gw.runtime, "lock") == [("user", "inquirer")]


def test_a_locked_out_guess_costs_no_password_hash(tmp_path, fresh_database_url):
    with guarded(tmp_path, fresh_database_url, auth_max_failures=5) as gw:
        hashed = [call(gw.base, "inquirer", "guess")[2] for _ in range(5)]
        refused = []
        for _ in range(15):
            code, _, seconds = call(gw.base, "inquirer", "guess")
            assert code == "OMGW-AUTH_LOCKED"
            refused.append(seconds)
        # scrypt takes ~50-100 ms; a refusal is a read, a few ms
        assert statistics.median(refused) < statistics.median(hashed) / 4, (hashed, refused)


def test_the_tally_is_kept_in_the_database_without_names(tmp_path, fresh_database_url):
    with guarded(tmp_path, fresh_database_url) as gw:
        call(gw.base, "typed-a-Password-as-name", "guess")
        with gw.runtime.read_sessions() as s:
            keys = list(s.scalars(select(AuthFailure.key)))
        assert len(keys) == 2 and all(len(k) == 64 for k in keys)
        assert not any("typed" in k for k in keys)


def test_the_background_purge_forgets_tallies_that_are_over(tmp_path, fresh_database_url):
    with guarded(
        tmp_path,
        fresh_database_url,
        auth_max_failures=2,
        auth_failure_window_seconds=3,
        auth_lockout_seconds=3,
    ) as gw:
        auth = build_authenticator(gw.runtime)
        call(gw.base, "inquirer", "guess", "127.0.0.10")
        call(gw.base, "inquirer", "guess", "127.0.0.11")  # locks inquirer
        auth.purge()
        with gw.runtime.read_sessions() as s:
            assert len(list(s.scalars(select(AuthFailure.key)))) == 3  # all still current
        time.sleep(3.5)
        auth.purge()
        with gw.runtime.read_sessions() as s:
            assert list(s.scalars(select(AuthFailure.key))) == []


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
        tmp_path, fresh_database_url, auth_max_failures=1000, auth_address_max_failures=1000
    ) as gw:
        unknown, wrong = _medians(
            gw.base,
            {"user": "no-such-user", "password": "guess"},
            {"user": "inquirer", "password": "guess"},
            rounds=25,
        )
        assert 2 / 3 < unknown / wrong < 3 / 2, (unknown, wrong)


def test_an_unknown_digest_user_takes_as_long_as_a_wrong_digest(tmp_path, fresh_database_url):
    with guarded(
        tmp_path, fresh_database_url, auth_max_failures=1000, auth_address_max_failures=1000
    ) as gw:
        rounds = 30
        times: dict[str, list[float]] = {"unknown": [], "known": []}
        for _ in range(rounds):
            for kind, name in (("unknown", "no-such-user"), ("known", "inquirer")):
                code, _, seconds = call(gw.base, "", header=digest_token(name, "guess"))
                assert code == "OMGW-AUTH_FAILED"
                times[kind].append(seconds)
        unknown, wrong = statistics.median(times["unknown"]), statistics.median(times["known"])
        assert 2 / 3 < unknown / wrong < 3 / 2, (unknown, wrong)


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
        admin.ok("user", "add", "leaver", "--role", "ORDER_INQUIRY", "--system", "LEGACY",
                 "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
        for base in (gw.base, other):  # signed in: both caches hold it
            assert signed_in(call(base, "leaver"))
        admin.ok("user", "remove", "leaver")
        for base in (gw.base, other):
            assert call(base, "leaver")[0] == "OMGW-AUTH_FAILED"


def test_a_changed_password_role_or_binding_applies_at_once_in_every_process(
    tmp_path, fresh_database_url
):
    with guarded(tmp_path, fresh_database_url) as gw, another_process(gw.runtime) as other:
        admin = _admin(gw)
        new_password = "an0ther-Pa55word"
        admin.ok("user", "add", "mover", "--role", "ORDER_INQUIRY", "--system", "LEGACY",
                 "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
        for base in (gw.base, other):
            assert signed_in(call(base, "mover"))
        admin.ok("user", "add", "mover", "--replace", "--role", "ORDER_INQUIRY", "--password-stdin",
                 input=new_password + "\n")  # fmt: skip
        for base in (gw.base, other):
            assert call(base, "mover")[0] == "OMGW-AUTH_FAILED"
            assert signed_in(call(base, "mover", new_password))
        admin.ok("user", "unbind", "mover", "--system", "LEGACY")
        for base in (gw.base, other):
            assert call(base, "mover", new_password)[0] == "OMGW-AUTH_FORBIDDEN"
        admin.ok("user", "bind", "mover", "--system", "LEGACY")
        for base in (gw.base, other):
            assert signed_in(call(base, "mover", new_password))
        admin.ok("user", "add", "mover", "--replace", "--role", "ORDER_IMPORT", "--password-stdin",
                 input=new_password + "\n")  # fmt: skip
        for base in (gw.base, other):
            assert call(base, "mover", new_password)[0] == "OMGW-AUTH_FORBIDDEN"


def test_limits_set_to_zero_never_lock(tmp_path, fresh_database_url):
    with guarded(
        tmp_path, fresh_database_url, auth_max_failures=0, auth_address_max_failures=0
    ) as gw:
        for _ in range(12):
            assert call(gw.base, "inquirer", "guess")[0] == "OMGW-AUTH_FAILED"
        assert signed_in(call(gw.base, "inquirer"))
