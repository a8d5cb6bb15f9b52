"""Rules and rule sets: every problem found at once, field checks, windows, the JSON
form, and a line's values typed for the attribute schema."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from routing.engine import compile_rule_set
from routing.routing_errors import RuleSetInvalid
from routing.rule_attributes import SCHEMA, typed_values
from routing.rule_set import Rule, RuleSet, check, parse_instant, rule_from_mapping

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_check_reports_every_problem_of_a_rule_set():
    rule_set = RuleSet(
        (
            Rule("A", 'Itme = "X"', "GONE"),
            Rule("B", 'OrderedQuantity = "many"', "OFF"),
            Rule("C", 'Item = "X"', "OFF", active=False),
        ),
        {"Shipment": "OFF", "Nope": "OK"},
    )
    problems = check(rule_set, {"OFF": False, "OK": True}, {"Shipment", "Invoice"})
    assert [str(p) for p in problems] == [
        "rule A, condition: line 1, column 1: unknown attribute 'Itme'; known: "
        + ", ".join(sorted(SCHEMA)),
        "rule A, connector: connector 'GONE' does not exist",
        'rule B, condition: line 1, column 1: OrderedQuantity is a number; "many" is not one',
        "rule B, connector: connector 'OFF' is disabled",
        "rule set, default for Nope: task type 'Nope' does not exist",
        "rule set, default for Shipment: connector 'OFF' is disabled",
    ]
    with pytest.raises(RuleSetInvalid):
        compile_rule_set(rule_set, 1, {"OFF": False, "OK": True})


def test_rule_fields_are_checked_all_at_once():
    with pytest.raises(RuleSetInvalid) as caught:
        rule_from_mapping(
            {
                "id": "bad id!",
                "priority": "high",
                "active": "yes",
                "active_from": "2026-12-01T00:00:00",
                "active_until": "tomorrow",
                "colour": "red",
            }
        )
    fields = [(p.field, p.message.split(";")[0]) for p in caught.value.problems]
    assert [f for f, _ in fields] == [
        "colour",
        "id",
        "condition",
        "connector",
        "priority",
        "active",
        "active_from",
        "active_until",
    ]
    assert "has no time zone" in dict(fields)["active_from"]


def test_a_window_must_end_after_it_starts():
    with pytest.raises(RuleSetInvalid, match="is not after active_from"):
        rule_from_mapping(
            {
                "id": "A",
                "condition": 'Item = "X"',
                "connector": "C",
                "active_from": "2026-12-01T00:00:00Z",
                "active_until": "2026-12-01T00:00:00+00:00",
            }
        )


def test_rule_sets_round_trip_through_json_in_one_canonical_order():
    a = RuleSet((Rule("B", 'Item = "X"', "C", active_from=NOW), Rule("A", "Item is null", "D")))
    b = RuleSet((Rule("A", "Item is null", "D"), Rule("B", 'Item = "X"', "C", active_from=NOW)))
    assert a == b and a.to_json() == b.to_json()
    assert RuleSet.from_json(a.to_json()) == a


def test_typed_values_refuse_unknown_attributes_and_bad_values():
    with pytest.raises(ValueError, match="unknown attribute 'Itme'"):
        typed_values({"Itme": "X"})
    with pytest.raises(ValueError, match="OrderedQuantity is a number"):
        typed_values({"OrderedQuantity": "NaN"})
    assert typed_values({"ProductNumber": "X"})["Item"] == "X"  # Oracle's alias
    assert parse_instant("2026-12-01T00:00:00Z") == datetime(2026, 12, 1, tzinfo=UTC)
