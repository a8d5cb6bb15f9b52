"""the console's sign-in sessions; outbox indexes for its traffic per minute

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 03:00:00

``console_sessions`` holds one row per signed-in browser, keyed by a hash of the token
in its cookie, so every gateway process behind one load balancer knows the session and
signing out or removing a user ends it everywhere. ``outbox.delivered_at`` and
``parked_at`` are indexed for the dashboard's messages delivered and parked per minute.
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'console_sessions',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('address', sa.String(length=100), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('token_hash'),
    )
    op.create_index('ix_console_sessions_username', 'console_sessions', ['username'])
    op.create_index('ix_console_sessions_expires_at', 'console_sessions', ['expires_at'])
    with op.batch_alter_table('outbox') as batch:
        batch.create_index('ix_outbox_delivered_at', ['delivered_at'])
        batch.create_index('ix_outbox_parked_at', ['parked_at'])


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index('ix_outbox_parked_at')
        batch.drop_index('ix_outbox_delivered_at')
    op.drop_index('ix_console_sessions_expires_at', table_name='console_sessions')
    op.drop_index('ix_console_sessions_username', table_name='console_sessions')
    op.drop_table('console_sessions')
