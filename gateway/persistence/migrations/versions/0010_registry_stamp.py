"""a stamp that every registry change moves, so each process may cache the registry

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 17:00:00

One row counts changes to the tables a write reads its configuration from. Database
triggers bump it in the transaction of the change, whatever made it (the CLI, a setup
file, another host, plain SQL), so a process holding the registry in memory needs one
read of the stamp per transaction to know whether its copy is current.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

#: the tables gateway.registry.registry_snapshot holds in memory
WATCHED = (
    'source_systems',
    'value_maps',
    'connectors',
    'task_types',
    'tasks',
    'task_services',
    'processes',
    'process_steps',
    'rule_set_versions',
    'trigger_points',
    'trigger_point_connectors',
)
_BUMP = 'UPDATE registry_stamp SET n = n + 1 WHERE id = 1'


def upgrade() -> None:
    op.create_table('registry_stamp',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_stamp'))
    )
    op.execute('INSERT INTO registry_stamp (id, n) VALUES (1, 1)')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            'CREATE FUNCTION omgw_registry_changed() RETURNS trigger LANGUAGE plpgsql AS '
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        for table in WATCHED:
            op.execute(
                f'CREATE TRIGGER registry_stamp_{table} AFTER INSERT OR UPDATE OR DELETE '
                f'OR TRUNCATE ON {table} FOR EACH STATEMENT '
                'EXECUTE FUNCTION omgw_registry_changed()'
            )
        return
    for table in WATCHED:
        for event in ('INSERT', 'UPDATE', 'DELETE'):
            op.execute(
                f'CREATE TRIGGER registry_stamp_{table}_{event.lower()} AFTER {event} '
                f'ON {table} BEGIN {_BUMP}; END'
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in WATCHED:
            op.execute(f'DROP TRIGGER registry_stamp_{table} ON {table}')
        op.execute('DROP FUNCTION omgw_registry_changed()')
    else:
        for table in WATCHED:
            for event in ('insert', 'update', 'delete'):
                op.execute(f'DROP TRIGGER registry_stamp_{table}_{event}')
    op.drop_table('registry_stamp')
