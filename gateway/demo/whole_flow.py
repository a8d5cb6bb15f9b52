"""``omgw demo`` from start to end: :func:`run_demo` tells the story in steps.

Set the stage (:mod:`gateway.demo.stage`), import a batch of orders through
``createOrders`` (the first one held at intake), follow them until they close
(:mod:`gateway.demo.follow`), play the chapter of changes after release
(:mod:`gateway.demo.changes_chapter`), then print the summary (:mod:`gateway.demo.summary`).
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from gateway.config import Settings
from gateway.demo.changes_chapter import changes_chapter
from gateway.demo.follow import fault_code, follow_orders, monitor
from gateway.demo.home import check_demo_home
from gateway.demo.order_documents import DEMO_HOLD, first_batch
from gateway.demo.stage import Stage, set_stage
from gateway.demo.summary import DemoSummary, read_summary

__all__ = ["run_demo"]

#: orders per createOrders call of the first batch
_BATCH = 10


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
    if quiet:  # the live view is the output (parks and alerts too); logs would drown it
        _quiet_logs()
    rng = random.Random(seed)
    run = secrets.token_hex(3).upper()
    started = time.monotonic()
    check_demo_home(settings)
    with ExitStack() as stack:
        stage = set_stage(stack, settings, rng, record_events)
        stage.announce(echo, record_events)
        stage.start_worker(stack)
        imports = stage.soap_client("OrderImportService")
        numbers = _import(imports, first_batch(orders, run, rng))
        echo(f"imported {len(numbers)} orders; following each one until it closes")
        _ask_for_a_missing_order(stage, echo)
        echo(f"  order {numbers[0]} is held ({DEMO_HOLD}) at intake; released in a moment")
        deadline = time.monotonic() + (timeout if timeout is not None else 60 + orders)
        replayed = follow_orders(stage.runtime, numbers, echo, deadline)
        monitor(stage.runtime, echo)  # what cleared meanwhile
        seconds = time.monotonic() - started
        changes = changes_chapter(stage.runtime, imports, stage.warehouses, run, echo)
        summary = replace(
            _summarise(stage, numbers, seconds),
            replayed=len(replayed),
            changes=changes,
        )
    for line in summary.lines():
        echo(line)
    return summary


def _quiet_logs() -> None:
    """Raise the gateway's and its clients' loggers to ERROR, unless higher already."""
    for name in ("gateway", "omgw", "zeep", "urllib3"):
        stack_level = logging.getLogger(name)
        stack_level.setLevel(max(stack_level.getEffectiveLevel(), logging.ERROR))


def _import(imports: Any, batch: list[dict[str, Any]]) -> list[str]:
    """Send ``batch`` through createOrders, :data:`_BATCH` at a time; the order numbers."""
    numbers: list[str] = []
    for i in range(0, len(batch), _BATCH):
        created = imports.service.createOrders(request={"Order": batch[i : i + _BATCH]})
        numbers.extend(str(o.OrderNumber) for o in created)
    return numbers


def _ask_for_a_missing_order(stage: Stage, echo: Callable[[str], None]) -> None:
    """An inquiry for an order that does not exist, to show the fault it is answered with."""
    from zeep.exceptions import Fault

    info = stage.soap_client("OrderInformationService")
    try:
        info.service.GetOrderDetails(Order=[{"OrderNumber": "NO-SUCH-ORDER"}])
    except Fault as fault:
        echo(f"  an inquiry for an order that does not exist: {fault_code(fault)}")


def _summarise(stage: Stage, numbers: list[str], seconds: float) -> DemoSummary:
    """The summary of the first batch, with what the simulators and the mail server saw."""
    callbacks = sum(
        int(sim.state()["counters"]["callbacks_sent"]) for sim in stage.warehouses.values()
    )
    received = stage.subscriber.state()["counts"]
    summary = read_summary(stage.runtime, numbers, callbacks, seconds, dict(received))
    return replace(summary, mails=sum(stage.mailbox.counts().values()))
