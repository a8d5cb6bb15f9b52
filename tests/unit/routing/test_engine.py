"""Routing semantics: priority, ties, activation windows at their edges, inactive rules,
defaults, no-match reasons, explain, and the indexed engine agreeing with the naive one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.engine import compile_rule_set
from routing.rule_attributes import typed_values
from routing.rule_set import Rule, RuleSet

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LINE = typed_values(
    {
        "Item": "CM5008",
        "TaskType": "Invoice",
        "OrderedQuantity": 12,
        "TransactionalCurrencyCode": "USD",
        "SourceTransactionSystem": "LEGACY",
    }
)


def engine(*rules: Rule, defaults: dict[str, str] | None = None, version: int = 1):
    return compile_rule_set(RuleSet(rules, defaults or {}), version)


def both(e, values=LINE, at=NOW):
    """The decision, after checking the naive evaluator gives the same one."""
    decision = e.decide(values, at)
    assert e.naive(values, at) == decision
    return decision


def test_the_highest_priority_match_wins_whatever_the_order_rules_were_written_in():
    low = Rule("A", 'Item = "CM5008"', "LOW", priority=1)
    high = Rule("B", 'TaskType = "Invoice"', "HIGH", priority=5)
    miss = Rule("C", 'Item = "OTHER"', "MISS", priority=9)
    for order in ((low, high, miss), (miss, high, low)):
        decision = both(engine(*order))
        assert (decision.connector, decision.rule_id, decision.version) == ("HIGH", "B", 1)


def test_equal_priorities_break_by_rule_id():
    rules = [Rule(rid, 'Item = "CM5008"', f"C_{rid}", priority=3) for rid in ("R10", "R09", "R2")]
    assert both(engine(*rules)).rule_id == "R09"  # code-point order: "R09" < "R10" < "R2"


def test_inactive_rules_never_route():
    e = engine(
        Rule("A", 'Item = "CM5008"', "OFF", priority=9, active=False),
        Rule("B", 'Item = "CM5008"', "ON", priority=1),
    )
    assert both(e).connector == "ON"


@pytest.mark.parametrize(
    ("start", "end", "routes"),
    [
        (NOW, None, True),  # the start is inside the window
        (NOW + timedelta(microseconds=1), None, False),
        (None, NOW, False),  # the end is outside
        (None, NOW + timedelta(microseconds=1), True),
        (NOW - timedelta(days=1), NOW + timedelta(days=1), True),
        (None, None, True),
    ],
)
def test_activation_windows_are_half_open(start, end, routes):
    e = engine(
        Rule("A", 'Item = "CM5008"', "WINDOWED", priority=9, active_from=start, active_until=end),
        Rule("B", 'Item = "CM5008"', "ALWAYS", priority=1),
    )
    assert both(e).connector == ("WINDOWED" if routes else "ALWAYS")


def test_windows_compare_instants_across_time_zones():
    paris = timezone(timedelta(hours=1))
    start = datetime(2026, 11, 23, 13, 0, tzinfo=paris)  # 12:00 UTC: NOW itself
    e = engine(Rule("A", 'Item = "CM5008"', "X", active_from=start))
    assert both(e).connector == "X"
    assert both(e, at=NOW - timedelta(seconds=1)).connector is None


def test_no_match_says_why_and_a_task_type_default_catches_it():
    e = engine(Rule("A", 'Item = "OTHER"', "X"), defaults={"Shipment": "SHIP_DEFAULT"})
    miss = both(e)
    assert miss.connector is None and miss.rule is None
    assert miss.reason == (
        "no rule of routing version 1 matches (1 active rule) and task type Invoice has no"
        " default connector"
    )
    shipment = typed_values({"Item": "CM5008", "TaskType": "Shipment"})
    caught = both(e, shipment)
    assert (caught.connector, caught.by_default, caught.rule) == ("SHIP_DEFAULT", True, None)


def test_missing_attributes_make_comparisons_false_and_is_null_true():
    e = engine(
        Rule("A", 'ShipSetName != "X"', "NOT_X", priority=9),
        Rule("B", "ShipSetName is null", "NO_SET", priority=1),
    )
    assert both(e).connector == "NO_SET"


def test_every_kind_of_index_routes_like_the_rule_says():
    e = engine(
        Rule("EQ", 'Item = "CM5008" and TaskType = "Shipment"', "EQ", priority=6),
        Rule(
            "IN",
            'TransactionalCurrencyCode in ("CAD", "MXN") and OrderedQuantity < 100',
            "IN",
            priority=5,
        ),
        Rule("PREFIX", 'Item starts with "CM5" and TaskType = "Invoice"', "PREFIX", priority=4),
        Rule("RANGE", "OrderedQuantity >= 500", "RANGE", priority=3),
        Rule("OR", 'BuyingPartyNumber = "C1" or Item = "AS1"', "OR", priority=2),
        Rule("SCAN", 'not Item contains "Z"', "SCAN", priority=1),
    )
    assert sorted(e.stats["indexes"]) == [
        "BuyingPartyNumber",  # each branch of OR is filed
        "Item",
        "Item + TaskType",  # a composite key
        "OrderedQuantity >= (range)",
        "TaskType",  # PREFIX: TaskType spreads wider than the one prefix
        "TransactionalCurrencyCode",
    ]
    assert e.stats["unindexed"] == 1  # only SCAN is tried for every line
    prefixed = engine(
        Rule("P1", 'Item starts with "CM5" and TaskType = "Invoice"', "P1"),
        Rule("P2", 'Item starts with "AS" and TaskType = "Invoice"', "P2"),
    )
    assert prefixed.stats["indexes"] == ["Item (prefix) + TaskType"]
    assert both(prefixed, typed_values({"Item": "AS54", "TaskType": "Invoice"})).rule_id == "P2"
    assert both(prefixed, typed_values({"Item": "AS54", "TaskType": "Return"})).rule is None
    cases = [
        ({"Item": "CM5008", "TaskType": "Shipment"}, "EQ"),
        ({"Item": "CM5008", "TransactionalCurrencyCode": "MXN", "OrderedQuantity": 3}, "IN"),
        ({"Item": "CM5008", "TaskType": "Invoice"}, "PREFIX"),
        ({"Item": "CM4", "OrderedQuantity": 500}, "RANGE"),
        ({"Item": "CM4", "OrderedQuantity": 499.9}, "SCAN"),
        ({"Item": "AS1"}, "OR"),
        ({"Item": "ZZ", "BuyingPartyNumber": "C1"}, "OR"),
        ({"Item": "ZZ"}, None),
    ]
    for raw, expected in cases:
        assert both(e, typed_values(raw)).connector == expected, raw


def test_explain_lists_every_rule_with_its_outcome_and_the_failing_part():
    e = engine(
        Rule("A", 'Item = "CM5008" and TransactionalCurrencyCode = "CAD"', "X", priority=9),
        Rule("B", 'TaskType = "Invoice"', "WIN", priority=5),
        Rule("C", 'Item = "CM5008"', "LOSER", priority=4),
        Rule("D", 'Item = "CM5008"', "OFF", priority=8, active=False),
        Rule("E", 'Item = "CM5008"', "LATER", priority=7, active_from=NOW + timedelta(days=1)),
        Rule("F", 'Item = "CM5008"', "GONE", priority=6, active_until=NOW),
    )
    explanation = e.explain(LINE, NOW)
    got = [(v.rule.rule_id, v.outcome, v.detail) for v in explanation.verdicts]
    assert got == [
        (
            "A",
            "no match",
            "TransactionalCurrencyCode = \"CAD\" is false (TransactionalCurrencyCode is 'USD')",
        ),
        ("D", "inactive", "the rule is not active"),
        ("E", "not yet active", "active from 2026-11-24T12:00:00+00:00"),
        ("F", "expired", "active until 2026-11-23T12:00:00+00:00"),
        ("B", "winner", "routes to WIN"),
        ("C", "matches", "matches, but B ranks higher"),
    ]
    assert explanation.decision.rule_id == "B"


# -- the indexed engine and the naive evaluator always agree ---------------------------

ITEMS = ("A1", "A2", "AB3", "B1", "")
TASKS = ("Shipment", "Invoice", "Return")
COUNTRIES = ("USD", "CAD")
_atom = st.one_of(
    st.builds(lambda v: f'Item = "{v}"', st.sampled_from(ITEMS)),
    st.builds(lambda v: f'TaskType = "{v}"', st.sampled_from(TASKS)),
    st.builds(
        lambda vs: "TransactionalCurrencyCode in ({})".format(", ".join(f'"{v}"' for v in vs)),
        st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=2),
    ),
    st.builds(lambda v: f'Item starts with "{v}"', st.sampled_from(("A", "AB", "B"))),
    st.builds(
        lambda op, n: f"OrderedQuantity {op} {n}",
        st.sampled_from(("<", "<=", ">", ">=", "=", "!=")),
        st.integers(0, 6),
    ),
    st.just("ShipSetName is null"),
    st.just("ShipSetName is not null"),
    st.builds(lambda v: f'Item not in ("{v}")', st.sampled_from(ITEMS)),
)
_conjunction = st.lists(_atom, min_size=1, max_size=3).map(" and ".join)
_condition = st.one_of(
    _conjunction,
    st.lists(_conjunction, min_size=2, max_size=3).map(
        lambda cs: " or ".join(f"({c})" for c in cs)
    ),
    _conjunction.map(lambda c: f"not ({c})"),
)
_instant = st.one_of(st.none(), st.integers(-3, 3).map(lambda h: NOW + timedelta(hours=h)))


@st.composite
def _rules(draw: st.DrawFn) -> tuple[Rule, ...]:
    count = draw(st.integers(0, 12))
    rules = []
    for n in range(count):
        start, end = draw(_instant), draw(_instant)
        if start is not None and end is not None and start >= end:
            end = None
        rules.append(
            Rule(
                f"R{n}",
                draw(_condition),
                f"C{n}",
                priority=draw(st.integers(0, 3)),
                active=draw(st.booleans()),
                active_from=start,
                active_until=end,
            )
        )
    return tuple(rules)


_line = st.fixed_dictionaries(
    {},
    optional={
        "Item": st.sampled_from((*ITEMS, "A", "ABC", "Z")),
        "TaskType": st.sampled_from(TASKS),
        "TransactionalCurrencyCode": st.sampled_from((*COUNTRIES, "EUR")),
        "OrderedQuantity": st.integers(0, 7),
        "ShipSetName": st.sampled_from(("S1", None)),
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_rules(), st.lists(_line, min_size=1, max_size=8), st.integers(-4, 4))
def test_the_indexed_engine_chooses_what_the_naive_evaluator_chooses(rules, lines, hours):
    e = compile_rule_set(RuleSet(rules, {"Shipment": "DEFAULT"}), 3)
    at = NOW + timedelta(hours=hours)
    for raw in lines:
        values = typed_values(raw)
        indexed, naive = e.decide(values, at), e.naive(values, at)
        assert indexed == naive
        expected = [
            r
            for r in sorted(rules, key=lambda r: (-r.priority, r.rule_id))
            if r.active and r.in_window(at) and _holds(r, values)
        ]
        assert indexed.rule == (expected[0] if expected else None)


def _holds(rule: Rule, values: dict[str, object]) -> bool:
    from routing.condition_compiler import compile_condition
    from routing.condition_syntax import parse
    from routing.rule_attributes import SCHEMA

    return compile_condition(parse(rule.condition), SCHEMA)(values)


def test_a_later_range_match_never_displaces_a_better_ranked_one():
    # found by fuzzing: with a range index probed first, B overwrote A
    e = engine(
        Rule("A", "OrderedQuantity > 1", "A", priority=5),
        Rule("B", "OrderedQuantity > 2", "B", priority=1),
        Rule("C", "OrderedQuantity <= 9", "C", priority=3),
    )
    assert both(e, typed_values({"OrderedQuantity": 5})).rule_id == "A"
    assert both(e, typed_values({"OrderedQuantity": 1})).rule_id == "C"
    assert both(e, typed_values({"OrderedQuantity": 10})).rule_id == "A"


_range_or_prefix = st.one_of(
    st.builds(
        lambda op, n: f"OrderedQuantity {op} {n}",
        st.sampled_from(("<", "<=", ">", ">=")),
        st.integers(0, 6),
    ),
    st.builds(lambda v: f'Item starts with "{v}"', st.sampled_from(("A", "AB", "B", "ABC"))),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(_range_or_prefix, min_size=1, max_size=2), st.integers(0, 3)),
        max_size=10,
    ),
    st.lists(_line, min_size=1, max_size=8),
)
def test_range_and_prefix_only_rule_sets_agree_with_the_naive_evaluator(specs, lines):
    rules = [
        Rule(f"R{n}", " and ".join(atoms), f"C{n}", priority=priority)
        for n, (atoms, priority) in enumerate(specs)
    ]
    e = compile_rule_set(RuleSet(tuple(rules)), 1)
    for raw in lines:
        values = typed_values(raw)
        assert e.decide(values, NOW) == e.naive(values, NOW)
