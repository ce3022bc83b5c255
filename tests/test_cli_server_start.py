"""Issue 14, row 11: the CLI gives Prefect's embedded server a longer start-up limit
(unless the environment sets one), and when it still does not start the command ends
with one line on stderr telling how to run against a server, exit 1.

Real subprocesses (``python -m cxloop.cli``) with a fresh PREFECT_HOME each; the limit
is set to 0 s (Prefect's setting is whole seconds) to make the start fail for sure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CXLOOP_", "PREFECT_"))}
    env.update(
        CXLOOP_CONFIG_DIR=str(ROOT / "config"),
        CXLOOP_DATABASE_URL=f"sqlite:///{tmp_path / 'cx.db'}",
        CXLOOP_DATA_DIR=str(tmp_path / "incoming"),
        CXLOOP_OUT_DIR=str(tmp_path / "out"),
        PREFECT_HOME=str(tmp_path / "prefect"),
        GX_ANALYTICS_ENABLED="false",
        MPLBACKEND="Agg",
    )
    env.update(extra)
    return env


def test_prefect_setting_name_exists():
    """The setting the CLI sets is the one the installed Prefect reads."""
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    assert PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.name == SETTING


@pytest.mark.parametrize(("given", "expected"), [(None, "90"), ("7", "7")])
def test_cli_sets_a_longer_startup_limit_unless_given(tmp_path, given, expected):
    code = f"import os, cxloop.cli; print(os.environ['{SETTING}'])"
    extra = {SETTING: given} if given else {}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(tmp_path, **extra), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == expected


@pytest.mark.parametrize(
    "args", [["cycle", "--quarter", "2026Q3", "--no-send"], ["measures", "export"]], ids=lambda a: a[0]
)
def test_embedded_server_timeout_is_one_line_exit_1(tmp_path, args):
    if args[0] == "measures":
        args = [*args, "--csv", str(tmp_path / "register.csv")]
    proc = subprocess.run(
        [sys.executable, "-m", "cxloop.cli", *args],
        cwd=ROOT,
        env=_env(tmp_path, **{SETTING: "0"}),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    line = lines[0]
    assert "embedded server did not start within 0 s" in line
    assert SETTING in line and "PREFECT_API_URL=" in line and "cxloop server" in line
