"""Inbound cost per request: the whole gateway beside a bare spyne service, same run
(``processFulfillmentResponse`` and ``createOrders``, of 1 and of 50 lines).

Both are called in-process through WSGI (no sockets), so the figure is the gateway's
own work: the hardened front, authentication, spyne mapping and schema validation,
the domain logic, one SQLite transaction and the message log. The bare spyne service
has the same types and validator and returns a same-sized result without touching a
database. The ratio is what to track; absolute figures drift on shared machines.

Beside each gateway figure, ``commit_ms`` is the time per call spent in the database
driver's COMMIT: what group commit (several requests in one transaction) could save
at most.

    python bench/inbound.py [--rounds 3] [--calls 40] [--json]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bare_spyne
from stack import create_bodies, response_body

PASSWORD = "bench-Pa55word"


def call(app: Callable, path: str, body: bytes, auth: str | None) -> tuple[str, bytes]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "text/xml; charset=utf-8",
    }
    if auth:
        environ["HTTP_AUTHORIZATION"] = auth
    out: dict[str, str] = {}
    data = b"".join(app(environ, lambda s, h, e=None: out.setdefault("status", s)))
    return out["status"], data


class CommitClock:
    """Time spent in the driver's COMMIT through ``dialect`` (an engine's), from now on."""

    def __init__(self, dialect: Any) -> None:
        self.seconds = 0.0
        inner = dialect.do_commit

        def do_commit(dbapi_connection: Any) -> None:
            t0 = time.perf_counter()
            try:
                inner(dbapi_connection)
            finally:
                self.seconds += time.perf_counter() - t0

        dialect.do_commit = do_commit


def side_by_side(
    gateway: Callable,
    bare: Callable,
    path: str,
    batches: list[list[bytes]],
    auth: str,
    commits: CommitClock,
) -> dict[str, float]:
    """Each round's bodies through the gateway, then through bare spyne: ms per call."""
    g_rounds, b_rounds = [], []
    committed = commits.seconds
    for batch in batches:
        for app, who, rounds in ((gateway, auth, g_rounds), (bare, None, b_rounds)):
            t0 = time.perf_counter()
            for body in batch:
                status, _ = call(app, path, body, who)
                assert status.startswith("200"), status
            rounds.append((time.perf_counter() - t0) / len(batch) * 1000)
    g, b = statistics.median(g_rounds), statistics.median(b_rounds)
    calls = sum(len(batch) for batch in batches)
    return {
        "gateway_ms": round(g, 3),
        "commit_ms": round((commits.seconds - committed) / calls * 1000, 3),
        "bare_spyne_ms": round(b, 3),
        "ratio": round(g / b, 2),
        "gateway_spread_ms": round(max(g_rounds) - min(g_rounds), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from connectors.secret_box import MasterKey
    from gateway.config import Settings
    from gateway.orders.intake import OrderIntake
    from gateway.orders.message_values import LineInput, OrderInput
    from gateway.persistence.models import SourceSystem, User
    from gateway.runtime import Runtime
    from gateway.security.passwords import hash_password
    from gateway.server import build_app
    from gateway.startup import prepare

    home = Path(tempfile.mkdtemp(prefix="omgw-bench-"))
    settings = Settings(
        home=home,
        database_url=f"sqlite:///{home / 'bench.db'}",
        wallet_key_b64=MasterKey.generate().to_b64(),
    )
    prepare(settings)
    runtime = Runtime(settings)
    with runtime.sessions() as s, s.begin():
        s.add(SourceSystem(code="LEGACY", order_capture=True))
        s.add(SourceSystem(code="WMS01", fulfillment=True))
        s.add(
            User(
                username="bench",
                password_hash=hash_password(PASSWORD),
                roles="ORDER_IMPORT ORDER_INQUIRY FULFILLMENT_RESPONSE",
                # no routing here: its requests go to no system, answered only by a user
                # bound to every system
                all_systems=True,
            )
        )
    gateway = build_app(runtime)
    commits = CommitClock(runtime.engine.dialect)
    bare = bare_spyne.wsgi_app()
    auth = "Basic " + base64.b64encode(f"bench:{PASSWORD}".encode()).decode()
    path = "/fscmService/OrderFulfillmentResponseService"

    results: dict[str, dict[str, float]] = {}
    for size in (1, 50):
        needed = args.rounds * args.calls + 1
        orders: list[list[int]] = []
        with runtime.sessions() as s, s.begin():
            intake = OrderIntake(s)
            for i in range(needed):
                o = OrderInput(
                    "LEGACY",
                    f"B{size}-{i}",
                    f"SO-B{size}-{i}",
                    "1",
                    tuple(
                        LineInput(f"L{j}", str(j), "ITEM", Decimal(5), "Ea") for j in range(size)
                    ),
                )
                h = intake.create(o).header
                orders.append([f.id for ln in h.lines for f in ln.fulfill_lines])
        call(gateway, path, response_body("warm", orders.pop()), auth)  # warm caches
        batches = [
            [response_body(f"R{size}-{r}-{i}", orders.pop()) for i in range(args.calls)]
            for r in range(args.rounds)
        ]
        results[f"processFulfillmentResponse_{size}"] = side_by_side(
            gateway, bare, path, batches, auth, commits
        )
    create_path = "/fscmService/OrderImportService"
    for size in (1, 50):
        call(gateway, create_path, create_bodies(f"CW{size}-", 1, size)[0], auth)  # warm caches
        batches = [create_bodies(f"C{size}-{r}-", args.calls, size) for r in range(args.rounds)]
        results[f"createOrders_{size}"] = side_by_side(
            gateway, bare, create_path, batches, auth, commits
        )
    runtime.close()
    if args.json:
        print(json.dumps(results))
        return
    print(f"{'request':<32}{'gateway ms':>12}{'of it COMMIT':>14}{'bare spyne ms':>15}{'ratio':>8}")
    for name, r in results.items():
        print(
            f"{name:<32}{r['gateway_ms']:>12.2f}{r['commit_ms']:>14.2f}"
            f"{r['bare_spyne_ms']:>15.2f}{r['ratio']:>8.2f}"
        )


if __name__ == "__main__":
    main()
