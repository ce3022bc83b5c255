"""cxloop.lifeline: a child with a lifeline ends when its parent is gone (issue 14, row 9).

Real processes: a parent that starts a child and is then killed with SIGKILL. The whole
cycle killed during report rendering is tests/test_cli_killed_cycle.py (slow).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]

# The parent prints its child's pid, then waits to be killed. The child sleeps for a minute,
# with or without a lifeline on its parent.
_PARENT = textwrap.dedent(
    """
    import multiprocessing, sys, time
    from cxloop.lifeline import worker_initializer
    import os

    def child(with_lifeline, parent):
        if with_lifeline:
            worker_initializer(parent)
        time.sleep(60)

    if __name__ == "__main__":
        ctx = multiprocessing.get_context("spawn")
        p = ctx.Process(target=child, args=(sys.argv[1] == "1", os.getpid()))
        p.start()
        print(p.pid, flush=True)
        time.sleep(120)
    """
)


def _orphaned_child_survives(tmp_path: Path, with_lifeline: bool) -> bool:
    script = tmp_path / "parent.py"
    script.write_text(_PARENT, encoding="utf-8")
    parent = subprocess.Popen(
        [sys.executable, str(script), "1" if with_lifeline else "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = psutil.Process(int(parent.stdout.readline()))
    try:
        parent.kill()
        parent.wait(timeout=10)
        try:
            child.wait(timeout=5)
        except psutil.TimeoutExpired:
            return True
        return False
    finally:
        if child.is_running():
            child.kill()


def test_child_with_lifeline_ends_with_its_killed_parent(tmp_path):
    assert _orphaned_child_survives(tmp_path, with_lifeline=True) is False


def test_child_without_lifeline_outlives_its_killed_parent(tmp_path):
    """The control: what happened before (and what the test above would show if broken)."""
    assert _orphaned_child_survives(tmp_path, with_lifeline=False) is True


@pytest.mark.parametrize(("api_url", "expected"), [(None, "GuardedServer"), ("http://127.0.0.1:9/api", None)])
def test_importing_flows_guards_the_embedded_server_only_when_one_would_start(tmp_path, api_url, expected):
    code = (
        "import flows\n"
        "from prefect.server.api.server import SubprocessASGIServer as S\n"
        "print(type(S._instances[None]).__name__ if None in S._instances else None)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    (tmp_path / "prefect").mkdir()
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    if api_url:
        env["PREFECT_API_URL"] = api_url
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(expected)


_SPAWNING_SCRIPT = """
import multiprocessing
import sys

import flows  # in the child too: spawn imports this script again, as __mp_main__
from cxloop.lifeline import in_spawned_child


def probe(_):
    return in_spawned_child(), "prefect.server.api.server" in sys.modules


if __name__ == "__main__":
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child = pool.map(probe, [0])[0]
    print(in_spawned_child(), "prefect.server.api.server" in sys.modules, *child)
"""


def test_a_spawned_worker_does_not_load_the_server_its_parent_guards(tmp_path):
    """A pool's worker imports the parent's main module (and with it :mod:`flows`) before it
    is told it is a child; it is handed the parent's API, so it must not load Prefect's
    server module (~1.6 s of CPU per worker), while the parent still guards its server."""
    script = tmp_path / "spawning.py"
    script.write_text(_SPAWNING_SCRIPT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    (tmp_path / "prefect").mkdir()
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    parent_is_child, parent_loaded, child_is_child, child_loaded = proc.stdout.split()
    assert (parent_is_child, parent_loaded) == ("False", "True")
    assert (child_is_child, child_loaded) == ("True", "False")
