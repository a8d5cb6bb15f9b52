"""Applying a source system's value maps to the messages it sends (data cross-reference).

Inbound orders: ``ITEM`` (ProductNumber), ``UOM`` (OrderedUOMCode), ``ORGANIZATION``
(RequestedFulfillmentOrganizationCode) and ``CUSTOMER`` (BuyingPartyNumber). Inbound
fulfillment responses: ``STATUS`` (StatusCode, e.g. ``shipped_complete`` → ``SHIPPED``)
and ``UOM``; there ``ITEM`` lists the substitutes a fulfillment system may ship for an
ordered item (checked, not translated: ``response_decision``, ``ITEM_MISMATCH``). A
domain with entries is strict: a value it lacks is refused with ``XREF_MISSING`` instead
of passing through unmapped.
"""

from __future__ import annotations

from dataclasses import replace

from connectors.connector_specs import ValueMaps
from gateway.errors import ValidationError
from gateway.orders.message_values import LineInput, OrderInput

__all__ = ["map_order", "translate"]


def translate(
    maps: ValueMaps, domain: str, value: str | None, system: str, where: str
) -> str | None:
    """``value`` in our terms; ``None`` stays ``None``."""
    if value is None or not maps:
        return value
    mapped = maps.inbound(domain, value.strip())
    if mapped is None:
        raise ValidationError(
            "XREF_MISSING",
            f"{domain} value {value!r} on {where} has no cross-reference for {system}; add one "
            f"with 'omgw xref add {system} {domain} {value.strip()} <internal value>'",
        )
    return mapped


def map_order(order: OrderInput, maps: ValueMaps, system: str) -> OrderInput:
    """``order`` with its external values replaced by ours."""
    if not maps:
        return order

    def line(index: int, li: LineInput) -> LineInput:
        where = f"line {index} of order {order.source_order_id}"
        return replace(
            li,
            product_number=translate(maps, "ITEM", li.product_number, system, where),
            uom_code=translate(maps, "UOM", li.uom_code, system, where),
            requested_fulfillment_org=translate(
                maps, "ORGANIZATION", li.requested_fulfillment_org, system, where
            ),
        )

    return replace(
        order,
        buying_party_number=translate(
            maps, "CUSTOMER", order.buying_party_number, system, f"order {order.source_order_id}"
        ),
        lines=tuple(line(i, li) for i, li in enumerate(order.lines, start=1)),
    )
