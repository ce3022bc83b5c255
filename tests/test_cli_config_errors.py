"""Issue 14, row 8: a broken configuration is one line (file, entry, cause), exit 2, on
every command that needs it, not a traceback; a flow run with it fails with that message.

The broken folders are real copies of ``config/`` with one fault each: a duplicate
office code in ``offices.csv`` and a YAML syntax error in ``thresholds.yaml``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cxloop.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _duplicate_office(tmp_path: Path) -> tuple[Path, list[str]]:
    cfg = tmp_path / "config_dup"
    shutil.copytree(ROOT / "config", cfg)
    offices = cfg / "offices.csv"
    last = offices.read_text(encoding="utf-8").strip().splitlines()[-1]
    with offices.open("a", encoding="utf-8") as fh:
        fh.write(last + "\n")
    return cfg, [str(offices), "duplicate office codes", last.split(",")[0]]


def _bad_yaml(tmp_path: Path) -> tuple[Path, list[str]]:
    cfg = tmp_path / "config_yaml"
    shutil.copytree(ROOT / "config", cfg)
    thresholds = cfg / "thresholds.yaml"
    thresholds.write_text(
        thresholds.read_text(encoding="utf-8") + "\nstar: [unclosed\n  ratings: {\n", encoding="utf-8"
    )
    return cfg, [str(thresholds), "not valid YAML", "line"]


BROKEN = {"duplicate office": _duplicate_office, "bad yaml": _bad_yaml}


def _use_config(monkeypatch, cfg: Path) -> None:
    from cxloop.settings import reset_settings_cache

    monkeypatch.setenv("CXLOOP_CONFIG_DIR", str(cfg))
    reset_settings_cache()


def _assert_one_line(stderr: str, expected: list[str]) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("configuration error: ")
    for part in expected:
        assert part in lines[0], (part, lines[0])


@pytest.mark.parametrize("fault", sorted(BROKEN))
@pytest.mark.parametrize(
    "args",
    [
        ["cycle", "--quarter", "2026Q3", "--no-send"],
        ["demo", "--quarters", "2", "--no-send"],
        ["ingest", "{data}"],
        ["report", "--quarter", "2026Q3"],
        ["deliveries", "resend", "--quarter", "2026Q3"],
    ],
    ids=lambda a: a[0] if isinstance(a, list) else a,
)
def test_broken_config_is_one_line_exit_2(tmp_path, env, monkeypatch, fault, args):
    cfg, expected = BROKEN[fault](tmp_path)
    _use_config(monkeypatch, cfg)
    data = tmp_path / "incoming" / "2026Q3"
    data.mkdir(parents=True)
    (data / "star_survey_x.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    result = runner.invoke(app, [a.format(data=data) for a in args])
    assert result.exit_code == 2, (result.output, result.exception)
    _assert_one_line(result.stderr, expected)
    assert result.stdout == ""


def test_broken_config_on_the_real_command_line(tmp_path):
    """``python -m cxloop.cli cycle`` as a user runs it: stderr is the one line, rc 2,
    and no Prefect server is started (the configuration is read first)."""
    cfg, expected = _bad_yaml(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CXLOOP_", "PREFECT_"))}
    env.update(
        CXLOOP_CONFIG_DIR=str(cfg),
        CXLOOP_DATABASE_URL=f"sqlite:///{tmp_path / 'cx.db'}",
        CXLOOP_DATA_DIR=str(tmp_path / "incoming"),
        CXLOOP_OUT_DIR=str(tmp_path / "out"),
        PREFECT_HOME=str(tmp_path / "prefect"),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "cxloop.cli", "cycle", "--quarter", "2026Q3", "--no-send"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    _assert_one_line(proc.stderr, expected)
    assert proc.stdout == ""


def test_flow_run_with_broken_config_fails_with_the_message(tmp_path, env, monkeypatch, prefect_harness):
    """A Prefect run (here the cycle called with ``return_state``) fails, and its state
    message carries the configuration error (file, entry, cause)."""
    from flows.quarterly_cycle import quarterly_cycle

    cfg, expected = _duplicate_office(tmp_path)
    _use_config(monkeypatch, cfg)
    state = quarterly_cycle(quarter="2026Q3", send_reports=False, return_state=True)
    assert state.is_failed()
    for part in expected:
        assert part in (state.message or ""), state.message
