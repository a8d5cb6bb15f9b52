"""an index on the customer's PO number, to find orders by it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 22:30:00

``omgw orders show --po`` and ``orders list --po`` find orders by ``CustomerPONumber``.
The source number (``SourceTransactionNumber``) has had its index since 0001.
"""
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('order_headers', schema=None) as batch_op:
        batch_op.create_index('ix_order_headers_customer_po', ['customer_po_number'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('order_headers', schema=None) as batch_op:
        batch_op.drop_index('ix_order_headers_customer_po')
