"""Outbound dispatch throughput: the outbox worker beside a naive zeep loop, same run.

The gateway side is the product's path: orders go in through ``OrderIntake`` (routing
picks an ``ASYNC_SERVICE`` connector; the envelope is built once, with zeep, and stored
as bytes in the outbox), all before the clock starts. Then the real
:class:`gateway.outbox.worker.OutboxWorker` runs its loop (``run``, as ``omgw serve``'s
background and ``omgw worker`` do: one worker, ``OMGW_WORKER_CONCURRENCY`` sends in
flight) until every row is ``DELIVERED``: claims with a lease, WS-Security stamped per
send from the wallet entry, a kept-alive POST, the attempt and the verdict recorded.

The baseline sends the same requests (same ``headerTL`` content, same count) the obvious
way: a zeep ``Client`` on the same WSDL, with the same UsernameToken and WS-Addressing
headers, calling ``processFulfillmentRequest`` once per message.

Both send to the same local receiver (``bench/receiver.py``, its own process, canned
``202``), which counts what arrives: every message must arrive exactly once (distinct
``MessageID``s) and every outbox row be ``DELIVERED``, else the run fails.

    python bench/dispatch.py [--rounds 3] [--messages 300] [--json] [--best]
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from bench import receiver
from connectors.connector_specs import ConnectorSpec, RetryPolicy, SourceSystemSpec
from connectors.outbound import OUTBOUND_DIR, RequestDocument
from connectors.secret_box import Credential, MasterKey
from gateway.background import check_jeopardy
from gateway.config import Settings
from gateway.outbox.worker import OutboxWorker
from gateway.runtime import Runtime

USER, PASSWORD = "bench", "bench-Pa55word-9"
CONNECTOR = "BENCH_WMS"
BINDING = (
    "{http://xmlns.oracle.com/apps/scm/doo/taskLayer/externalInterfaceLayer/"
    "DooTaskExternalInterfaceVirtualPartnersComposite/FulfillmentRequest}FulfillmentRequestBinding"
)
#: (worker processes, sends in flight per worker) tried by --best
CONFIGS = ((1, 8), (1, 16), (2, 4), (2, 8))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup(url: str) -> Runtime:
    """A fresh SQLite home with a source system, a connector to ``url`` (asynchronous,
    UsernameToken from the wallet) and a published default route to it."""
    from gateway.registry.rule_store import RuleStore
    from gateway.registry.store import Registry
    from gateway.registry.wallet_store import Wallet
    from gateway.startup import prepare

    home = Path(tempfile.mkdtemp(prefix="omgw-bench-dispatch-"))
    settings = Settings(
        home=home,
        database_url=f"sqlite:///{home / 'bench.db'}",
        wallet_key_b64=MasterKey.generate().to_b64(),
        public_url="http://127.0.0.1:8080",
    )
    prepare(settings)
    runtime = Runtime(settings)
    with runtime.sessions() as s, s.begin():
        registry = Registry(s, "bench")
        registry.put_source_system(SourceSystemSpec("LEGACY", "LEGACY", order_capture=True))
        registry.put_source_system(SourceSystemSpec("WMS01", "WMS01", fulfillment=True))
        Wallet(s, lambda: runtime.secret_box, "bench").set(
            "oracle.wsm.security", "BENCH_KEY", Credential(USER, PASSWORD)
        )
        registry.put_connector(
            ConnectorSpec(
                CONNECTOR,
                "WMS01",
                url,
                credential_key="BENCH_KEY",
                invocation_mode="ASYNC_SERVICE",
                timeout=10.0,
                retry=RetryPolicy(max_attempts=5, base_delay=0.05, max_delay=0.5),
            )
        )
    with runtime.sessions() as s, s.begin():
        rules = RuleStore(s, "bench")
        rules.set_default("Shipment", CONNECTOR)
        assert rules.publish() is not None
    return runtime


def enqueue(runtime: Runtime, size: int, count: int, tag: str) -> list[RequestDocument]:
    """``count`` orders of ``size`` lines through intake: ``count`` outbox rows of one
    request each. Returns each request's ``headerTL`` content (for the zeep baseline)."""
    from gateway.orders.intake import OrderIntake
    from gateway.orders.message_values import LineInput, OrderInput
    from gateway.orders.outgoing import request_document
    from gateway.persistence.models import (
        FulfillLine,
        FulfillmentRequest,
        OrderHeader,
        OutboxMessage,
    )

    before = _outbox_count(runtime)
    for start in range(0, count, 50):
        with runtime.sessions() as s, s.begin():
            intake = OrderIntake(s, None, runtime.settings.reply_to)
            for i in range(start, min(count, start + 50)):
                key = f"{tag}-{i}"
                intake.create(
                    OrderInput(
                        "LEGACY",
                        key,
                        f"SO-{key}",
                        "1",
                        tuple(
                            LineInput(
                                f"L{j}",
                                str(j + 1),
                                f"AS{54000 + j}",
                                Decimal(1 + j % 7),
                                "Ea",
                                product_description=f"Item {j}",
                                requested_fulfillment_org="M1",
                            )
                            for j in range(size)
                        ),
                        buying_party_name="Bench Customer",
                        buying_party_number="1006",
                        currency_code="USD",
                        customer_po_number=f"PO-{key}",
                        business_unit_name="Vision Operations",
                    )
                )
    docs: list[RequestDocument] = []
    with runtime.read_sessions() as s:
        rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.status == "READY").order_by(OutboxMessage.id)
        ).all()
        assert len(rows) == count and _outbox_count(runtime) == before + count, len(rows)
        for row in rows:
            request = s.get(FulfillmentRequest, row.request_id)
            assert request is not None
            flines = s.scalars(select(FulfillLine).where(FulfillLine.request_id == request.id))
            pairs = [(f.order_line, f) for f in flines]
            assert len(pairs) == size
            header = s.get(OrderHeader, row.header_id)
            assert header is not None
            docs.append(request_document(request, header, header.source_system.code, pairs))
    return docs


def _outbox_count(runtime: Runtime, status: str | None = None) -> int:
    from gateway.persistence.models import OutboxMessage

    stmt = select(func.count()).select_from(OutboxMessage)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    with runtime.read_sessions() as s:
        return int(s.scalar(stmt) or 0)


def _worker_process(settings: Settings, concurrency: int, stop: Any) -> None:
    runtime = Runtime(settings)
    try:
        event = threading.Event()
        threading.Thread(target=lambda: event.set() if stop.wait() else None, daemon=True).start()
        OutboxWorker(runtime, concurrency=concurrency).run(event)
    finally:
        runtime.close()


def _start(runtime: Runtime, processes: int, concurrency: int) -> Callable[[], None]:
    """Start the worker loop(s); returns what stops them (each finishes its sends)."""
    if processes == 1:
        stop = threading.Event()
        worker = OutboxWorker(runtime, concurrency=concurrency or None)
        thread = threading.Thread(target=worker.run, args=(stop,), name="bench-worker")
        thread.start()

        def finish() -> None:
            stop.set()
            thread.join()

        return finish
    ctx = multiprocessing.get_context("fork")
    mstop = ctx.Event()
    settings = runtime.settings
    procs = [
        ctx.Process(
            target=_worker_process,
            args=(settings, concurrency or settings.worker_concurrency, mstop),
        )
        for _ in range(processes)
    ]
    for p in procs:
        p.start()

    def finish_all() -> None:
        mstop.set()
        for p in procs:
            p.join()

    return finish_all


def drain(runtime: Runtime, expected: int, processes: int = 1, concurrency: int = 0) -> float:
    """Seconds the product's worker loop takes to deliver every READY row (``processes``
    workers of ``concurrency`` sends each; 0 = the configured default)."""
    ready = _outbox_count(runtime, "READY")
    assert ready == expected, (ready, expected)
    t0 = time.perf_counter()
    finish = _start(runtime, processes, concurrency)
    while _outbox_count(runtime, "READY"):
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    finish()
    return elapsed


def jeopardy_check_seconds(runtime: Runtime) -> float:
    """What the background loop's jeopardy check costs over the bench's open lines (it
    runs beside the worker in ``omgw serve``, not in the worker's loop)."""
    t0 = time.perf_counter()
    check_jeopardy(runtime)
    return time.perf_counter() - t0


def naive(url: str, docs: Sequence[RequestDocument]) -> float:
    """Seconds a zeep client takes to send ``docs``, one service call each."""
    import requests
    import zeep
    from zeep.transports import Transport
    from zeep.wsa import WsAddressingPlugin
    from zeep.wsse.username import UsernameToken

    client = zeep.Client(
        str(OUTBOUND_DIR / "FulfillmentRequest.wsdl"),
        wsse=UsernameToken(USER, PASSWORD),
        plugins=[WsAddressingPlugin()],
        transport=Transport(session=requests.Session(), timeout=10, operation_timeout=10),
    )
    service = client.create_service(BINDING, url)
    t0 = time.perf_counter()
    for doc in docs:
        service.processFulfillmentRequest(**doc.to_wire())
    return time.perf_counter() - t0


def _check(port: int, expected: int) -> None:
    """The receiver got ``expected`` requests, each MessageID once; then it is reset."""
    got = receiver.stats(port)
    assert got["requests"] == expected and got["unique"] == expected, (got, expected)
    receiver.reset(port)


def _check_rows(runtime: Runtime) -> None:
    """Every outbox row is DELIVERED, at its first attempt, with one attempt recorded."""
    from gateway.persistence.models import DeliveryAttempt, OutboxMessage

    with runtime.read_sessions() as s:
        total = s.scalar(select(func.count()).select_from(OutboxMessage))
        first = s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == "DELIVERED", OutboxMessage.attempts == 1)
        )
        tried = s.scalar(select(func.count()).select_from(DeliveryAttempt))
    assert total == first == tried, (total, first, tried)


def _log_like_the_cli() -> None:
    """INFO logs formatted as ``omgw worker`` formats them (one line per delivery),
    written to the null device: their cost counts, their noise does not."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def run(
    rounds: int = 3,
    messages: int = 300,
    sizes: Sequence[int] = (1, 50),
    configs: Sequence[tuple[int, int]] = (),
) -> dict[str, dict[str, Any]]:
    """Per size: median gateway and naive zeep msgs/s over ``rounds``, ratio and spreads.
    ``configs`` adds (processes, concurrency) worker configurations beside the default."""
    _log_like_the_cli()
    port = _free_port()
    proc = receiver.serve(port)
    url = f"http://127.0.0.1:{port}/fulfillment"
    results: dict[str, dict[str, Any]] = {}
    try:
        runtime = setup(url)
        default = runtime.settings.worker_concurrency
        try:
            # warm both paths (zeep's WSDL, connections, the wallet cipher)
            docs = enqueue(runtime, 1, 5, "warm")
            drain(runtime, 5)
            naive(url, docs)
            receiver.reset(port)
            for size in sizes:
                g: list[float] = []
                z: list[float] = []
                extra: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
                for r in range(rounds):
                    for cfg in ((1, default), *configs):
                        docs = enqueue(runtime, size, messages, f"S{size}-R{r}-{cfg}")
                        seconds = drain(runtime, messages, *cfg)
                        _check(port, messages)
                        (g if cfg == (1, default) else extra[cfg]).append(messages / seconds)
                    z.append(messages / naive(url, docs))
                    _check(port, messages)
                _check_rows(runtime)
                gm, zm = statistics.median(g), statistics.median(z)
                entry: dict[str, Any] = {
                    "gateway_msgs_s": round(gm, 1),
                    "naive_zeep_msgs_s": round(zm, 1),
                    "ratio": round(gm / zm, 2),
                    "gateway_spread": round(max(g) - min(g), 1),
                    "naive_spread": round(max(z) - min(z), 1),
                    "messages": messages,
                    "worker": f"1 process x {default} in flight (default)",
                }
                for cfg, values in extra.items():
                    entry[f"gateway_{cfg[0]}p_x{cfg[1]}_msgs_s"] = round(
                        statistics.median(values), 1
                    )
                entry["jeopardy_check_s"] = round(jeopardy_check_seconds(runtime), 2)
                results[str(size)] = entry
        finally:
            runtime.close()
    finally:
        receiver.stop(proc)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="outbox dispatch throughput vs naive zeep")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--sizes", default="1,50", help="lines per request, comma-separated")
    parser.add_argument(
        "--best", action="store_true", help=f"also try workers x in flight {CONFIGS}"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = tuple(int(x) for x in args.sizes.split(","))
    out = run(args.rounds, args.messages, sizes, CONFIGS if args.best else ())
    if args.json:
        print(json.dumps(out))
        return
    print(
        f"{'lines':>5}{'gateway msg/s':>15}{'naive zeep msg/s':>18}{'ratio':>8}"
        f"{'g spread':>10}{'z spread':>10}"
    )
    for size, r in out.items():
        print(
            f"{size:>5}{r['gateway_msgs_s']:>15.1f}{r['naive_zeep_msgs_s']:>18.1f}"
            f"{r['ratio']:>8.2f}{r['gateway_spread']:>10.1f}{r['naive_spread']:>10.1f}"
        )
        for key, value in r.items():
            if key.startswith("gateway_") and "p_x" in key:
                procs, flight = key.removeprefix("gateway_").removesuffix("_msgs_s").split("_x")
                print(f"{'':>5}{value:>15.1f}  ({procs[:-1]} process(es) x {flight} in flight)")
    first = next(iter(out.values()))
    print(
        f"({first['messages']} messages per round, median of the rounds; gateway: "
        f"{first['worker']}; the background loop's jeopardy check took "
        + ", ".join(f"{r['jeopardy_check_s']} s at {size}" for size, r in out.items())
        + " line(s) over the bench's open orders)"
    )


if __name__ == "__main__":
    main()
