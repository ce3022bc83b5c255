"""text_label: analysts' gold labels of feedback texts (tasks/text/review_io.py)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'text_label',
        sa.Column('feedback_id', sa.Integer(), nullable=False),
        sa.Column('themes', _S(), nullable=False),
        sa.Column('sentiment', _S(length=8), nullable=True),
        sa.Column('labelled_by', _S(length=200), nullable=False),
        sa.Column('labelled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('source_file', _S(), nullable=False),
        sa.ForeignKeyConstraint(['feedback_id'], ['feedback.id']),
        sa.PrimaryKeyConstraint('feedback_id'),
    )


def downgrade() -> None:
    op.drop_table('text_label')
