"""Slow and short bodies, and credentials checked before the body (README "Slow clients
and the server in front"), on the tests' wsgiref server.
"""

from __future__ import annotations

import base64
import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select as sql_select

from gateway.persistence.models import MessageLog, OrderHeader
from gateway.runtime import Runtime
from tests.common.orders import order
from tests.common.soap import PASSWORD, client, fault_code
from tests.conftest import Gateway, _pg_database, make_settings, serving

ROOT = Path(__file__).resolve().parents[2]
IMPORT = "/fscmService/OrderImportService"
INFO = "/fscmService/OrderInformationService"


def basic(user: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request_head(path: str, length: int, authorization: str | None = None) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: text/xml; charset=utf-8",
        f"Content-Length: {length}",
    ]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def answer(sock: socket.socket, wait: float = 10.0) -> bytes:
    """Everything the server sends until it closes, or until ``wait`` seconds pass."""
    sock.settimeout(wait)
    data = b""
    deadline = time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if _complete(data):
                break
    except TimeoutError:
        pass
    return data


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def code_of(data: bytes) -> str | None:
    assert data, "no answer"
    return fault_code(data.partition(b"\r\n\r\n")[2])


def create_body(base: str, key: str) -> bytes:
    from lxml import etree

    imports = client(base, "OrderImportService")
    message = imports.create_message(
        imports.service, "createOrders", request={"Order": [order(key)]}
    )
    return etree.tostring(message)


def orders_with(runtime: Runtime, key: str) -> int:
    with runtime.read_sessions() as s:
        rows = s.scalars(sql_select(OrderHeader).where(OrderHeader.source_order_id == key)).all()
        return len(rows)


# -- the front's own checks, under the tests' wsgiref server ---------------------------------


@contextmanager
def _database(kind: str, home: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{home / 'omgw.db'}"
    else:
        yield from _pg_database()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def quick_deadline(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A gateway of its own whose callers have 1 s to send a body."""
    home = tmp_path_factory.mktemp("deadline")
    with (
        _database(request.param, home) as url,
        serving(make_settings(home, url, read_timeout_seconds=1.0)) as running,
    ):
        yield running


def test_wrong_basic_is_refused_before_the_body(quick_deadline):
    """A wrong Basic header is answered at once; the 200 KB announced are never read."""
    with connect(quick_deadline.base) as sock:
        started = time.monotonic()
        sock.sendall(request_head(INFO, 200_000, basic("all", "wrong")))
        data = answer(sock, wait=5)
        took = time.monotonic() - started
    assert code_of(data) == "OMGW-AUTH_FAILED"
    assert took < 0.9  # before the 1 s read deadline could have run out
    with connect(quick_deadline.base) as sock:
        sock.sendall(request_head(INFO, 200_000, basic("nobody")))
        assert code_of(answer(sock, wait=5)) == "OMGW-AUTH_FAILED"
    with connect(quick_deadline.base) as sock:  # right password, not the service's role
        sock.sendall(request_head(INFO, 200_000, basic("importer")))
        assert code_of(answer(sock, wait=5)) == "OMGW-AUTH_FORBIDDEN"
    with quick_deadline.runtime.read_sessions() as s:
        refused = s.scalars(
            sql_select(MessageLog).where(
                MessageLog.fault_code.in_(["AUTH_FAILED", "AUTH_FORBIDDEN"])
            )
        ).all()
    assert refused and all(row.payload is None for row in refused)


def test_body_shorter_than_its_content_length_is_never_processed(quick_deadline, unique):
    body = create_body(quick_deadline.base, unique)
    with connect(quick_deadline.base) as sock:
        sock.sendall(request_head(IMPORT, len(body) + 10, basic("all")) + body)
        sock.shutdown(socket.SHUT_WR)
        data = answer(sock)
    assert code_of(data) == "OMGW-REQUEST_INCOMPLETE"
    assert orders_with(quick_deadline.runtime, unique) == 0


@pytest.mark.parametrize("how", ["stalls", "trickles"])
def test_body_not_in_within_the_deadline(quick_deadline, unique, how):
    """The deadline is for the whole body: a byte every 0.2 s does not extend it."""
    body = create_body(quick_deadline.base, unique)
    with connect(quick_deadline.base) as sock:
        started = time.monotonic()
        sock.sendall(request_head(IMPORT, len(body), basic("all")) + body[:100])
        if how == "trickles":
            for byte in body[100:125]:
                readable, _, _ = select.select([sock], [], [], 0.2)
                if readable:
                    break
                sock.sendall(bytes([byte]))
        data = answer(sock, wait=6)
        took = time.monotonic() - started
    assert code_of(data) == "OMGW-REQUEST_TIMEOUT"
    assert 0.9 < took < 3.0
    assert orders_with(quick_deadline.runtime, unique) == 0
