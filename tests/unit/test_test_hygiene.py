"""The tests' own rules, checked like the code's."""

from __future__ import annotations

from gateway.persistence.models import Base
from tests.common.state import COVERED, NOT_WRITTEN_BY_A_REFUSAL


def test_the_state_snapshot_places_every_table():
    """Every table is read by the snapshot a refusal is checked against, or named as one a
    refusal may write or cannot reach, with the reason."""
    tables = set(Base.metadata.tables)
    assert COVERED.isdisjoint(NOT_WRITTEN_BY_A_REFUSAL)
    assert tables - COVERED - set(NOT_WRITTEN_BY_A_REFUSAL) == set()
    assert (COVERED | set(NOT_WRITTEN_BY_A_REFUSAL)) - tables == set()
