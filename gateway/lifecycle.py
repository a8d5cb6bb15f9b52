"""The order lifecycle: one state machine per level, with Oracle's status codes.

Pure functions and tables, no I/O. Contract §6 gives the codes; the paths are:

* fulfillment line: ``CREATED`` → ``SCHEDULED`` → ``AWAIT_SHIP`` → ``SHIPPED`` (or
  ``BACKORDERED`` first) → ``AWAIT_BILLING`` → ``BILLED`` → ``CLOSED``; before shipping
  ``CANCEL_PENDING`` → ``CANCELED``. A change to a line a fulfillment system holds waits
  for its answer in ``CANCEL_PENDING`` or omgw's ``CHANGE_PENDING``; a refusal returns
  the line to where it was, and a shipment reported meanwhile wins (``SHIPPED``). A
  return line waits in ``AWAIT_RECEIVING``, then is credited (``AWAIT_BILLING`` →
  ``BILLED`` → ``CLOSED``). Orchestration (orders/orchestration.py) moves a
  new line through the process's internal steps (``SCHEDULED``) to its shipment
  request, or to omgw's ``ROUTING_ERROR`` when no routing rule gives it a connector
  (re-routing moves it on to ``AWAIT_SHIP``); a process with no step after shipment
  closes the line when it ships.
* order line: rolled up from its fulfillment lines (``PARTIALLY_SHIPPED`` when some
  quantity has shipped and some has not).
* header: ``DOO_DRAFT`` → ``OPEN`` → ``PARTIAL_CLOSE`` → ``CLOSED``; a newer revision
  makes the older one ``DOO_REFERENCE``.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.errors import StateError

__all__ = [
    "FLINE_TRANSITIONS",
    "HEADER_TRANSITIONS",
    "OPEN_FOR_SHIPMENT",
    "PENDING_CHANGE",
    "SHIPPED_OR_LATER",
    "TERMINAL",
    "check_fline",
    "check_header",
    "rollup_header",
    "rollup_line",
]

FLINE_TRANSITIONS: dict[str, frozenset[str]] = {
    "CREATED": frozenset(
        {"SCHEDULED", "AWAIT_SHIP", "AWAIT_RECEIVING", "ROUTING_ERROR", "CANCEL_PENDING",
         "CANCELED"}
    ),
    # omgw's own code: no routing rule (and no default) gave the line a connector
    "ROUTING_ERROR": frozenset({"AWAIT_SHIP", "AWAIT_RECEIVING", "CANCEL_PENDING", "CANCELED"}),
    "SCHEDULED": frozenset(
        {"AWAIT_SHIP", "AWAIT_RECEIVING", "ROUTING_ERROR", "CANCEL_PENDING", "CANCELED"}
    ),
    "AWAIT_SHIP": frozenset(
        {"SHIPPED", "BACKORDERED", "CANCEL_PENDING", "CHANGE_PENDING", "CANCELED"}
    ),
    "BACKORDERED": frozenset(
        {"AWAIT_SHIP", "SHIPPED", "CANCEL_PENDING", "CHANGE_PENDING", "CANCELED"}
    ),
    "AWAIT_RECEIVING": frozenset({"AWAIT_BILLING", "CANCEL_PENDING", "CHANGE_PENDING", "CANCELED"}),
    "SHIPPED": frozenset({"AWAIT_BILLING", "CLOSED"}),
    "AWAIT_BILLING": frozenset({"BILLED"}),
    "BILLED": frozenset({"CLOSED"}),
    # waiting for the fulfillment system's answer to a cancel request, or (omgw's own
    # code) to a change request; a refusal returns the line to where it was
    "CANCEL_PENDING": frozenset(
        {"CANCELED", "AWAIT_SHIP", "BACKORDERED", "AWAIT_RECEIVING", "SHIPPED"}
    ),
    "CHANGE_PENDING": frozenset({"AWAIT_SHIP", "BACKORDERED", "AWAIT_RECEIVING", "SHIPPED"}),
    "CLOSED": frozenset(),
    "CANCELED": frozenset(),
}  # fmt: skip

HEADER_TRANSITIONS: dict[str, frozenset[str]] = {
    "DOO_DRAFT": frozenset({"OPEN", "CANCELED", "DOO_REFERENCE"}),
    "OPEN": frozenset({"PARTIAL_CLOSE", "CLOSED", "CANCELED", "DOO_REFERENCE"}),
    "PARTIAL_CLOSE": frozenset({"OPEN", "CLOSED", "DOO_REFERENCE"}),
    "CLOSED": frozenset(),
    "CANCELED": frozenset(),
    "DOO_REFERENCE": frozenset(),
}

TERMINAL = frozenset({"CLOSED", "CANCELED"})
OPEN_FOR_SHIPMENT = frozenset({"AWAIT_SHIP", "BACKORDERED"})
#: waiting for a fulfillment system's answer to a change or cancel request
PENDING_CHANGE = frozenset({"CANCEL_PENDING", "CHANGE_PENDING"})
SHIPPED_OR_LATER = frozenset({"SHIPPED", "AWAIT_BILLING", "BILLED", "CLOSED"})

# How far along a status is; the least advanced open line sets an order line's status.
_RANK = {
    s: i
    for i, s in enumerate(
        [
            "ROUTING_ERROR",
            "CREATED",
            "SCHEDULED",
            "CANCEL_PENDING",
            "CHANGE_PENDING",
            "BACKORDERED",
            "AWAIT_RECEIVING",
            "AWAIT_SHIP",
            "SHIPPED",
            "AWAIT_BILLING",
            "BILLED",
            "CLOSED",
        ]
    )
}


def _check(table: dict[str, frozenset[str]], level: str, old: str, new: str) -> None:
    allowed = table.get(old)
    if allowed is None:
        raise StateError("ILLEGAL_TRANSITION", f"unknown {level} status {old!r}")
    if new not in allowed:
        nexts = ", ".join(sorted(allowed)) or "none (final status)"
        raise StateError(
            "ILLEGAL_TRANSITION",
            f"a {level} in status {old} cannot become {new}; allowed next: {nexts}",
        )


def check_fline(old: str, new: str) -> None:
    """Raise :class:`StateError` unless a fulfillment line may go from ``old`` to ``new``."""
    _check(FLINE_TRANSITIONS, "fulfillment line", old, new)


def check_header(old: str, new: str) -> None:
    _check(HEADER_TRANSITIONS, "order header", old, new)


def rollup_line(fline_statuses: Iterable[str]) -> str:
    """An order line's status from its fulfillment lines' statuses."""
    statuses = list(fline_statuses)
    if not statuses:
        return "CREATED"
    if all(s == "CANCELED" for s in statuses):
        return "CANCELED"
    live = [s for s in statuses if s != "CANCELED"]
    if all(s == "CLOSED" for s in live):
        return "CLOSED"
    open_ = [s for s in live if s != "CLOSED"]
    shipped_some = any(s in SHIPPED_OR_LATER for s in live)
    unshipped_some = any(s not in SHIPPED_OR_LATER for s in open_)
    if shipped_some and unshipped_some:
        return "PARTIALLY_SHIPPED"
    return min(open_, key=lambda s: _RANK.get(s, 0))


def rollup_header(current: str, line_statuses: Iterable[str]) -> str:
    """A header's status from its order lines' statuses (``current`` if it is final)."""
    if current in ("DOO_REFERENCE", "DOO_DRAFT") or current in TERMINAL:
        return current
    statuses = list(line_statuses)
    if statuses and all(s == "CANCELED" for s in statuses):
        return "CANCELED"
    if statuses and all(s in TERMINAL for s in statuses):
        return "CLOSED"
    if any(s == "CLOSED" for s in statuses):
        return "PARTIAL_CLOSE"
    return "OPEN"
