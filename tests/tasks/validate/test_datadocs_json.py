"""Data Docs store each file's suite results as GE's ValidationResultsStore would, without
GE's serialiser (deep copies and marshmallow, about half of a national intake's Data Docs
time): on real suite runs of a demo quarter (planted bad rows, every channel, in-set
parameters), the text written is byte for byte what GE writes, GE reads it back with the
same statistics, and the site builds from it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cxloop.config import load_config
from cxloop.quarters import Quarter
from cxloop.settings import reset_settings_cache
from demo.generate import generate_demo_data
from models.db import dispose_engines, upgrade
from tasks.collect.discovery import resolve_inputs
from tasks.collect.step import sync_registry
from tasks.validate.batch import ingest_files
from tasks.validate.datadocs import build_data_docs, docs_key, suite_result_json
from tasks.validate.suites import load_suite_json

ROOT = Path(__file__).resolve().parents[3]


def _ge_result(run, run_id, file_name: str):
    """The reference: GE's own ``ExpectationSuiteValidationResult`` for a suite run, built from
    GE's classes (what the Data Docs stored before), to be serialised by GE's store."""
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    def resolved(value):
        is_parameter = isinstance(value, dict) and set(value) == {"$PARAMETER"}
        return run.parameters.get(value["$PARAMETER"], value) if is_parameter else value

    results = []
    for exp, r in zip(load_suite_json(run.suite)["expectations"], run.results, strict=True):
        config = ExpectationConfiguration(
            type=exp["type"],
            kwargs={k: resolved(v) for k, v in exp["kwargs"].items()},
            meta=exp.get("meta", {}),
            severity=exp.get("severity", "critical"),
        )
        n, bad = run.rows, r["unexpected_count"]
        result = {"element_count": n, "unexpected_count": bad, "unexpected_percent": (100.0 * bad / n) if n else 0.0}
        ok = bool(r["success"])
        results.append(ExpectationValidationResult(success=ok, expectation_config=config, result=result))
    good = sum(1 for x in results if x.success)
    return ExpectationSuiteValidationResult(
        success=good == len(results),
        results=results,
        suite_name=run.suite,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": good,
            "unsuccessful_expectations": len(results) - good,
            "success_percent": (100.0 * good / len(results)) if results else 100.0,
        },
        meta={"run_id": run_id, "batch_spec": {"data_asset_name": file_name}, "rows": run.rows},
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The suite runs of a demo quarter's files, ingested into a database of their own."""
    config = load_config(ROOT / "config")
    root = tmp_path_factory.mktemp("docs") / "incoming"
    generate_demo_data(root, [Quarter.parse("2026Q1")], seed=5, offices=config.offices, scale=0.2)
    url = f"sqlite:///{tmp_path_factory.mktemp('docsdb') / 'cx.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLOOP_DATABASE_URL", url)
        reset_settings_cache()
        upgrade(url)
        sync_registry(config)
        yield ingest_files(resolve_inputs([str(root / "2026Q1")], None, "2026Q1"), config)
    dispose_engines()
    reset_settings_cache()


def test_the_stored_text_is_what_ge_writes(reports):
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.store import ValidationResultsStore

    runs = [(r, run) for r in reports for run in r.suites]
    assert len({run.suite for _, run in runs}) >= 6  # every channel's suite and the feedback suite
    assert any(not x["success"] for _, run in runs for x in run.results)  # failures are among them
    assert any(isinstance(v, list) for _, run in runs for v in run.parameters.values())  # in-set parameters
    store = ValidationResultsStore()  # GE's own, in memory
    run_id = RunIdentifier(run_name="2026Q1", run_time=datetime(2026, 4, 10, 8, 30, 1, 123456, tzinfo=UTC))
    for report, run in runs:
        key = docs_key(Path(report.summary.path).name)
        ge_text = store.serialize(_ge_result(run, run_id, key))
        ours = suite_result_json(run, run_id, key)
        assert ours == ge_text, (report.summary.path, run.suite)
        back = store.deserialize(ours)  # GE reads it back
        assert back.success == (not any(not x["success"] for x in run.results)) and back.statistics == (
            _ge_result(run, run_id, key).statistics
        )


def test_the_site_builds_from_the_stored_text(reports, tmp_path):
    index = build_data_docs(reports, tmp_path / "site", "2026Q1", datetime(2026, 4, 10, tzinfo=UTC))
    assert index is not None and index.is_file()
    pages = list((tmp_path / "site" / "validations").rglob("*.html"))
    assert len(pages) == sum(len(r.suites) for r in reports)
    page = next(p for p in pages if p.name.startswith("contact_center_"))
    html = page.read_text(encoding="utf-8")
    assert "expect_column_values_to_not_be_null" in html or "values must never be null" in html
