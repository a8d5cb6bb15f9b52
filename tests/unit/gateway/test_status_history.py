"""Status history rows: written at commit in one statement, and forgotten, events too,
with the savepoint or transaction that noted them (:mod:`gateway.events.recorder`)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event, select

from gateway.events import recorder
from gateway.orders.intake import OrderIntake
from gateway.orders.message_values import LineInput, OrderInput
from gateway.orders.status_writer import StatusWriter
from gateway.persistence.models import FulfillLine, StatusHistory


class BoomError(Exception):
    pass


@pytest.fixture
def fline_id(domain) -> int:
    order = OrderInput(
        "LEGACY", "H1", "SO-H1", "1", (LineInput("L1", "1", "ITEM", Decimal(1), "Ea"),)
    )
    with domain.sessions() as s, s.begin():
        header = OrderIntake(s).create(order).header
        return header.lines[0].fulfill_lines[0].id


def note(s, fline_id: int, reason: str) -> None:
    """One history row (and one noted change) with ``reason`` as its mark."""
    StatusWriter(s).new_fline(s.get(FulfillLine, fline_id), reason)


def reasons(domain, fline_id: int) -> list[str]:
    with domain.sessions() as s:
        return list(
            s.scalars(
                select(StatusHistory.reason)
                .where(StatusHistory.entity_id == fline_id, StatusHistory.reason.like("t:%"))
                .order_by(StatusHistory.id)
            )
        )


def test_a_rolled_back_savepoint_takes_its_rows_and_changes_with_it(domain, fline_id):
    with domain.sessions() as s, s.begin():
        note(s, fline_id, "t:before")
        with pytest.raises(BoomError), s.begin_nested():
            note(s, fline_id, "t:rolled back")
            raise BoomError
        with s.begin_nested():
            note(s, fline_id, "t:released")
        note(s, fline_id, "t:after")
        # what publish() would see at commit: the rolled-back change is not among them
        noted = [c.history.reason for c in recorder.take(s) if isinstance(c, recorder.StatusChange)]
    assert "t:rolled back" not in noted
    assert reasons(domain, fline_id) == ["t:before", "t:released", "t:after"]


def test_an_inner_savepoint_goes_with_the_outer_one(domain, fline_id):
    with domain.sessions() as s, s.begin():
        note(s, fline_id, "t:kept")
        with pytest.raises(BoomError), s.begin_nested():
            note(s, fline_id, "t:outer")
            with s.begin_nested():
                note(s, fline_id, "t:inner, released")
            raise BoomError  # the released inner savepoint is undone with the outer one
        noted = [c.history.reason for c in recorder.take(s) if isinstance(c, recorder.StatusChange)]
        # the take() above stands in for publish(): put the change back for the commit
        note(s, fline_id, "t:kept again")
    assert noted == ["t:kept"]
    # a release wrote nothing early, so the outer rollback could not undo "t:kept"
    assert reasons(domain, fline_id) == ["t:kept", "t:kept again"]


def test_a_rolled_back_transaction_leaves_nothing_for_the_next(domain, fline_id):
    with domain.sessions() as s:
        with pytest.raises(BoomError), s.begin():
            note(s, fline_id, "t:never")
            raise BoomError
        with s.begin():
            note(s, fline_id, "t:next")
    assert reasons(domain, fline_id) == ["t:next"]


def test_the_rows_of_a_transaction_go_in_one_statement(domain, fline_id):
    statements: list[tuple[str, int]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO status_history"):
            statements.append((statement, len(parameters) if executemany else 1))

    engine = domain.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with domain.sessions() as s, s.begin():
            for i in range(5):
                note(s, fline_id, f"t:{i}")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert [n for _, n in statements] == [5]
    assert reasons(domain, fline_id) == [f"t:{i}" for i in range(5)]
