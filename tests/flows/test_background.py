"""flows.background: a call made in a spawned process while the caller goes on (the cycle's
GE Data Docs), and the ingest flow's Data Docs built that way and collected afterwards."""

import os
import time
from pathlib import Path

import pytest

from flows.background import BackgroundCall


def _pid_and_double(n: int) -> tuple[int, int]:
    return os.getpid(), 2 * n


def _fail(message: str) -> None:
    raise ValueError(message)


def test_call_runs_in_another_process_and_returns_its_value():
    call = BackgroundCall(_pid_and_double, 21)
    pid, value = call.result(timeout=60)
    assert value == 42 and pid != os.getpid()
    assert call.done() and call.result() == (pid, 42)  # the same result again
    deadline = time.monotonic() + 60
    while _alive(pid) and time.monotonic() < deadline:  # told to end, not waited for
        time.sleep(0.1)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_an_error_in_the_call_is_raised_by_result():
    call = BackgroundCall(_fail, "no site")
    with pytest.raises(ValueError, match="no site"):
        call.result(timeout=60)


GOOD = "call_id,call_date,office_code,client_type,rating,comment\nc1,2026-02-01,52-01,citizen,5,Спасибо\n"


def _links(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return [a for a in arts if a.key == "ge-data-docs"]


def test_intake_leaves_data_docs_building_and_collect_waits_for_them(tmp_path, env, prefect_harness):
    from prefect import flow
    from prefect.context import get_run_context

    from flows.ingest import collect_data_docs, ingest_feedback, start_data_docs

    folder = tmp_path / "drop" / "2026Q1"
    folder.mkdir(parents=True)
    (folder / "contact_center_52.csv").write_text(GOOD, encoding="utf-8")
    index = (env.out_dir / "data_docs" / "index.html").resolve()

    @flow
    def caller() -> tuple[dict, list[str], bool, str]:
        intake = ingest_feedback([str(folder)], data_docs_in_background=True)
        if "data_docs_pending" in intake:  # left for the caller to start, when a core is free
            assert not index.is_file()
        start_data_docs(intake)
        failed: list[str] = []
        collect_data_docs(intake, failed)
        built_after = index.is_file()
        collect_data_docs(intake, failed)  # collected once: the second call does nothing
        return intake, failed, built_after, str(get_run_context().flow_run.id)

    intake, failed, built_after, run_id = caller()
    assert intake["totals"]["accepted"] == 1 and intake["side_products_failed"] == []
    assert intake["data_docs"] == index.as_uri() and intake["data_docs_pending"]
    assert failed == [] and built_after
    assert any("contact_center_52" in p.name for p in Path(index.parent).rglob("*.html"))
    assert [a.data for a in _links(run_id)] == [f"[Great Expectations Data Docs]({index.as_uri()})"]  # by the caller

    # The same folder again: every file known, nothing validated, no process started; the
    # existing site is still the run's link.
    again, failed, _, _ = caller()
    assert again["totals"]["duplicates"] == 1 and "data_docs_pending" not in again
    assert again["data_docs"] == index.as_uri() and failed == []


def test_collect_reports_data_docs_that_failed_in_the_background(tmp_path, env, prefect_harness):
    from prefect import flow

    from flows.ingest import collect_data_docs, ingest_feedback

    (env.out_dir / "data_docs").write_text("a file where the site's folder should be", encoding="utf-8")
    folder = tmp_path / "drop" / "2026Q1"
    folder.mkdir(parents=True)
    (folder / "contact_center_52.csv").write_text(GOOD, encoding="utf-8")

    @flow
    def caller() -> list[str]:
        intake = ingest_feedback([str(folder)], data_docs_in_background=True)
        failed: list[str] = []
        collect_data_docs(intake, failed)
        return failed

    assert caller() == ["data_docs"]


def test_a_call_made_for_later_starts_when_told_or_when_its_result_is_asked_for():
    later = BackgroundCall.later(_pid_and_double, 4)
    assert not later.started and not later.done()
    later.start()
    later.start()  # once
    assert later.started and later.result(timeout=60)[1] == 8
    never_started = BackgroundCall.later(_pid_and_double, 5)
    assert never_started.result(timeout=60)[1] == 10 and never_started.started
    failing = BackgroundCall.later(_fail, "late")
    with pytest.raises(ValueError, match="late"):
        failing.result(timeout=60)
