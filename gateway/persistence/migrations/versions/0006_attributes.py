"""attributes kept as sent: on orders, order lines and fulfillment lines

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 22:40:00

Every attribute of an imported order or line beyond omgw's own columns, and every
attribute of a fulfillment response beyond what omgw acts on, is kept as JSON with the
order, the line or the fulfillment line, and comes back in GetOrderDetails.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('order_headers') as batch:
        batch.add_column(sa.Column('attributes_json', sa.Text(), nullable=True))
    with op.batch_alter_table('order_lines') as batch:
        batch.add_column(sa.Column('attributes_json', sa.Text(), nullable=True))
    with op.batch_alter_table('fulfill_lines') as batch:
        batch.add_column(sa.Column('attributes_json', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('fulfill_lines') as batch:
        batch.drop_column('attributes_json')
    with op.batch_alter_table('order_lines') as batch:
        batch.drop_column('attributes_json')
    with op.batch_alter_table('order_headers') as batch:
        batch.drop_column('attributes_json')
