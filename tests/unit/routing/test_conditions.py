"""The routing condition language: every operator, precedence, typed values, and errors
that say where and what was expected."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from routing.condition_compiler import compile_condition
from routing.condition_syntax import And, Compare, IsNull, Not, Or, attributes, parse
from routing.routing_errors import ConditionError

SCHEMA = {
    "Item": "string",
    "TaskType": "string",
    "ShipToCountry": "string",
    "ShipSetName": "string",
    "OrderedQuantity": "number",
    "RequestedShipDate": "date",
}
LINE = {
    "Item": "CM5008",
    "TaskType": "Invoice",
    "ShipToCountry": "US",
    "ShipSetName": None,
    "OrderedQuantity": Decimal(12),
    "RequestedShipDate": date(2026, 12, 1),
}


def holds(text: str, values: dict[str, object] = LINE) -> bool:
    return compile_condition(parse(text), SCHEMA)(values)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('Item = "CM5008"', True),
        ('Item != "CM5008"', False),
        ('Item < "CM6"', True),
        ('Item <= "CM5008"', True),
        ('Item > "CM5008"', False),
        ('Item >= "CM5008"', True),
        ('Item in ("AS1", "CM5008")', True),
        ('Item not in ("AS1", "CM5008")', False),
        ('Item contains "50"', True),
        ('Item starts with "CM"', True),
        ('Item starts with "AS"', False),
        ("ShipSetName is null", True),
        ("ShipSetName is not null", False),
        ("Item is not null", True),
        ("OrderedQuantity >= 10", True),
        ("OrderedQuantity < 12.5", True),
        ("OrderedQuantity in (1, 12)", True),
        ('RequestedShipDate < "2027-01-01"', True),
        ('RequestedShipDate = "2026-12-01"', True),
        ('Item = "CM5008" and TaskType = "Invoice"', True),
        ('Item = "X" or TaskType = "Invoice"', True),
        ('not Item = "X"', True),
        ('ITEM_IS_CASE_SENSITIVE_KEYWORDS_ARE_NOT = "x" or Item = "CM5008"', None),
    ],
)
def test_every_operator(text, expected):
    if expected is None:
        with pytest.raises(ConditionError, match="unknown attribute"):
            holds(text)
    else:
        assert holds(text) is expected


def test_and_binds_tighter_than_or_and_parentheses_override():
    # a or b and c  ==  a or (b and c)
    assert parse('Item = "a" or Item = "b" and TaskType = "c"') == Or(
        (
            Compare("Item", "=", "a", 1, 1),
            And((Compare("Item", "=", "b", 1, 15), Compare("TaskType", "=", "c", 1, 30))),
        )
    )
    assert holds('Item = "CM5008" or Item = "X" and TaskType = "Nope"') is True
    assert holds('(Item = "CM5008" or Item = "X") and TaskType = "Nope"') is False
    assert parse("not not Item is null") == Not(Not(IsNull("Item", False, 1, 9)))
    assert holds('NOT (Item = "X" OR ShipSetName IS NOT NULL) AND TaskType = "Invoice"') is True


def test_a_missing_value_matches_no_comparison():
    assert holds('ShipSetName != "A"') is False  # like SQL: null is not "different"
    assert holds('ShipSetName not in ("A")') is False
    assert holds("OrderedQuantity > 1", {}) is False


def test_strings_escape_quotes_and_backslashes():
    assert holds(r'Item = "say \"hi\" \\ bye"', {"Item": 'say "hi" \\ bye'}) is True


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("", 1, 1, "empty"),
        ("Item = ", 1, 8, "expected a value"),
        ('Item "CM5008"', 1, 6, "expected an operator"),
        ('Item = "CM5008" TaskType = "x"', 1, 17, "expected 'and', 'or' or the end"),
        ('(Item = "a"', 1, 12, "expected ')'"),
        ('Item in "a"', 1, 9, "expected '(' and a list"),
        ('Item in ("a" "b")', 1, 14, "expected ',' or ')'"),
        ('Item starts "a"', 1, 13, "expected 'with'"),
        ("Item is nothing", 1, 9, "expected 'null'"),
        ('Item = "a" and\n  and Item = "b"', 2, 3, "expected an attribute name"),
        ('Item = "open', 1, 8, "string is not closed"),
        ('Item = "a" & TaskType = "b"', 1, 12, "unexpected '&"),
    ],
)
def test_syntax_errors_name_line_column_and_what_was_expected(text, line, column, message):
    with pytest.raises(ConditionError) as exc:
        parse(text)
    assert (exc.value.line, exc.value.column) == (line, column)
    assert message in exc.value.message


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ('Colour = "red"', "unknown attribute 'Colour'", 1),
        ('OrderedQuantity = "ten"', 'is a number; "ten" is not one', 1),
        ("Item = 5008", 'is a string; quote the value: "5008"', 1),
        # NaN and infinities would break the engine's ordering and hashing
        ('OrderedQuantity = "NaN"', 'is a number; "NaN" is not one', 1),
        ('OrderedQuantity < "sNaN"', 'is a number; "sNaN" is not one', 1),
        ('OrderedQuantity > "Infinity"', 'is a number; "Infinity" is not one', 1),
        # dates are written one way only
        ("RequestedShipDate = 20270101", 'write it as "YYYY-MM-DD", not 20270101', 1),
        ('RequestedShipDate = "20270101"', 'write it as "YYYY-MM-DD"', 1),
        ('RequestedShipDate < "next week"', 'write it as "YYYY-MM-DD"', 1),
        ('OrderedQuantity contains "1"', "applies to strings only", 1),
        ('Item = "a" and\nColour = "x"', "unknown attribute", 1),
    ],
)
def test_schema_errors_are_found_when_compiling_not_when_routing(text, message, column):
    node = parse(text)  # it parses
    with pytest.raises(ConditionError) as exc:
        compile_condition(node, SCHEMA)
    assert message in exc.value.message and exc.value.column == column


def test_attributes_lists_what_a_condition_reads():
    node = parse('Item = "a" and not (TaskType in ("x") or ShipSetName is null)')
    assert list(attributes(node)) == ["Item", "TaskType", "ShipSetName"]


def test_nesting_is_limited_with_a_positioned_error():
    deep = "(" * 40 + 'Item = "x"' + ")" * 40
    with pytest.raises(ConditionError) as exc:
        parse(deep)
    assert (exc.value.line, exc.value.column) == (1, 33)
    assert exc.value.message == "nested more than 32 deep; simplify the condition"
    with pytest.raises(ConditionError, match="nested more than 32"):
        parse("not " * 600 + 'Item = "x"')
    fine = "(" * 32 + 'Item = "x"' + ")" * 32
    assert holds(fine) is False
