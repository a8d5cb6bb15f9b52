"""``omgw demo``: the whole flow on this machine, watched live.

Sets up the embedded default in ``OMGW_HOME`` (SQLite, a local key file), applies the
bundled ``gateway/setup/demo.toml`` (one capture system, an asynchronous and a synchronous
simulated warehouse, wallet entries with random passwords, rules that route by item),
starts the gateway, both simulators, a simulated business-event subscriber (a CRM) and
an outbox worker in this process on free 127.0.0.1 ports, imports a batch of orders
through ``createOrders`` (the first one held at intake, released a moment later), prints
each order's status changes and a progress line until every order is closed and every
event delivered, then a chapter of changes after release (a line canceled in flight, a
quantity changed in flight, two returns and a third refused), then a summary that counts
the events the subscriber received.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

from sqlalchemy import func, select

from connectors.wallet import Credential, KeyFile, MasterKey
from gateway.config import Settings
from gateway.errors import ValidationError
from gateway.observe.alerts import run_monitor
from gateway.orders.holds import HoldService
from gateway.outbox.replay import MessageFilter, Replayer
from gateway.outbox.worker import OutboxWorker
from gateway.persistence.models import (
    Connector,
    DeliveryAttempt,
    FulfillLine,
    OrderHeader,
    OutboxMessage,
    User,
    WalletEntry,
)
from gateway.registry.setup_file import apply_setup, load_setup
from gateway.registry.store import Registry
from gateway.registry.wallet import Wallet, seal_user_secret
from gateway.runtime import Runtime
from gateway.security.passwords import hash_password
from gateway.security.roles import ROLES
from simulators.fulfillment import RunningSimulator, serve_simulator
from simulators.fulfillment_options import SimulatorOptions
from simulators.harness import QuietHandler
from simulators.mailbox import serve_mailbox
from simulators.subscriber import SubscriberOptions, serve_subscriber

__all__ = ["DEMO_SETUP", "ChangesSummary", "DemoSummary", "run_demo"]

DEMO_SETUP = Path(__file__).resolve().parent / "setup" / "demo.toml"
DEMO_USER = "omgw-demo-callback"
ITEMS = ("AS54888", "AS92888", "CM5008", "CM9100")
_WALLET_MAP = "oracle.wsm.security"
#: (wallet key, connector, simulator system, simulator user)
_WAREHOUSES = (
    ("DEMO_WMS01_KEY", "WMS01_Async", "WMS01", "wms01"),
    ("DEMO_WMS02_KEY", "WMS02_Sync", "WMS02", "wms02"),
)
#: the event subscriber's (wallet key, connector, user)
_SUBSCRIBER = ("DEMO_CRM_KEY", "CRM_Events", "crm")
DEMO_HOLD = "DEMO_REVIEW"
#: where the demo's alerts are mailed (to its simulated mail server)
DEMO_ALERTS = "ops@example.com"


@dataclass(frozen=True)
class ChangesSummary:
    """The chapter of changes after release, as the parties saw it."""

    #: (operation, answer) of each change the asynchronous warehouse received
    changes: tuple[tuple[str, str], ...]
    #: returns the synchronous warehouse received, and the credit memos it billed
    returns: int
    credits: tuple[str, ...]
    #: the fault code of each return refused at intake
    refused: tuple[str, ...]
    #: chapter orders closed, of those imported
    closed: int
    orders: int
    seconds: float = 0.0

    def line(self) -> str:
        made = ", ".join(f"{op} {answer}" for op, answer in self.changes) or "none"
        return (
            f"changes:           {made}; {self.returns} return(s) received, "
            f"{len(self.credits)} credited, {len(self.refused)} refused; "
            f"{self.closed}/{self.orders} closed in {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class DemoSummary:
    orders: int
    closed: int
    fulfillment_lines: int
    messages: int
    delivered: int
    parked: int
    retries: int
    callbacks: int
    seconds: float
    events: dict[str, int]
    event_messages: int = 0
    #: messages the simulated mail server received (notifications and alerts)
    mails: int = 0
    #: requests parked by a refusal and replayed by the demo, as an operator would
    replayed: int = 0
    #: what the chapter of changes after release came to
    changes: ChangesSummary | None = None

    @property
    def events_received(self) -> int:
        return sum(self.events.values())

    def lines(self) -> list[str]:
        rate = self.closed / self.seconds if self.seconds else 0.0
        return [
            f"orders:            {self.orders} imported, {self.closed} closed",
            f"fulfillment lines: {self.fulfillment_lines}",
            f"messages sent:     {self.messages} ({self.delivered} delivered, "
            f"{self.parked} parked, {self.retries} retries)",
            f"callbacks:         {self.callbacks} from the asynchronous warehouse",
            f"events received:   {self.events_received} by the CRM subscriber"
            + (
                " (" + ", ".join(f"{code} {n}" for code, n in sorted(self.events.items())) + ")"
                if self.events
                else ""
            ),
            f"replayed:          {self.replayed} parked request(s), as an operator would",
            *([self.changes.line()] if self.changes is not None else []),
            f"e-mails received:  {self.mails} by the simulated mail server",
            f"time:              {self.seconds:.1f} s ({rate:.1f} orders/s closed)",
        ]


#: the file the demo leaves in a home it set up: only such a home is set up again
DEMO_MARK = "demo-home"


def check_demo_home(settings: Settings) -> None:
    """Refuse a home holding a setup the demo did not make: the demo adds its connectors
    and publishes its routing over whatever is there."""
    if (settings.home / DEMO_MARK).exists():
        return
    own_file = settings.database_url == f"sqlite:///{settings.home / 'omgw.db'}"
    if own_file and not (settings.home / "omgw.db").exists():
        return  # a new home
    where = "its database" if own_file else "the database OMGW_DATABASE_URL names"
    raise ValidationError(
        "INVALID_VALUE",
        f"OMGW_HOME {settings.home} holds a setup the demo did not make ({where}); the demo "
        "adds its connectors and publishes its routing over it. Run it in a home of its own "
        "(make demo uses .omgw-demo, or DEMO_HOME=<dir>), with OMGW_DATABASE_URL unset",
    )


def _ensure_key(settings: Settings) -> None:
    if not settings.wallet_key_b64 and not settings.key_file.exists():
        KeyFile(settings.key_file).create(MasterKey.generate())


def _ensure_user(runtime: Runtime, password: str) -> None:
    """The user the simulators call back as, with a fresh password for this run."""
    with runtime.sessions() as s, s.begin():
        user = s.scalar(select(User).where(User.username == DEMO_USER))
        if user is None:
            user = User(username=DEMO_USER, roles=" ".join(ROLES), password_hash="")
            s.add(user)
        # it imports for the capture system and calls back as both warehouses
        user.systems = " ".join(sorted(("LEGACY", *(w[2] for w in _WAREHOUSES))))
        user.all_systems = False
        user.password_hash = hash_password(password)
        user.digest_secret = seal_user_secret(s, lambda: runtime.secret_box, DEMO_USER, password)


def _apply(runtime: Runtime, urls: dict[str, str], passwords: dict[str, str]) -> None:
    """Wallet entries first (the setup refers to them), then the setup, then the
    connectors pointed at this run's simulators."""
    with runtime.sessions() as s, s.begin():
        wallet = Wallet(s, lambda: runtime.secret_box, "omgw-demo")
        for key, _conn, _system, user in _WAREHOUSES:
            wallet.set(_WALLET_MAP, key, Credential(user, passwords[key]))
        key, _conn, user = _SUBSCRIBER
        wallet.set(_WALLET_MAP, key, Credential(user, passwords[key]))
        registry = Registry(s, "omgw-demo")
        doc = load_setup(
            DEMO_SETUP.read_text(encoding="utf-8"),
            str(DEMO_SETUP),
            known_systems={x.code for x in registry.source_systems()},
            known_wallet=set(s.execute(select(WalletEntry.credential_map, WalletEntry.key))),
            known_task_types={t.code: t for t in registry.task_types()},
            known_connectors={c.name: c.enabled for c in registry.connectors()},
            base_dir=DEMO_SETUP.parent,
        )
        apply_setup(s, lambda: runtime.secret_box, "omgw-demo", doc, DEMO_SETUP.parent)
        for name in urls:
            spec = registry.require_connector(name)
            registry.put_connector(replace(spec, url=urls[name]))


@contextmanager
def _gateway(settings: Settings) -> Iterator[tuple[Runtime, str]]:
    from gateway.server import build_app, prepare

    prepare(settings)
    _ensure_key(settings)
    server = make_server("127.0.0.1", 0, lambda env, start: [], handler_class=QuietHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    runtime = Runtime(replace(settings, public_url=base))
    server.set_app(build_app(runtime))
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield runtime, base
    finally:
        server.shutdown()
        server.server_close()
        runtime.close()


def _orders(count: int, run: str, rng: random.Random) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(1, count + 1):
        key = f"DEMO-{run}-{i:04d}"
        lines = [
            {
                "SourceTransactionLineIdentifier": f"L{n}",
                "SourceTransactionLineNumber": str(n),
                "ProductNumber": rng.choice(ITEMS),
                "OrderedQuantity": {"_value_1": Decimal(rng.randint(1, 5)), "unitCode": "Ea"},
                "OrderedUOMCode": "Ea",
            }
            for n in range(1, rng.randint(1, 3) + 1)
        ]
        out.append(
            {
                "SourceTransactionIdentifier": key,
                "SourceTransactionSystem": "LEGACY",
                "SourceTransactionNumber": key,
                "SourceTransactionRevision": "1",
                "BuyingPartyName": "Computer Service and Rentals",
                "TransactionalCurrencyCode": "USD",
                "Line": lines,
            }
        )
    out[0]["Hold"] = [{"HoldCode": DEMO_HOLD, "HoldComments": "held by the demo, released soon"}]
    return out


def _snapshot(runtime: Runtime, numbers: list[str]) -> dict[str, tuple[str, str]]:
    """Each order's header status and its fulfillment lines' statuses, summarised."""
    with runtime.read_sessions() as s:
        rows = s.execute(
            select(OrderHeader.order_number, OrderHeader.status, FulfillLine.status)
            .join(FulfillLine, FulfillLine.header_id == OrderHeader.id)
            .where(
                OrderHeader.order_number.in_(numbers),
                # a revised order keeps its former revision under the same number
                OrderHeader.status != "DOO_REFERENCE",
            )
        ).all()
    header: dict[str, str] = {}
    lines: dict[str, Counter[str]] = {}
    for number, status, fstatus in rows:
        header[number] = status
        lines.setdefault(number, Counter())[fstatus] += 1
    return {
        n: (header[n], ", ".join(f"{s}×{c}" for s, c in sorted(lines[n].items()))) for n in header
    }


def run_demo(
    settings: Settings,
    orders: int = 20,
    echo: Callable[[str], None] = print,
    timeout: float | None = None,
    seed: int | None = None,
    quiet: bool = True,
    record_events: Path | None = None,
) -> DemoSummary:
    """Run the demo; returns the summary (it is also printed through ``echo``)."""
    from zeep import Client
    from zeep.exceptions import Fault
    from zeep.transports import Transport

    if quiet:  # the live view is the output (parks and alerts too); logs would drown it
        for name in ("gateway", "omgw", "zeep", "urllib3"):
            stack_level = logging.getLogger(name)
            stack_level.setLevel(max(stack_level.getEffectiveLevel(), logging.ERROR))
    rng = random.Random(seed)
    run = secrets.token_hex(3).upper()
    callback_password = secrets.token_urlsafe(18)
    passwords = {key: secrets.token_urlsafe(18) for key, *_ in (*_WAREHOUSES, _SUBSCRIBER)}
    started = time.monotonic()
    check_demo_home(settings)
    with ExitStack() as stack:
        mailbox = serve_mailbox()
        stack.callback(mailbox.close)
        settings = replace(
            settings,
            smtp_host="127.0.0.1",
            smtp_port=mailbox.port,
            alert_email=DEMO_ALERTS,
            # the run lasts seconds and its database is small: each scrape reads afresh
            metrics_cache_seconds=0.0,
        )
        runtime, base = stack.enter_context(_gateway(settings))
        (settings.home / DEMO_MARK).write_text("set up by omgw demo\n")
        _ensure_user(runtime, callback_password)
        sims: dict[str, RunningSimulator] = {}
        for key, name, system, user in _WAREHOUSES:
            # the asynchronous warehouse is down for its first requests, then refuses one
            trouble = system == "WMS01"
            sim = serve_simulator(
                SimulatorOptions(
                    system=system,
                    delay=0.05,
                    fail_first=2 if trouble else 0,
                    fault_first=1 if trouble else 0,
                    username=user,
                    password=passwords[key],
                    gateway_url=base,
                    gateway_user=DEMO_USER,
                    gateway_password=callback_password,
                    seed=rng.randint(0, 2**31),
                )
            )
            stack.callback(sim.close)
            sims[name] = sim
        subscriber = serve_subscriber(
            SubscriberOptions(
                username=_SUBSCRIBER[2],
                password=passwords[_SUBSCRIBER[0]],
                record_dir=record_events,
            )
        )
        stack.callback(subscriber.close)
        urls = {name: sim.url for name, sim in sims.items()}
        urls[_SUBSCRIBER[1]] = subscriber.url
        _apply(runtime, urls, passwords)
        echo(f"gateway:    {base}/fscmService/OrderImportService?WSDL")
        for name, sim in sims.items():
            echo(f"simulator:  {name} at {sim.url}")
        echo(f"subscriber: {_SUBSCRIBER[1]} at {subscriber.url}")
        echo(f"mail:       127.0.0.1:{mailbox.port} (alerts to {DEMO_ALERTS})")
        echo(f"metrics:    {base}/metrics   health: {base}/readyz")
        echo(f"status:     OMGW_HOME={settings.home} omgw status")
        if record_events is not None:
            echo(f"recording every event payload to {record_events}")

        stop = threading.Event()
        worker = OutboxWorker(runtime, name="demo-worker")
        thread = threading.Thread(target=worker.run, args=(stop, 0.05), daemon=True)
        thread.start()
        stack.callback(thread.join, 30)
        stack.callback(stop.set)

        import requests

        session = requests.Session()
        session.auth = (DEMO_USER, callback_password)
        imports = Client(
            f"{base}/fscmService/OrderImportService?WSDL",
            transport=Transport(session=session, timeout=30, operation_timeout=30),
        )
        numbers: list[str] = []
        batch = _orders(orders, run, rng)
        for i in range(0, len(batch), 10):
            created = imports.service.createOrders(request={"Order": batch[i : i + 10]})
            numbers.extend(str(o.OrderNumber) for o in created)
        echo(f"imported {len(numbers)} orders; following each one until it closes")
        info = Client(
            f"{base}/fscmService/OrderInformationService?WSDL",
            transport=Transport(session=session, timeout=30, operation_timeout=30),
        )
        try:
            info.service.GetOrderDetails(Order=[{"OrderNumber": "NO-SUCH-ORDER"}])
        except Fault as fault:
            echo(f"  an inquiry for an order that does not exist: {_fault_code(fault)}")
        echo(f"  order {numbers[0]} is held ({DEMO_HOLD}) at intake; released in a moment")
        release_at: float | None = time.monotonic() + 1.5

        seen: dict[str, tuple[str, str]] = {}
        deadline = time.monotonic() + (timeout if timeout is not None else 60 + orders)
        shown_progress = -1
        replayed: set[int] = set()
        next_monitor = 0.0
        while True:
            parked = _parked(runtime, numbers) - replayed
            if parked or time.monotonic() >= next_monitor:
                next_monitor = time.monotonic() + 1.0
                _monitor(runtime, echo)
            for row_id, connector, reason in sorted(_parked_rows(runtime, parked)):
                echo(f"  message {row_id} to {connector} parked ({reason})")
                with runtime.sessions() as s, s.begin():
                    Replayer(s, "omgw-demo").replay(MessageFilter(ids=(row_id,)))
                echo(f"  message {row_id} replayed, as 'omgw messages replay --id {row_id}' does")
                replayed.add(row_id)
            now = _snapshot(runtime, numbers)
            for number in numbers:
                if number in now and now[number] != seen.get(number):
                    echo(f"  order {number}: {now[number][0]:<14} lines: {now[number][1]}")
                    seen[number] = now[number]
            if release_at is not None and time.monotonic() >= release_at:
                with runtime.sessions() as s, s.begin():
                    HoldService(s, "omgw-demo", reply_to=runtime.settings.reply_to).release(
                        numbers[0], DEMO_HOLD, "released by the demo"
                    )
                echo(f"  order {numbers[0]}: hold {DEMO_HOLD} released")
                release_at = None
            closed = sum(1 for v in now.values() if v[0] == "CLOSED")
            if closed != shown_progress:
                filled = int(30 * closed / max(1, len(numbers)))
                echo(f"[{'#' * filled}{'.' * (30 - filled)}] {closed}/{len(numbers)} closed")
                shown_progress = closed
            if (closed == len(numbers) and _events_settled(runtime, numbers)) or (
                time.monotonic() > deadline
            ):
                break
            time.sleep(0.2)
        _monitor(runtime, echo)  # what cleared meanwhile
        seconds = time.monotonic() - started
        changes = _changes_chapter(runtime, imports, sims, run, echo)
        callbacks = sum(int(sim.state()["counters"]["callbacks_sent"]) for sim in sims.values())
        received = subscriber.state()["counts"]
        summary = _summary(runtime, numbers, callbacks, seconds, dict(received))
        summary = replace(
            summary,
            mails=sum(mailbox.counts().values()),
            replayed=len(replayed),
            changes=changes,
        )
    for line in summary.lines():
        echo(line)
    return summary


#: the asynchronous warehouse's callback delay while the chapter's orders are sent and
#: changed: long enough for the changes to reach it, and their answers the gateway, first
CHANGE_HOLD_SECONDS = 1.5
#: where the chapter's changes go (AS items, by rule) and its returns (CM items, by default)
_CHANGES_AT, _RETURNS_AT = "WMS01_Async", "WMS02_Sync"


def _order(key: str, lines: list[dict[str, Any]], revision: str = "1") -> dict[str, Any]:
    return {
        "SourceTransactionIdentifier": key,
        "SourceTransactionSystem": "LEGACY",
        "SourceTransactionNumber": key,
        "SourceTransactionRevision": revision,
        "BuyingPartyName": "Computer Service and Rentals",
        "TransactionalCurrencyCode": "USD",
        "Line": lines,
    }


def _line(lid: str, item: str, qty: int, **extra: Any) -> dict[str, Any]:
    return {
        "SourceTransactionLineIdentifier": lid,
        "SourceTransactionLineNumber": lid[1:],
        "ProductNumber": item,
        "OrderedQuantity": {"_value_1": Decimal(qty), "unitCode": "Ea"},
        "OrderedUOMCode": "Ea",
        **extra,
    }


def _return(lid: str, item: str, qty: int, sold: str, sold_line: str) -> dict[str, Any]:
    """A return line: ``qty`` of line ``sold_line`` of order ``sold`` come back."""
    return _line(
        lid,
        item,
        qty,
        TransactionCategoryCode="RETURN",
        ReturnReasonCode="DAMAGED",
        DocumentReference=[
            {
                "DocumentReferenceType": "ORIGINAL_SALES_ORDER",
                "DocumentIdentifier": sold,
                "DocumentAdditionalIdentifier": "LEGACY",
                "DocumentLineIdentifier": sold_line,
            }
        ],
    )


def _until(done: Callable[[], bool], deadline: float, what: str) -> None:
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the demo gave up waiting for {what}")
        time.sleep(0.02)


def _changes_chapter(
    runtime: Runtime,
    imports: Any,
    sims: dict[str, RunningSimulator],
    run: str,
    echo: Callable[[str], None],
    timeout: float = 30.0,
) -> ChangesSummary:
    """Changes after release: one order's line canceled and another order's quantity
    changed while the asynchronous warehouse holds them, then two returns of 2 of the 5
    units a third order shipped, and a third return refused.

    The outcome owes nothing to timing luck. The warehouse decides what ships when its
    callback goes out, its ``delay`` after it received the request, and a change goes out
    only after the request it changes (the outbox sends an order's requests to a
    connector in the order they were written). So the chapter lengthens WMS01's delay to
    :data:`CHANGE_HOLD_SECONDS`, sends the two orders, waits until WMS01 holds both
    requests, sets the delay back and only then sends the revisions: the Cancel and the
    Update reach WMS01 while it still holds the lines, and their answers reach the
    gateway before the held callbacks report the shipment. The returns go to the
    synchronous WMS02, which ships, receives and credits within the calls that send them.
    """
    from zeep.exceptions import Fault

    started = time.monotonic()
    deadline = started + timeout
    held, receiving = sims[_CHANGES_AT], sims[_RETURNS_AT]
    echo("changes after release: a cancel and a quantity change in flight, then returns")
    sold_key, cancel_key, update_key = (f"DEMO-{run}-{k}" for k in ("SOLD", "CXL", "UPD"))
    (sold,) = imports.service.createOrders(
        request={"Order": [_order(sold_key, [_line("L1", "CM5008", 5)])]}
    )
    usual = float(held.state()["options"]["delay"])
    # the outage the main flow may not have met (its orders went elsewhere) is over now:
    # a request of this chapter parked by it would never reach the warehouse
    held.control(delay=CHANGE_HOLD_SECONDS, fail_first=0, fault_first=0)
    created = imports.service.createOrders(
        request={
            "Order": [
                _order(cancel_key, [_line("L1", "AS54888", 2), _line("L2", "AS92888", 3)]),
                _order(update_key, [_line("L1", "AS54888", 5)]),
            ]
        }
    )
    canceled, updated = (str(o.OrderNumber) for o in created)
    headers = {int(o.HeaderId) for o in created}

    def holds_both() -> bool:
        got = {r["header_id"] for r in held.state()["requests"] if r["operation"] == "Create"}
        return headers <= got

    _until(holds_both, deadline, f"{_CHANGES_AT} to receive the orders to change")
    held.control(delay=usual)
    imports.service.createOrders(
        request={
            "Order": [
                _order(
                    cancel_key,
                    [
                        _line("L1", "AS54888", 2),
                        _line("L2", "AS92888", 0, CancelReasonCode="CUST_REQUEST"),
                    ],
                    revision="2",
                ),
                _order(update_key, [_line("L1", "AS54888", 3)], revision="2"),
            ]
        }
    )
    echo(
        f"  order {canceled}: revision 2 cancels line 2 (CUST_REQUEST) while {_CHANGES_AT} holds it"
    )
    echo(f"  order {updated}: revision 2 changes line 1 from 5 to 3 while {_CHANGES_AT} holds it")

    numbers = [canceled, updated, str(sold.OrderNumber)]
    seen: dict[str, tuple[str, str]] = {}

    def show() -> dict[str, tuple[str, str]]:
        now = _snapshot(runtime, numbers)
        for number in numbers:
            if number in now and now[number] != seen.get(number):
                echo(f"  order {number}: {now[number][0]:<14} lines: {now[number][1]}")
                seen[number] = now[number]
        return now

    _until(lambda: show()[numbers[2]][1].startswith(("AWAIT_BILLING", "BILLED", "CLOSED")),
           deadline, f"order {numbers[2]} to ship")  # fmt: skip
    refused: list[str] = []
    for n in (1, 2, 3):
        ret = _order(f"{sold_key}-R{n}", [_return("R1", "CM5008", 2, sold_key, "L1")])
        try:
            (back,) = imports.service.createOrders(request={"Order": [ret]})
        except Fault as fault:
            refused.append(_fault_code(fault).removeprefix("fault "))
            echo(f"  return {n}, 2 of the 5 units order {numbers[2]} shipped: {_fault_code(fault)}")
            continue
        numbers.append(str(back.OrderNumber))
        echo(f"  return {n}, 2 of the 5 units order {numbers[2]} shipped: order {back.OrderNumber}")

    def settled() -> bool:
        now = show()
        closed = all(now.get(n, ("",))[0] == "CLOSED" for n in numbers)
        return closed and _events_settled(runtime, numbers)

    try:
        _until(settled, deadline, "the changed and returned orders to close")
    except TimeoutError as exc:
        echo(f"  {exc}")
    state, sync_state = held.state(), receiving.state()
    asked = {  # the Create requests of the two orders, by id
        r["request_id"]
        for r in state["requests"]
        if r["header_id"] in headers and r["operation"] == "Create"
    }
    held_lines = sorted(
        (ln for ln in state["fulfillment_lines"] if ln["request_id"] in asked),
        key=lambda ln: ln["fulfill_line_id"],
    )
    changes = []
    for r in sorted(state["requests"], key=lambda r: (r["operation"], r["request_id"])):
        if r["operation"] in ("Cancel", "Update") and r["header_id"] in headers:
            answer = r["change"]["status"] if r["change"] else "none"
            lines = [
                ln["fulfill_line_id"] for ln in held_lines if r["request_id"] in ln["changed_by"]
            ]
            echo(
                f"  {_CHANGES_AT} received {r['operation']} {r['request_id']} of request "
                f"{r['original_request_id']} for fulfillment line(s) "
                f"{', '.join(map(str, lines))}: {answer}"
            )
            changes.append((r["operation"], answer))
    for ln in held_lines:
        shipped = ln["shipped_qty"]
        echo(
            f"  {_CHANGES_AT} fulfillment line {ln['fulfill_line_id']}: {ln['state']}"
            + (f" {Decimal(shipped).normalize()}" if shipped else "")
        )
    credits = tuple(
        sorted(
            ln["billing_number"]
            for r in sync_state["requests"]
            if r["task_type"] == "Invoice"
            for ln in r["lines"]
            if (ln["billing_number"] or "").startswith("CM-")
        )
    )
    returns = int(sync_state["counters"]["returns"])
    echo(
        f"  {_RETURNS_AT} received {returns} return(s) and credited {', '.join(credits) or 'none'}"
    )
    closed = sum(1 for n in numbers if seen.get(n, ("",))[0] == "CLOSED")
    return ChangesSummary(
        tuple(changes),
        returns,
        credits,
        tuple(refused),
        closed,
        len(numbers),
        time.monotonic() - started,
    )


def _fault_code(fault: Any) -> str:
    """The fault code of a zeep ``Fault`` (its ServiceErrorMessage's code)."""
    detail = fault.detail
    code = None if detail is None else detail.findtext(".//{*}code")
    return f"fault {code or fault.message}"


def _parked(runtime: Runtime, numbers: list[str]) -> set[int]:
    with runtime.read_sessions() as s:
        return set(
            s.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.order_number.in_(numbers), OutboxMessage.status == "PARKED"
                )
            )
        )


def _parked_rows(runtime: Runtime, ids: set[int]) -> list[tuple[int, str, str]]:
    if not ids:
        return []
    with runtime.read_sessions() as s:
        rows = s.execute(
            select(OutboxMessage.id, Connector.name, OutboxMessage.last_error)
            .join(Connector, Connector.id == OutboxMessage.connector_id)
            .where(OutboxMessage.id.in_(ids))
        )
        return [(i, name, " ".join((error or "").split())[:120]) for i, name, error in rows]


def _monitor(runtime: Runtime, echo: Callable[[str], None]) -> None:
    """A monitor pass, as the background loop of ``omgw serve`` runs them."""
    decided = run_monitor(runtime)
    for row in decided.raised:
        echo(f"  alert raised: {row.summary} (mailed to {DEMO_ALERTS})")
    for row in decided.cleared:
        echo(f"  alert cleared: {row.summary}")


def _events_settled(runtime: Runtime, numbers: list[str]) -> bool:
    with runtime.read_sessions() as s:
        waiting = s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.order_number.in_(numbers), OutboxMessage.status == "READY")
        )
    return not waiting


def _summary(
    runtime: Runtime,
    numbers: list[str],
    callbacks: int,
    seconds: float,
    events: dict[str, int],
) -> DemoSummary:
    with runtime.read_sessions() as s:
        closed = s.scalar(
            select(func.count())
            .select_from(OrderHeader)
            .where(OrderHeader.order_number.in_(numbers), OrderHeader.status == "CLOSED")
        )
        flines = s.scalar(
            select(func.count())
            .select_from(FulfillLine)
            .join(OrderHeader, OrderHeader.id == FulfillLine.header_id)
            .where(OrderHeader.order_number.in_(numbers))
        )
        statuses = dict(
            s.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.order_number.in_(numbers))
                .group_by(OutboxMessage.status)
            ).all()
        )
        event_messages = s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.order_number.in_(numbers), OutboxMessage.kind == "BUSINESS_EVENT")
        )
        retries = s.scalar(
            select(func.count())
            .select_from(DeliveryAttempt)
            .join(OutboxMessage, OutboxMessage.id == DeliveryAttempt.outbox_id)
            .where(OutboxMessage.order_number.in_(numbers), DeliveryAttempt.outcome == "RETRY")
        )
    return DemoSummary(
        orders=len(numbers),
        closed=int(closed or 0),
        fulfillment_lines=int(flines or 0),
        messages=sum(int(v) for v in statuses.values()),
        delivered=int(statuses.get("DELIVERED", 0)),
        parked=int(statuses.get("PARKED", 0)),
        retries=int(retries or 0),
        callbacks=callbacks,
        seconds=seconds,
        events=events,
        event_messages=int(event_messages or 0),
    )
