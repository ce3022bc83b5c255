"""effect_evaluation.synthetic_*: the synthetic-control cross-check of a single-office pilot

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table('effect_evaluation') as batch:
        batch.add_column(sa.Column('synthetic_estimate', sa.Float(), nullable=True))
        batch.add_column(sa.Column('synthetic_pre_rmspe', sa.Float(), nullable=True))
        batch.add_column(sa.Column('synthetic_p_value', sa.Float(), nullable=True))
        batch.add_column(sa.Column('synthetic_donors', _S(), nullable=False, server_default=''))
        batch.add_column(sa.Column('synthetic_note', _S(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('effect_evaluation') as batch:
        for name in ('synthetic_note', 'synthetic_donors', 'synthetic_p_value', 'synthetic_pre_rmspe', 'synthetic_estimate'):
            batch.drop_column(name)
