"""exact quantities on SQLite: scaled integers instead of floats

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 03:40:00

SQLite stored NUMERIC(18, 4) quantities as 8-byte floats, which hold 15 to 17
significant digits. They become integers scaled by 10**4 (gateway/persistence/
decimals.py), which hold all 18. A float already stored is read back as the shortest
decimal that names it (what was written, for up to 15 significant digits) and kept to
4 decimals; digits a float had already lost cannot be recovered. PostgreSQL's NUMERIC
is exact and does not change.
"""
from decimal import ROUND_HALF_EVEN, Decimal

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_SCALE = 4
_QUANTITIES = {
    'order_lines': (('ordered_quantity', False),),
    'fulfill_lines': (('quantity', False), ('shipped_quantity', True)),
}


def _scaled(stored):
    """An old column value (int, float or text) as the integer value × 10**4."""
    if stored is None:
        return None
    value = Decimal(str(stored)).scaleb(_SCALE)
    return int(value.to_integral_value(rounding=ROUND_HALF_EVEN))


def _unscaled(stored):
    """A scaled integer as the float the old type stored."""
    if stored is None:
        return None
    return float(Decimal(stored).scaleb(-_SCALE))


def _rewrite(table, columns, convert):
    conn = op.get_bind()
    names = [name for name, _ in columns]
    t = sa.table(table, sa.column('id'), *(sa.column(n) for n in names))
    rows = conn.execute(sa.select(t.c.id, *(t.c[n] for n in names))).all()
    if not rows:
        return
    conn.execute(
        t.update()
        .where(t.c.id == sa.bindparam('row_id'))
        .values({n: sa.bindparam(f'new_{n}') for n in names}),
        [
            {'row_id': row[0], **{f'new_{n}': convert(v) for n, v in zip(names, row[1:])}}
            for row in rows
        ],
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table, columns in _QUANTITIES.items():
        # the values first: a NUMERIC column keeps an integer as one, while a cast of a
        # fraction to an integer column would truncate it
        _rewrite(table, columns, _scaled)
        with op.batch_alter_table(table) as batch:
            for name, nullable in columns:
                batch.alter_column(
                    name,
                    existing_type=sa.Numeric(precision=18, scale=_SCALE),
                    type_=sa.BigInteger(),
                    existing_nullable=nullable,
                )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table, columns in _QUANTITIES.items():
        with op.batch_alter_table(table) as batch:
            for name, nullable in columns:
                batch.alter_column(
                    name,
                    existing_type=sa.BigInteger(),
                    type_=sa.Numeric(precision=18, scale=_SCALE),
                    existing_nullable=nullable,
                )
        _rewrite(table, columns, _unscaled)
