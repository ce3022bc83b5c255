"""A throw-away PostgreSQL server started from the machine's server binaries, for the tests
(``tests/conftest.py``, fixture ``postgres_server``) and the benchmarks
(``python -m tools.bench_national --database postgresql``).

``initdb`` into a temporary folder (no system cluster), ``postgres`` on a free 127.0.0.1
port, trust authentication for the superuser ``postgres``, durability switched off. The
binaries are looked up in ``$CXLOOP_TEST_PG_BINDIR``, then ``/usr/lib/postgresql/<newest>/bin``,
then PATH (``make system-deps`` installs Debian's ``postgresql``). ``initdb`` refuses to
run as root, so as root the server runs as ``$CXLOOP_TEST_PG_USER``, else the ``postgres``
account the Debian package creates, else ``nobody``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PG_SUPERUSER", "PostgresServer", "admin_sql", "create_database", "pg_bindir"]

PG_SUPERUSER = "postgres"


def pg_bindir() -> Path | None:
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


class PostgresServer:
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


def admin_sql(base_url: str, sql: str) -> None:
    """One statement on the server's maintenance database, outside a transaction
    (CREATE/DROP DATABASE cannot run inside one)."""
    import psycopg

    with psycopg.connect(
        base_url.replace("postgresql+psycopg://", "postgresql://") + "/postgres", autocommit=True
    ) as conn:
        conn.execute(sql)


def create_database(base_url: str, name: str) -> str:
    """``CREATE DATABASE name`` on the server of ``base_url``; its URL."""
    admin_sql(base_url, f'CREATE DATABASE "{name}"')
    return f"{base_url}/{name}"
