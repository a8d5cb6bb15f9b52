"""What a revision changes on each line: the pure decision, case by case."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from gateway.errors import StateError, ValidationError
from gateway.orders.changes import CurrentFline, CurrentLine, FlineChange, plan_revision
from gateway.orders.message_values import LineInput, OrderInput

D = Decimal


def held(*flines: tuple[int, int, str, bool], **kw: Any) -> CurrentLine:
    fl = tuple(CurrentFline(i, D(q), status, requested) for i, q, status, requested in flines)
    return CurrentLine(
        id=1,
        source_line_id="L1",
        product_number="AS54888",
        uom_code="Ea",
        requested_ship_date=kw.get("date"),
        ship_to=kw.get("site"),
        flines=fl,
    )


def revision(qty: int, item: str = "AS54888", header: dict[str, Any] | None = None,
             **attributes: Any) -> OrderInput:  # fmt: skip
    date = attributes.pop("date", None)
    line = LineInput("L1", "1", item, D(qty), "Ea", requested_ship_date=date,
                     attributes=attributes)  # fmt: skip
    return OrderInput("LEGACY", "K", "SO-K", "2", (line,), attributes=header or {})


def changes(line: CurrentLine, order: OrderInput) -> list[FlineChange]:
    plan = plan_revision([line], order)
    return [c for change in plan.changes for c in change.flines]


def test_the_same_line_changes_nothing() -> None:
    assert plan_revision([held((7, 5, "AWAIT_SHIP", True))], revision(5)).changes == []


def test_a_decrease_of_a_held_line_is_an_update_it_must_agree_to() -> None:
    line = held((7, 5, "AWAIT_SHIP", True))
    assert changes(line, revision(3)) == [FlineChange("UPDATE", 7, D(3), True)]


def test_a_line_no_system_holds_changes_at_once() -> None:
    line = held((7, 5, "SCHEDULED", False))
    assert changes(line, revision(3)) == [FlineChange("UPDATE", 7, D(3), False)]


def test_zero_cancels_with_a_reason_from_the_line_or_the_order() -> None:
    line = held((7, 5, "AWAIT_SHIP", True))
    assert changes(line, revision(0, CancelReasonCode="X")) == [
        FlineChange("CANCEL", 7, None, True)
    ]
    with pytest.raises(ValidationError) as exc:
        plan_revision([line], revision(0))
    assert exc.value.code == "MISSING_KEY"


def test_a_decrease_comes_off_the_newest_open_lines_first() -> None:
    # 2 shipped (7), then two open parts: 3 (8) and 4 (9)
    line = held((7, 2, "AWAIT_BILLING", False), (8, 3, "AWAIT_SHIP", True),
                (9, 4, "BACKORDERED", True))  # fmt: skip
    assert changes(line, revision(4)) == [
        FlineChange("CANCEL", 9, None, True),
        FlineChange("UPDATE", 8, D(2), True),
    ]


def test_the_shipped_quantity_cancels_the_rest_and_less_is_refused() -> None:
    line = held((7, 2, "AWAIT_BILLING", False), (8, 3, "BACKORDERED", True))
    assert changes(line, revision(2)) == [FlineChange("CANCEL", 8, None, True)]
    with pytest.raises(StateError) as exc:
        plan_revision([line], revision(1))
    assert exc.value.code == "QUANTITY_BELOW_SHIPPED"


def test_more_goes_to_the_newest_open_line_or_a_new_one() -> None:
    open_ = held((7, 2, "AWAIT_SHIP", True))
    assert changes(open_, revision(5)) == [FlineChange("UPDATE", 7, D(5), True)]
    done = held((7, 2, "CLOSED", False))
    assert changes(done, revision(5)) == [FlineChange("ADD", None, D(3))]


def test_a_new_date_updates_every_open_line_at_its_quantity() -> None:
    when = datetime(2031, 2, 3, tzinfo=UTC)
    line = held((7, 2, "AWAIT_BILLING", False), (8, 3, "AWAIT_SHIP", True))
    plan = plan_revision([line], revision(5, date=when))
    (change,) = plan.changes
    assert change.values["requested_ship_date"] == when
    assert change.flines == [FlineChange("UPDATE", 8, D(3), True)]


def test_a_new_ship_to_site_updates_the_open_lines() -> None:
    line = held((8, 3, "AWAIT_SHIP", True), site="1001")
    assert changes(line, revision(3, ShipToPartySiteIdentifier="2002")) == [
        FlineChange("UPDATE", 8, D(3), True)
    ]


@pytest.mark.parametrize(
    ("order", "code"),
    [
        (revision(5, item="OTHER"), "LINE_CHANGE_NOT_ALLOWED"),
        (revision(4), "CHANGE_IN_PROGRESS"),
    ],
)
def test_refusals(order: OrderInput, code: str) -> None:
    line = held((7, 5, "CHANGE_PENDING", True))
    with pytest.raises(StateError) as exc:
        plan_revision([line], order)
    assert exc.value.code == code


def test_a_pending_line_the_revision_leaves_as_it_is_is_no_change() -> None:
    line = held((7, 5, "CANCEL_PENDING", True))
    assert plan_revision([line], revision(5)).changes == []


def test_the_header_cancels_every_line_unless_something_shipped() -> None:
    line = held((7, 5, "AWAIT_SHIP", True), (8, 1, "CANCELED", False))
    plan = plan_revision([line], revision(5, header={"CancelReasonCode": "X"}))
    assert plan.cancel_order and [c for ch in plan.changes for c in ch.flines] == [
        FlineChange("CANCEL", 7, None, True)
    ]
    shipped = held((7, 5, "SHIPPED", False))
    with pytest.raises(StateError) as exc:
        plan_revision([shipped], revision(5, header={"CancelReason": "gone"}))
    assert exc.value.code == "ORDER_PARTLY_SHIPPED"


def test_a_new_line_in_a_revision_is_added_and_zero_is_refused() -> None:
    order = OrderInput("LEGACY", "K", "SO-K", "2", (LineInput("L2", "2", "AS1", D(2), "Ea"),))
    assert [li.source_line_id for li in plan_revision([], order).added] == ["L2"]
    zero = OrderInput("LEGACY", "K", "SO-K", "2", (LineInput("L2", "2", "AS1", D(0), "Ea"),))
    with pytest.raises(ValidationError):
        plan_revision([], zero)
