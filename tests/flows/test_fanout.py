"""The per-region fan-out of the quarterly cycle (flows/fanout.py).

The cycle's reports, rendered one task per scope through the flow's task runner (local
processes, then a local Dask cluster), are byte for byte the PDFs the serial path
(``tasks.reports.render.write_reports`` in one session) writes from the same database, in the
same order, with the same key messages and hashes. The runner follows
``CXLOOP_DASK_ADDRESS`` at each run, and a scope that fails does not lose the others.
"""

from __future__ import annotations

from pathlib import Path

import pytest

Q = "2026Q2"
REGIONS = ("52", "66")  # demo data for two regions; the third configured region gets its (empty) report too


def _demo_quarter(settings) -> None:
    """A small demo quarter in the drop folder: two regions at 30 % of the demo's volume."""
    from cxloop.config import get_config
    from cxloop.quarters import Quarter
    from demo.generate import generate_demo_data

    offices = [o for o in get_config(settings.config_dir).offices if o.region_code in REGIONS]
    generate_demo_data(settings.data_dir, [Quarter.parse(Q)], seed=5, offices=offices, scale=0.3)


def _serial_reports(settings, folder: Path) -> dict:
    """The serial path: every scope built and rendered in one session, in this process."""
    from cxloop.config import get_config
    from models.db import session_scope
    from tasks.reports.render import write_reports

    with session_scope() as session:
        return write_reports(session, Q, get_config(settings.config_dir), folder, lang="ru")


def _render_task_runs(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return [r for r in runs if r.name.startswith("render-report-")]


def _text_diff(got: Path, want: Path) -> str:
    """What differs, as text (pypdf), to make a failure readable."""
    import difflib

    from pypdf import PdfReader

    def lines(path):
        return "\n".join(page.extract_text() for page in PdfReader(path).pages).splitlines()

    return "\n".join(list(difflib.unified_diff(lines(want), lines(got), "serial", "fan-out", lineterm=""))[:30])


def _assert_same_reports(summary: dict, serial: dict) -> None:
    from cxloop.files import file_sha256

    fanned = [Path(p) for p in summary["reports"]]
    assert [p.name for p in fanned] == [r.path.name for r in serial.values()]  # same scopes, same order
    assert list(serial)[0] == "national" and set(serial) == {"national", "52", "66", "10"}
    for path, ref in zip(fanned, serial.values(), strict=True):
        assert path != ref.path
        assert path.read_bytes() == ref.path.read_bytes(), f"{path.name}:\n{_text_diff(path, ref.path)}"
        assert file_sha256(path) == ref.sha256
    # The regions with data have real content: the PDFs differ from scope to scope.
    assert len({file_sha256(p) for p in fanned}) == len(fanned)


# --------------------------------------------------------------------------- runner choice


def test_runner_follows_dask_address_at_each_run(monkeypatch):
    from prefect.task_runners import ProcessPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from flows.fanout import DASK_ADDRESS_ENV, CycleTaskRunner, task_runner
    from flows.quarterly_cycle import quarterly_cycle

    assert isinstance(quarterly_cycle.task_runner, CycleTaskRunner)
    monkeypatch.delenv(DASK_ADDRESS_ENV, raising=False)
    runner = quarterly_cycle.task_runner.duplicate()  # what Prefect enters at the start of a run
    assert type(runner) is ProcessPoolTaskRunner
    assert type(task_runner(3)) is ProcessPoolTaskRunner and task_runner(3)._max_workers == 3
    monkeypatch.setenv(DASK_ADDRESS_ENV, " tcp://127.0.0.1:8786 ")
    runner = quarterly_cycle.task_runner.duplicate()
    assert isinstance(runner, DaskTaskRunner) and runner.address == "tcp://127.0.0.1:8786"
    monkeypatch.setenv(DASK_ADDRESS_ENV, "")
    assert type(quarterly_cycle.task_runner.duplicate()) is ProcessPoolTaskRunner


def test_dask_address_is_a_setting_read_from_dot_env_too(monkeypatch, tmp_path):
    from prefect_dask import DaskTaskRunner

    from flows.fanout import DASK_ADDRESS_ENV, dask_address, task_runner

    monkeypatch.delenv(DASK_ADDRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert dask_address() is None
    (tmp_path / ".env").write_text("CXLOOP_DASK_ADDRESS=tcp://10.0.0.5:8786\n", encoding="utf-8")
    assert dask_address() == "tcp://10.0.0.5:8786"
    assert isinstance(task_runner(), DaskTaskRunner) and task_runner().address == "tcp://10.0.0.5:8786"
    monkeypatch.setenv(DASK_ADDRESS_ENV, "tcp://10.0.0.6:8786")  # the environment wins over .env
    assert dask_address() == "tcp://10.0.0.6:8786"


# --------------------------------------------------------------------------- through processes


def test_cycle_reports_through_processes_equal_serial(env, prefect_harness, tmp_path, monkeypatch):
    from flows.fanout import DASK_ADDRESS_ENV
    from flows.quarterly_cycle import quarterly_cycle

    monkeypatch.delenv(DASK_ADDRESS_ENV, raising=False)
    _demo_quarter(env)
    state = quarterly_cycle(quarter=Q, send_reports=False, return_state=True)
    summary = state.result()
    assert summary["intake"]["accepted"] > 0
    serial = _serial_reports(env, tmp_path / "serial")
    _assert_same_reports(summary, serial)
    runs = _render_task_runs(state.state_details.flow_run_id)
    assert sorted(r.name for r in runs) == sorted(f"render-report-{s}" for s in serial)
    assert all(r.state.is_completed() for r in runs)


def test_fan_out_returns_write_reports_shape_and_keeps_the_others_when_a_scope_fails(env, prefect_harness, monkeypatch):
    """Gathering, without the cost of processes: national renders (an empty database is a
    valid, if empty, quarter), an unknown region fails in its task; the national PDF is
    still written, then the error names the failed scope. The register CSV every report
    embeds is exported once per fan-out, not once per task."""
    from prefect import flow
    from prefect.task_runners import ThreadPoolTaskRunner

    import tasks.reports.attachments as attachments
    import tasks.reports.render as render
    from cxloop.config import get_config
    from flows.fanout import ReportRenderingError, fan_out_reports
    from models.db import session_scope
    from tasks.reports.render import ReportFile, report_path, write_reports

    config = get_config(env.config_dir)
    exports: list[str] = []
    real_export = attachments.register_csv_bytes

    def counted(session, quarter, lang="ru"):
        exports.append(quarter)
        return real_export(session, quarter, lang)

    monkeypatch.setattr(attachments, "register_csv_bytes", counted)
    monkeypatch.setattr(render, "register_csv_bytes", counted)

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def reports_only(scopes: list[str]) -> dict:
        return fan_out_reports(Q, config, env, "ru", scopes=scopes)

    with pytest.raises(ReportRenderingError, match=r"not rendered for 99 \(ValueError\); 1 other"):
        reports_only(["national", "99"])
    national = report_path(env.out_dir, Q, "national", "ru")
    assert national.is_file() and not national.with_suffix(".pdf.part").exists()

    exports.clear()
    got = reports_only(["national", "10"])
    assert exports == [Q]
    with session_scope() as session:
        want = write_reports(session, Q, config, env.out_dir / "serial", scopes=["national", "10"])
    assert list(got) == ["national", "10"]
    for scope, ref in want.items():
        r = got[scope]
        assert isinstance(r, ReportFile) and r.scope == scope
        assert r.path == report_path(env.out_dir, Q, scope, "ru")
        assert r.sha256 == ref.sha256 and r.key_messages == ref.key_messages and r.key_messages


def test_fan_out_hands_each_scope_the_survey_findings_it_is_given(env, prefect_harness):
    """A scope's survey findings passed to ``fan_out_reports`` reach its task: the report
    shows them (here made up: 60 respondents in a region with none in the database), as
    the serial path does given the same, and unlike the report read from the database."""
    import numpy as np
    import pandas as pd
    from prefect import flow
    from prefect.task_runners import ThreadPoolTaskRunner

    from cxloop.config import get_config
    from cxloop.domain import ITEMS, SURVEY_QUESTIONS
    from flows.fanout import fan_out_reports
    from models.db import session_scope
    from tasks.reports.render import write_reports
    from tasks.reports.scope_survey import survey_of

    config = get_config(env.config_dir)
    rng = np.random.default_rng(7)
    answers = pd.DataFrame({"office_code": "x", "region_code": "10", "client_type": ["citizen", "employer"] * 30})
    for item in ITEMS:
        answers[item] = rng.integers(1, 6, len(answers)).astype("float64")
    for question, (low, high) in SURVEY_QUESTIONS.items():
        answers[question] = rng.integers(int(low), int(high) + 1, len(answers)).astype("float64")
    made_up = survey_of(answers)
    assert made_up.metrics["all"]["n"] == 60

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def reports_only() -> dict:
        return fan_out_reports(Q, config, env, "ru", scopes=["10"], surveys={"10": made_up})

    got = reports_only()["10"]
    with session_scope() as session:
        given = write_reports(session, Q, config, env.out_dir / "given", scopes=["10"], surveys={"10": made_up})
        own = write_reports(session, Q, config, env.out_dir / "own", scopes=["10"])
    assert got.sha256 == given["10"].sha256 != own["10"].sha256


# --------------------------------------------------------------------------- through Dask


# ~17 s on an idle 2-core machine (cluster and worker start-up included): not marked slow.
def test_cycle_reports_through_a_local_dask_cluster_equal_serial(env, prefect_harness, tmp_path, monkeypatch):
    from distributed import LocalCluster

    from flows.fanout import DASK_ADDRESS_ENV
    from flows.quarterly_cycle import quarterly_cycle

    _demo_quarter(env)
    # Worker processes are started after `env` set CXLOOP_*: they read the test's database.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        monkeypatch.setenv(DASK_ADDRESS_ENV, cluster.scheduler_address)
        state = quarterly_cycle(quarter=Q, send_reports=False, return_state=True)
        summary = state.result()
        done_on_dask = {name: dict(prefix.state_counts) for name, prefix in cluster.scheduler.task_prefixes.items()}
    serial = _serial_reports(env, tmp_path / "serial")
    _assert_same_reports(summary, serial)
    runs = _render_task_runs(state.state_details.flow_run_id)
    assert len(runs) == 4 and all(r.state.is_completed() for r in runs)
    # The Dask scheduler ran them: one task per scope (key prefix = the task's function),
    # each one went through "processing" on a worker to "memory" (finished), none erred.
    # (state_counts counts every state a task has been in.)
    counts = done_on_dask.get("render_region_reports", {})
    assert counts.get("processing") == counts.get("memory") == 4 and not counts.get("erred"), done_on_dask
