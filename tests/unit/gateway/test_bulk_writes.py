"""``persistence.bulk.write_changes``: the lines' changes without the unit of work."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import ForeignKey, String, create_engine, event, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from gateway.persistence.bulk import write_changes

_STAMP = datetime(2030, 1, 2, 3, 4, 5)


class _Base(DeclarativeBase):
    pass


class Box(_Base):
    __tablename__ = "boxes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


class Item(_Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(20))
    box_id: Mapped[int | None] = mapped_column(ForeignKey("boxes.id"))
    updated_at: Mapped[datetime] = mapped_column(
        default=datetime(2000, 1, 1), onupdate=lambda: _STAMP
    )
    box: Mapped[Box | None] = relationship()


@pytest.fixture
def session(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    _Base.metadata.create_all(engine)
    with Session(engine) as s, s.begin():
        s.add_all([Box(id=1, name="a")] + [Item(id=i, status="NEW") for i in range(1, 7)])
    statements: list[tuple[str, bool]] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, _p, _ctx, many: statements.append((sql.split()[0], many)),
    )
    with Session(engine) as s:
        s.info["statements"] = statements
        yield s
    engine.dispose()


def _rows(s: Session) -> dict[int, tuple[str, str | None, str]]:
    with s.get_bind().connect() as c:  # another connection: only what was committed
        return {
            r.id: (r.status, r.note, str(r.updated_at))
            for r in c.execute(text("select id, status, note, updated_at from items"))
        }


def test_changes_are_written_per_column_set_and_the_objects_are_clean(session):
    items = session.scalars(select(Item).order_by(Item.id)).all()
    for item in items[:4]:
        item.status = "SHIPPED"
    for item in items[4:]:
        item.status, item.note = "BILLED", "n"
    session.info["statements"].clear()

    assert write_changes(session, Item) == 6
    assert session.info["statements"] == [("UPDATE", True), ("UPDATE", True)]
    assert not session.dirty  # nothing left for the flush
    session.info["statements"].clear()
    session.commit()
    assert session.info["statements"] == []  # the commit's flush had nothing to write
    rows = _rows(session)
    assert [rows[i][:2] for i in range(1, 7)] == [("SHIPPED", None)] * 4 + [("BILLED", "n")] * 2
    # the onupdate column the flush would have set, in the row and on the object
    assert {r[2] for r in rows.values()} == {"2030-01-02 03:04:05.000000"}
    assert items[0].updated_at == _STAMP


def test_what_is_not_a_plain_column_change_is_left_to_the_flush(session):
    box = session.get(Box, 1)
    one, two = session.get(Item, 1), session.get(Item, 2)
    one.box = box  # a relationship: the flush sets box_id
    two.status = "SHIPPED"
    pending = Item(id=9, status="NEW")
    session.add(pending)

    assert write_changes(session, Item) == 1
    assert one in session.dirty and two not in session.dirty
    session.commit()
    with session.get_bind().connect() as c:
        rows = dict(c.execute(text("select id, box_id from items")).all())
    assert rows[1] == 1 and rows[9] is None


def test_a_rollback_undoes_what_was_written(session):
    item = session.get(Item, 3)
    item.status = "SHIPPED"
    write_changes(session, Item)
    session.rollback()
    assert _rows(session)[3][0] == "NEW"
    assert session.get(Item, 3).status == "NEW"  # expired by the rollback, read again


def test_only_the_named_models_are_written(session):
    box = session.get(Box, 1)
    box.name = "b"
    assert write_changes(session, Item) == 0
    assert box in session.dirty


def test_datetimes_keep_their_type(session):
    """Values go through the column's type, as the flush would bind them."""
    item = session.get(Item, 4)
    item.note = "x"
    item.updated_at = datetime(2031, 5, 6, tzinfo=UTC).replace(tzinfo=None)
    write_changes(session, Item)
    session.commit()
    assert _rows(session)[4][1:] == ("x", "2031-05-06 00:00:00.000000")
