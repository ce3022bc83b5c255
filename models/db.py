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

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
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

            # load() dispatches on the calling context; cxloop's flows and tasks are all sync, so
            # this is the block itself, never the coroutine of the async variant.
            secret = Secret.load(settings.database_password_block)
            assert isinstance(secret, Secret)
            password = secret.get()
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


# The session of an enclosing one_transaction() block, if any (per thread / task context).
_AMBIENT: ContextVar[Session | None] = ContextVar("cxloop_ambient_session", default=None)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    Inside :func:`one_transaction` on the same database it is that block's session
    instead: the work is flushed, and committed only when the whole block ends.
    """
    engine = get_engine(url)
    ambient = _AMBIENT.get()
    if ambient is not None and ambient.get_bind() is engine:
        yield ambient
        ambient.flush()
        return
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def one_transaction(url: str | None = None) -> Iterator[Session]:
    """One database transaction around several stages that each open ``session_scope()``.

    Every ``session_scope()`` on the same database inside the block (in this thread or a
    Prefect task it calls) joins it; nothing is committed until the block ends, so a
    process killed in the middle leaves the database as it was before the block. The
    quarterly cycle runs its result stages (star index, pain points, proposals,
    effects) in one such block: a rerun replaces the quarter's results all at once.
    Code inside must not call ``session.commit()`` itself.
    """
    with session_scope(url) as session:
        token = _AMBIENT.set(session)
        try:
            yield session
        finally:
            _AMBIENT.reset(token)


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


def driver_marks(conn: Connection, count: int) -> list[str]:
    """``count`` positional parameter marks in the driver's own style (``?`` for sqlite3,
    ``%s`` for psycopg), for SQL handed straight to the driver with rows of tuples
    (``Connection.exec_driver_sql``): SQLAlchemy's per-row parameter processing costs more
    than the statement itself when a stage writes hundreds of thousands of rows."""
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": ":1"}.get(conn.dialect.paramstyle, "?")
    return [f":{i + 1}" for i in range(count)] if mark == ":1" else [mark] * count


def driver_rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple]:
    """The rows of a SELECT (marks from :func:`driver_marks`) as the driver's plain tuples,
    through its own cursor in the connection's transaction: for reads of hundreds of
    thousands of rows, where SQLAlchemy's row objects cost more than the query. Only for
    columns the driver returns as the caller wants them (no type processing is applied)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return cast(list[tuple], cursor.fetchall())  # sqlite3 and psycopg both give a list
    finally:
        cursor.close()
