"""``make bench``: every benchmark beside a baseline measured in the same run.

Each figure is a median over rounds (with its spread, max - min) beside a baseline run
in the same rounds on the same machine, and the ratio is what we track: absolute
figures drift with whatever else the machine is doing. Servers and the load generator
(``loadgen.py``, several processes and keep-alive connections) all run on 127.0.0.1.

    python bench/run.py [--quick] [--only SECTION ...] [--rounds 3] [--out bench/results.json]

Sections: inbound (processFulfillmentResponse 1/50 lines against bare spyne and
node-soap), orders (createOrders 1/50, GetOrderDetails against bare spyne), inbound_pg and
orders_pg (the same two on PostgreSQL at 127.0.0.1:5432, where it answers), dispatch
(the outbox worker against a naive zeep loop), routing (indexed rules against a naive
evaluator), e2e (createOrders to CLOSED, sync and async connectors, against bare spyne's
createOrders), memory (gateway and worker RSS after 100,000 messages against 10,000).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bare_spyne  # noqa: E402
import loadgen  # noqa: E402
import node_soap  # noqa: E402
import receiver  # noqa: E402
import stack  # noqa: E402

SECTIONS = (
    "inbound", "orders", "inbound_pg", "orders_pg", "dispatch", "routing", "e2e", "memory"
)  # fmt: skip
TARGETS = {  # key: (threshold, "min" = at least, "max" = at most)
    "inbound_pfr_1_vs_spyne": (1.0, "min"),
    "inbound_vs_spyne_50": (2.0, "min"),
    "inbound_vs_node_soap_50": (1.0, "min"),
    "inbound_create_1_vs_spyne": (1.0, "min"),
    "inbound_pfr_1_p99_ms": (20.0, "max"),
    "e2e_sync_vs_spyne_create": (0.15, "min"),
    "dispatch_vs_naive_zeep_50": (5.0, "min"),
    "memory_100k_over_10k": (1.10, "max"),
}


@dataclass
class Side:
    """One side of a comparison: its rounds and their median and spread."""

    name: str
    unit: str
    rounds: list[float]
    p50_ms: float | None = None
    p99_ms: float | None = None
    #: (median, spread) where the module that measured it kept no rounds
    summary: tuple[float, float] | None = None

    @property
    def median(self) -> float:
        return self.summary[0] if self.summary else statistics.median(self.rounds)

    @property
    def spread(self) -> float:
        return self.summary[1] if self.summary else max(self.rounds) - min(self.rounds)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("summary")
        out.update(median=round(self.median, 2), spread=round(self.spread, 2))
        return out


@dataclass
class Figure:
    key: str
    what: str
    ours: Side
    baseline: Side | None
    note: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline.median:
            return None
        return float(f"{self.ours.median / self.baseline.median:.4g}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "what": self.what,
            "value": self.ours.as_dict(),
            "baseline": self.baseline.as_dict() if self.baseline else None,
            "ratio": self.ratio,
            "higher_is_better": self.higher_is_better,
            "note": self.note,
        }


@dataclass
class Options:
    rounds: int = 3
    quick: bool = False
    notes: list[str] = field(default_factory=list)

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full


def _load(port: int, path: str, bodies: Sequence[bytes], expect: bytes | None = None) -> Any:
    requests = [loadgen.http_request(path, b, stack.AUTH) for b in bodies]
    result = loadgen.run_load(port, requests, connections=8, processes=2, expect_body=expect)
    if result.errors:
        raise RuntimeError(f"{result.errors} of {result.requests} failed: {result.first_error}")
    return result


def _rounds(name: str, rounds: int, run: Callable[[int], Any], unit: str = "req/s") -> Side:
    results = [run(r) for r in range(rounds)]
    p50 = statistics.median(r.p50_ms for r in results)
    p99 = statistics.median(r.p99_ms for r in results)
    return Side(name, unit, [round(r.throughput, 1) for r in results], round(p50, 2), round(p99, 2))


def _summary(name: str, unit: str, median: float, spread: float) -> Side:
    """A side a benchmark module summarised itself (median and spread of its rounds)."""
    return Side(name, unit, [], summary=(median, spread))


# -- inbound: processFulfillmentResponse -------------------------------------------------------


def inbound(opt: Options, database_url: str | None = None, key: str = "") -> list[Figure]:
    """The whole gateway (auth, validation, persistence, state machine, event outbox)
    against a bare spyne service with the same types and a node-soap server with the same
    WSDL, each answering the same bodies (the gateway's ship seeded orders, once each).
    On ``database_url`` (PostgreSQL) the figures' keys start with ``key``, and node-soap,
    which has no database, is measured with SQLite only."""
    home = stack.make_home("http://127.0.0.1:9/unused", database_url=database_url)
    on = " on PostgreSQL" if database_url else ""
    note = node_soap.available() if database_url is None else "measured with SQLite"
    node_proc = None
    if note is None:
        try:
            node_soap.install()
        except RuntimeError as exc:
            note = f"node-soap could not be installed: {exc}"
    if note and database_url is None:
        opt.notes.append(f"node-soap skipped: {note}")
    figures: list[Figure] = []
    spyne_port, node_port = stack.free_port(), stack.free_port()
    spyne_proc = bare_spyne.serve(spyne_port)
    try:
        if note is None:
            node_proc = node_soap.serve(node_port)
        for size, per_round in ((1, opt.n(400, 40)), (50, opt.n(100, 6))):
            orders = stack.seed_orders(home, f"P{size}-", per_round * opt.rounds + 5, size)
            batches = [orders[i * per_round : (i + 1) * per_round] for i in range(opt.rounds)]
            with stack.gateway(home) as (port, _pid):
                loadgen.warm(
                    port,
                    [
                        loadgen.http_request(
                            stack.OFRS, stack.response_body(f"W{size}-{i}", ids), stack.AUTH
                        )
                        for i, ids in enumerate(orders[-5:])
                    ],
                )

                def bodies(r: int, size: int = size, batches: list = batches) -> list[bytes]:
                    return [
                        stack.response_body(f"R{size}-{r}-{i}", ids)
                        for i, ids in enumerate(batches[r])
                    ]

                ours = _rounds(
                    "omgw (whole gateway)",
                    opt.rounds,
                    lambda r: _load(port, stack.OFRS, bodies(r), b"SUCCESS</"),
                )
            _load(spyne_port, stack.OFRS, bodies(0))  # warm-up, not measured
            spyne = _rounds(
                "bare spyne", opt.rounds, lambda r: _load(spyne_port, stack.OFRS, bodies(r))
            )
            what = f"inbound processFulfillmentResponse, {size} line{'s' if size > 1 else ''}{on}"
            figures.append(Figure(f"{key}inbound_pfr_{size}_vs_spyne", what, ours, spyne))
            if node_proc is not None:
                # V8 compiles node-soap's hot code only after some thousands of calls: the
                # first 2,000 one-line calls run at a quarter of its settled rate
                warmup = bodies(0) * (opt.n(12_000 if size == 1 else 2_000, 40) // per_round + 1)
                _load(node_port, stack.OFRS, warmup)
                node = _rounds(
                    "node-soap", opt.rounds, lambda r: _load(node_port, stack.OFRS, bodies(r))
                )
                figures.append(Figure(f"inbound_pfr_{size}_vs_node_soap", what, ours, node))
    finally:
        bare_spyne.stop(spyne_proc)
        if node_proc is not None:
            node_soap.stop(node_proc)
    return figures


# -- inbound: createOrders and GetOrderDetails ---------------------------------------------------


def orders(opt: Options, database_url: str | None = None, key: str = "") -> list[Figure]:
    home = stack.make_home("http://127.0.0.1:9/unused", database_url=database_url)
    on = " on PostgreSQL" if database_url else ""
    figures: list[Figure] = []
    spyne_port = stack.free_port()
    spyne_proc = bare_spyne.serve(spyne_port)
    keys = [f"D{i}" for i in range(200)]
    stack.seed_orders(home, "D", len(keys), 1)
    try:
        with stack.gateway(home) as (port, _pid):
            for size, count in ((1, opt.n(300, 30)), (50, opt.n(40, 4))):

                def bodies(r: int, who: str, size: int = size, count: int = count) -> list[bytes]:
                    return stack.create_bodies(f"C{size}-{who}-{r}-", count, size)

                loadgen.warm(port, [loadgen.http_request(stack.IMPORT, b, stack.AUTH)
                                    for b in bodies(99, "warm")[:3]])  # fmt: skip
                ours = _rounds(
                    "omgw (whole gateway)",
                    opt.rounds,
                    lambda r: _load(port, stack.IMPORT, bodies(r, "g"), b"FulfillLineId"),
                )
                spyne = _rounds(
                    "bare spyne",
                    opt.rounds,
                    lambda r: _load(spyne_port, stack.IMPORT, bodies(r, "s")),
                )
                lines = f"{size} line{'s' if size > 1 else ''}"
                what = f"inbound createOrders, 1 order of {lines}{on}"
                figures.append(Figure(f"{key}inbound_create_{size}_vs_spyne", what, ours, spyne))
            count = opt.n(600, 40)
            details = stack.details_bodies([keys[i % len(keys)] for i in range(count)])
            ours = _rounds(
                "omgw (whole gateway)",
                opt.rounds,
                lambda r: _load(port, stack.INFO, details, b"OrderNumber"),
            )
        spyne = _rounds("bare spyne", opt.rounds, lambda r: _load(spyne_port, stack.INFO, details))
        figures.append(
            Figure(
                f"{key}inbound_details_1_vs_spyne", f"inbound GetOrderDetails, 1 line{on}", ours,
                spyne,
            )
        )  # fmt: skip
    finally:
        bare_spyne.stop(spyne_proc)
    return figures


def _on_postgres(
    section: Callable[[Options, str | None, str], list[Figure]], name: str
) -> Callable[[Options], list[Figure]]:
    """``section`` on a fresh PostgreSQL database, its keys prefixed ``pg_``; nothing
    (with a note) where no PostgreSQL answers at 127.0.0.1:5432."""

    def run(opt: Options) -> list[Figure]:
        url = stack.fresh_postgres(f"omgw_bench_{name}")
        if url is None:
            opt.notes.append(f"{name}: no PostgreSQL at 127.0.0.1:5432, not measured")
            return []
        return section(opt, url, "pg_")

    return run


# -- outbound dispatch ---------------------------------------------------------------------------


def dispatch_section(opt: Options) -> list[Figure]:
    import dispatch

    messages = opt.n(200, 20)
    results = dispatch.run(rounds=opt.rounds, messages=messages)
    figures = []
    for size, r in results.items():
        ours = _summary("omgw outbox worker", "msg/s", r["gateway_msgs_s"], r["gateway_spread"])
        naive = _summary("naive zeep loop", "msg/s", r["naive_zeep_msgs_s"], r["naive_spread"])
        figures.append(
            Figure(
                f"dispatch_{size}_vs_naive_zeep",
                f"outbound async dispatch, {size} line{'s' if size != '1' else ''}",
                ours,
                naive,
                note=f"{messages} messages per round; {r.get('worker', '')}",
            )
        )
    return figures


# -- routing -------------------------------------------------------------------------------------


def routing_section(opt: Options) -> list[Figure]:
    import importlib.util

    # bench/routing.py, not the ``routing`` package of the rules engine it measures
    spec = importlib.util.spec_from_file_location("bench_routing", BENCH / "routing.py")
    assert spec is not None and spec.loader is not None
    bench_routing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_routing)
    figures = bench_routing.measure(opt.rounds)
    out = []
    for size in ("10", "1000", "10000"):
        med, spread = figures["indexed"][size], figures["indexed_spread"][size]
        nmed, nspread = figures["naive"][size], figures["naive_spread"][size]
        out.append(
            Figure(
                f"routing_{size}_rules_vs_naive",
                f"routing decisions, {int(size):,} rules",
                Side("indexed engine", "decisions/s", [med - spread / 2, med, med + spread / 2]),
                Side(
                    "naive evaluator", "decisions/s", [nmed - nspread / 2, nmed, nmed + nspread / 2]
                ),
                note="rounds summarised as median and spread by bench/routing.py",
            )
        )
    return out


# -- end to end ----------------------------------------------------------------------------------


def e2e(opt: Options) -> list[Figure]:
    """Orders per second from createOrders to CLOSED, through the simulated warehouse."""
    from sqlalchemy import func, select

    from gateway.persistence.models import OrderHeader
    from gateway.runtime import Runtime

    figures: list[Figure] = []
    count = opt.n(100, 10)
    spyne_port = stack.free_port()
    spyne_proc = bare_spyne.serve(spyne_port)
    baseline = _rounds(
        "bare spyne createOrders",
        opt.rounds,
        lambda r: _load(spyne_port, stack.IMPORT, stack.create_bodies(f"E{r}-", count, 1)),
    )
    bare_spyne.stop(spyne_proc)
    for mode in ("SYNC_SERVICE", "ASYNC_SERVICE"):
        sim_port = stack.free_port()
        home = stack.make_home(f"http://127.0.0.1:{sim_port}/simulator/FulfillmentService", mode)
        rates: list[float] = []
        with stack.gateway(home, background=True) as (port, _pid):
            sim = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "simulate", "fulfillment",
                 "--port", str(sim_port), "--delay", "0",
                 "--gateway-url", f"http://127.0.0.1:{port}",
                 "--gateway-user", stack.USER, "--gateway-password-env", "BENCH_PASSWORD"],
                env={**home.env, "BENCH_PASSWORD": stack.PASSWORD},
                cwd=stack.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            runtime = Runtime(home.settings())
            try:
                stack.wait_http(f"http://127.0.0.1:{sim_port}/simulator/state", proc=sim)
                for r in range(opt.rounds):
                    prefix = f"E{mode[0]}{r}-"
                    started = time.perf_counter()
                    _load(port, stack.IMPORT, stack.create_bodies(prefix, count, 1))
                    deadline = started + 300
                    while time.perf_counter() < deadline:
                        with runtime.sessions() as s:
                            closed = s.scalar(
                                select(func.count())
                                .select_from(OrderHeader)
                                .where(
                                    OrderHeader.source_order_id.like(f"{prefix}%"),
                                    OrderHeader.status == "CLOSED",
                                )
                            )
                        if closed == count:
                            break
                        time.sleep(0.05)
                    else:
                        raise RuntimeError(f"{mode}: only {closed} of {count} orders closed")
                    rates.append(round(count / (time.perf_counter() - started), 1))
            finally:
                runtime.close()
                stack.stop(sim)
        kind = "sync" if mode == "SYNC_SERVICE" else "async"
        figures.append(
            Figure(
                f"e2e_{kind}_vs_spyne_create",
                f"end to end: createOrders to CLOSED, {kind} connector",
                Side(f"omgw, {kind} connector", "orders/s", rates),
                baseline,
                note=f"{count} one-line orders per round, shipped and billed by the simulator",
            )
        )
    return figures


# -- memory --------------------------------------------------------------------------------------


def memory(opt: Options) -> list[Figure]:
    """RSS of the gateway (gunicorn master and workers) after 10,000 and after 100,000
    inbound messages, and of an outbox worker (``omgw worker``) after 10,000 and 100,000
    deliveries, each in the same processes. Both run at once, on homes of their own."""
    first, total = opt.n(10_000, 200), opt.n(100_000, 1_000)
    receiver_port = stack.free_port()
    receiver_proc = receiver.serve(receiver_port)
    worker_home = stack.make_home(f"http://127.0.0.1:{receiver_port}/fulfillment")
    stack.clone_outbox(worker_home, total)
    gateway_home = stack.make_home("http://127.0.0.1:9/unused")
    keys = [f"M{i}" for i in range(100)]
    stack.seed_orders(gateway_home, "M", len(keys), 1)
    ack = stack.ack_body(1)
    block = [
        loadgen.http_request(stack.INFO, b, stack.AUTH)
        for b in stack.details_bodies([keys[i % len(keys)] for i in range(250)])
    ] + [loadgen.http_request(stack.OFRS, ack, stack.AUTH)] * 750
    # one load (two client processes started) per sample, not one per thousand messages
    mixed = block * max(1, first // len(block))
    # Sampled at every multiple of ``first`` (the figures use the first and the last; the
    # points between show whether growth is linear, a plateau, or noise: in the note).
    marks = list(range(first, total + 1, first))
    samples: dict[str, list[float]] = {"gateway": [], "worker": []}
    worker = stack.worker(worker_home)
    watcher = stack.RssAtCounts(worker_home, worker.pid, marks)
    try:
        with stack.gateway(gateway_home) as (port, pid):
            sent = 0
            for mark in marks:
                while sent < mark:
                    chunk = min(len(mixed), mark - sent)
                    result = loadgen.run_load(port, mixed[:chunk], connections=8, processes=2)
                    if result.errors:
                        raise RuntimeError(f"memory load: {result.first_error}")
                    sent += chunk
                samples["gateway"].append(stack.process_tree_rss_kib(pid) / 1024)
        samples["worker"] = [kib / 1024 for kib in watcher.wait(timeout=600)]
    finally:
        stack.stop(worker)
        receiver.stop(receiver_proc)
    figures = []
    for who, points in samples.items():
        at_first, at_total = points[0], points[-1]
        every = ", ".join(f"{p:.1f}" for p in points)
        figures.append(
            Figure(
                f"memory_{who}",
                f"resident memory of the {who} after {total:,} messages",
                Side(f"after {total:,}", "MiB", [round(at_total, 1)]),
                Side(f"after {first:,}", "MiB", [round(at_first, 1)]),
                note="gateway: a quarter GetOrderDetails, three quarters repeated acknowledgements; "
                "worker: one-line fulfillment requests delivered to a local receiver; "
                f"MiB at every {first:,}: {every}",
                higher_is_better=False,
            )
        )
    return figures


# -- report --------------------------------------------------------------------------------------

RUNNERS: dict[str, Callable[[Options], list[Figure]]] = {
    "inbound": inbound,
    "orders": orders,
    "inbound_pg": _on_postgres(inbound, "inbound_pg"),
    "orders_pg": _on_postgres(orders, "orders_pg"),
    "dispatch": dispatch_section,
    "routing": routing_section,
    "e2e": e2e,
    "memory": memory,
}


def targets(figures: list[Figure]) -> dict[str, float | None]:
    by_key = {f.key: f for f in figures}

    def ratio(key: str) -> float | None:
        f = by_key.get(key)
        return f.ratio if f else None

    mem = [f.ratio for f in figures if f.key.startswith("memory_") and f.ratio is not None]
    one = by_key.get("inbound_pfr_1_vs_spyne")
    return {
        "inbound_pfr_1_vs_spyne": ratio("inbound_pfr_1_vs_spyne"),
        "inbound_vs_spyne_50": ratio("inbound_pfr_50_vs_spyne"),
        "inbound_vs_node_soap_50": ratio("inbound_pfr_50_vs_node_soap"),
        "inbound_create_1_vs_spyne": ratio("inbound_create_1_vs_spyne"),
        "inbound_pfr_1_p99_ms": one.ours.p99_ms if one else None,
        "e2e_sync_vs_spyne_create": ratio("e2e_sync_vs_spyne_create"),
        "dispatch_vs_naive_zeep_50": ratio("dispatch_50_vs_naive_zeep"),
        "memory_100k_over_10k": max(mem) if mem else None,
    }


def met(values: dict[str, float | None]) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for key, (threshold, how) in TARGETS.items():
        v = values.get(key)
        out[key] = None if v is None else (v >= threshold if how == "min" else v <= threshold)
    return out


def table(figures: list[Figure], values: dict[str, float | None]) -> str:
    rows = [
        f"{'benchmark':<54}{'omgw':>12}{'±':>8}{'p50/p99 ms':>14}   "
        f"{'baseline':<24}{'value':>12}{'±':>8}{'ratio':>8}"
    ]
    for f in figures:
        o, b = f.ours, f.baseline
        lat = f"{o.p50_ms:.1f}/{o.p99_ms:.1f}" if o.p50_ms is not None else "-"
        rows.append(
            f"{f.what:<54}{o.median:>12,.1f}{o.spread:>8,.1f}{lat:>14}   "
            + (f"{b.name:<24}{b.median:>12,.1f}{b.spread:>8,.1f}" if b else f"{'-':<44}")
            + (f"{f.ratio:>7.2f}x" if f.ratio is not None else f"{'-':>8}")
            + f"  {o.unit}"
        )
    ok = met(values)
    rows.append("")
    for key, (threshold, how) in TARGETS.items():
        v = values.get(key)
        verdict = "not measured" if v is None else ("met" if ok[key] else "NOT met")
        sign = ">=" if how == "min" else "<="
        shown = "-" if v is None else f"{v:.2f}"
        rows.append(f"target {key:<28} {shown:>7}  ({sign} {threshold})  {verdict}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny loads (the smoke tests)")
    parser.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--out", type=Path, default=BENCH / "results.json")
    args = parser.parse_args(argv)
    opt = Options(rounds=max(1, args.rounds), quick=args.quick)
    started = time.perf_counter()
    figures: list[Figure] = []
    timings: dict[str, float] = {}
    for name in args.only:
        t0 = time.perf_counter()
        print(f"-- {name} ...", flush=True)
        figures.extend(RUNNERS[name](opt))
        timings[name] = round(time.perf_counter() - t0, 1)
    values = targets(figures)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "quick": opt.quick,
        "rounds": opt.rounds,
        "seconds": round(time.perf_counter() - started, 1),
        "section_seconds": timings,
        "figures": [f.as_dict() for f in figures],
        "targets": values,
        "target_thresholds": {
            k: {"at_least" if h == "min" else "at_most": t} for k, (t, h) in TARGETS.items()
        },
        "targets_met": met(values),
        "notes": opt.notes,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(figures, values))
    for n in opt.notes:
        print(f"note: {n}")
    print(f"\n{len(figures)} figures in {report['seconds']} s; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
