"""Scaled integers: exact both ways, and never a rounded value (persistence/decimals.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import ValidationError
from gateway.orders.limits import check_quantity
from gateway.persistence.decimals import from_scaled, to_scaled
from gateway.persistence.models import FulfillLine

LARGEST = Decimal("99999999999999.9999")


@given(
    value=st.decimals(min_value=-LARGEST, max_value=LARGEST, places=4),
    zeros=st.integers(min_value=0, max_value=6),
)
def test_every_value_of_the_column_goes_and_comes_back_exactly(value, zeros):
    scaled = to_scaled(value, 18, 4)
    # the same number written another way (1E+1, 10.000000) is the same integer
    assert to_scaled(value.normalize(), 18, 4) == scaled
    assert to_scaled(value.quantize(Decimal(1).scaleb(-4 - zeros)), 18, 4) == scaled
    assert from_scaled(scaled, 4) == value
    assert from_scaled(scaled, 4).as_tuple().exponent == -4


@pytest.mark.parametrize(
    ("value", "scaled"),
    [
        ("99999999999999.9999", 999_999_999_999_999_999),
        ("-99999999999999.9999", -999_999_999_999_999_999),
        ("12345678901234.5678", 123_456_789_012_345_678),
        ("0.0001", 1),
        ("1E+1", 100_000),
        ("1.50000000000000000000000000000000000", 15_000),
        ("0E+30", 0),
        ("-0.0000", 0),
    ],
)
def test_known_values(value, scaled):
    assert to_scaled(Decimal(value), 18, 4) == scaled


@pytest.mark.parametrize(
    "value",
    [
        "0.00001",
        "1.00000000000000000000000000001",
        "100000000000000",
        "-100000000000000",
        "1E+14",
        "1E+1000000",
        "NaN",
        "Infinity",
    ],
)
def test_what_the_column_cannot_hold_is_refused_not_rounded(value):
    with pytest.raises(ValueError):
        to_scaled(Decimal(value), 18, 4)


@pytest.mark.parametrize("value", [1.5, "1.5", True, None])
def test_only_exact_numbers_are_taken(value):
    with pytest.raises(TypeError):
        to_scaled(value, 18, 4)


@pytest.mark.parametrize("stored", [1.5, "15000", None])
def test_a_stored_value_must_be_an_integer(stored):
    with pytest.raises(TypeError):
        from_scaled(stored, 4)


@pytest.mark.parametrize(
    "expression",
    [
        lambda: FulfillLine.quantity * 2,
        lambda: 2 * FulfillLine.quantity,
        lambda: FulfillLine.quantity / FulfillLine.shipped_quantity,
        lambda: FulfillLine.quantity // 2,
        lambda: FulfillLine.quantity % 2,
    ],
)
def test_sql_that_would_scale_twice_is_refused(expression):
    with pytest.raises(NotImplementedError):
        expression()


@pytest.mark.parametrize(
    "qty", ["1.00000000000000000000000000001", "9.999990000000000000000000000000000001"]
)
def test_a_quantity_is_not_rounded_before_its_decimals_are_counted(qty):
    with pytest.raises(ValidationError) as exc:
        check_quantity(Decimal(qty), "OrderedQuantity")
    assert exc.value.code == "QUANTITY_INVALID"


@pytest.mark.parametrize("qty", ["1.0001", "2.50000000000000000000000000000000", "1E+13"])
def test_trailing_zeros_are_not_decimals(qty):
    check_quantity(Decimal(qty), "OrderedQuantity")
