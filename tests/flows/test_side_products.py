"""Row 2 of issue 14: a file name GE cannot use as a key (backslashes, 255 bytes) no longer
crashes the intake or the cycle, and a side product that fails (Data Docs, an artifact)
is logged and reported while the intake and the cycle go on."""

from pathlib import Path

from sqlalchemy import func, select

GOOD = (
    "call_id,call_date,office_code,client_type,rating,comment\n"
    "c{n}1,2026-02-01,52-01,citizen,5,Спасибо\n"
    "c{n}2,2026-02-02,52-02,citizen,2,Долго ждал ответа по телефону\n"
)
LONG = "contact_center_" + "b" * (255 - len("contact_center_") - len(".csv")) + ".csv"
HOSTILE = ["contact_center_..\\..\\x.csv", LONG, "contact_center_52.csv"]


def _drop(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, name in enumerate(HOSTILE):
        (folder / name).write_text(GOOD.format(n=n), encoding="utf-8")
    return folder


def _feedback_rows() -> int:
    from models.db import session_scope
    from models.tables import Feedback

    with session_scope() as s:
        return s.execute(select(func.count()).select_from(Feedback)).scalar_one()


def _markdown(flow_run_id, prefix: str = "ingest-validation-") -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return next(a.data for a in arts if a.key.startswith(prefix))


def test_hostile_file_names_are_ingested_with_data_docs(tmp_path, env, prefect_harness):
    from flows.ingest import ingest_feedback
    from tasks.validate.datadocs import docs_key

    folder = _drop(tmp_path / "drop" / "2026Q1")
    state = ingest_feedback([str(folder)], return_state=True)
    assert state.is_completed() and state.name == "Completed", state.message
    summary = state.result()
    assert sorted(Path(f["file"]).name for f in summary["files"]) == sorted(HOSTILE)
    for f in summary["files"]:
        assert (f["received"], f["accepted"], f["rejected"]) == (2, 2, False)
    assert _feedback_rows() == 6
    assert summary["side_products_failed"] == []
    site = env.out_dir / "data_docs"
    assert summary["data_docs"] == (site / "index.html").resolve().as_uri()
    pages = [p for p in site.rglob("*.html") if "validations" in p.parts]
    assert {p.stem for p in pages} == {docs_key(n) for n in HOSTILE}  # a page per file (and suite)
    assert "contact_center_" in (site / "index.html").read_text(encoding="utf-8")


def test_data_docs_failure_does_not_fail_the_intake(tmp_path, env, prefect_harness, caplog):
    from flows.ingest import ingest_feedback

    (env.out_dir / "data_docs").write_text("a file where the site's folder should be", encoding="utf-8")
    folder = _drop(tmp_path / "drop" / "2026Q1")
    state = ingest_feedback([str(folder)], return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["side_products_failed"] == ["data_docs"] and summary["data_docs"] is None
    assert summary["totals"]["accepted"] == 6 and summary["totals"]["received"] == 6
    assert _feedback_rows() == 6  # the intake was committed and stays
    table = _markdown(state.state_details.flow_run_id)
    assert "Data Docs were not built" in table and "| contact_center_52.csv |" in table


def test_data_docs_failure_does_not_fail_the_cycle(env, prefect_harness):
    from flows.quarterly_cycle import quarterly_cycle

    (env.out_dir / "data_docs").write_text("not a folder", encoding="utf-8")
    _drop(env.data_dir / "2026Q1")
    state = quarterly_cycle(quarter="2026Q1", send_reports=False, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["intake"]["accepted"] == 6
    assert summary["side_products_failed"] == ["data_docs"]
    assert len(summary["reports"]) == 4  # the reports were still written
    assert "not produced" in _markdown(state.state_details.flow_run_id, "cx-cycle-2026q1")
