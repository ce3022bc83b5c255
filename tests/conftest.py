"""Shared fixtures: a real SQLite file per test, settings pointed at tmp folders,
and one Prefect test harness per session (its server takes ~10-15 s to start)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

# Property tests draw the same examples on every run (a CI run must not depend on
# luck) and keep no example database in the work tree.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("cxloop", derandomize=True, database=None)
_hypothesis_settings.load_profile("cxloop")


@pytest.fixture()
def config():
    from cxloop.config import load_config

    return load_config(ROOT / "config")


@pytest.fixture()
def db_url(tmp_path):
    """A migrated SQLite database file in tmp_path."""
    from models.db import upgrade

    url = f"sqlite:///{tmp_path / 'cxloop.db'}"
    upgrade(url)
    return url


@pytest.fixture()
def env(tmp_path, monkeypatch, db_url):
    """CXLOOP_* settings pointed at tmp_path; the default engine is the test's database."""
    from cxloop.settings import get_settings, reset_settings_cache
    from models.db import dispose_engines

    monkeypatch.setenv("CXLOOP_DATABASE_URL", db_url)
    monkeypatch.setenv("CXLOOP_CONFIG_DIR", str(ROOT / "config"))
    monkeypatch.setenv("CXLOOP_DATA_DIR", str(tmp_path / "incoming"))
    monkeypatch.setenv("CXLOOP_OUT_DIR", str(tmp_path / "out"))
    for var in ("CXLOOP_SMTP_HOST", "CXLOOP_SMTP_PORT", "CXLOOP_SMTP_USER", "CXLOOP_SMTP_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    reset_settings_cache()
    settings = get_settings()
    settings.ensure_dirs()
    yield settings
    dispose_engines()
    reset_settings_cache()


@pytest.fixture()
def registry(db_url, config):
    """The configured offices merged into the test database."""
    from models.db import session_scope
    from tasks.registry import merge_offices

    with session_scope(db_url) as session:
        merge_offices(session, config.offices)
    return {o.office_code: o.region_code for o in config.offices}


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """A real (ephemeral) Prefect API for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
