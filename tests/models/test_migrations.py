"""The Alembic migrations are the only way the schema is made: they must build exactly
what models/tables.py declares, and walk down and up again without loss of shape."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from models.db import alembic_config, upgrade


def _diff(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()


def test_head_matches_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    assert _diff(url) == []


def test_downgrade_to_initial_and_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    cfg = alembic_config(url)
    command.downgrade(cfg, "0001")
    engine = create_engine(url)
    cols = {c["name"] for c in inspect(engine).get_columns("pain_point")}
    engine.dispose()
    assert "unit_code" not in cols and "region_code" in cols
    command.upgrade(cfg, "head")
    assert _diff(url) == []
