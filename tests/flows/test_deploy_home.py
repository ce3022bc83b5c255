"""Issue 14, row 12: a worker started without CXLOOP_HOME runs the flows anyway.

A process worker runs each flow run in a new process in a temporary folder; Prefect
there runs the pull steps of the deployment (``prefect.yaml``'s ``pull:``, stored as
written: ``{{ $CXLOOP_HOME }}`` is filled in the worker, from the worker's environment)
and then loads the entrypoint relative to the working directory they leave. These tests
do exactly that from an empty temporary folder, with Prefect's own ``run_steps``
(against the session's Prefect API) and ``load_flow_from_entrypoint``: without CXLOOP_HOME (the project
folder the code is installed from), with CXLOOP_HOME pointing at another copy of the
project (it wins), and with CXLOOP_HOME pointing at a folder that is not the project
(the run fails at once, naming CXLOOP_HOME).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_settings():
    """The pull step re-reads the settings in the folder it moves to; read them again after."""
    from cxloop.settings import reset_settings_cache

    yield
    reset_settings_cache()


def _worker_run(tmp_path: Path, monkeypatch, home: str | None) -> dict:
    """The pull steps of prefect.yaml and the cycle's entrypoint, as a worker's flow-run
    process runs them: in an empty temporary folder, CXLOOP_HOME as given."""
    import asyncio

    from prefect.deployments.steps.core import run_steps
    from prefect.flows import load_flow_from_entrypoint

    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    entry = next(d for d in doc["deployments"] if d["name"] == "quarterly-cx-cycle")["entrypoint"]
    scratch = tmp_path / "worker-scratch"
    scratch.mkdir(exist_ok=True)
    monkeypatch.chdir(scratch)  # restored after the test, whatever the steps did
    if home is None:
        monkeypatch.delenv("CXLOOP_HOME", raising=False)
    else:
        monkeypatch.setenv("CXLOOP_HOME", home)
    try:
        asyncio.run(run_steps(doc["pull"], {}))
    except Exception as exc:  # what the worker records as the run's failure (with its cause)
        return {"error": f"{exc} <- {type(exc.__cause__).__name__}: {exc.__cause__}"}
    flow = load_flow_from_entrypoint(entry)
    return {"cwd": os.getcwd(), "flow": flow.name}


def test_pull_step_is_filled_in_the_worker():
    """The pull step keeps its CXLOOP_HOME placeholder (an override read by the worker)."""
    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    assert doc["pull"] and "{{ $CXLOOP_HOME }}" in json.dumps(doc["pull"])


def test_worker_without_cxloop_home_runs_in_the_project(tmp_path, monkeypatch, prefect_harness):
    out = _worker_run(tmp_path, monkeypatch, None)
    assert out.get("cwd") == str(ROOT), out
    assert out["flow"] == "quarterly-cx-cycle"


def test_empty_cxloop_home_counts_as_unset(tmp_path, monkeypatch, prefect_harness):
    out = _worker_run(tmp_path, monkeypatch, "")
    assert out.get("cwd") == str(ROOT), out


def test_cxloop_home_overrides(tmp_path, monkeypatch, prefect_harness):
    other = tmp_path / "cxloop-copy"
    other.mkdir()
    shutil.copytree(ROOT / "flows", other / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    out = _worker_run(tmp_path, monkeypatch, str(other))
    assert out.get("cwd") == str(other), out


def test_cxloop_home_not_the_project_fails_at_once_naming_it(tmp_path, monkeypatch, prefect_harness):
    wrong = tmp_path / "not-cxloop"
    wrong.mkdir()
    out = _worker_run(tmp_path, monkeypatch, str(wrong))
    assert "error" in out, out
    assert "CXLOOP_HOME" in out["error"] and str(wrong) in out["error"]
    assert "FileNotFoundError" not in out["error"]
