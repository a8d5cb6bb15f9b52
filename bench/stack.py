"""The gateway as the benchmarks run it: a fresh home, a setup, seeded orders, processes.

Everything is the product's own: ``omgw init``, the setup applied by the registry,
``omgw serve`` (gunicorn, 2 workers) and ``omgw worker`` in their own processes, the
simulated fulfillment system for the end-to-end figures. Request bodies are built once,
from templates, so the load generator only sends bytes.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway import namespaces as ns  # noqa: E402

ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
USER, PASSWORD = "bench", "bench-Pa55word"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
OFRS = "/fscmService/OrderFulfillmentResponseService"
IMPORT = "/fscmService/OrderImportService"
INFO = "/fscmService/OrderInformationService"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- request bodies ------------------------------------------------------------------------


def response_body(rid: str, fline_ids: Sequence[int], status: str = "SHIPPED") -> bytes:
    """processFulfillmentResponse shipping ``fline_ids`` (what a warehouse sends)."""
    lines = "".join(
        f"<typ:fulfillLineList>"
        f"<com:ActualShippedDate>2026-11-23T10:00:00Z</com:ActualShippedDate>"
        f"<com:FulfillLineIdentifier>{f}</com:FulfillLineIdentifier>"
        f'<com:ShippedQuantity unitCode="Ea">5</com:ShippedQuantity>'
        f"<com:StatusCode>{status}</com:StatusCode>"
        f"<com:FulfillmentDetail><com:TrackingNumber>1Z{f:012d}</com:TrackingNumber>"
        f"</com:FulfillmentDetail></typ:fulfillLineList>"
        for f in fline_ids
    )
    return (
        f'<soapenv:Envelope xmlns:soapenv="{ENV_NS}" xmlns:typ="{ns.OFRS_TYPES}" '
        f'xmlns:com="{ns.OFRS}"><soapenv:Body><typ:processFulfillmentResponse>'
        f"<typ:responseMessageHeader><com:FulfillmentSystem>WMS01</com:FulfillmentSystem>"
        f"<com:FulfillmentSystemResponseIdentifier>{rid}</com:FulfillmentSystemResponseIdentifier>"
        f"<com:IntegrationContextCode>Shipment</com:IntegrationContextCode>"
        f"</typ:responseMessageHeader>{lines}</typ:processFulfillmentResponse>"
        f"</soapenv:Body></soapenv:Envelope>"
    ).encode()


def _template(service: str, operation: str, **kwargs: object) -> str:
    from lxml import etree
    from zeep import Client

    client = Client(str(ROOT / "wsdl" / f"{service}.wsdl"))
    return etree.tostring(client.create_message(client.service, operation, **kwargs)).decode()


def _order(key: str, lines: int) -> dict[str, object]:
    return {
        "SourceTransactionIdentifier": key,
        "SourceTransactionSystem": "LEGACY",
        "SourceTransactionNumber": f"SO-{key}",
        "SourceTransactionRevision": "1",
        "BuyingPartyName": "Computer Service and Rentals",
        "BuyingPartyNumber": "1006",
        "TransactionalCurrencyCode": "USD",
        "Line": [
            {
                "SourceTransactionLineIdentifier": f"L{i}",
                "SourceTransactionLineNumber": str(i),
                "ProductNumber": f"AS{54800 + i}",
                "OrderedQuantity": {"_value_1": Decimal(5), "unitCode": "Ea"},
                "OrderedUOMCode": "Ea",
            }
            for i in range(1, lines + 1)
        ],
    }


def create_bodies(prefix: str, count: int, lines: int) -> list[bytes]:
    """``count`` createOrders calls of one order of ``lines`` lines each, keys distinct."""
    template = _template(
        "OrderImportService", "createOrders", request={"Order": [_order("@KEY@", lines)]}
    )
    return [template.replace("@KEY@", f"{prefix}{i}").encode() for i in range(count)]


def details_bodies(keys: Sequence[str]) -> list[bytes]:
    template = _template(
        "OrderInformationService",
        "GetOrderDetails",
        Order=[{"SourceTransactionIdentifier": "@KEY@", "SourceTransactionSystem": "LEGACY"}],
    )
    return [template.replace("@KEY@", k).encode() for k in keys]


# -- the gateway -----------------------------------------------------------------------------


SETUP = """
[[source_system]]
code = "LEGACY"
order_capture = true

[[source_system]]
code = "WMS01"
fulfillment = true

[[connector]]
name = "WMS01_Fulfillment"
target_system = "WMS01"
url = "{url}"
invocation_mode = "{mode}"
response_processing = "REJECT_ERROR_GROUPS"
timeout = 10

[routing]
publish = true
defaults = {{ Shipment = "WMS01_Fulfillment", Invoice = "WMS01_Fulfillment" }}

[[trigger_point]]
event = "ORDER_STATUS_UPDATE"
criterion = "CLOSED"
connectors = ["LEGACY_Events"]

[[connector]]
name = "LEGACY_Events"
target_system = "LEGACY"
url = "{events_url}"
invocation_mode = "BUSINESS_EVENT"
"""


@dataclass
class Home:
    """A fresh OMGW_HOME with the bench setup applied and the bench user."""

    path: Path
    env: dict[str, str]

    def omgw(self, *args: str, input: str | None = None) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if out.returncode != 0:
            raise RuntimeError(f"omgw {' '.join(args)}: {out.stderr.strip()[-800:]}")
        return out.stdout

    def settings(self):  # type: ignore[no-untyped-def]
        from gateway.config import Settings

        return Settings.from_env(self.env)


PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fresh_postgres(name: str) -> str | None:
    """The URL of a fresh, empty PostgreSQL database ``name`` (dropped first if it
    exists), or None where no PostgreSQL answers at 127.0.0.1:5432."""
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            c.execute(sa.text(f"CREATE DATABASE {name}"))
        engine.dispose()
    except Exception as exc:  # any failure means: measure SQLite only
        print(f"PostgreSQL skipped: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return None
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def make_home(
    connector_url: str,
    mode: str = "ASYNC_SERVICE",
    events_url: str = "http://127.0.0.1:9/events",
    database_url: str | None = None,
) -> Home:
    """A fresh home; on ``database_url`` (an empty database) instead of its own SQLite file."""
    path = Path(tempfile.mkdtemp(prefix="omgw-bench-"))
    env = {
        **os.environ,
        "OMGW_HOME": str(path),
        "OMGW_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("OMGW_DATABASE_URL", None)
    if database_url:
        env["OMGW_DATABASE_URL"] = database_url
    home = Home(path, env)
    home.omgw("init")
    setup = path / "bench.toml"
    setup.write_text(SETUP.format(url=connector_url, mode=mode, events_url=events_url))
    home.omgw("apply", "-f", str(setup))
    home.omgw(
        "user",
        "add",
        USER,
        "--role",
        "ORDER_IMPORT",
        "--role",
        "ORDER_INQUIRY",
        "--role",
        "FULFILLMENT_RESPONSE",
        "--system",
        "LEGACY",
        "--system",
        "WMS01",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    return home


def seed_orders(home: Home, prefix: str, count: int, lines: int) -> list[list[int]]:
    """``count`` orders of ``lines`` lines, imported and requested (AWAIT_SHIP), in-process.

    Returns each order's fulfillment line ids, for responses that ship them.
    """
    from gateway.orders.intake import OrderIntake
    from gateway.orders.message_values import LineInput, OrderInput
    from gateway.runtime import Runtime

    runtime = Runtime(home.settings())
    out: list[list[int]] = []
    try:
        for start in range(0, count, 50):
            with runtime.sessions() as s, s.begin():
                intake = OrderIntake(s)
                for i in range(start, min(count, start + 50)):
                    order = OrderInput(
                        "LEGACY",
                        f"{prefix}{i}",
                        f"SO-{prefix}{i}",
                        "1",
                        tuple(
                            LineInput(f"L{j}", str(j), f"AS{54800 + j}", Decimal(5), "Ea")
                            for j in range(lines)
                        ),
                    )
                    header = intake.create(order).header
                    out.append([f.id for ln in header.lines for f in ln.fulfill_lines])
    finally:
        runtime.close()
    return out


@contextmanager
def gateway(
    home: Home, workers: int = 2, background: bool = False, threads: int | None = None
) -> Iterator[tuple[int, int]]:
    """``omgw serve`` on a port the system picks (no background loop unless asked); yields
    the port and the pid of gunicorn's master (its workers are its children)."""
    args = ["serve", "--host", "127.0.0.1", "--port", "0", "--workers", str(workers)]
    if threads is not None:
        args += ["--threads", str(threads)]
    if not background:
        args.append("--no-background")
    log_path = home.path / "serve.log"
    with open(log_path, "ab") as log:
        start = log.tell()
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", *args],
            env=home.env, cwd=ROOT, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        port = _served_port(log_path, start, proc)
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        yield port, proc.pid
    finally:
        stop(proc)


def _served_port(log: Path, start: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """The port ``omgw serve`` says it listens on (its first ``WSDL: http://host:port/``
    line, printed once the port listens)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log, "rb") as f:
            f.seek(start)
            found = re.search(rb"WSDL: http://[^/:]+:(\d+)/", f.read())
        if found:
            return int(found.group(1))
        if proc.poll() is not None:
            raise RuntimeError(f"omgw serve exited with {proc.returncode}: see {log}")
        time.sleep(0.05)
    raise RuntimeError(f"omgw serve printed no address within {timeout:.0f} s: see {log}")


def process_tree_rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (gunicorn's workers), in KiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        todo.extend(int(c) for c in children)
    return total


def ack_body(request_id: int) -> bytes:
    """processAcknowledgement ACCEPTED for ``request_id`` (a repeat changes nothing)."""
    return _template(
        "OrderFulfillmentResponseService",
        "processAcknowledgement",
        fulfillmentRequestAcknowledgement={
            "FulfillmentRequestIdentifier": request_id,
            "FulfillmentSystem": "WMS01",
            "RequestStatusCode": "ACCEPTED",
        },
    ).encode()


def clone_outbox(home: Home, count: int) -> None:
    """``count`` outbox rows ready to send: one real request (an order imported and
    routed, its envelope built at enqueue), copied with new MessageIDs."""
    import uuid

    from sqlalchemy import insert, select

    from gateway.persistence.models import OutboxMessage
    from gateway.runtime import Runtime

    seed_orders(home, "W", 1, 1)
    runtime = Runtime(home.settings())
    try:
        with runtime.sessions() as s, s.begin():
            row = s.scalars(select(OutboxMessage)).one()
            template = {
                c.key: getattr(row, c.key)
                for c in OutboxMessage.__table__.columns
                if c.key not in ("id", "message_id", "request_id", "header_id", "order_number")
            }
            old_id = row.message_id.encode()
            s.delete(row)
        for start in range(0, count, 5000):
            batch = []
            for i in range(start, min(count, start + 5000)):
                mid = f"urn:uuid:{uuid.uuid4()}"
                batch.append(
                    {
                        **template,
                        "message_id": mid,
                        "order_number": f"W{i}",
                        "payload": template["payload"].replace(old_id, mid.encode()),
                    }
                )
            with runtime.sessions() as s, s.begin():
                s.execute(insert(OutboxMessage), batch)
    finally:
        runtime.close()


def worker(home: Home) -> subprocess.Popen[bytes]:
    """``omgw worker`` on ``home`` (its default concurrency)."""
    with open(home.path / "worker.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker"],
            env=home.env,
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )


class RssAtCounts:
    """Samples a process's RSS when the home's delivered outbox rows reach each mark."""

    def __init__(self, home: Home, pid: int, marks: Sequence[int]) -> None:
        import threading

        self._home, self._pid, self._marks = home, pid, list(marks)
        self.samples: list[int] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from sqlalchemy import func, select

        from gateway.persistence.models import OutboxMessage
        from gateway.runtime import Runtime

        runtime = Runtime(self._home.settings())
        try:
            for mark in self._marks:
                while True:
                    # a read transaction: no write turn taken from the worker it watches
                    with runtime.read_sessions() as s:
                        done = s.scalar(
                            select(func.count())
                            .select_from(OutboxMessage)
                            .where(OutboxMessage.status == "DELIVERED")
                        )
                    if done is not None and done >= mark:
                        self.samples.append(process_tree_rss_kib(self._pid))
                        break
                    time.sleep(0.05)
        except BaseException as exc:  # reported by wait()
            self.error = exc
        finally:
            runtime.close()

    def wait(self, timeout: float) -> list[int]:
        self._thread.join(timeout)
        if self.error is not None:
            raise RuntimeError(f"worker memory sampling failed: {self.error}")
        if len(self.samples) < len(self._marks):
            raise RuntimeError(f"the worker delivered too few messages in {timeout:.0f} s")
        return self.samples
