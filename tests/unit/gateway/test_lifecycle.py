from __future__ import annotations

import pytest

from gateway.errors import StateError
from gateway.lifecycle import (
    FLINE_TRANSITIONS,
    check_fline,
    check_header,
    rollup_header,
    rollup_line,
)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("CREATED", "AWAIT_SHIP"),
        ("AWAIT_SHIP", "SHIPPED"),
        ("AWAIT_SHIP", "BACKORDERED"),
        ("BACKORDERED", "SHIPPED"),
        ("SHIPPED", "AWAIT_BILLING"),
        ("AWAIT_BILLING", "BILLED"),
        ("BILLED", "CLOSED"),
        ("AWAIT_SHIP", "CANCEL_PENDING"),
        ("CANCEL_PENDING", "CANCELED"),
    ],
)
def test_legal_fulfillment_line_transitions(old, new):
    check_fline(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("AWAIT_SHIP", "BILLED"),
        ("AWAIT_SHIP", "CLOSED"),
        ("SHIPPED", "AWAIT_SHIP"),
        ("CLOSED", "AWAIT_SHIP"),
        ("CANCELED", "SHIPPED"),
        ("AWAIT_BILLING", "CANCEL_PENDING"),
    ],
)
def test_illegal_fulfillment_line_transitions_are_refused(old, new):
    with pytest.raises(StateError) as exc:
        check_fline(old, new)
    assert exc.value.code == "ILLEGAL_TRANSITION"
    assert old in exc.value.message and new in exc.value.message


def test_every_target_is_a_known_status():
    for targets in FLINE_TRANSITIONS.values():
        assert targets <= set(FLINE_TRANSITIONS)


def test_final_statuses_have_no_way_out():
    for status in ("CLOSED", "CANCELED"):
        with pytest.raises(StateError, match="final status"):
            check_fline(status, "AWAIT_SHIP")
    with pytest.raises(StateError):
        check_header("DOO_REFERENCE", "OPEN")


@pytest.mark.parametrize(
    ("flines", "expected"),
    [
        (["AWAIT_SHIP"], "AWAIT_SHIP"),
        (["AWAIT_BILLING", "AWAIT_SHIP"], "PARTIALLY_SHIPPED"),
        (["CLOSED", "BACKORDERED"], "PARTIALLY_SHIPPED"),
        (["AWAIT_BILLING", "BILLED"], "AWAIT_BILLING"),
        (["CLOSED", "CLOSED"], "CLOSED"),
        (["CLOSED", "CANCELED"], "CLOSED"),
        (["CANCELED"], "CANCELED"),
        (["BACKORDERED", "AWAIT_SHIP"], "BACKORDERED"),
    ],
)
def test_order_line_rolls_up_from_fulfillment_lines(flines, expected):
    assert rollup_line(flines) == expected


@pytest.mark.parametrize(
    ("current", "lines", "expected"),
    [
        ("OPEN", ["AWAIT_SHIP", "AWAIT_BILLING"], "OPEN"),
        ("OPEN", ["CLOSED", "AWAIT_SHIP"], "PARTIAL_CLOSE"),
        ("PARTIAL_CLOSE", ["CLOSED", "CLOSED"], "CLOSED"),
        ("OPEN", ["CANCELED", "CANCELED"], "CANCELED"),
        ("OPEN", ["CLOSED", "CANCELED"], "CLOSED"),
        ("DOO_REFERENCE", ["CLOSED"], "DOO_REFERENCE"),
    ],
)
def test_header_rolls_up_from_lines(current, lines, expected):
    assert rollup_header(current, lines) == expected
