"""Files validated in batches (tasks.validate.batch) end exactly as files ingested one by one:
the same database rows (ids included), the same per-file summaries and the same suite outcomes
for Data Docs, whatever the batch holds (planted bad rows, a repeat of a file of the batch,
a file already ingested, an unreadable file, a file named after no channel)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from cxloop.config import load_config
from cxloop.quarters import Quarter
from demo.generate import generate_demo_data
from models.db import get_engine, upgrade
from tasks.collect.discovery import resolve_inputs
from tasks.collect.step import sync_registry
from tasks.validate.batch import ingest_files, prepare_files
from tasks.validate.step import ingest_one_file
from tasks.validate.suites import run_suite, run_suite_split

ROOT = Path(__file__).resolve().parents[3]
TABLES = {"ingested_file": "id", "feedback": "id", "survey_answer": "feedback_id", "quarantine": "id"}


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "config")


@pytest.fixture(scope="module")
def drop(tmp_path_factory, config) -> Path:
    """Two demo quarters, plus in the second: a copy of a file under another name, an unreadable
    file, a file named after no channel, and a file of the first quarter sent again."""
    root = tmp_path_factory.mktemp("batch") / "incoming"
    generate_demo_data(
        root, [Quarter.parse("2026Q1"), Quarter.parse("2026Q2")], seed=3, offices=config.offices, scale=0.3
    )
    q2 = root / "2026Q2"
    shutil.copy(q2 / "review_book_52.xlsx", q2 / "review_book_52_copy.xlsx")
    (q2 / "social_99.jsonl").write_bytes(b"\x00\x01garbage\xff" * 50)
    (q2 / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    shutil.copy(root / "2026Q1" / "pos_10.json", q2 / "pos_10_again.json")
    return root


def _dump(url: str) -> dict[str, pd.DataFrame]:
    with get_engine(url).connect() as c:
        return {t: pd.read_sql_query(text(f"SELECT * FROM {t} ORDER BY {key}"), c) for t, key in TABLES.items()}  # noqa: S608


def _ingest(url: str, drop: Path, config, use_database, batched: bool) -> list:
    upgrade(url)
    use_database(url)
    sync_registry(config)
    reports = []
    for q in ("2026Q1", "2026Q2"):
        items = resolve_inputs([str(drop / q)], None, q)
        reports += ingest_files(items, config) if batched else [ingest_one_file(i, config) for i in items]
    return reports


def test_batches_store_what_files_one_by_one_store(tmp_path, drop, config, use_database):
    serial = _ingest(f"sqlite:///{tmp_path / 'serial.db'}", drop, config, use_database, batched=False)
    batched = _ingest(f"sqlite:///{tmp_path / 'batched.db'}", drop, config, use_database, batched=True)
    assert [r.summary.as_dict() for r in batched] == [r.summary.as_dict() for r in serial]
    assert [r.suites for r in batched] == [r.suites for r in serial]  # what Data Docs shows per file
    statuses = {Path(r.summary.path).name: r.summary.status for r in serial}
    assert statuses["review_book_52_copy.xlsx"] == "repeat" and statuses["pos_10_again.json"] == "repeat"
    assert statuses["social_99.jsonl"] == "unreadable" and statuses["notes.csv"] == "unreadable"
    assert sum(r.summary.quarantined for r in serial) > 0 and sum(r.summary.warnings for r in serial) > 0
    a, b = _dump(f"sqlite:///{tmp_path / 'serial.db'}"), _dump(f"sqlite:///{tmp_path / 'batched.db'}")
    for table in TABLES:
        assert len(a[table]) > 0, table
        pd.testing.assert_frame_equal(a[table], b[table], obj=table)
    # A rerun of a quarter: every file known, nothing validated in a batch, nothing stored twice.
    again = ingest_files(resolve_inputs([str(drop / "2026Q2")], None, "2026Q2"), config)
    assert {r.summary.status for r in again} == {"already_ingested", "unreadable"}
    pd.testing.assert_frame_equal(_dump(f"sqlite:///{tmp_path / 'batched.db'}")["feedback"], b["feedback"])


def test_a_batch_runs_each_suite_once_per_channel_and_quarter(tmp_path, drop, config, use_database, monkeypatch):
    import tasks.validate.suites as suites

    url = f"sqlite:///{tmp_path / 'count.db'}"
    upgrade(url)
    use_database(url)
    sync_registry(config)
    runs: list[str] = []
    real = suites._run
    monkeypatch.setattr(suites, "_run", lambda frame, name, *a, **k: runs.append(name) or real(frame, name, *a, **k))
    items = resolve_inputs([str(drop / "2026Q1")], None, "2026Q1")
    prepared = prepare_files(items, config)
    channels = {i.channel for i in items}
    # Not one run per file and suite: one per channel and one for the feedback suite, two where
    # the files' checked columns differ in dtype (a survey's XLSX and CSV may).
    assert set(runs) == {*channels, "feedback"} and len(runs) <= 2 * (len(channels) + 1), runs
    assert 2 * len(items) > len(runs) + 12 and all(not p.alone for p in prepared), runs
    # What a worker sends back holds each file's rows once (checked), not its read cells again;
    # the count received stays (test_batches_store_what_files_one_by_one_store: same summaries).
    assert all(p.raw is not None and p.raw.frame.empty and p.raw.received > 0 for p in prepared)


def test_split_results_are_each_frames_own(config):
    """run_suite_split on three frames gives each the results run_suite gives it alone,
    failing rows, counts and the parameters GE got (narrowed to the frame's values)."""
    params = {"known_offices": [o.office_code for o in config.offices], "known_regions": ["10", "52", "66"]}
    frames = [
        pd.DataFrame({"office_code": ["52-01", "XX", "52-02"], "region_code": ["52", "52", "99"]}),
        pd.DataFrame({"office_code": ["10-01"], "region_code": ["10"]}),
        pd.DataFrame({"office_code": [None, "52-01", "YY", "YY"], "region_code": ["52", "77", "52", None]}),
    ]
    spec = {
        "name": "split_probe",
        "expectations": [
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "office_code", "value_set": {"$PARAMETER": "known_offices"}},
            },
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "region_code", "value_set": {"$PARAMETER": "known_regions"}},
            },
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "office_code"}},
        ],
    }
    import json
    import tempfile

    import tasks.validate.suites as suites

    with tempfile.TemporaryDirectory() as d:
        Path(d, "split_probe.json").write_text(json.dumps(spec), encoding="utf-8")
        original = suites.load_suite_json
        suites.load_suite_json = lambda name, directory=None: original(name, Path(d))  # type: ignore[assignment]
        try:
            alone = [run_suite(f, "split_probe", params) for f in frames]
            split = run_suite_split(frames, "split_probe", params)
        finally:
            suites.load_suite_json = original  # type: ignore[assignment]
    assert split is not None
    for own, part in zip(alone, split, strict=True):
        for x, y in zip(own, part.results, strict=True):
            assert (x["type"], x["column"], x["success"], x["unexpected_count"]) == (
                y["type"],
                y["column"],
                y["success"],
                y["unexpected_count"],
            )
            assert x["rows"].tolist() == y["rows"].tolist()
    assert [r.results[0]["rows"].tolist() for r in split] == [[1], [], [2, 3]]  # positions within each frame
    assert split[1].parameters["known_offices"] == ["10-01"]
