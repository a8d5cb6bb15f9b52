"""order changes after release: pending changes, return references

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 01:00:00

A fulfillment line a fulfillment system holds changes only once that system answers:
``change_request_id`` is the update or cancel request it waits on, ``change_json`` what
the line was before (restored if the system refuses), ``change_error`` why the last
change was refused. A fulfillment request names the request it changes
(``original_request_id``). A return line references the line it returns
(``reference_line_id``, and the fulfillment line when the return names one).
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('fulfill_lines') as batch:
        batch.add_column(sa.Column('change_request_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch.add_column(sa.Column('change_json', sa.Text(), nullable=True))
        batch.add_column(sa.Column('change_error', sa.Text(), nullable=True))
        batch.create_foreign_key(
            'fk_fulfill_lines_change_request', 'fulfillment_requests', ['change_request_id'], ['id']
        )
    with op.batch_alter_table('fulfillment_requests') as batch:
        batch.add_column(sa.Column('original_request_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch.create_foreign_key(
            'fk_requests_original', 'fulfillment_requests', ['original_request_id'], ['id']
        )
    with op.batch_alter_table('order_lines') as batch:
        batch.add_column(sa.Column('category', sa.String(length=10), nullable=False, server_default='ORDER'))
        batch.add_column(sa.Column('reference_line_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch.add_column(sa.Column('reference_fline_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch.create_foreign_key('fk_order_lines_reference', 'order_lines', ['reference_line_id'], ['id'])
        batch.create_foreign_key('fk_order_lines_reference_fline', 'fulfill_lines', ['reference_fline_id'], ['id'])
        batch.create_index('ix_order_lines_reference', ['reference_line_id'])


def downgrade() -> None:
    with op.batch_alter_table('order_lines') as batch:
        batch.drop_index('ix_order_lines_reference')
        batch.drop_constraint('fk_order_lines_reference_fline', type_='foreignkey')
        batch.drop_constraint('fk_order_lines_reference', type_='foreignkey')
        batch.drop_column('reference_fline_id')
        batch.drop_column('reference_line_id')
        batch.drop_column('category')
    with op.batch_alter_table('fulfillment_requests') as batch:
        batch.drop_constraint('fk_requests_original', type_='foreignkey')
        batch.drop_column('original_request_id')
    with op.batch_alter_table('fulfill_lines') as batch:
        batch.drop_constraint('fk_fulfill_lines_change_request', type_='foreignkey')
        batch.drop_column('change_error')
        batch.drop_column('change_json')
        batch.drop_column('change_request_id')
