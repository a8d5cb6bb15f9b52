"""Throughput of one ``omgw serve`` beside two, on one PostgreSQL database.

Each layout serves one home on a fresh PostgreSQL database (127.0.0.1:5432) and takes
the same load from the benchmarks' generator: ``processFulfillmentResponse`` of 1 line
shipping seeded orders, and ``createOrders`` of 1 line. With two instances the requests
are split between them and both halves are sent at once; a figure is the requests
answered over the wall time of the whole load, the median of ``--rounds`` rounds.
Layouts: one instance of 2 workers; two of 1 worker each (the same process count);
two of 2 workers each. The layouts run in turn within one run, so they are comparable
with each other, not with another run's or another machine's.

    python bench/scale_out.py [--rounds 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import stack

#: (instances, workers each)
LAYOUTS = ((1, 2), (2, 1), (2, 2))


def _rate(ports: list[int], path: str, bodies: list[bytes], expect: bytes) -> float:
    """Requests per second over the wall time of ``bodies`` split between ``ports``."""
    requests = [loadgen.http_request(path, b, stack.AUTH) for b in bodies]
    shares = [requests[i :: len(ports)] for i in range(len(ports))]
    per = max(2, 8 // len(ports))
    started = time.perf_counter()
    with ThreadPoolExecutor(len(ports)) as pool:
        results = list(
            pool.map(
                lambda pr: loadgen.run_load(
                    pr[0], pr[1], connections=per, processes=max(1, 2 // len(ports)),
                    expect_body=expect,
                ),
                zip(ports, shares, strict=True),
            )
        )  # fmt: skip
    elapsed = time.perf_counter() - started
    failed = [r for r in results if r.errors]
    if failed:
        raise RuntimeError(f"{failed[0].errors} failed: {failed[0].first_error}")
    return sum(r.requests for r in results) / elapsed


def measure(url: str, rounds: int) -> list[dict[str, Any]]:
    home = stack.make_home("http://127.0.0.1:9/unused", database_url=url)
    ones, creates = 300, 300
    pool = stack.seed_orders(home, "S-", (ones * rounds + 4) * len(LAYOUTS), 1)
    rows = []
    for instances, workers in LAYOUTS:
        with contextlib.ExitStack() as stack_:
            ports = [
                stack_.enter_context(stack.gateway(home, workers=workers))[0]
                for _ in range(instances)
            ]
            for port in ports:
                warm = [pool.pop() for _ in range(2)]
                loadgen.warm(port, [loadgen.http_request(
                    stack.OFRS, stack.response_body(f"W{instances}x{workers}-{port}-{i}", ids),
                    stack.AUTH) for i, ids in enumerate(warm)])  # fmt: skip
            shipped = []
            for r in range(rounds):
                batch = [pool.pop() for _ in range(ones)]
                bodies = [
                    stack.response_body(f"S{instances}x{workers}-{r}-{i}", ids)
                    for i, ids in enumerate(batch)
                ]
                shipped.append(_rate(ports, stack.OFRS, bodies, b"SUCCESS</"))
            created = [
                _rate(
                    ports,
                    stack.IMPORT,
                    stack.create_bodies(f"C{instances}x{workers}-{r}-", creates, 1),
                    b"FulfillLineId",
                )
                for r in range(rounds)
            ]
        row = {
            "instances": instances,
            "workers_each": workers,
            "pfr_1": round(statistics.median(shipped), 1),
            "create_1": round(statistics.median(created), 1),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    url = stack.fresh_postgres("omgw_bench_scale_out")
    if url is None:
        sys.exit("scale_out needs PostgreSQL at 127.0.0.1:5432")
    rows = measure(url, args.rounds)
    print(f"\n{'instances':>9}{'workers each':>14}{'pfr 1 req/s':>13}{'create 1 req/s':>16}")
    for r in rows:
        print(f"{r['instances']:>9}{r['workers_each']:>14}{r['pfr_1']:>13}{r['create_1']:>16}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
