"""The demo's chapter of changes after release: changes in flight, then returns.

One order's line is canceled and another order's quantity changed while the asynchronous
warehouse holds them; then two returns of 2 of the 5 units a third order shipped are
received and credited, and a third return is refused. :func:`changes_chapter` tells it
step by step and reports what each party saw as a
:class:`~gateway.demo.summary.ChangesSummary`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.demo.follow import Echo, StatusBoard, events_settled, fault_code, until
from gateway.demo.order_documents import order, order_line, return_line
from gateway.demo.summary import ChangesSummary
from gateway.runtime import Runtime
from simulators.fulfillment import RunningSimulator

__all__ = ["CHANGE_HOLD_SECONDS", "changes_chapter"]

#: the asynchronous warehouse's callback delay while the chapter's orders are sent and
#: changed: long enough for the changes to reach it, and their answers the gateway, first
CHANGE_HOLD_SECONDS = 1.5
#: where the chapter's changes go (AS items, by rule) and its returns (CM items, by default)
_CHANGES_AT, _RETURNS_AT = "WMS01_Async", "WMS02_Sync"
#: the line statuses of an order that has shipped
_SHIPPED = ("AWAIT_BILLING", "BILLED", "CLOSED")
_CLOSED = "the changed and returned orders to close"


@dataclass(frozen=True)
class _Keys:
    """The source keys of the chapter's orders: one sold (then returned), two changed."""

    sold: str
    cancel: str
    update: str

    @classmethod
    def of_run(cls, run: str) -> _Keys:
        sold, cancel, update = (f"DEMO-{run}-{k}" for k in ("SOLD", "CXL", "UPD"))
        return cls(sold, cancel, update)


def changes_chapter(
    runtime: Runtime,
    imports: Any,
    sims: dict[str, RunningSimulator],
    run: str,
    echo: Echo,
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
    started = time.monotonic()
    deadline = started + timeout
    held, receiving = sims[_CHANGES_AT], sims[_RETURNS_AT]
    echo("changes after release: a cancel and a quantity change in flight, then returns")
    keys = _Keys.of_run(run)
    (sold,) = imports.service.createOrders(
        request={"Order": [order(keys.sold, [order_line("L1", "CM5008", 5)])]}
    )
    headers, canceled, updated = _send_orders_held(imports, held, keys, deadline)
    _send_revisions(imports, keys, canceled, updated, echo)

    sold_number = str(sold.OrderNumber)
    numbers = [canceled, updated, sold_number]
    board = StatusBoard(runtime, echo)

    def shipped() -> bool:
        return board.show(numbers)[sold_number][1].startswith(_SHIPPED)

    until(shipped, deadline, f"order {sold_number} to ship")
    refused = _send_returns(imports, keys.sold, sold_number, numbers, echo)
    try:
        until(lambda: _settled(runtime, board, numbers), deadline, _CLOSED)
    except TimeoutError as exc:
        echo(f"  {exc}")
    state, sync_state = held.state(), receiving.state()
    changes = _report_changes(state, headers, echo)
    returns, credits = _report_returns(sync_state, echo)
    return ChangesSummary(
        tuple(changes),
        returns,
        credits,
        tuple(refused),
        board.closed(numbers),
        len(numbers),
        time.monotonic() - started,
    )


def _send_orders_held(
    imports: Any, held: RunningSimulator, keys: _Keys, deadline: float
) -> tuple[set[int], str, str]:
    """Send the two orders to change while ``held`` holds its callbacks, and wait until it
    holds both requests; their header ids and order numbers (to cancel, to update)."""
    usual = float(held.state()["options"]["delay"])
    # the outage the main flow may not have met (its orders went elsewhere) is over now:
    # a request of this chapter parked by it would never reach the warehouse
    held.control(delay=CHANGE_HOLD_SECONDS, fail_first=0, fault_first=0)
    created = imports.service.createOrders(
        request={
            "Order": [
                order(
                    keys.cancel, [order_line("L1", "AS54888", 2), order_line("L2", "AS92888", 3)]
                ),
                order(keys.update, [order_line("L1", "AS54888", 5)]),
            ]
        }
    )
    canceled, updated = (str(o.OrderNumber) for o in created)
    headers = {int(o.HeaderId) for o in created}

    def holds_both() -> bool:
        got = {r["header_id"] for r in held.state()["requests"] if r["operation"] == "Create"}
        return headers <= got

    until(holds_both, deadline, f"{_CHANGES_AT} to receive the orders to change")
    held.control(delay=usual)
    return headers, canceled, updated


def _send_revisions(imports: Any, keys: _Keys, canceled: str, updated: str, echo: Echo) -> None:
    """Revision 2 of both orders: one cancels a line, the other lowers a quantity."""
    imports.service.createOrders(
        request={
            "Order": [
                order(
                    keys.cancel,
                    [
                        order_line("L1", "AS54888", 2),
                        order_line("L2", "AS92888", 0, CancelReasonCode="CUST_REQUEST"),
                    ],
                    revision="2",
                ),
                order(keys.update, [order_line("L1", "AS54888", 3)], revision="2"),
            ]
        }
    )
    echo(
        f"  order {canceled}: revision 2 cancels line 2 (CUST_REQUEST) while {_CHANGES_AT} holds it"
    )
    echo(f"  order {updated}: revision 2 changes line 1 from 5 to 3 while {_CHANGES_AT} holds it")


def _send_returns(
    imports: Any, sold_key: str, sold_number: str, numbers: list[str], echo: Echo
) -> list[str]:
    """Three returns of 2 of the 5 units order ``sold_number`` shipped: the first two are
    taken (their order numbers appended to ``numbers``), the third is refused; the
    refusals' fault codes."""
    from zeep.exceptions import Fault

    refused: list[str] = []
    for n in (1, 2, 3):
        ret = order(f"{sold_key}-R{n}", [return_line("R1", "CM5008", 2, sold_key, "L1")])
        try:
            (back,) = imports.service.createOrders(request={"Order": [ret]})
        except Fault as fault:
            refused.append(fault_code(fault).removeprefix("fault "))
            echo(f"  return {n}, 2 of the 5 units order {sold_number} shipped: {fault_code(fault)}")
            continue
        numbers.append(str(back.OrderNumber))
        echo(
            f"  return {n}, 2 of the 5 units order {sold_number} shipped: order {back.OrderNumber}"
        )
    return refused


def _settled(runtime: Runtime, board: StatusBoard, numbers: list[str]) -> bool:
    """Whether every order of the chapter is closed and every event of them sent."""
    now = board.show(numbers)
    closed = all(now.get(n, ("",))[0] == "CLOSED" for n in numbers)
    return closed and events_settled(runtime, numbers)


def _report_changes(state: dict[str, Any], headers: set[int], echo: Echo) -> list[tuple[str, str]]:
    """Print what the asynchronous warehouse answered to each change, and how each of the
    changed orders' lines ended there; the (operation, answer) of each change."""
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
    return changes


def _report_returns(sync_state: dict[str, Any], echo: Echo) -> tuple[int, tuple[str, ...]]:
    """Print the returns the synchronous warehouse received and the credit memos it
    billed; how many returns, and the credit memos."""
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
    return returns, credits
