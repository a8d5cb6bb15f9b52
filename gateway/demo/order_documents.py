"""The orders the demo sends through ``createOrders``, as zeep keyword data.

Every order comes from the capture system ``LEGACY`` and is sold to the same customer; the
first batch draws its items and quantities from the run's random generator, so a seed
repeats a run's orders. Building them does no I/O.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

__all__ = ["DEMO_HOLD", "ITEMS", "first_batch", "order", "order_line", "return_line"]

#: the items the first batch draws from: the setup routes AS items to WMS01, others to WMS02
ITEMS = ("AS54888", "AS92888", "CM5008", "CM9100")
#: the hold the first order of the batch carries at intake (the demo releases it)
DEMO_HOLD = "DEMO_REVIEW"


def order(key: str, lines: list[dict[str, Any]], revision: str = "1") -> dict[str, Any]:
    """Order ``key`` (its source id and number) at ``revision``, with ``lines``."""
    return {
        "SourceTransactionIdentifier": key,
        "SourceTransactionSystem": "LEGACY",
        "SourceTransactionNumber": key,
        "SourceTransactionRevision": revision,
        "BuyingPartyName": "Computer Service and Rentals",
        "TransactionalCurrencyCode": "USD",
        "Line": lines,
    }


def order_line(lid: str, item: str, qty: int, **extra: Any) -> dict[str, Any]:
    """Line ``lid`` (``L<number>``): ``qty`` each of ``item``, and any ``extra`` fields."""
    return {
        "SourceTransactionLineIdentifier": lid,
        "SourceTransactionLineNumber": lid[1:],
        "ProductNumber": item,
        "OrderedQuantity": {"_value_1": Decimal(qty), "unitCode": "Ea"},
        "OrderedUOMCode": "Ea",
        **extra,
    }


def return_line(lid: str, item: str, qty: int, sold: str, sold_line: str) -> dict[str, Any]:
    """A return line: ``qty`` of line ``sold_line`` of order ``sold`` come back."""
    return order_line(
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


def first_batch(count: int, run: str, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` orders ``DEMO-<run>-0001``…, of 1 to 3 lines each; the first one held."""
    out: list[dict[str, Any]] = []
    for i in range(1, count + 1):
        lines = [
            order_line(f"L{n}", rng.choice(ITEMS), rng.randint(1, 5))
            for n in range(1, rng.randint(1, 3) + 1)
        ]
        out.append(order(f"DEMO-{run}-{i:04d}", lines))
    out[0]["Hold"] = [{"HoldCode": DEMO_HOLD, "HoldComments": "held by the demo, released soon"}]
    return out
