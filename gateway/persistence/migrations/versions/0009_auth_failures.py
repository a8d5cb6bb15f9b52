"""failed sign-ins per user name and client address, for lockout and throttling

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 03:30:00

Every gateway process counts failed sign-ins in one table, so a lock applies in all
of them at once.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auth_failures',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_auth_failures'))
    )


def downgrade() -> None:
    op.drop_table('auth_failures')
