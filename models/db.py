"""Engine, short-lived sessions and schema migrations (Alembic).

The schema is only ever created or changed through the migrations in
``models/migrations``; :func:`upgrade` runs them to head and is what every
entry point calls before touching the database.

Two databases are supported: SQLite (the default file, WAL journal, foreign keys
on) and PostgreSQL through psycopg 3 (``postgresql+psycopg://user:pw@host/db``; a
bare ``postgresql://`` or ``postgres://`` URL is taken to mean psycopg 3 too, since
that is the driver cxloop installs). On PostgreSQL the migrations run in one
transaction, so a failed upgrade leaves the schema as it was.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


_ENGINES: dict[str, Engine] = {}

# libpq settings for every PostgreSQL session unless the URL's query sets them: give
# up on an unreachable server instead of hanging a Prefect task, name the application
# in pg_stat_activity, and speak UTC so timestamps read in psql match what the
# UTCDateTime columns return.
_POSTGRES_CONNECT_ARGS = {"connect_timeout": 10, "application_name": "cxloop", "options": "-c timezone=UTC"}


def _postgres_engine(url: str) -> Engine:
    """``postgresql://`` and ``postgres://`` name no driver (SQLAlchemy would pick psycopg2,
    which is not installed): they get psycopg 3, the driver cxloop depends on."""
    parsed = make_url("postgresql://" + url.removeprefix("postgres://") if url.startswith("postgres://") else url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args = {}
    if parsed.drivername in ("postgresql+psycopg", "postgresql+psycopg2"):  # libpq parameters
        connect_args = {k: v for k, v in _POSTGRES_CONNECT_ARGS.items() if k not in parsed.query}
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL for the life of the process (default: CXLOOP_DATABASE_URL)."""
    if url is None:
        from cxloop.settings import get_settings

        settings = get_settings()
        settings.ensure_dirs()
        url = settings.database_url
        if settings.database_password_block:  # the password lives in a Prefect Secret block, not in the URL
            from prefect.blocks.system import Secret
            from sqlalchemy.engine import make_url

            password = Secret.load(settings.database_password_block).get()
            url = make_url(url).set(password=password).render_as_string(hide_password=False)
    if url in _ENGINES:
        return _ENGINES[url]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
    elif url.startswith(("postgresql", "postgres:")):
        engine = _postgres_engine(url)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    _ENGINES[url] = engine
    return engine


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (default: the newest)."""
    from alembic import command

    engine = get_engine(url)
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def dispose_engines() -> None:
    """Close every pooled connection (tests switch databases between cases)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()
