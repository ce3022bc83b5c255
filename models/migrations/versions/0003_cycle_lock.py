"""cycle_lock: at most one quarterly cycle per quarter at a time (tasks/locks.py)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'cycle_lock',
        sa.Column('quarter', _S(length=6), nullable=False),
        sa.Column('token', _S(length=32), nullable=False),
        sa.Column('holder', _S(length=200), nullable=False),
        sa.Column('host', _S(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('process_key', _S(length=80), nullable=True),
        sa.Column('flow_run_id', _S(length=36), nullable=True),
        sa.Column('acquired_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('heartbeat_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('quarter'),
    )


def downgrade() -> None:
    op.drop_table('cycle_lock')
