"""The bad-file corpus (tests/data/bad/): every file ingested into a fresh SQLite
database with the shipped registry gives the outcome listed in expected.yaml -
one clear error naming the file for a whole-file failure, otherwise every row
accepted, quarantined or counted as a duplicate."""

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from models.db import session_scope
from models.tables import Feedback, IngestedFile, Quarantine
from tasks.collect.decoding import IntakeError
from tasks.collect.discovery import channel_of
from tasks.collect.readers import read_channel_file
from tasks.validate.ingest import ingest_file

CORPUS = Path(__file__).resolve().parents[2] / "data" / "bad"
EXPECTED = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
NOT_CORPUS = {"expected.yaml", "generate.py"}


def _count(url, table, **where):
    with session_scope(url) as s:
        query = select(func.count()).select_from(table)
        for col, value in where.items():
            query = query.where(getattr(table, col) == value)
        return s.execute(query).scalar_one()


def test_corpus_is_complete_and_covers_every_channel():
    files = {p.name for p in CORPUS.iterdir() if p.is_file() and p.name not in NOT_CORPUS}
    assert files == set(EXPECTED), "every corpus file needs an entry in expected.yaml and vice versa"
    assert len(files) >= 30
    assert {e["channel"] for e in EXPECTED.values()} == {
        "star_survey",
        "review_book",
        "pos",
        "social",
        "contact_center",
        "interview_followup",
    }
    for name, entry in EXPECTED.items():
        assert channel_of(Path(name)) == entry["channel"], name
        assert ("rejected" in entry) != ("counts" in entry), name
        assert (CORPUS / name).stat().st_size < 20_000, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_outcome(name, db_url, registry, config):
    entry = EXPECTED[name]
    path = CORPUS / name
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, entry["channel"], "2026Q1", config, registry=registry)
    if "rejected" in entry:
        assert summary.status == "unreadable"
        assert summary.error.startswith(f"{path}: "), "the error names the file first"
        assert entry["rejected"] in summary.error
        assert "Traceback" not in summary.error and "\n" not in summary.error
        assert summary.received == summary.accepted == summary.quarantined == 0
        assert _count(db_url, IngestedFile) == _count(db_url, Feedback) == _count(db_url, Quarantine) == 0
        return
    received, accepted, quarantined, duplicates = entry["counts"]
    assert summary.status == "ingested" and summary.error is None
    assert (summary.received, summary.accepted, summary.quarantined, summary.duplicates) == (
        received,
        accepted,
        quarantined,
        duplicates,
    )
    assert summary.received == summary.accepted + summary.quarantined + summary.duplicates
    assert summary.warnings == entry.get("warnings", 0)
    # What the summary says is what the database holds.
    assert _count(db_url, Feedback, source_file=str(path)) == accepted
    assert _count(db_url, Quarantine, source_file=str(path)) == quarantined


@pytest.mark.parametrize(
    "name",
    [
        "star_survey_zip_bomb.xlsx",
        "star_survey_oversized.xlsx",
        "star_survey_docx_renamed.xlsx",
        "star_survey_truncated.xlsx",
    ],
)
def test_refused_archives_never_reach_openpyxl(name, config, monkeypatch):
    """The zip checks run on the central directory before anything is inflated."""
    import openpyxl

    def must_not_open(*args, **kwargs):
        raise AssertionError("openpyxl opened a workbook the zip checks should have refused")

    monkeypatch.setattr(openpyxl, "load_workbook", must_not_open)
    with pytest.raises(IntakeError, match=name.replace(".", r"\.")):
        read_channel_file(CORPUS / name, "star_survey", config)


def test_row_numbers_and_cells_of_awkward_files(config):
    multi = read_channel_file(CORPUS / "contact_center_multiline_comment.csv", "contact_center", config)
    assert multi.frame["source_row"].tolist() == [2, 5, 6]  # a record's row is the line it starts on
    assert multi.frame["comment"].tolist()[:2] == ["Всё хорошо,\nспасибо.\nОчень вежливо", 'Долго, "очень" долго']

    mixed = read_channel_file(CORPUS / "contact_center_mixed_line_endings.csv", "contact_center", config)
    assert mixed.frame["call_id"].tolist() == ["m1", "m2", "m3", "m4"] and mixed.frame["source_row"].tolist() == [
        2,
        3,
        4,
        5,
    ]

    nul = read_channel_file(CORPUS / "review_book_nul_bytes.csv", "review_book", config)
    assert nul.frame["text"].tolist()[:2] == ["Очередь в регистратуру", "Вежливый консультант"]

    ragged = read_channel_file(CORPUS / "interview_followup_ragged.csv", "interview_followup", config)
    assert ragged.frame["comment"].tolist()[0] == "ok"  # the extra cells after it are ignored
    assert ragged.frame[["q_clear_next_steps", "q_confident"]].iloc[1].isna().all()  # missing cells are empty
    assert ragged.frame["office_code"].isna().tolist() == [False, False, True, False]

    social = read_channel_file(CORPUS / "social_broken_lines.jsonl", "social", config)
    assert social.frame["source_row"].tolist() == [1, 6, 7]  # U+2028 inside a text does not split its line
    assert social.frame["id"].tolist()[2] == "123456789012345678901234567890"
    assert [row for row, _ in social.unreadable] == [2, 3, 5]
    assert "author" not in social.frame.columns

    sparse = read_channel_file(CORPUS / "review_book_sparse_wide.xlsx", "review_book", config)
    assert sparse.frame["office_code"].tolist()[0] == "52-01" and sparse.frame["source_row"].tolist() == [5, 8, 9]
    assert sparse.skipped_blank == 4


def test_personal_data_never_stored_from_corpus(db_url, registry, config):
    with session_scope(db_url) as s:
        for name in ("review_book_utf16_tab.txt", "review_book_sparse_wide.xlsx", "social_broken_lines.jsonl"):
            ingest_file(s, CORPUS / name, EXPECTED[name]["channel"], "2026Q1", config, registry=registry)
    with session_scope(db_url) as s:
        stored = " ".join(str(v) for row in s.execute(select(Feedback.text, Feedback.flags)).all() for v in row)
        stored += " ".join(str(v) for row in s.execute(select(Quarantine.reason)).all() for v in row)
    for pii in ("+7 912", "345-67-89", "Иванова", "Иван Петров"):
        assert pii not in stored
