"""Routing decisions per second: the indexed engine beside a naive linear evaluator.

Both run in this process on the same compiled version and the same lines, so the
ratio is what to track. The rule sets grow the way real ones do: most rules pick an
item, a customer or a warehouse (with a task type or a quantity on the side), a few
pick a product family by prefix or say ``or``; up to five company-wide policies
(ranges; one in the 10-rule set) cannot be indexed at all; some rules have activation windows, some are inactive. Vocabularies grow with the rule count (a 10,000-rule set names more items
than a 10-rule one). Lines draw from the same vocabularies plus values no rule names.
Every decision of the indexed engine is checked against the naive one first.

    python bench/routing.py [--rounds 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from routing.engine import Engine, compile_rule_set
from routing.rule_attributes import typed_values
from routing.rule_set import Rule, RuleSet

SIZES = (10, 1000, 10000)
TASK_TYPES = ("Shipment", "Invoice", "Return", "Pick_From_Ravi")
CURRENCIES = ("USD", "CAD", "MXN", "EUR", "GBP", "JPY")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def rule_set(size: int, seed: int = 7) -> RuleSet:
    rnd = random.Random(seed)
    items, parties, orgs = max(4, size), max(3, size // 8), max(2, size // 40)
    rules = []
    policies = max(1, min(5, size // 100))
    for n in range(size):
        kind = rnd.random()
        task = rnd.choice(TASK_TYPES)
        if n < policies:  # a few company-wide policies that no index can help with
            condition = f'OrderedQuantity > {900 + n * 10} or ShipSetName = "BULK{n}" and TaskType = "{task}"'
        elif kind < 0.55:
            condition = f'Item = "IT{rnd.randrange(items)}" and TaskType = "{task}"'
        elif kind < 0.75:
            a, b = rnd.randrange(parties), rnd.randrange(parties)
            condition = (
                f'BuyingPartyNumber in ("C{a}", "C{b}") and OrderedQuantity >= {rnd.randint(1, 50)}'
            )
        elif kind < 0.95:
            currency = rnd.choice(CURRENCIES)
            condition = (
                f'RequestedFulfillmentOrganizationCode = "ORG{rnd.randrange(orgs)}"'
                f' and TransactionalCurrencyCode = "{currency}" and not ShipSetName is null'
            )
        elif kind < 0.98:  # a product family: the first four characters of its items
            condition = f'Item starts with "IT{rnd.randrange(10, 100)}" and TaskType = "{task}"'
        else:  # one of two things
            condition = (
                f'BuyingPartyNumber = "C{rnd.randrange(parties)}"'
                f' or Item in ("IT{rnd.randrange(items)}", "IT{rnd.randrange(items)}")'
            )
        window: dict[str, Any] = {}
        if rnd.random() < 0.1:
            window["active_from"] = NOW - timedelta(days=rnd.randint(-5, 5))
        if rnd.random() < 0.1:
            window["active_until"] = NOW + timedelta(days=rnd.randint(-5, 5))
            if window.get("active_from") and window["active_from"] >= window["active_until"]:
                del window["active_from"]
        rules.append(
            Rule(
                rule_id=f"R{n:05d}",
                condition=condition,
                connector=f"CONN{rnd.randrange(20)}",
                priority=rnd.randint(0, 9),
                active=rnd.random() > 0.05,
                **window,
            )
        )
    return RuleSet(tuple(rules), {"Shipment": "DEFAULT_SHIP"})


def _skewed(rnd: random.Random, count: int, uniform: bool) -> int:
    """An index below ``count``: Zipf-like (s = 1.1) unless ``uniform``."""
    if uniform:
        return rnd.randrange(count)
    weights = _ZIPF.get(count)
    if weights is None:
        total, weights = 0.0, []
        for rank in range(1, count + 1):
            total += 1 / rank**1.1
            weights.append(total)
        _ZIPF[count] = weights
    return rnd.choices(range(count), cum_weights=weights)[0]


_ZIPF: dict[int, list[float]] = {}


def lines(size: int, count: int, seed: int = 11, uniform: bool = False) -> list[dict[str, Any]]:
    """Lines over the rule set's vocabularies and a quarter more values no rule names.
    Order traffic is skewed (a few items, customers and warehouses carry most lines),
    so those are drawn Zipf-like; ``uniform`` draws every value alike (cold caches)."""
    rnd = random.Random(seed)
    items, parties, orgs = max(4, size), max(3, size // 8), max(2, size // 40)
    shuffled = {n: rnd.sample(range(n), n) for n in (items + items // 4, parties + 2, orgs + 1)}

    def pick(n: int) -> int:  # popular values are not just the lowest numbers
        return shuffled[n][_skewed(rnd, n, uniform)]

    return [
        typed_values(
            {
                "Item": f"IT{pick(items + items // 4)}",
                "TaskType": rnd.choice(TASK_TYPES),
                "BuyingPartyNumber": f"C{pick(parties + 2)}",
                "OrderedQuantity": rnd.randint(1, 1000),
                "RequestedFulfillmentOrganizationCode": f"ORG{pick(orgs + 1)}",
                "TransactionalCurrencyCode": rnd.choice(CURRENCIES),
                "ShipSetName": rnd.choice((None, "SS1")),
                "SourceTransactionSystem": "LEGACY",
            }
        )
        for _ in range(count)
    ]


def rate(decide: Any, batch: list[dict[str, Any]], budget: float = 0.2) -> float:
    """Decisions per second over whole passes of ``batch`` for about ``budget`` seconds."""
    done, started = 0, time.perf_counter()
    while True:
        for values in batch:
            decide(values, NOW)
        done += len(batch)
        elapsed = time.perf_counter() - started
        if elapsed >= budget:
            return done / elapsed


def measure(rounds: int) -> dict[str, dict[str, float]]:
    """Medians over ``rounds``; each round measures every size and both evaluators back
    to back, so a noisy neighbour slows all of them alike."""
    setups = []
    for size in SIZES:
        engine: Engine = compile_rule_set(rule_set(size), version=1)
        batch = lines(size, 2000)
        for values in batch:  # same answers before any timing
            assert engine.decide(values, NOW) == engine.naive(values, NOW), values
        setups.append((str(size), engine, batch, batch if size <= 1000 else batch[:200]))
    samples: dict[str, dict[str, list[float]]] = {"indexed": {}, "naive": {}}
    for _ in range(rounds):
        for key, engine, batch, naive_batch in setups:
            samples["indexed"].setdefault(key, []).append(rate(engine.decide, batch))
            samples["naive"].setdefault(key, []).append(rate(engine.naive, naive_batch))
    figures: dict[str, dict[str, float]] = {
        kind: {key: round(statistics.median(values)) for key, values in by_size.items()}
        for kind, by_size in samples.items()
    }
    for kind, by_size in samples.items():
        figures[f"{kind}_spread"] = {k: round(max(v) - min(v)) for k, v in by_size.items()}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = measure(args.rounds)
    if args.json:
        print(json.dumps(figures))
        return
    indexed, naive = figures["indexed"], figures["naive"]
    print(f"{'rules':>6} {'indexed/s':>12} {'naive/s':>12} {'speed-up':>9}")
    for size in SIZES:
        key = str(size)
        print(f"{size:>6} {indexed[key]:>12,.0f} {naive[key]:>12,.0f} "
              f"{indexed[key] / naive[key]:>8.1f}x")  # fmt: skip
    flat = indexed[str(SIZES[-1])] / indexed[str(SIZES[0])]
    print(f"targets: >= 100,000/s at 1,000 rules: {indexed['1000']:,.0f}/s; "
          f"10,000-rule rate / 10-rule rate >= 0.5: {flat:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
