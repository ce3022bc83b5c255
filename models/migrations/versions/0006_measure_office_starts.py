"""measure.office_starts: a rollout office by office (offices that started in a quarter of their own)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table('measure') as batch:
        batch.add_column(sa.Column('office_starts', _S(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('measure') as batch:
        batch.drop_column('office_starts')
