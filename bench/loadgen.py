"""A small HTTP/1.1 load generator, cheap enough that the server is what gets measured.

Worker processes (forked) each drive several keep-alive sockets with ``selectors``:
send a request, read its response (Content-Length, chunked, or until close), record the
latency, send the next. No http.client or requests on the hot path: a few bytes of
parsing per response. Every request is sent exactly once, round-robin over the
connections, and all workers start together after connecting, so ``elapsed_s`` is wall
time from that common start to the last response. Only 127.0.0.1 is meant as a target;
every run is bounded by its request list and ``timeout_s``.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import selectors
import socket
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from threading import BrokenBarrierError
from typing import Any

__all__ = ["LoadResult", "http_request", "run_load", "warm"]


def http_request(
    path: str, body: bytes, headers: dict[str, str] | None = None, host: str = "127.0.0.1"
) -> bytes:
    """The full bytes of one SOAP 1.1 POST."""
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: text/xml; charset=utf-8",
        'SOAPAction: ""',
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class LoadResult:
    requests: int
    errors: int
    elapsed_s: float
    throughput: float  # ok responses per second
    p50_ms: float
    p99_ms: float
    first_error: str | None  # status line + first 300 bytes of body


@dataclass
class _Response:
    status: int
    status_line: str
    body: bytes
    close: bool


def _parse(buf: bytearray, eof: bool) -> tuple[_Response, int] | None:
    """One complete response at the start of ``buf`` and its length, or None for more."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    status_line = lines[0]
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip().lower()
    close = fields.get("connection") == "close" or status_line.startswith("HTTP/1.0")
    start = end + 4
    if "content-length" in fields:
        stop = start + int(fields["content-length"])
        if len(buf) < stop:
            return None
        body = bytes(buf[start:stop])
    elif "chunked" in fields.get("transfer-encoding", ""):
        chunks, stop = [], start
        while True:
            eol = buf.find(b"\r\n", stop)
            if eol < 0:
                return None
            size = int(bytes(buf[stop:eol]).split(b";")[0], 16)
            if size == 0:
                trailer = buf.find(b"\r\n\r\n", eol)
                if trailer < 0:
                    return None
                stop = trailer + 4
                break
            if len(buf) < eol + 2 + size + 2:
                return None
            chunks.append(bytes(buf[eol + 2 : eol + 2 + size]))
            stop = eol + 2 + size + 2
        body = b"".join(chunks)
    elif eof:  # no length: the body runs to the end of the connection
        body, stop, close = bytes(buf[start:]), len(buf), True
    else:
        return None
    return _Response(int(status_line.split()[1]), status_line, body, close), stop


def _connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


class _Conn:
    """One keep-alive connection working through its share of the requests."""

    def __init__(self, host: str, port: int, requests: list[bytes]) -> None:
        self.host, self.port, self.requests = host, port, requests
        self.next, self.retries = 0, 0
        self.sock = _connect(host, port)
        self.inbuf = bytearray()
        self.out = memoryview(b"")
        self.sent_at = 0.0

    def send_next(self, sel: selectors.BaseSelector) -> bool:
        """Start the next request; False when this connection has none left."""
        if self.next >= len(self.requests):
            sel.unregister(self.sock)
            self.sock.close()
            return False
        self.sent_at = time.perf_counter()
        self.out = memoryview(self.requests[self.next])
        self.flush(sel)
        return True

    def flush(self, sel: selectors.BaseSelector) -> None:
        try:
            self.out = self.out[self.sock.send(self.out) :]
        except BlockingIOError:
            pass
        except OSError:  # the server went away: reconnect, the read side resends
            self.out = memoryview(b"")
        sel.modify(self.sock, selectors.EVENT_WRITE if self.out else selectors.EVENT_READ, self)

    def reconnect(self, sel: selectors.BaseSelector) -> None:
        sel.unregister(self.sock)
        self.sock.close()
        self.sock = _connect(self.host, self.port)
        self.inbuf.clear()
        sel.register(self.sock, selectors.EVENT_READ, self)


def _worker(
    host: str,
    port: int,
    shares: list[list[bytes]],
    expect_status: int,
    expect_body: bytes | None,
    deadline: float,
    barrier: Any,
    out: Any,
) -> None:
    try:
        conns = [_Conn(host, port, share) for share in shares]
    except OSError as exc:
        out.put({"fatal": f"connect to {host}:{port} failed: {exc}"})
        barrier.abort()
        return
    try:
        barrier.wait(timeout=30)
    except BrokenBarrierError:
        return
    try:
        out.put(_drive(conns, expect_status, expect_body, deadline))
    except Exception as exc:  # reported, not lost in a child's traceback
        out.put({"fatal": f"{type(exc).__name__}: {exc}"})


def _drive(
    conns: list[_Conn], expect_status: int, expect_body: bytes | None, deadline: float
) -> dict[str, Any]:
    start = time.perf_counter()
    latencies: list[float] = []
    errors, first_error, done_at = 0, None, start
    sel = selectors.DefaultSelector()
    active = 0
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ, c)
        active += c.send_next(sel)
    while active:
        if time.monotonic() > deadline:
            return {"fatal": f"timed out with {active} connection(s) still waiting"}
        for key, _ in sel.select(timeout=1.0):
            c = key.data
            if c.out:
                c.flush(sel)
                continue
            try:
                data = c.sock.recv(262144)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            c.inbuf += data
            parsed = _parse(c.inbuf, eof=not data)
            if parsed is None:
                if data:
                    continue
                # closed before a whole response: resend on a new connection (a keep-alive
                # race), but not forever
                c.retries += 1
                if c.retries > 3:
                    raise RuntimeError("the server keeps closing the connection unanswered")
                c.reconnect(sel)
                c.send_next(sel)
                continue
            resp, used = parsed
            done_at = time.perf_counter()
            latencies.append(done_at - c.sent_at)
            ok = resp.status == expect_status and (expect_body is None or expect_body in resp.body)
            if not ok:
                errors += 1
                if first_error is None:
                    first_error = f"{resp.status_line}\n{resp.body[:300]!r}"
            c.next, c.retries = c.next + 1, 0
            del c.inbuf[:used]
            if resp.close or not data:
                c.reconnect(sel)
            active -= not c.send_next(sel)
    return {
        "latencies": latencies,
        "errors": errors,
        "first_error": first_error,
        "start": start,
        "end": done_at,
    }


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def run_load(
    port: int,
    requests: Sequence[bytes],
    *,
    connections: int = 8,
    processes: int = 2,
    host: str = "127.0.0.1",
    expect_status: int = 200,
    expect_body: bytes | None = None,
    timeout_s: float = 60.0,
) -> LoadResult:
    """Send every request once over ``connections`` keep-alive connections spread over
    ``processes`` forked workers; raises RuntimeError on timeout or a failed connect."""
    if not requests:
        raise ValueError("no requests to send")
    connections = max(1, min(connections, len(requests)))
    processes = max(1, min(processes, connections))
    shares: list[list[bytes]] = [list(requests[c::connections]) for c in range(connections)]
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(processes + 1)
    out = ctx.Queue()
    deadline = time.monotonic() + timeout_s
    common = (expect_status, expect_body, deadline, barrier, out)
    workers = [
        ctx.Process(target=_worker, args=(host, port, shares[p::processes], *common), daemon=True)
        for p in range(processes)
    ]
    for w in workers:
        w.start()
    results: list[dict[str, Any]] = []
    try:
        try:
            barrier.wait(timeout=60)
        except BrokenBarrierError:  # a worker could not connect: it says why
            try:
                res = out.get(timeout=5)
            except queue.Empty:
                res = {"fatal": "workers did not connect within 60 s"}
            raise RuntimeError(f"load on {host}:{port} failed: {res.get('fatal', res)}") from None
        while len(results) < processes:
            try:
                res = out.get(timeout=max(0.1, deadline - time.monotonic() + 5))
            except queue.Empty:
                raise RuntimeError(
                    f"load on {host}:{port} did not finish within {timeout_s} s "
                    f"({len(results)} of {processes} workers done)"
                ) from None
            if "fatal" in res:
                raise RuntimeError(f"load on {host}:{port} failed: {res['fatal']}")
            results.append(res)
    finally:
        for w in workers:
            w.join(timeout=2)
            if w.is_alive():
                w.terminate()
                w.join()
    latencies = [x for r in results for x in r["latencies"]]
    errors = sum(r["errors"] for r in results)
    elapsed = max(r["end"] for r in results) - min(r["start"] for r in results)
    first_error = next((r["first_error"] for r in results if r["first_error"]), None)
    return LoadResult(
        requests=len(latencies),
        errors=errors,
        elapsed_s=elapsed,
        throughput=(len(latencies) - errors) / elapsed if elapsed > 0 else 0.0,
        p50_ms=_percentile(latencies, 50),
        p99_ms=_percentile(latencies, 99),
        first_error=first_error,
    )


def warm(port: int, requests: Sequence[bytes], host: str = "127.0.0.1", limit: int = 5) -> None:
    """Send the first ``limit`` requests one after another on one connection; raise
    RuntimeError unless each is answered 200."""
    sock = socket.create_connection((host, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for req in requests[:limit]:
            sock.sendall(req)
            buf = bytearray()
            while (parsed := _parse(buf, eof=False)) is None:
                data = sock.recv(262144)
                if not data:
                    parsed = _parse(buf, eof=True)
                    if parsed is None:
                        raise RuntimeError(f"{host}:{port} closed the connection mid-response")
                    break
                buf += data
            resp, _ = parsed
            if resp.status != 200:
                raise RuntimeError(f"warm-up got {resp.status_line}: {resp.body[:300]!r}")
            if resp.close:
                sock.close()
                sock = socket.create_connection((host, port), timeout=30)
    finally:
        sock.close()
