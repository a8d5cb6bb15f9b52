"""What omgw stores (README "What is stored and logged"): refused requests keep no
payload, every header is redacted, the home and the files in it are private.

Wrong credentials name users that do not exist, so that no test user's failures add up
(a lockout must not follow these tests into others)."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from gateway.cli import cli
from gateway.config import Settings
from gateway.persistence.models import MessageLog
from gateway.runtime import Runtime
from tests.common.inquiry import OIS_TYPES, inquiry, ois, oracle_text_header
from tests.common.soap import PASSWORD, basic, digest_header, fault_code, post

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases

WSSE_2002 = "http://schemas.xmlsoap.org/ws/2002/07/secext"
#: what the README promises a refused request keeps at most
EXCERPT_BYTES = 2048


def _padded(header: str, size: int, marker: str) -> bytes:
    """An inquiry of about ``size`` bytes: the padding sits in the Body, after the header."""
    body = inquiry(header, number=marker)
    pad = b" " * max(0, size - len(body))  # kept by the parser, valid between elements
    return body.replace(b"</typ:GetOrderDetails>", pad + b"</typ:GetOrderDetails>")


def _rows_after(gateway, first_id: int) -> list[MessageLog]:
    with gateway.runtime.sessions() as s:
        stmt = select(MessageLog).where(MessageLog.id > first_id).order_by(MessageLog.id)
        return list(s.scalars(stmt))


def _last_id(gateway) -> int:
    with gateway.runtime.sessions() as s:
        return s.scalar(select(func.coalesce(func.max(MessageLog.id), 0))) or 0


def _database_bytes(gateway) -> int | None:
    """The SQLite database's size on disk, its WAL checkpointed into it; None on PostgreSQL."""
    url = gateway.runtime.settings.database_url
    if not url.startswith("sqlite"):
        return None
    path = Path(url.split(":///", 1)[1])
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def test_refused_requests_store_an_excerpt_and_never_their_whole_payload(gateway, unique):
    limit = gateway.runtime.settings.max_body_bytes
    marker = f"FILL-{unique}"
    refused = [
        ({}, ""),  # no credentials
        (basic(f"ghost-{unique}", "wrong-" + unique), ""),  # wrong Basic credentials
        ({}, oracle_text_header(f"ghost-{unique}", "wrong-" + unique)),  # wrong token
        ({}, oracle_text_header(f"nobody-{unique}", PASSWORD)),  # unknown user
    ]
    start = _last_id(gateway)
    size_before = _database_bytes(gateway)
    sent = 0
    for i in range(20):
        headers, header = refused[i % len(refused)]
        body = _padded(header, limit - 200, marker)
        assert len(body) > limit * 0.9
        resp = post(ois(gateway), body, headers)
        assert fault_code(resp.body) in ("OMGW-AUTH_REQUIRED", "OMGW-AUTH_FAILED")
        sent += len(body)
    logged = _rows_after(gateway, start)
    assert len(logged) == 20
    # A wrong Basic header is refused on the headers alone: its body is never read.
    early = [r for r in logged if r.fault_code == "AUTH_FAILED" and not r.payload]
    assert len(early) == 5
    rows = [r for r in logged if r.payload and marker in r.payload]
    assert len(rows) == 15
    kept = sum(len(r.payload.encode()) for r in rows)
    # 20 requests of ~limit bytes each (5 MiB at the tests' 256 KiB limit) keep ~42 KiB
    assert kept <= 20 * (EXCERPT_BYTES + 100), (kept, sent)
    size_after = _database_bytes(gateway)
    if size_before is not None and size_after is not None:  # 20 rows, their indexes, slack
        assert size_after - size_before < 512 * 1024, (size_before, size_after, sent)
    for row in rows:
        assert row.principal is None
        assert "bytes in all; the rest is not kept" in row.payload
        assert PASSWORD not in row.payload and "wrong-" + unique not in row.payload


def test_an_authenticated_call_keeps_its_whole_payload(gateway, unique):
    limit = gateway.runtime.settings.max_body_bytes
    marker = f"WHOLE-{unique}"
    start = _last_id(gateway)
    body = _padded("", limit // 2, marker)
    resp = post(ois(gateway), body, basic("inquirer"))
    assert fault_code(resp.body) == "OMGW-ORDER_NOT_FOUND"
    (row,) = [r for r in _rows_after(gateway, start) if r.payload and marker in r.payload]
    assert row.principal == "inquirer"
    assert len(row.payload) > limit // 2 - 1000


def _vendor_entries(unique: str) -> str:
    """Header entries full of secrets in namespaces and names of other vendors."""
    return (
        f'<x:Creds xmlns:x="urn:vendor:{unique}">'
        f"<x:Password>SECOND-{unique}</x:Password>"
        f"<x:apiToken>TOKEN-{unique}</x:apiToken>"
        f'<x:Login user="u" clientSecret="ATTR-{unique}"/>'
        f'<o:Security xmlns:o="{WSSE_2002}"><o:BinarySecurityToken>BST-{unique}'
        "</o:BinarySecurityToken><o:UsernameToken><o:Username>someone</o:Username>"
        f"<o:Password>OLD-{unique}</o:Password><o:Nonce>NONCE-{unique}</o:Nonce>"
        "</o:UsernameToken></o:Security>"
        f"<x:SessionToken><x:Value>NESTED-{unique}</x:Value></x:SessionToken>"
        "</x:Creds>"
    )


def test_a_secret_in_any_header_is_blanked_in_the_message_log(gateway, unique):
    start = _last_id(gateway)
    marker = f"HDR-{unique}"
    first = digest_header("inquirer", PASSWORD)
    for header in (first, oracle_text_header(f"ghost-{unique}", "wrong-" + unique)):
        assert header.endswith("</soapenv:Header>")
        entries = header[: -len("</soapenv:Header>")] + _vendor_entries(unique)
        body = inquiry(entries + "</soapenv:Header>", number=marker)
        resp = post(ois(gateway), body)
        assert fault_code(resp.body) in ("OMGW-ORDER_NOT_FOUND", "OMGW-AUTH_FAILED")
        # a second soap:Header is no SOAP 1.1 envelope: refused, and nothing of it kept
        second = f"<soapenv:Header>{_vendor_entries(unique)}</soapenv:Header>"
        resp = post(ois(gateway), inquiry(header + second, number=marker))
        assert fault_code(resp.body) == "OMGW-SOAP_ENVELOPE_INVALID"
    logged = _rows_after(gateway, start)
    assert [r.fault_code for r in logged if r.fault_code == "SOAP_ENVELOPE_INVALID"] == [
        "SOAP_ENVELOPE_INVALID"
    ] * 2
    assert all(not r.payload for r in logged if r.fault_code == "SOAP_ENVELOPE_INVALID")
    rows = [r for r in logged if r.payload and marker in r.payload]
    assert [r.fault_code for r in rows] == ["ORDER_NOT_FOUND", "AUTH_FAILED"]
    for row in rows:
        for secret in ("SECOND-", "TOKEN-", "ATTR-", "BST-", "OLD-", "NONCE-", "NESTED-"):
            assert secret + unique not in row.payload, (secret, row.payload)
        assert PASSWORD not in row.payload and "wrong-" + unique not in row.payload
        # what identifies the caller is kept
        assert "<o:Username>someone</o:Username>" in row.payload
        assert f"{OIS_TYPES}" in row.payload


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _omgw(env: dict[str, str | None], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _env(home: Path) -> dict[str, str | None]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OMGW_")}
    env["OMGW_HOME"] = str(home)
    return env


def test_init_makes_the_home_0700_and_every_file_in_it_0600(tmp_path):
    home = tmp_path / "home"
    old = os.umask(0o022)  # the usual umask, under which files are 0644 unless made private
    try:
        _omgw(_env(home), "init", "--sample")
        settings = Settings.from_env({"OMGW_HOME": str(home)})
        runtime = Runtime(settings)
        try:  # a write with a connection kept open: the -wal and -shm files exist
            with runtime.sessions() as s, s.begin():
                s.execute(text("CREATE TABLE IF NOT EXISTS mode_probe (x INTEGER)"))
            with runtime.sessions() as s, s.begin():
                s.execute(text("INSERT INTO mode_probe VALUES (1)"))
            names = sorted(p.name for p in home.iterdir())
            assert {"omgw.db", "omgw.db-wal", "omgw.db-shm", "wallet.key", "demo-user.txt"} <= set(
                names
            ), names
            assert _mode(home) == 0o700
            assert {n: oct(_mode(home / n)) for n in names} == {n: oct(0o600) for n in names}
        finally:
            runtime.close()
    finally:
        os.umask(old)


def test_files_left_open_to_others_are_made_private_and_an_open_home_is_warned_of(tmp_path, caplog):
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    _omgw(_env(home), "init")
    for name in ("omgw.db", "wallet.key"):
        (home / name).chmod(0o644)
    caplog.set_level(logging.WARNING)
    _omgw(_env(home), "init")
    assert _mode(home / "omgw.db") == 0o600 and _mode(home / "wallet.key") == 0o600
    assert _mode(home) == 0o755  # an admin's choice of directory is left, and warned of
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("chmod 700" in w and str(home) in w for w in warnings), warnings
    assert sum("it is now 600" in w for w in warnings) >= 2, warnings
