"""users bound to the systems they may act for

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 03:20:00

A user names the source and fulfillment systems it may import for, read and answer
for (``systems``, codes separated by spaces), or holds an explicit grant of every
system (``all_systems``). Existing users are bound to nothing: an admin binds them
with ``omgw user bind``.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('systems', sa.Text(), nullable=False, server_default=''))
        batch.add_column(
            sa.Column('all_systems', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('all_systems')
        batch.drop_column('systems')
