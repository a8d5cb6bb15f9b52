"""How many orders and lines a request carries, counted on the parsed body before it is
normalised or validated (both cost in proportion to what they read, and the schema's
error reports more than that).

Each operation that carries orders or lines says where they are: the elements are
counted by their exact names, as the published schema has them; an element in another
namespace is not counted here, and ``soap.normalize`` refuses it by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from gateway import namespaces as ns
from gateway.orders.limits import (
    SizeLimits,
    check_line_counts,
    check_order_count,
    check_request_lines,
)

__all__ = ["check_size"]

# The operation's own children are in its types namespace, theirs in the data namespace.
_IMPORT_TYPES = "{%s}" % ns.ORDER_IMPORT_TYPES
_IMPORT = "{%s}" % ns.ORDER_IMPORT
_OIS_TYPES = "{%s}" % ns.OIS_TYPES
_OFRS_TYPES = "{%s}" % ns.OFRS_TYPES


@dataclass(frozen=True)
class _Where:
    #: the path from the operation element to each order; empty: no orders
    orders: tuple[str, ...] = ()
    #: the tag of each line, under an order, or under the operation element
    lines: str | None = None


_ORDERS_AND_LINES = _Where((_IMPORT_TYPES + "request", _IMPORT + "Order"), _IMPORT + "Line")
_RESPONSE_LINES = _Where((), _OFRS_TYPES + "fulfillLineList")
_WHERE = {
    "createOrders": _ORDERS_AND_LINES,
    "stageOrders": _ORDERS_AND_LINES,
    "GetOrderDetails": _Where((_OIS_TYPES + "Order",)),
    "processFulfillmentResponse": _RESPONSE_LINES,
    "stageFulfillmentResponse": _RESPONSE_LINES,
}


def _children(parents: list[etree._Element], tag: str) -> list[etree._Element]:
    return [child for parent in parents for child in parent.iterchildren(tag)]


def check_size(operation: str, body: etree._Element, limits: SizeLimits) -> None:
    """Refuse ``body`` (the operation element) if it carries more orders or lines than
    ``limits`` allow; an operation without orders or lines passes."""
    where = _WHERE.get(operation)
    if where is None:
        return
    if not where.orders:
        if where.lines is not None:
            check_request_lines(_count(body, where.lines), limits)
        return
    orders = [body]
    for tag in where.orders:
        orders = _children(orders, tag)
    check_order_count(len(orders), limits)
    if where.lines is not None:
        lines = where.lines
        check_line_counts([_count(order, lines) for order in orders], limits)


def _count(parent: etree._Element, tag: str) -> int:
    return sum(1 for _ in parent.iterchildren(tag))
