"""Bare spyne: the gateway's three services with its own types and no work behind them.

The floor the gateway stands on. Each operation has the gateway's exact ``@rpc``
signature (so the same request bodies are accepted, lxml-validated, and answered with a
same-sized result), one spyne Application per service with the gateway's tns and name,
at the gateway's paths, under gunicorn gthread (2 workers of 4 threads, as many as
``gateway.server.serve`` runs the front in), but no authentication, no database and no
message log. Over HTTP, the gap between this and the gateway is what the gateway itself
costs; the gap to node-soap is what spyne costs.

- ``processFulfillmentResponse``/``stageFulfillmentResponse``: one
  ResponseProcessingFulfillLine per input line (as ``bench/inbound.py``'s service does).
- ``createOrders``: one OrderImportResponse per order and one OrderImportResponseLine
  per line, echoing the identifiers, with made-up ids and a new order's status (OPEN).
- ``GetOrderDetails``: one order per request entry, echoing its keys, with
  ``LINES_PER_ORDER`` (1) fully filled lines: the size of a seeded one-line order.
"""

from __future__ import annotations

import atexit
import itertools
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gateway  # noqa: F401  (first: gateway.spyne_compat lets spyne import on Python 3.12+)

# isort: split
from gunicorn import version_info as gunicorn_version
from spyne import Application, ServiceBase, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from gateway import namespaces as ns
from gateway.services import fulfillment_response
from gateway.services.types import MeasureType, types_of

_IMPORT = types_of("OrderImportService")
_INFO = types_of("OrderInformationService")
_OFRS = types_of("OrderFulfillmentResponseService")
ResponseProcessingFulfillLine = _OFRS["ResponseProcessingFulfillLine"]
ResponseProcessingHeader = _OFRS["ResponseProcessingHeader"]

__all__ = ["LINES_PER_ORDER", "serve", "stop", "wsgi_app"]

ROOT = Path(__file__).resolve().parents[1]

#: Lines in each GetOrderDetails answer: the seeded benchmark order has one.
LINES_PER_ORDER = 1
_ids = itertools.count(1)
_WHEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _fulfillment_result(header: Any, lines: Iterable[Any] | None) -> ResponseProcessingHeader:
    return ResponseProcessingHeader(
        FulfillmentSystemResponseIdentifier=header.FulfillmentSystemResponseIdentifier,
        OverallStatusCode="SUCCESS",
        ResponseProcessingFulfillLine=[
            ResponseProcessingFulfillLine(
                FulfillLineIdentifier=ln.FulfillLineIdentifier,
                StatusCode="SUCCESS",
                TaskInstanceStatusCode="AWAIT_BILLING",
            )
            for ln in lines or ()
        ],
    )


# The gateway's own signatures, so both servers accept and answer the same messages.
_RESPONSE_IN = fulfillment_response._RESPONSE_IN
_RESPONSE_OUT = fulfillment_response._RESPONSE_OUT


class OrderFulfillmentResponseService(ServiceBase):
    @rpc(
        _OFRS["FulfillmentRequestAcknowledgement"].customize(min_occurs=1),
        _in_variable_names={"ack": "fulfillmentRequestAcknowledgement"},
    )
    def processAcknowledgement(ctx, ack):
        return None

    @rpc(*_RESPONSE_IN, **_RESPONSE_OUT)
    def processFulfillmentResponse(ctx, header, lines):
        return _fulfillment_result(header, lines)

    @rpc(*_RESPONSE_IN, **_RESPONSE_OUT)
    def stageFulfillmentResponse(ctx, header, lines):
        return _fulfillment_result(header, lines)


class OrderImportService(ServiceBase):
    @rpc(
        _IMPORT["OrderImportRequest"].customize(min_occurs=1),
        _returns=_IMPORT["OrderImportResponse"].customize(max_occurs="unbounded"),
        _out_variable_name="result",
    )
    def createOrders(ctx, request):
        out = []
        for o in request.Order or ():
            hid = next(_ids)
            out.append(
                _IMPORT["OrderImportResponse"](
                    SourceTransactionIdentifier=o.SourceTransactionIdentifier,
                    SourceTransactionSystem=o.SourceTransactionSystem,
                    SourceTransactionNumber=o.SourceTransactionNumber,
                    ChangeVersionNumber=o.SourceTransactionRevision or "1",
                    FlowType="CREATE",
                    HeaderId=str(hid),
                    OrderNumber=str(100000 + hid),
                    OrderStatus="OPEN",
                    ReturnStatus="SUCCESS",
                    OrderImportResponseLine=[
                        _IMPORT["OrderImportResponseLine"](
                            SourceTransactionIdentifier=o.SourceTransactionIdentifier,
                            SourceTransactionSystem=o.SourceTransactionSystem,
                            SourceTransactionLineIdentifier=ln.SourceTransactionLineIdentifier,
                            SourceTransactionLineNumber=ln.SourceTransactionLineNumber,
                            LineId=str(lid := next(_ids)),
                            LineNumber=str(n),
                            FulfillLineId=str(lid),
                            FulfillLineNumber="1",
                        )
                        for n, ln in enumerate(o.Line or (), start=1)
                    ],
                )
            )
        return out


def _order_info(req: Any) -> Any:
    key = req.SourceTransactionIdentifier or req.SourceTransactionNumber or "K1"
    return _INFO["Order"](
        HeaderId=1,
        OrderNumber=req.OrderNumber or "100001",
        SourceTransactionIdentifier=key,
        SourceTransactionSystem=req.SourceTransactionSystem or "LEGACY",
        SourceTransactionNumber=req.SourceTransactionNumber or f"SO-{key}",
        SourceTransactionRevision=req.SourceTransactionRevision or "1",
        StatusCode="OPEN",
        TransactionalCurrencyCode="USD",
        BuyingPartyName="Computer Service and Rentals",
        BuyingPartyNumber="1006",
        OrderLine=[
            _INFO["Line"](
                LineIdentifier=n,
                LineNumber=n,
                SourceTransactionLineIdentifier=f"L{n}",
                SourceTransactionLineNumber=str(n),
                FulfillLineIdentifier=n,
                FulfillLineNumber=1,
                ProductNumber="AS54888",
                OrderedQuantity=MeasureType(unitCode="Ea", value=Decimal(10)),
                OrderedUOMCode="Ea",
                StatusCode="AWAIT_SHIP",
                LineStatusCode="AWAIT_SHIP",
                TaskType="Shipment",
                FulfillmentRequestIdentifier=n,
                ScheduledShipDate=_WHEN,
            )
            for n in range(1, LINES_PER_ORDER + 1)
        ],
    )


class OrderInformationService(ServiceBase):
    @rpc(
        _INFO["OrderRequest"].customize(min_occurs=1, max_occurs="unbounded"),
        _in_variable_names={"orders": "Order"},
        _returns=_INFO["Order"].customize(max_occurs="unbounded"),
        _out_variable_name="Order",
    )
    def GetOrderDetails(ctx, orders):
        return [_order_info(r) for r in orders or ()]


_SERVICES = {
    "OrderImportService": (OrderImportService, ns.ORDER_IMPORT_TYPES),
    "OrderInformationService": (OrderInformationService, ns.OIS_TYPES),
    "OrderFulfillmentResponseService": (OrderFulfillmentResponseService, ns.OFRS_TYPES),
}


def wsgi_app() -> Callable:
    """A WSGI dispatcher by PATH_INFO: /fscmService/<ServiceName> and /healthz."""
    apps = {
        f"/fscmService/{name}": WsgiApplication(
            Application(
                [service],
                tns=tns,
                name=name,
                in_protocol=Soap11(validator="lxml"),
                out_protocol=Soap11(),
            )
        )
        for name, (service, tns) in _SERVICES.items()
    }

    def dispatch(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        app = apps.get(path)
        if app is not None:
            return app(environ, start_response)
        status = "200 OK" if path == "/healthz" else "404 Not Found"
        body = b"ok\n" if path == "/healthz" else b"not found\n"
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return dispatch


def serve(port: int, workers: int = 2, threads: int = 4) -> subprocess.Popen:
    """Start gunicorn (gthread) on 127.0.0.1:``port``;
    returns once /healthz answers. The caller stops it with ``stop``; so does exit."""
    cmd = [
        sys.executable, "-m", "gunicorn",
        "--pythonpath", f"{ROOT / 'bench'},{ROOT}",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", "gthread",
        "--threads", str(threads),
        "--timeout", "60",
        "--graceful-timeout", "5",
        "--log-level", "warning",
        "bare_spyne:wsgi_app()",
    ]  # fmt: skip
    if gunicorn_version >= (25, 1):  # no shared control socket in $HOME (see gateway.server)
        cmd.insert(-1, "--no-control-socket")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL)
    atexit.register(stop, proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bare spyne gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return proc
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"bare spyne did not answer /healthz on port {port} within 30 s")


def stop(proc: subprocess.Popen) -> None:
    """Terminate gunicorn (it stops its workers) and wait."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
