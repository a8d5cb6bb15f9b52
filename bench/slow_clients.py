"""Slow clients: normal calls' latency with and without connections that stall.

Starts ``omgw serve`` (gunicorn, 2 workers, SQLite) on a fresh home, then:

1. measures GetOrderDetails calls (4 keep-alive connections) with nothing else going on:
   the baseline p50/p99;
2. opens ``--stalled`` connections that send their headers and half their body, and
   ``--header-stalled`` that send half their headers, and then send nothing more;
3. measures the same calls again while those connections stay open (checked after);
4. waits out the read deadline (``--read-timeout``, passed as OMGW_READ_TIMEOUT_SECONDS)
   and reports what each stalled connection got: the fault code, or a close.

    python bench/slow_clients.py [--stalled 50] [--header-stalled 10] [--requests 300]
                                 [--read-timeout 20] [--json]

It stops by itself: each load is bounded by ``--load-timeout`` seconds, and a load that
does not finish in time is reported as such (calls blocked behind the stalled ones).
"""

from __future__ import annotations

import argparse
import json
import re
import select
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import stack


@dataclass
class Load:
    """One load of normal calls: its figures, or why it did not finish."""

    ok: int
    errors: int
    throughput: float
    p50_ms: float
    p99_ms: float
    failure: str | None = None


@dataclass
class Report:
    stalled: int
    header_stalled: int
    requests: int
    read_timeout_s: float
    without: Load
    with_stalled: Load
    stalled_open_after_load: int
    #: what the body-stalled connections got after the deadline: fault code (or
    #: "closed"/"nothing") → count; and when the last of them was answered
    stalled_outcomes: dict[str, int]
    header_stalled_outcomes: dict[str, int]
    answered_within_s: float | None


def normal_load(port: int, requests: list[bytes], timeout_s: float) -> Load:
    try:
        r = loadgen.run_load(port, requests, connections=4, processes=1, timeout_s=timeout_s)
    except RuntimeError as exc:
        return Load(0, len(requests), 0.0, 0.0, 0.0, failure=str(exc))
    return Load(
        r.requests - r.errors,
        r.errors,
        round(r.throughput, 1),
        round(r.p50_ms, 1),
        round(r.p99_ms, 1),
    )


def stall_mid_body(port: int, request: bytes) -> socket.socket:
    """A connection that sent its headers and half its body."""
    head, _, body = request.partition(b"\r\n\r\n")
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head + b"\r\n\r\n" + body[: len(body) // 2])
    return sock


def stall_mid_headers(port: int, path: str) -> socket.socket:
    """A connection that sent half its headers (slowloris)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n".encode())
    return sock


def still_open(sock: socket.socket) -> bool:
    """True while the server has neither answered nor closed the connection."""
    readable, _, _ = select.select([sock], [], [], 0)
    return not readable


def outcome(sock: socket.socket, wait_s: float) -> str:
    """What the server did with a stalled connection: a fault code, "closed" (no
    answer), "answered" (another answer), or "nothing" within ``wait_s``."""
    sock.settimeout(wait_s)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        if not data:
            return "nothing"
    except OSError:
        pass
    if not data:
        return "closed"
    code = re.search(rb"<[^>]*code>(OMGW-[A-Z_]+)<", data)
    return code.group(1).decode() if code else "answered"


def run(args: argparse.Namespace) -> Report:
    home = stack.make_home("http://127.0.0.1:9/unused")
    home.env["OMGW_READ_TIMEOUT_SECONDS"] = str(args.read_timeout)
    stack.seed_orders(home, "SLOW", 1, 5)
    request = loadgen.http_request(stack.INFO, stack.details_bodies(["SLOW0"])[0], stack.AUTH)
    requests = [request] * args.requests
    with stack.gateway(home, workers=2) as (port, _pid):
        loadgen.warm(port, requests, limit=20)
        normal_load(port, requests, args.load_timeout)  # every worker and thread warm
        without = normal_load(port, requests, args.load_timeout)
        opened = time.monotonic()
        body_stalled = [stall_mid_body(port, request) for _ in range(args.stalled)]
        header_stalled = [stall_mid_headers(port, stack.INFO) for _ in range(args.header_stalled)]
        time.sleep(1.0)  # every stalled connection accepted and waiting
        with_stalled = normal_load(port, requests, args.load_timeout)
        open_after = sum(still_open(s) for s in body_stalled + header_stalled)
        stalled_outcomes: dict[str, int] = {}
        header_outcomes: dict[str, int] = {}
        wait_until = opened + args.read_timeout + 10
        for sock in body_stalled:
            got = outcome(sock, max(0.1, wait_until - time.monotonic()))
            stalled_outcomes[got] = stalled_outcomes.get(got, 0) + 1
        answered = time.monotonic() - opened
        for sock in header_stalled:
            got = outcome(sock, max(0.1, wait_until - time.monotonic()))
            header_outcomes[got] = header_outcomes.get(got, 0) + 1
        for sock in body_stalled + header_stalled:
            sock.close()
    return Report(
        stalled=args.stalled,
        header_stalled=args.header_stalled,
        requests=args.requests,
        read_timeout_s=args.read_timeout,
        without=without,
        with_stalled=with_stalled,
        stalled_open_after_load=open_after,
        stalled_outcomes=stalled_outcomes,
        header_stalled_outcomes=header_outcomes,
        answered_within_s=round(answered, 1) if "nothing" not in stalled_outcomes else None,
    )


def describe(load: Load) -> str:
    if load.failure:
        return f"did not finish: {load.failure}"
    return (
        f"{load.ok} ok, {load.errors} errors, {load.throughput} req/s, "
        f"p50 {load.p50_ms} ms, p99 {load.p99_ms} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stalled", type=int, default=50, help="connections stalled mid-body")
    parser.add_argument("--header-stalled", type=int, default=10, help="stalled mid-headers")
    parser.add_argument("--requests", type=int, default=300, help="normal calls per load")
    parser.add_argument("--read-timeout", type=float, default=20.0, help="server's read deadline")
    parser.add_argument("--load-timeout", type=float, default=15.0, help="bound of each load")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
        return 0
    data: dict[str, Any] = asdict(report)
    print(f"GetOrderDetails x {report.requests}, 4 connections, omgw serve (2 workers, SQLite)")
    print(f"  without stalled connections: {describe(report.without)}")
    print(
        f"  with {report.stalled} stalled mid-body and {report.header_stalled} mid-headers: "
        f"{describe(report.with_stalled)}"
    )
    print(
        f"  stalled connections still open after the load: {report.stalled_open_after_load}"
        f" of {report.stalled + report.header_stalled}"
    )
    print(
        f"  after the read deadline ({report.read_timeout_s:g} s): mid-body "
        f"{data['stalled_outcomes']}, mid-headers {data['header_stalled_outcomes']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
