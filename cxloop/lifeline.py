"""Processes that die with their parent (issue 14, row 9).

A cycle starts two kinds of long-lived children: the report workers of its process pool
(:class:`prefect.task_runners.ProcessPoolTaskRunner`, ~350 MB each) and, when no
``PREFECT_API_URL`` is set, Prefect's embedded API server (uvicorn, ~270 MB). Killed with
SIGKILL or by the out-of-memory killer, a parent runs no clean-up code, and Python's
``atexit`` hooks, Prefect's server ``stop()`` and the pool's shutdown never happen: the
children were left running for minutes.

Each such child therefore carries a *lifeline*: a daemon thread that checks every
:data:`POLL_S` seconds whether the process that started it is still its parent
(``os.getppid()``; an orphan is adopted by init or a sub-reaper, so the value changes)
and ends the child when it is not. This needs no signal set up by the parent (Linux's
``PR_SET_PDEATHSIG`` fires when the *thread* that forked exits, which in a pool or an
event loop is not the process's end) and works the same under spawn and fork.

* Pool workers: :func:`worker_initializer`, passed as the pool's ``initializer``
  (:func:`flows.fanout.task_runner`). An orphaned worker exits at once (``os._exit``);
  what it was rendering is lost with the cycle anyway.
* The embedded server: :func:`guard_embedded_server`, called by the CLI before Prefect
  starts it, makes the server's uvicorn load :func:`create_app` (Prefect's app factory
  plus a lifeline). An orphaned server is sent SIGTERM (uvicorn shuts down cleanly) and
  is ended after :data:`SERVER_GRACE_S` seconds if it is still there.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "POLL_S",
    "SERVER_GRACE_S",
    "create_app",
    "guard_embedded_server",
    "in_spawned_child",
    "start_lifeline",
    "worker_initializer",
]

POLL_S = 0.5
SERVER_GRACE_S = 5.0
PARENT_ENV = "CXLOOP_LIFELINE_PARENT"
"""Set in the embedded server's environment: the pid of the process that started it."""


def _exit_now() -> None:
    os._exit(1)


def start_lifeline(parent_pid: int, on_orphaned: Callable[[], None] = _exit_now) -> threading.Thread | None:
    """Start the daemon thread that calls ``on_orphaned`` once this process's parent is no
    longer ``parent_pid``. None (no thread) when the parent is already gone at the start:
    ``on_orphaned`` has then been called directly."""
    if os.getppid() != parent_pid:
        on_orphaned()
        return None

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(POLL_S)
        on_orphaned()

    thread = threading.Thread(target=watch, name="cxloop-lifeline", daemon=True)
    thread.start()
    return thread


def worker_initializer(parent_pid: int) -> None:
    """A pool worker's ``initializer``: exit as soon as ``parent_pid`` is not the parent."""
    start_lifeline(parent_pid)


# --------------------------------------------------------------------------- the embedded server


def _stop_server() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's clean shutdown
    time.sleep(SERVER_GRACE_S)
    os._exit(1)


def create_app() -> Any:
    """Prefect's API app (``prefect.server.api.server:create_app``) in a process that ends
    when the process named by ``CXLOOP_LIFELINE_PARENT`` is no longer its parent. The
    factory uvicorn loads in the embedded server :func:`guard_embedded_server` starts."""
    from prefect.server.api.server import create_app as prefect_create_app

    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit():
        start_lifeline(int(parent), _stop_server)
    return prefect_create_app()


def in_spawned_child() -> bool:
    """Whether this process was started by :mod:`multiprocessing` (``spawn``): once it runs,
    and already while it imports its parent's main module again as ``__mp_main__`` (which
    ``spawn`` does before :func:`multiprocessing.parent_process` is set; in every other
    process ``__mp_main__``, when present, is ``__main__`` itself)."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        return True
    mp_main = sys.modules.get("__mp_main__")
    return mp_main is not None and mp_main is not sys.modules.get("__main__")


def guard_embedded_server() -> None:
    """Make the embedded Prefect server this process may start die with this process.

    Prefect starts its embedded server from :class:`SubprocessASGIServer` (one instance per
    port, the one for "any port" shared by the client, the events and the logs). This
    registers, before any of them asks, an instance of a subclass whose server command
    loads :func:`create_app` instead of Prefect's factory; everything else (port choice,
    start-up wait, ``stop()``) is Prefect's own. Does nothing when Prefect already
    created that instance, when a server is configured (``PREFECT_API_URL``), in which
    case no embedded server is started at all, or in a process started by
    :mod:`multiprocessing` (:func:`in_spawned_child`).
    """
    if in_spawned_child():
        # A pool's worker or a background call. Its flow's process hands it the API with its
        # first task (flows.fanout.workers_share_api), so it starts no server; without this,
        # loading Prefect's server module here cost each worker ~1.6 s of CPU.
        return
    from prefect.settings import get_current_settings

    if get_current_settings().api.url:  # a server is configured: nothing embedded to start
        return
    from prefect.server.api.server import SubprocessASGIServer

    if None in SubprocessASGIServer._instances:  # already created (and perhaps running)
        return
    _guarded_server_class()()


def _guarded_server_class() -> type[Any]:
    import subprocess

    import prefect
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    class GuardedServer(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            # Prefect's own command (prefect/server/api/server.py, 3.8), with this module's
            # factory in place of prefect.server.api.server:create_app.
            return subprocess.Popen(
                args=[
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    str(prefect.__module_path__.parent),
                    "--factory",
                    f"{__name__}:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "error",
                    "--lifespan",
                    "on",
                ],
                env={
                    **os.environ,
                    "PREFECT_UI_ENABLED": "0",
                    "PREFECT__SERVER_EPHEMERAL": "1",
                    "PREFECT__SERVER_FINAL": "1",
                    **get_current_settings().to_environment_variables(exclude_unset=True),
                    PARENT_ENV: str(os.getpid()),
                },
            )

    return GuardedServer
