"""insight: overall survey questions, pain points per unit and client type with priority components

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString
_FLOATS = (
    "mean_rating", "p_bar", "ucl", "lcl", "driver_importance", "component_reach",
    "component_severity", "component_trend", "component_driver", "component_coverage",
)


def upgrade() -> None:
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overall', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('nps', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ces', sa.Integer(), nullable=True))

    with op.batch_alter_table('pain_point', schema=None) as batch_op:
        batch_op.drop_constraint('uq_pain_point', type_='unique')
        batch_op.add_column(sa.Column('level', _S(length=8), nullable=False, server_default='region'))
        batch_op.add_column(sa.Column('unit_code', _S(length=32), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('client_type', _S(length=16), nullable=False, server_default='citizen'))
        batch_op.add_column(sa.Column('reach_offices', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('offices_total', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('reach_clients', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('signal', _S(length=8), nullable=True))
        batch_op.add_column(sa.Column('covered_by', _S(), nullable=True))
        for name in _FLOATS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
    # Rows from 0001 were region-level (or 'ALL' for the country).
    op.execute("UPDATE pain_point SET unit_code = region_code, level = CASE WHEN region_code = 'ALL' THEN 'country' ELSE 'region' END")
    with op.batch_alter_table('pain_point', schema=None) as batch_op:
        batch_op.create_unique_constraint(
            'uq_pain_point_unit', ['quarter', 'level', 'unit_code', 'client_type', 'theme', 'journey_stage']
        )


def downgrade() -> None:
    with op.batch_alter_table('pain_point', schema=None) as batch_op:
        batch_op.drop_constraint('uq_pain_point_unit', type_='unique')
    op.execute("DELETE FROM pain_point WHERE level = 'office'")
    with op.batch_alter_table('pain_point', schema=None) as batch_op:
        for name in ("level", "unit_code", "client_type", "reach_offices", "offices_total", "reach_clients", "signal", "covered_by", *_FLOATS):
            batch_op.drop_column(name)
        batch_op.create_unique_constraint('uq_pain_point', ['quarter', 'region_code', 'theme', 'journey_stage'])

    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.drop_column('ces')
        batch_op.drop_column('nps')
        batch_op.drop_column('overall')
