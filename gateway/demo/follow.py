"""Following the demo's orders until they close: what it shows, and what it does meanwhile.

The demo prints each order's status whenever it changes (:class:`StatusBoard`) and a
progress line, and on the way does what an operator would: it replays a message parked
by a refusal, releases the hold the first order came in with, and runs a monitor pass
every second (whose alerts go out by mail). :func:`follow_orders` is that loop for the
first batch; the chapter of changes (:mod:`gateway.demo.changes_chapter`) reuses its parts.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from gateway.demo.home import DEMO_ALERTS
from gateway.demo.order_documents import DEMO_HOLD
from gateway.observe.alerts import run_monitor
from gateway.orders.hold_service import HoldService
from gateway.outbox.message_filter import MessageFilter
from gateway.outbox.replay import Replayer
from gateway.persistence.models import Connector, FulfillLine, OrderHeader, OutboxMessage
from gateway.runtime import Runtime

__all__ = [
    "Echo",
    "StatusBoard",
    "events_settled",
    "fault_code",
    "follow_orders",
    "monitor",
    "until",
]

#: where the demo prints a line (``print``, ``click.echo``)
Echo = Callable[[str], None]
#: seconds after the batch is imported until the demo releases the first order's hold
_RELEASE_AFTER = 1.5
#: width of the progress bar, in characters
_BAR = 30


def snapshot(runtime: Runtime, numbers: list[str]) -> dict[str, tuple[str, str]]:
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


class StatusBoard:
    """Each order's status as last shown; :meth:`show` prints those that changed."""

    def __init__(self, runtime: Runtime, echo: Echo) -> None:
        self._runtime = runtime
        self._echo = echo
        #: the (header status, line statuses) last shown, by order number
        self.seen: dict[str, tuple[str, str]] = {}

    def show(self, numbers: list[str]) -> dict[str, tuple[str, str]]:
        """Print each of ``numbers`` whose status changed; every order's status now."""
        now = snapshot(self._runtime, numbers)
        for number in numbers:
            if number in now and now[number] != self.seen.get(number):
                self._echo(f"  order {number}: {now[number][0]:<14} lines: {now[number][1]}")
                self.seen[number] = now[number]
        return now

    def closed(self, numbers: list[str]) -> int:
        """How many of ``numbers`` were last shown closed."""
        return sum(1 for n in numbers if self.seen.get(n, ("",))[0] == "CLOSED")


def events_settled(runtime: Runtime, numbers: list[str]) -> bool:
    """Whether no message of these orders waits to be sent."""
    with runtime.read_sessions() as s:
        waiting = s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.order_number.in_(numbers), OutboxMessage.status == "READY")
        )
    return not waiting


def until(done: Callable[[], bool], deadline: float, what: str) -> None:
    """Wait until ``done()``; :class:`TimeoutError` naming ``what`` past ``deadline``."""
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the demo gave up waiting for {what}")
        time.sleep(0.02)


def fault_code(fault: Any) -> str:
    """The fault code of a zeep ``Fault`` (its ServiceErrorMessage's code)."""
    detail = fault.detail
    code = None if detail is None else detail.findtext(".//{*}code")
    return f"fault {code or fault.message}"


def monitor(runtime: Runtime, echo: Echo) -> None:
    """A monitor pass, as the background loop of ``omgw serve`` runs them."""
    decided = run_monitor(runtime)
    for row in decided.raised:
        echo(f"  alert raised: {row.summary} (mailed to {DEMO_ALERTS})")
    for row in decided.cleared:
        echo(f"  alert cleared: {row.summary}")


def follow_orders(runtime: Runtime, numbers: list[str], echo: Echo, deadline: float) -> set[int]:
    """Show the orders' progress until every one is closed and every event delivered, or
    ``deadline`` passes; the ids of the parked messages replayed on the way.

    ``numbers[0]`` came in held: it is released a moment after the loop starts.
    """
    board = StatusBoard(runtime, echo)
    release_at: float | None = time.monotonic() + _RELEASE_AFTER
    shown_progress = -1
    replayed: set[int] = set()
    next_monitor = 0.0
    while True:
        parked = _parked(runtime, numbers) - replayed
        if parked or time.monotonic() >= next_monitor:
            next_monitor = time.monotonic() + 1.0
            monitor(runtime, echo)
        replayed |= _replay(runtime, parked, echo)
        now = board.show(numbers)
        if release_at is not None and time.monotonic() >= release_at:
            _release_hold(runtime, numbers[0], echo)
            release_at = None
        closed = sum(1 for v in now.values() if v[0] == "CLOSED")
        if closed != shown_progress:
            filled = int(_BAR * closed / max(1, len(numbers)))
            echo(f"[{'#' * filled}{'.' * (_BAR - filled)}] {closed}/{len(numbers)} closed")
            shown_progress = closed
        if (closed == len(numbers) and events_settled(runtime, numbers)) or (
            time.monotonic() > deadline
        ):
            return replayed
        time.sleep(0.2)


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
    """(id, connector, the last error on one line) of each of the parked messages ``ids``."""
    if not ids:
        return []
    with runtime.read_sessions() as s:
        rows = s.execute(
            select(OutboxMessage.id, Connector.name, OutboxMessage.last_error)
            .join(Connector, Connector.id == OutboxMessage.connector_id)
            .where(OutboxMessage.id.in_(ids))
        )
        return [(i, name, " ".join((error or "").split())[:120]) for i, name, error in rows]


def _replay(runtime: Runtime, parked: set[int], echo: Echo) -> set[int]:
    """Replay each parked message, as an operator would; the ids replayed."""
    replayed: set[int] = set()
    for row_id, connector, reason in sorted(_parked_rows(runtime, parked)):
        echo(f"  message {row_id} to {connector} parked ({reason})")
        with runtime.sessions() as s, s.begin():
            Replayer(s, "omgw-demo").replay(MessageFilter(ids=(row_id,)))
        echo(f"  message {row_id} replayed, as 'omgw messages replay --id {row_id}' does")
        replayed.add(row_id)
    return replayed


def _release_hold(runtime: Runtime, number: str, echo: Echo) -> None:
    """Release the hold order ``number`` came in with, as an operator would."""
    with runtime.sessions() as s, s.begin():
        HoldService(s, "omgw-demo", reply_to=runtime.settings.reply_to).release(
            number, DEMO_HOLD, "released by the demo"
        )
    echo(f"  order {number}: hold {DEMO_HOLD} released")
