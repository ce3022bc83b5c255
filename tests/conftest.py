"""Shared fixtures: a real SQLite file per test, settings pointed at tmp folders,
one Prefect test harness per session (its server takes ~10-15 s to start), and for
the tests taking ``any_db_url`` a PostgreSQL server the session starts itself
(see the PostgreSQL section below)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from tools.pg_server import PostgresServer, admin_sql, pg_bindir

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
def use_database(monkeypatch):
    """Point CXLOOP_DATABASE_URL at a test's own database, past the cached settings and engines."""
    from cxloop.settings import reset_settings_cache
    from models.db import dispose_engines

    def point(url: str) -> None:
        monkeypatch.setenv("CXLOOP_DATABASE_URL", url)
        reset_settings_cache()

    yield point
    dispose_engines()
    reset_settings_cache()


@pytest.fixture()
def env(tmp_path, monkeypatch, db_url):
    """CXLOOP_* settings pointed at tmp_path; the default engine is the test's database."""
    from cxloop.settings import get_settings, reset_settings_cache
    from models.db import dispose_engines

    monkeypatch.setenv("CXLOOP_DATABASE_URL", db_url)
    monkeypatch.setenv("CXLOOP_CONFIG_DIR", str(ROOT / "config"))
    monkeypatch.setenv("CXLOOP_DATA_DIR", str(tmp_path / "incoming"))
    monkeypatch.setenv("CXLOOP_OUT_DIR", str(tmp_path / "out"))
    for var in (
        "CXLOOP_SMTP_HOST",
        "CXLOOP_SMTP_PORT",
        "CXLOOP_SMTP_USER",
        "CXLOOP_SMTP_PASSWORD",
        "CXLOOP_SMTP_BLOCK",
        "CXLOOP_SMTP_SECURITY",
        "CXLOOP_SMTP_CA_FILE",
    ):
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
    from tasks.collect.offices import merge_offices

    with session_scope(db_url) as session:
        merge_offices(session, config.offices)
    return {o.office_code: o.region_code for o in config.offices}


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """A real (ephemeral) Prefect API for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# --------------------------------------------------------------------------- PostgreSQL
#
# The database tests that take ``any_db_url`` run twice: on a migrated SQLite file and
# on a fresh database of a PostgreSQL server the session starts itself from the
# machine's server binaries (initdb into a temporary folder; no system cluster, no
# network beyond 127.0.0.1). The server binaries are looked up in
# $CXLOOP_TEST_PG_BINDIR, then /usr/lib/postgresql/<newest>/bin, then PATH
# (`make system-deps` installs Debian's `postgresql`). When they are missing the
# PostgreSQL half FAILS with a message saying so; CXLOOP_TEST_POSTGRES=0 skips it
# instead (a deliberate opt-out, never a silent one). initdb refuses to run as root,
# so as root the server runs as $CXLOOP_TEST_PG_USER, else the `postgres` account the
# Debian package creates, else `nobody` (tools/pg_server.py).

PG_SWITCH = "CXLOOP_TEST_POSTGRES"


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the session; yields its base URL
    ``postgresql+psycopg://postgres@127.0.0.1:<port>`` (append ``/<database>``)."""
    if os.environ.get(PG_SWITCH, "1").strip() == "0":
        pytest.skip(f"PostgreSQL tests switched off ({PG_SWITCH}=0)")
    bindir = pg_bindir()
    if bindir is None:
        where = (
            f"CXLOOP_TEST_PG_BINDIR={os.environ['CXLOOP_TEST_PG_BINDIR']}"
            if os.environ.get("CXLOOP_TEST_PG_BINDIR")
            else "/usr/lib/postgresql/*/bin or PATH"
        )
        pytest.fail(
            f"PostgreSQL server binaries (initdb, postgres) not found in {where}: run `make system-deps` "
            f"(installs Debian's postgresql) or set {PG_SWITCH}=0 to skip the PostgreSQL half of the database tests",
            pytrace=False,
        )
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server.base_url
    finally:
        server.stop()


_PG_DATABASES = itertools.count(1)


@pytest.fixture()
def pg_url(postgres_server):
    """A fresh, migrated database on the session's PostgreSQL server; dropped afterwards."""
    from models.db import dispose_engines, upgrade

    name = f"test_{os.getpid()}_{next(_PG_DATABASES)}"
    admin_sql(postgres_server, f"CREATE DATABASE {name}")
    url = f"{postgres_server}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        dispose_engines()
        admin_sql(postgres_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request, tmp_path):
    """A migrated database URL: a SQLite file in tmp_path, or a fresh PostgreSQL database.

    Only the database itself: fixtures built on ``db_url`` (``env``, ``registry``) still
    point at SQLite, so a test taking this one sets up its data through the URL."""
    if request.param == "sqlite":
        from models.db import dispose_engines, upgrade

        url = f"sqlite:///{tmp_path / 'cxloop.db'}"
        upgrade(url)
        yield url
        dispose_engines()
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A throw-away CA and a server certificate it signed for 127.0.0.1 / localhost (PEM files),
    for the SMTP tests over TLS (tests/smtp_support.py)."""
    from tests.smtp_support import make_tls_files

    return make_tls_files(tmp_path_factory.mktemp("tls"))
