"""Issue 14, row 9: a cycle killed while its reports are being rendered leaves no process
behind. Before, the report workers of the process pool (~350 MB each) and Prefect's
embedded server (~270 MB) went on living for minutes after their parent was gone.

A real ``python -m cxloop.cli demo`` in a fresh home with its own embedded Prefect
server; once the report workers and the server are up, the command gets SIGKILL (no
clean-up code of its own can run) and every process it had started must be gone soon.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.test_cli_server_start import _env

ROOT = Path(__file__).resolve().parent.parent
GRACE_S = 20.0  # the lifelines poll every 0.5 s; the server is given 5 s to stop cleanly


def _role(proc: psutil.Process) -> str | None:
    try:
        cmdline = " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    if "uvicorn" in cmdline:
        return "server"
    if "multiprocessing" in cmdline and "spawn_main" in cmdline:
        return "worker"
    return "other"


def _wait_for_workers_and_server(cli: subprocess.Popen[bytes], deadline: float) -> list[psutil.Process]:
    """The command's descendants once the embedded server and at least one pool worker run."""
    parent = psutil.Process(cli.pid)
    while time.monotonic() < deadline:
        if cli.poll() is not None:
            pytest.fail(f"the demo ended (rc {cli.returncode}) before its report workers were seen")
        children = parent.children(recursive=True)
        roles = {_role(p) for p in children}
        if {"server", "worker"} <= roles:
            return children
        time.sleep(0.2)
    pytest.fail("no report workers and embedded server seen within the time limit")


@pytest.mark.slow
def test_killed_cycle_leaves_no_children(tmp_path):
    env = _env(tmp_path, PREFECT_TASK_RUNNER_PROCESS_POOL_MAX_WORKERS="2")
    cli = subprocess.Popen(
        [sys.executable, "-m", "cxloop.cli", "demo", "--quarters", "2", "--scale", "0.3", "--no-send"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: list[psutil.Process] = []
    try:
        children = _wait_for_workers_and_server(cli, time.monotonic() + 600)
        roles = {p.pid: _role(p) for p in children}
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait(timeout=30)
        gone, alive = psutil.wait_procs(children, timeout=GRACE_S)
        survivors = [(p.pid, roles[p.pid]) for p in alive]
        assert survivors == [], f"alive {GRACE_S:.0f} s after the cycle was killed: {survivors}"
        assert len(gone) == len(children)
    finally:
        if cli.poll() is None:
            cli.kill()
        for p in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
