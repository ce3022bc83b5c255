"""Issue 14, row 12 with a real worker: a process worker started without CXLOOP_HOME,
from a folder that is not the project, runs a deployment of prefect.yaml to completion.

Slow (a Prefect server, a work pool, ``prefect deploy``, a worker): about a minute.
The fast checks of the pull step are in tests/flows/test_deploy_home.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the Prefect server exited"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"no answer from {url}/health within {timeout:.0f} s")


@pytest.mark.slow
def test_worker_without_cxloop_home_completes_a_run(tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CXLOOP_"))}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_API_URL=url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        CXLOOP_DATABASE_URL=f"sqlite:///{tmp_path / 'cx.db'}",
        CXLOOP_CONFIG_DIR=str(ROOT / "config"),
        CXLOOP_DATA_DIR=str(tmp_path / "incoming"),
        CXLOOP_OUT_DIR=str(tmp_path / "out"),
        GX_ANALYTICS_ENABLED="false",
        MPLBACKEND="Agg",
    )
    elsewhere = tmp_path / "worker-home"  # the worker is not started in the project
    elsewhere.mkdir()
    procs: list[subprocess.Popen] = []

    def start(name: str, args: list[str], cwd: Path) -> subprocess.Popen:
        log = (tmp_path / f"{name}.log").open("wb")
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        return proc

    def run(args: list[str], timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)

    try:
        server = start(
            "server", [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"], ROOT
        )
        _wait_healthy(url, server)
        assert run([*PREFECT, "work-pool", "create", "cxloop", "--type", "process"]).returncode == 0
        deployed = run([*PREFECT, "--no-prompt", "deploy", "--name", "export-measure-register"], timeout=300)
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        start("worker", [*PREFECT, "worker", "start", "--pool", "cxloop"], elsewhere)
        csv = tmp_path / "out" / "register.csv"
        ran = run(
            [
                *PREFECT,
                "deployment",
                "run",
                "export-measure-register/export-measure-register",
                "--param",
                f"csv={csv}",
                "--watch",
                "--watch-timeout",
                "240",
            ],
            timeout=300,
        )
        worker_log = (tmp_path / "worker.log").read_text(errors="replace")[-4000:]
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:] + worker_log
        assert "Completed" in ran.stdout, ran.stdout[-3000:] + worker_log
        assert csv.is_file()
        assert "FileNotFoundError" not in worker_log
    finally:
        for proc in reversed(procs):
            _stop(proc)
