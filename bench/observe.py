"""What the operator's view adds to each call: counting it and its access line.

Runs ``gateway.soap.call_records.observe`` (the labelled call counter, the latency histogram and the
access line) for many calls in this process, beside the same loop that only builds the
call, in prometheus_client's multiprocess mode as under ``omgw serve``; at a log level
that drops the access line (WARNING, as the benchmarks run) and at one that writes it
(INFO, to /dev/null).

    python bench/observe.py [--calls 50000]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.observe import metrics
from gateway.soap.call_context import Call, RequestInfo
from gateway.soap.call_records import observe
from gateway.soap.endpoints import Endpoint

ENDPOINT = Endpoint(
    name="OrderFulfillmentResponseService",
    path="/fscmService/OrderFulfillmentResponseService",
    app=lambda environ, start: [],
    types_namespace="",
    operations=frozenset({"processFulfillmentResponse"}),
    role="FULFILLMENT_RESPONSE",
)


def _call() -> Call:
    info = RequestInfo(
        service=ENDPOINT.name,
        operation="processFulfillmentResponse",
        principal="wms01",
        address="127.0.0.1",
        order_numbers=["100001"],
    )
    return Call(None, info)  # type: ignore[arg-type]  # observe reads no runtime


def _observed() -> None:
    observe(ENDPOINT, _call(), "200 OK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50_000)
    calls = parser.parse_args().calls
    with tempfile.TemporaryDirectory() as scratch:
        metrics.share_between_processes(Path(scratch) / "metrics")
        handler = logging.FileHandler("/dev/null")
        logging.getLogger().addHandler(handler)
        for level in ("WARNING", "INFO"):
            logging.getLogger().setLevel(level)
            for _ in range(2_000):
                _observed()
            base = timeit.timeit(_call, number=calls)
            spent = timeit.timeit(_observed, number=calls)
            print(
                f"log level {level:<7}  observed {1e6 * spent / calls:5.1f} us/call, "
                f"baseline (the call alone) {1e6 * base / calls:4.1f} us: "
                f"the view adds {1e6 * (spent - base) / calls:5.1f} us"
            )


if __name__ == "__main__":
    main()
