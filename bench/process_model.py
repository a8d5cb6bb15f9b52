"""Which process model serves fastest: ``omgw serve --workers W --threads T`` per database.

For each database (the embedded SQLite file, and PostgreSQL at 127.0.0.1:5432 where it
answers) and each (workers, threads) pair, ``omgw serve`` is started on a fresh home and
driven by the benchmarks' load generator (8 keep-alive connections from 2 processes):
``processFulfillmentResponse`` of 1 and of 50 lines shipping seeded orders, and
``createOrders`` of 1 line. Each figure is the median of ``--rounds`` rounds; the pairs
are measured in turn within one run, so they are comparable with each other, not with
another run's.

    python bench/process_model.py [--rounds 2] [--pairs 1x1,1x2,2x1,2x2,2x4] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import stack


def _rate(port: int, path: str, bodies: list[bytes], expect: bytes) -> tuple[float, float]:
    requests = [loadgen.http_request(path, b, stack.AUTH) for b in bodies]
    result = loadgen.run_load(port, requests, connections=8, processes=2, expect_body=expect)
    if result.errors:
        raise RuntimeError(f"{result.errors} of {result.requests} failed: {result.first_error}")
    return result.throughput, result.p99_ms


def measure(database: str, url: str | None, pairs: list[tuple[int, int]], rounds: int) -> Any:
    home = stack.make_home("http://127.0.0.1:9/unused", database_url=url)
    one, fifty, creates = 300, 40, 300
    # per pair: its rounds, and two 1-line orders and one 50-line order to warm up with
    ones = stack.seed_orders(home, "P1-", (one * rounds + 2) * len(pairs), 1)
    fifties = stack.seed_orders(home, "P50-", (fifty * rounds + 1) * len(pairs), 50)
    rows = []
    for workers, threads in pairs:
        figures: dict[str, Any] = {"database": database, "workers": workers, "threads": threads}
        with stack.gateway(home, workers=workers, threads=threads) as (port, _pid):
            warm = [
                loadgen.http_request(stack.OFRS, stack.response_body(f"W{workers}{threads}-{i}", ids),
                                     stack.AUTH)
                for i, ids in enumerate([ones.pop(), ones.pop(), fifties.pop()])
            ]  # fmt: skip
            loadgen.warm(port, warm)
            for key, pool, count in (("pfr_1", ones, one), ("pfr_50", fifties, fifty)):
                results = []
                for r in range(rounds):
                    batch = [pool.pop() for _ in range(count)]
                    bodies = [
                        stack.response_body(f"{key}-{workers}x{threads}-{r}-{i}", ids)
                        for i, ids in enumerate(batch)
                    ]
                    results.append(_rate(port, stack.OFRS, bodies, b"SUCCESS</"))
                figures[key] = round(statistics.median(x for x, _ in results), 1)
                figures[f"{key}_p99_ms"] = round(statistics.median(p for _, p in results), 1)
            results = [
                _rate(
                    port,
                    stack.IMPORT,
                    stack.create_bodies(f"C-{workers}x{threads}-{r}-", creates, 1),
                    b"FulfillLineId",
                )
                for r in range(rounds)
            ]
            figures["create_1"] = round(statistics.median(x for x, _ in results), 1)
            figures["create_1_p99_ms"] = round(statistics.median(p for _, p in results), 1)
        print(json.dumps(figures), flush=True)
        rows.append(figures)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pairs", default="1x1,1x2,2x1,2x2,2x4")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    pairs = [tuple(int(x) for x in p.split("x")) for p in args.pairs.split(",")]
    rows = []
    if args.only != "postgresql":
        rows += measure("sqlite", None, pairs, args.rounds)  # type: ignore[arg-type]
    if args.only != "sqlite":
        url = stack.fresh_postgres("omgw_bench_process_model")
        if url is not None:
            rows += measure("postgresql", url, pairs, args.rounds)  # type: ignore[arg-type]
    print(f"\n{'database':<12}{'W x T':>7}{'pfr 1':>9}{'p99':>8}{'pfr 50':>9}{'p99':>8}"
          f"{'create 1':>10}{'p99':>8}")  # fmt: skip
    for r in rows:
        print(
            f"{r['database']:<12}{r['workers']:>3} x {r['threads']:<1}{r['pfr_1']:>9}"
            f"{r['pfr_1_p99_ms']:>8}{r['pfr_50']:>9}{r['pfr_50_p99_ms']:>8}{r['create_1']:>10}"
            f"{r['create_1_p99_ms']:>8}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
