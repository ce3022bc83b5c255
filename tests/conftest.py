"""Shared fixtures: a real SQLite file per test, settings pointed at tmp folders,
one Prefect test harness per session (its server takes ~10-15 s to start), and for
the tests taking ``any_db_url`` a PostgreSQL server the session starts itself
(see the PostgreSQL section below)."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
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
# Debian package creates, else `nobody`.

PG_SWITCH = "CXLOOP_TEST_POSTGRES"
PG_SUPERUSER = "postgres"


def _pg_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``postgres``: $CXLOOP_TEST_PG_BINDIR when set (and
    then only that), else Debian's newest major version, else the one on PATH."""
    if os.environ.get("CXLOOP_TEST_PG_BINDIR"):
        candidates = [Path(os.environ["CXLOOP_TEST_PG_BINDIR"])]
    else:
        versions = Path("/usr/lib/postgresql").glob("*/bin")
        candidates = sorted(versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1, reverse=True)
        on_path = shutil.which("initdb")
        if on_path:
            candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    return None


def _server_account() -> tuple[int, int, str] | None:
    """(uid, gid, name) to run the server as when the tests run as root; None otherwise."""
    if os.geteuid() != 0:
        return None
    import pwd

    wanted = [os.environ["CXLOOP_TEST_PG_USER"]] if os.environ.get("CXLOOP_TEST_PG_USER") else ["postgres", "nobody"]
    for name in wanted:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return entry.pw_uid, entry.pw_gid, name
    raise RuntimeError(
        f"running as root and none of the accounts {wanted} exists (non-root) to run PostgreSQL as; "
        "set CXLOOP_TEST_PG_USER to an unprivileged account"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _PostgresServer:
    """A throw-away PostgreSQL cluster: initdb into a temporary folder, ``postgres`` on a
    free 127.0.0.1 port with its unix socket in that folder, trust authentication for
    the superuser ``postgres``, durability switched off (fsync, full-page writes) because
    nothing in it outlives the session. :meth:`stop` is idempotent and also registered
    with atexit, so an interrupted run does not leave the server behind."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.account = _server_account()
        self.root = Path(tempfile.mkdtemp(prefix="cxloop-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        atexit.register(self.stop)

    @property
    def base_url(self) -> str:
        return f"postgresql+psycopg://{PG_SUPERUSER}@127.0.0.1:{self.port}"

    def _popen_kwargs(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        kwargs: dict = {"cwd": self.root, "env": env}
        if self.account is not None:
            uid, gid, _ = self.account
            kwargs.update(user=uid, group=gid, extra_groups=[])
        return kwargs

    def _log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def start(self, timeout: float = 60.0) -> None:
        if self.account is not None:
            os.chown(self.root, self.account[0], self.account[1])
        init = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                PG_SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            **self._popen_kwargs(),
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")
        # If pytest itself is killed (no atexit), the kernel sends the server SIGINT (fast shutdown).
        setpriv = shutil.which("setpriv")
        orphan_guard = [setpriv, "--pdeathsig", "INT", "--"] if setpriv else []
        for _attempt in range(3):  # another process may take the free port before the server binds it
            self.port = _free_port()
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen(
                    [
                        *orphan_guard,
                        str(self.bindir / "postgres"),
                        "-D",
                        str(self.data),
                        "-p",
                        str(self.port),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        f"unix_socket_directories={self.root}",
                        "-c",
                        "fsync=off",
                        "-c",
                        "synchronous_commit=off",
                        "-c",
                        "full_page_writes=off",
                        "-c",
                        "max_connections=60",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    **self._popen_kwargs(),
                )
            if self._wait_ready(timeout):
                return
            if "already in use" not in self._log_tail():
                break
        raise RuntimeError(f"PostgreSQL did not start; server log:\n{self._log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        """True once the server accepts connections; False when it exited (e.g. port taken)."""
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                psycopg.connect(
                    host="127.0.0.1", port=self.port, user=PG_SUPERUSER, dbname="postgres", connect_timeout=2
                ).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not accept connections within {timeout:.0f} s; log:\n{self._log_tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # "fast" shutdown: roll back open sessions, exit
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the session; yields its base URL
    ``postgresql+psycopg://postgres@127.0.0.1:<port>`` (append ``/<database>``)."""
    if os.environ.get(PG_SWITCH, "1").strip() == "0":
        pytest.skip(f"PostgreSQL tests switched off ({PG_SWITCH}=0)")
    bindir = _pg_bindir()
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
    server = _PostgresServer(bindir)
    try:
        server.start()
        yield server.base_url
    finally:
        server.stop()


_PG_DATABASES = itertools.count(1)


def _pg_admin(base_url: str, sql: str) -> None:
    """One statement on the server's maintenance database, outside a transaction
    (CREATE/DROP DATABASE cannot run inside one)."""
    import psycopg

    with psycopg.connect(
        base_url.replace("postgresql+psycopg://", "postgresql://") + "/postgres", autocommit=True
    ) as conn:
        conn.execute(sql)


@pytest.fixture()
def pg_url(postgres_server):
    """A fresh, migrated database on the session's PostgreSQL server; dropped afterwards."""
    from models.db import dispose_engines, upgrade

    name = f"test_{os.getpid()}_{next(_PG_DATABASES)}"
    _pg_admin(postgres_server, f"CREATE DATABASE {name}")
    url = f"{postgres_server}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        dispose_engines()
        _pg_admin(postgres_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


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
