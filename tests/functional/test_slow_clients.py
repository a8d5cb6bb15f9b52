"""Slow and short bodies, and credentials checked before the body (README "Slow clients
and the server in front").

Two servers: the tests' wsgiref one (the front's own checks, on both databases), and
``omgw serve`` itself (gunicorn with the gateway's worker, SQLite) in a subprocess.
"""

from __future__ import annotations

import base64
import http.client
import os
import select
import socket
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select as sql_select

from gateway.persistence.models import MessageLog, OrderHeader
from gateway.runtime import Runtime
from gateway.startup import prepare
from tests.common.orders import order
from tests.common.processes import started, until
from tests.common.soap import PASSWORD, client, fault_code
from tests.conftest import Gateway, make_settings, seed, serving

# one test worker runs the whole module, so each of its module-wide servers starts once
pytestmark = pytest.mark.xdist_group("slow_clients")

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
    """Everything the server sends until it closes, or until ``wait`` seconds pass. A
    server that closes with bytes of ours unread resets the connection (TCP sends RST):
    that is a close too, and what came before it is the answer."""
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
    except (TimeoutError, ConnectionResetError):
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


@pytest.fixture(scope="module")
def quick_deadline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway of its own whose callers have 1 s to send a body (on SQLite: the
    deadlines are the HTTP front's, before any database is reached)."""
    home = tmp_path_factory.mktemp("deadline")
    with serving(
        make_settings(home, f"sqlite:///{home / 'omgw.db'}", read_timeout_seconds=1.0)
    ) as running:
        yield running


def test_wrong_basic_is_refused_before_the_body(quick_deadline):
    """A wrong Basic header is answered at once; the 200 KB announced are never read."""
    with connect(quick_deadline.base) as sock:
        began = time.monotonic()
        sock.sendall(request_head(INFO, 200_000, basic("all", "wrong")))
        data = answer(sock, wait=5)
        took = time.monotonic() - began
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


def test_negative_content_length_is_refused(quick_deadline):
    with connect(quick_deadline.base) as sock:
        sock.sendall(request_head(INFO, -1, basic("all")) + b"<x/>")
        assert code_of(answer(sock, wait=5)) == "OMGW-REQUEST_INVALID"


@pytest.mark.parametrize("how", ["stalls", "trickles"])
def test_body_not_in_within_the_deadline(quick_deadline, unique, how):
    """The deadline is for the whole body: a byte every 0.2 s does not extend it."""
    body = create_body(quick_deadline.base, unique)
    with connect(quick_deadline.base) as sock:
        began = time.monotonic()
        sock.sendall(request_head(IMPORT, len(body), basic("all")) + body[:100])
        if how == "trickles":
            for byte in body[100:125]:
                readable, _, _ = select.select([sock], [], [], 0.2)
                if readable:
                    break
                sock.sendall(bytes([byte]))
        data = answer(sock, wait=6)
        took = time.monotonic() - began
    assert code_of(data) == "OMGW-REQUEST_TIMEOUT"
    assert 0.9 < took < 3.0
    assert orders_with(quick_deadline.runtime, unique) == 0


# -- omgw serve: gunicorn with the gateway's worker --------------------------------------------


@dataclass
class Served:
    base: str
    port: int
    runtime: Runtime


@contextmanager
def _omgw_serve(home: Path, read_timeout: float) -> Iterator[Served]:
    """``omgw serve --workers 2`` on a fresh SQLite home, with the tests' users."""
    settings = make_settings(
        home, f"sqlite:///{home / 'omgw.db'}", read_timeout_seconds=read_timeout
    )
    prepare(settings)
    runtime = Runtime(settings)
    seed(runtime)
    env = {**os.environ, **settings.to_env(), "OMGW_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    args = ["serve", "--host", "127.0.0.1", "--port", "0", "--workers", "2", "--no-background"]
    try:
        with started([sys.executable, "-m", "gateway.cli", *args], env, cwd=ROOT) as server:
            port = int(server.url.rsplit(":", 1)[1])
            # the tests time deadlines and latencies: a worker answers before the first
            _wait_ready(port)
            yield Served(server.url, port, runtime)
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """omgw serve with the default read deadline (30 s)."""
    with _omgw_serve(tmp_path_factory.mktemp("served"), 30.0) as running:
        yield running


@pytest.fixture(scope="module")
def served_quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """omgw serve whose callers have 1 s for their headers, and 1 s for their body."""
    with _omgw_serve(tmp_path_factory.mktemp("served-quick"), 1.0) as running:
        yield running


def _wait_ready(port: int) -> None:
    def answers() -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    until(answers, "omgw serve to answer /healthz", timeout=60, step=0.1)


def _inquiry(key: str) -> bytes:
    from tests.common.inquiry import OIS, OIS_TYPES

    return f"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
      xmlns:typ="{OIS_TYPES}" xmlns:ord="{OIS}"><soapenv:Body><typ:GetOrderDetails>
      <typ:Order><ord:SourceTransactionIdentifier>{key}</ord:SourceTransactionIdentifier>
      <ord:SourceTransactionSystem>LEGACY</ord:SourceTransactionSystem></typ:Order>
      </typ:GetOrderDetails></soapenv:Body></soapenv:Envelope>""".encode()


def normal_calls(port: int, body: bytes, connections: int = 4, each: int = 40) -> list[float]:
    """GetOrderDetails over ``connections`` keep-alive connections; each call's seconds.
    A call not answered 200 within 10 s fails the test."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Content-Type": "text/xml; charset=utf-8", "Authorization": basic("all")}
        try:
            for _ in range(each):
                began = time.perf_counter()
                conn.request("POST", INFO, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                took = time.perf_counter() - began
                with lock:
                    if resp.status != 200:
                        failures.append(f"HTTP {resp.status}")
                    latencies.append(took)
        except OSError as exc:
            with lock:
                failures.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=run) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, f"{len(failures)} calls failed, first: {failures[0]}"
    return latencies


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100, method="inclusive")[98]


def test_stalled_connections_do_not_hold_up_other_callers(served, unique):
    """50 connections stalled mid-body and 10 mid-headers: the other calls still answer
    within their usual p99. Rounds without and with the stalled connections alternate, so
    both are measured across the same stretch of time (other tests share the machine),
    and the medians of their p99s are compared."""
    client(served.base, "OrderImportService").service.createOrders(
        request={"Order": [order(unique)]}
    )
    body = _inquiry(unique)
    normal_calls(served.port, body)  # every worker and thread warm
    head = request_head(INFO, len(body), basic("all"))
    without: list[float] = []
    with_stalled: list[float] = []
    for _ in range(3):
        without.append(p99(normal_calls(served.port, body)))
        stalled = []
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            sock.sendall(head + body[: len(body) // 2])
            stalled.append(sock)
        for _ in range(10):
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            sock.sendall(f"POST {INFO} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
            stalled.append(sock)
        try:
            time.sleep(0.5)  # time for the server to take them and read what they sent
            with_stalled.append(p99(normal_calls(served.port, body)))
            # they were stalled all along: neither answered nor closed
            assert not select.select(stalled, [], [], 0)[0]
        finally:
            for sock in stalled:
                sock.close()
    usual, held = statistics.median(without), statistics.median(with_stalled)
    assert held < max(3 * usual, usual + 0.5), (without, with_stalled)


def test_served_refusals_before_and_while_reading(served, unique):
    """Under omgw serve: a wrong Basic header is answered without reading the body, an
    oversized Content-Length at once, an oversized chunked body once past the limit, and
    a body cut short is never processed."""
    with connect(served.base) as sock:
        sock.sendall(request_head(INFO, 200_000, basic("all", "wrong")))
        assert code_of(answer(sock, wait=5)) == "OMGW-AUTH_FAILED"
    with connect(served.base) as sock:
        sock.sendall(request_head(INFO, 100 * 1024 * 1024, basic("all")))
        assert code_of(answer(sock, wait=5)) == "OMGW-REQUEST_TOO_LARGE"
    with connect(served.base) as sock:  # no Content-Length: the limit holds as it comes
        chunk = b"<" * (300 * 1024)
        head = f"POST {INFO} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        sock.sendall(head.encode() + f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        assert code_of(answer(sock, wait=5)) == "OMGW-REQUEST_TOO_LARGE"
    body = create_body(served.base, unique)
    with connect(served.base) as sock:
        sock.sendall(request_head(IMPORT, len(body) + 10, basic("all")) + body)
        sock.shutdown(socket.SHUT_WR)
        assert answer(sock, wait=5) == b""  # no one to answer: the caller has gone
    assert orders_with(served.runtime, unique) == 0


@pytest.mark.parametrize("how", ["stalls", "trickles"])
def test_served_deadlines(served_quick, unique, how):
    """Under omgw serve, with a 1 s deadline: a body not in gets REQUEST_TIMEOUT, and
    headers not in get the connection closed; a byte every 0.2 s extends neither."""
    body = create_body(served_quick.base, unique)
    sent = [
        request_head(IMPORT, len(body), basic("all")) + body[:100],
        f"POST {IMPORT} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode(),
    ]
    trickle = [body[100:140], b"X-Padding: " + b"a" * 40]
    outcomes = []
    for first, more in zip(sent, trickle, strict=True):
        with connect(served_quick.base) as sock:
            began = time.monotonic()
            sock.sendall(first)
            if how == "trickles":
                for byte in more:
                    if select.select([sock], [], [], 0.2)[0]:
                        break
                    sock.sendall(bytes([byte]))
            data = answer(sock, wait=8)
            outcomes.append((data, time.monotonic() - began))
    (body_data, body_took), (head_data, head_took) = outcomes
    assert code_of(body_data) == "OMGW-REQUEST_TIMEOUT"
    assert head_data == b""  # closed, with no answer
    assert 0.9 < body_took < 4.0 and 0.9 < head_took < 4.0, (body_took, head_took)
    assert orders_with(served_quick.runtime, unique) == 0
