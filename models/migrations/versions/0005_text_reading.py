"""text_reading: how a quarter's texts were read (rules, or rules and the learned sentiment model)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'text_reading',
        sa.Column('quarter', _S(length=6), nullable=False),
        sa.Column('method', _S(length=20), nullable=False),
        sa.Column('model_version', _S(length=64), nullable=True),
        sa.Column('rated_texts', sa.Integer(), nullable=False),
        sa.Column('texts_read', sa.Integer(), nullable=False),
        sa.Column('card', _S(), nullable=False),
        sa.PrimaryKeyConstraint('quarter'),
    )


def downgrade() -> None:
    op.drop_table('text_reading')
