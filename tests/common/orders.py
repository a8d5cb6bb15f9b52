"""Builders for order and response payloads (zeep dicts)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def order(
    key: str,
    lines: list[tuple[str, str | int]] | None = None,
    revision: str = "1",
    system: str = "LEGACY",
    ship_set: str | None = None,
) -> dict[str, Any]:
    lines = lines or [("AS54888", 10)]
    return {
        "SourceTransactionIdentifier": key,
        "SourceTransactionSystem": system,
        "SourceTransactionNumber": f"SO-{key}",
        "SourceTransactionRevision": revision,
        "BuyingPartyName": "Computer Service and Rentals",
        "BuyingPartyNumber": "1006",
        "TransactionalCurrencyCode": "USD",
        "Line": [
            {
                "SourceTransactionLineIdentifier": f"L{i}",
                "SourceTransactionLineNumber": str(i),
                "ProductNumber": item,
                "OrderedQuantity": {"_value_1": Decimal(str(qty)), "unitCode": "Ea"},
                "OrderedUOMCode": "Ea",
                "ShipSetName": ship_set,
            }
            for i, (item, qty) in enumerate(lines, start=1)
        ],
    }


def response(
    rid: str, lines: list[dict[str, Any]], system: str = "WMS01", task: str = "Shipment"
) -> dict[str, Any]:
    return {
        "responseMessageHeader": {
            "FulfillmentSystem": system,
            "FulfillmentSystemResponseIdentifier": rid,
            "IntegrationContextCode": task,
        },
        "fulfillLineList": lines,
    }


def shipped(
    fline_id: int, qty: int | str | None = None, status: str | None = None
) -> dict[str, Any]:
    line: dict[str, Any] = {"FulfillLineIdentifier": fline_id}
    if qty is not None:
        line["ShippedQuantity"] = {"_value_1": Decimal(str(qty)), "unitCode": "Ea"}
    if status:
        line["StatusCode"] = status
    return line


def first_fline(imports, key: str, qty: int = 10) -> int:
    """Create a one-line order through ``imports`` (a zeep client); its fulfillment line id."""
    created = imports.service.createOrders(request={"Order": [order(key, [("X", qty)])]})
    return fline_ids(created[0])[0]


def fline_ids(result: Any) -> list[int]:
    """The fulfillment line of each line of an ``OrderImportResponse`` (a string there,
    as Oracle documents it)."""
    return [int(ln.FulfillLineId) for ln in result.OrderImportResponseLine]
