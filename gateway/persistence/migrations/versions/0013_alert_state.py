"""what an alert's recipients were last told, and since when a connector is down

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 23:00:00

``alerts.told`` (RAISED or CLEARED) lets the monitor mail an alert that returns after
its clearing was mailed at once, and hold back a clearing until it lasts a pass.
``connector_health.broken_since`` is when the breaker left CLOSED: ``opened_at`` moves
at every failed probe (it times the cool-down), so it cannot say how long an outage is.
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alerts') as batch:
        batch.add_column(sa.Column('told', sa.String(length=10), nullable=True))
    with op.batch_alter_table('connector_health') as batch:
        batch.add_column(sa.Column('broken_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('connector_health') as batch:
        batch.drop_column('broken_since')
    with op.batch_alter_table('alerts') as batch:
        batch.drop_column('told')
