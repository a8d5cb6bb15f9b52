"""Inserting many rows in one statement and learning each one's new id.

SQLAlchemy sends a list of rows as one multi-row ``INSERT … RETURNING`` (its
"insertmanyvalues"), but the rows come back in no promised order; asking for parameter
order (``sort_by_parameter_order``) makes it insert one row at a time on SQLite. So each
row is returned with columns that identify it within the batch, and its id is found by
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert

__all__ = ["insert_keyed"]

_STATEMENTS: dict[tuple[Table, tuple[str, ...]], Any] = {}


def insert_keyed(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], key: tuple[str, ...]
) -> list[int]:
    """Insert ``rows`` (whose ``key`` columns are unique among them) in one statement;
    the new ids, in the order of ``rows``."""
    if not rows:
        return []
    statement = _STATEMENTS.get((table, key))
    if statement is None:
        statement = _STATEMENTS[(table, key)] = insert(table).returning(
            table.c.id, *(table.c[name] for name in key)
        )
    got = {tuple(r[1:]): r[0] for r in conn.execute(statement, list(rows))}
    return [got[tuple(row[name] for name in key)] for row in rows]
