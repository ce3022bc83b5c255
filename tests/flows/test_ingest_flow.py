"""The ingest flow on a real Prefect harness: one task per file, a bad file never stops
the others, the run ends "Partial", artifacts and Data Docs carry counts, never rows."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

GOOD = (
    "call_id,call_date,office_code,client_type,rating,comment\n"
    "c1,2026-02-01,52-01,citizen,5,Спасибо\n"
    "c2,2026-02-02,52-02,employer,4,\n"
)
# row 2: a phone typed into the office column (personal data; must not reach any artifact),
# row 3: an unknown office, row 4: a bad date -> 3 quarantined, 1 accepted
WITH_BAD_ROWS = (
    "\n".join(
        [
            "Дата;Код ЦЗН;Категория заявителя;Текст отзыва;Оценка",
            "+7 912 345-67-89;52-01;гражданин;Нормально;4",
            "13.03.2026;89123456789;гражданин;Нет пандуса;3",
            "14.03.2026;52-99;гражданин;Очередь;2",
            "15.03.2026;52-01;работодатель;Кандидаты не приходят;",
        ]
    )
    + "\n"
)
GARBAGE = b"\x00\xff\x00\xfe\x89PNG\r\n\x1a\n\x00\x00garbage\x00"


def _folder(root: Path) -> Path:
    folder = root / "drop" / "2026Q1"
    folder.mkdir(parents=True)
    (folder / "contact_center_52.csv").write_text(GOOD, encoding="utf-8")
    (folder / "review_book_52.csv").write_bytes(WITH_BAD_ROWS.encode("cp1251"))
    (folder / "contact_center_broken.csv").write_bytes(GARBAGE)
    return folder


def _artifacts(flow_run_id):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def test_without_paths_the_drop_folder_is_ingested(tmp_path, env, prefect_harness):
    import shutil

    from flows.ingest import ingest_feedback

    folder = _folder(tmp_path)
    shutil.copytree(folder, env.data_dir / "2026Q1")
    summary = ingest_feedback()
    names = sorted(Path(f["file"]).name for f in summary["files"])
    assert names == ["contact_center_52.csv", "contact_center_broken.csv", "review_book_52.csv"]
    assert all(Path(f["file"]).parent == env.data_dir / "2026Q1" for f in summary["files"])
    assert all(f["quarter"] == "2026Q1" for f in summary["files"])


def test_bad_file_does_not_stop_the_others_and_run_is_partial(tmp_path, env, prefect_harness):
    from flows.ingest import ingest_feedback
    from models.db import session_scope
    from models.tables import Feedback, IngestedFile, Quarantine

    folder = _folder(tmp_path)
    state = ingest_feedback([str(folder)], return_state=True)
    assert state.is_completed() and state.name == "Partial"
    assert "contact_center_broken.csv" in state.message
    summary = state.result()
    files = {Path(f["file"]).name: f for f in summary["files"]}
    assert set(files) == {"contact_center_52.csv", "review_book_52.csv", "contact_center_broken.csv"}
    broken = files.pop("contact_center_broken.csv")
    assert broken["rejected"] and "contact_center_broken.csv" in broken["error"] and broken["received"] == 0
    for f in files.values():  # processed, identity per file, quarter from the folder name
        assert not f["rejected"] and f["error"] is None and f["quarter"] == "2026Q1"
        assert f["received"] == f["accepted"] + f["quarantined"] + f["duplicates"]
    assert (files["contact_center_52.csv"]["received"], files["contact_center_52.csv"]["accepted"]) == (2, 2)
    review = files["review_book_52.csv"]
    assert (review["received"], review["accepted"], review["quarantined"]) == (4, 1, 3)
    assert summary["totals"]["rejected_files"] == 1 and summary["totals"]["files"] == 3

    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(Feedback)).scalar_one() == 3
        assert s.execute(select(func.count()).select_from(Quarantine)).scalar_one() == 3
        assert (
            s.execute(select(func.count()).select_from(IngestedFile)).scalar_one() == 2
        )  # nothing recorded for the garbage

    index = env.out_dir / "data_docs" / "index.html"
    assert summary["data_docs"] == index.resolve().as_uri() and index.exists()
    pages = [p for p in (env.out_dir / "data_docs").rglob("*") if p.suffix in (".html", ".json")]
    page_text = "\n".join(p.read_text(encoding="utf-8") for p in pages)
    assert "review_book_52.csv" in page_text and "expect_column_values_to_be_in_set" in page_text
    # Whole values only: short digit runs like "912" turn up by chance in ids and timestamps.
    for secret in ("345-67-89", "89123456789", "Нет пандуса"):  # no row value reaches the docs
        assert secret not in page_text

    artifacts = _artifacts(state.state_details.flow_run_id)
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == {"ingest-validation-2026q1", "ge-data-docs"}
    table = by_key["ingest-validation-2026q1"].data
    assert "| review_book_52.csv | review_book | 2026Q1 | ingested | 4 | 1 | 3 | 0 |" in table
    assert (
        "| review_book_52.csv | review_book | expect_column_values_to_be_in_set | office_code | critical | 4 | 2 |"
        in table
    )
    assert "contact_center_broken.csv" in table and "345-67-89" not in table and "89123456789" not in table
    assert f"({index.resolve().as_uri()})" in by_key["ge-data-docs"].data  # Prefect stores a link as markdown


def test_clean_run_is_completed_and_rerun_is_a_no_op(tmp_path, env, prefect_harness):
    from flows.ingest import ingest_feedback

    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "contact_center_52.csv").write_text(GOOD, encoding="utf-8")
    (folder / "notes.md").write_text("not an export", encoding="utf-8")  # not a readable kind: not taken from a folder
    first = ingest_feedback(str(folder / "*.csv"), quarter="2026Q2", return_state=True)
    assert first.name == "Completed"
    assert [(f["accepted"], f["quarter"]) for f in first.result()["files"]] == [(2, "2026Q2")]
    again = ingest_feedback([str(folder)], quarter="2026Q2", return_state=True)
    assert again.name == "Completed"
    [f] = again.result()["files"]
    assert (f["status"], f["duplicates"], f["accepted"]) == ("already_ingested", 2, 0)


def test_bad_input_fails_the_run_with_a_clear_message(tmp_path, env, prefect_harness):
    from flows.ingest import ingest_feedback
    from tasks.collect.discovery import InputError

    with pytest.raises(InputError, match="nowhere.csv: no such file or folder"):
        ingest_feedback([str(tmp_path / "nowhere.csv")])


def test_relative_out_dir_as_in_the_default_settings(tmp_path, env, prefect_harness, monkeypatch):
    """The defaults are relative (out/, var/): Data Docs must still build (a fresh
    clone's `make demo` once failed on GE wanting absolute folders)."""
    from cxloop.settings import reset_settings_cache
    from flows.ingest import ingest_feedback

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CXLOOP_OUT_DIR", "out")
    reset_settings_cache()
    (tmp_path / "contact_center_52.csv").write_text(GOOD, encoding="utf-8")
    state = ingest_feedback(["contact_center_52.csv"], quarter="2026Q1", return_state=True)
    assert state.name == "Completed"
    assert (tmp_path / "out" / "data_docs" / "index.html").is_file()
