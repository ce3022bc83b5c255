"""The collect stage's step: bring the office registry in the database up to the configuration."""

from __future__ import annotations

from cxloop.config import AppConfig
from models.db import session_scope
from tasks.collect.offices import merge_offices


def sync_registry(config: AppConfig) -> dict[str, int]:
    """Insert new offices and update changed ones from ``config/offices.csv``; counts per change."""
    with session_scope() as session:
        return merge_offices(session, config.offices)
