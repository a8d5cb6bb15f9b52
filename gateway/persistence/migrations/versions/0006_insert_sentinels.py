"""insert sentinels on the tables written many rows at a time

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 17:30:00

SQLite cannot say which autoincrement id RETURNING gave which row of a multi-row
INSERT, so without a sentinel SQLAlchemy writes one INSERT per row (150 for a 50-line
shipment's history). A nullable ``_sentinel`` column, filled by SQLAlchemy with each
row's position, lets it write them in one statement. PostgreSQL gains nothing and loses
nothing.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

TABLES = ("status_history", "order_lines", "fulfill_lines", "outbox")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column('_sentinel', sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('_sentinel')
