"""The declarative base every table derives from, its naming convention, the column
types tables share, and the helpers for keys and times read back from the database.

Keys are integers, not UUIDs: Oracle's wire identifiers (``HeaderId``,
``FulfillLineIdentifier``, ``FulfillmentRequestIdentifier``) are ``long`` values that
callers store and send back, so our primary keys are those identifiers.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, Table
from sqlalchemy.orm import DeclarativeBase

from gateway.persistence.decimals import ScaledDecimal

__all__ = ["MAX_ROW_ID", "Base", "Id", "Qty", "as_utc", "row_id", "table_of", "utcnow"]

# BigInteger autoincrement is not a rowid alias on SQLite; Integer there, BIGINT elsewhere.
Id = BigInteger().with_variant(Integer(), "sqlite")
#: quantities: NUMERIC(18, 4) on PostgreSQL, exact scaled integers on SQLite
Qty = ScaledDecimal(18, 4)


def utcnow() -> datetime:
    return datetime.now(UTC)


#: the largest integer key a row can have (a signed 64-bit column, on either database)
MAX_ROW_ID = 2**63 - 1


def row_id(text: str) -> int | None:
    """``text`` as an integer key a row can have; None when it is not ASCII digits or is
    past any key (``str.isdigit`` also says yes to "²", which ``int`` refuses)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if value <= MAX_ROW_ID else None


def as_utc(at: datetime | None) -> datetime | None:
    """A time read back from the database, in UTC: SQLite keeps no offset, and every
    time omgw stores is UTC."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: DateTime(timezone=True)}


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, for statements run on the session's connection."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
