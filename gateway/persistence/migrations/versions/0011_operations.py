"""what operators need: the caller's address, workers seen, periodic jobs, alerts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 22:00:00

``message_log.client_address`` records who called; ``worker_beats`` when each outbox
worker was last seen (``/readyz``); ``job_runs`` the last jeopardy check and monitor
pass; ``alerts`` what the monitor raised, so that one alert is mailed at most once per
repeat interval by however many processes run the monitor.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('message_log') as batch:
        batch.add_column(sa.Column('client_address', sa.String(length=64), nullable=True))
    op.create_table('worker_beats',
    sa.Column('worker', sa.String(length=100), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('worker', name=op.f('pk_worker_beats'))
    )
    op.create_table('job_runs',
    sa.Column('job', sa.String(length=40), nullable=False),
    sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('job', name=op.f('pk_job_runs'))
    )
    op.create_table('alerts',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('runbook', sa.String(length=100), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('emails', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_alerts'))
    )


def downgrade() -> None:
    op.drop_table('alerts')
    op.drop_table('job_runs')
    op.drop_table('worker_beats')
    with op.batch_alter_table('message_log') as batch:
        batch.drop_column('client_address')
