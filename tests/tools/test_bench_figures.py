"""The national benchmark's JSON and its floor (tools.bench_figures): the floor reads every
export of a demo quarter with bare pandas, hostile files included, and the document has the
keys the issue names, in the folder CXLOOP_OUT_DIR says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cxloop.config import load_config
from cxloop.quarters import Quarter
from demo.generate import generate_demo_data
from tools.bench_figures import figures_path, measure_floor, national_figures, write_figures

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "rows",
    "files",
    "stages",
    "data_seconds",
    "reports_seconds",
    "total_seconds",
    "floor_seconds",
    "peak_rss_mb",
    "workers",
    "database",
}


@pytest.fixture(scope="module")
def quarter_folder(tmp_path_factory) -> Path:
    config = load_config(ROOT / "config")
    root = tmp_path_factory.mktemp("floor")
    manifest = generate_demo_data(root, [Quarter.parse("2026Q1")], seed=2, offices=config.offices, scale=0.2)
    assert manifest.files
    return root / "2026Q1"


def test_the_floor_reads_every_export_of_a_quarter(quarter_folder):
    config = load_config(ROOT / "config")
    exports = [p for p in quarter_folder.iterdir() if p.suffix in {".csv", ".xlsx", ".json", ".jsonl"}]
    floor = measure_floor(quarter_folder, ["Долго ждала в очереди", "Great service", "Kiitos avusta"], config)
    assert floor["files"] == len(exports) == 18
    assert floor["rows_read"] > 300 and floor["distinct_texts"] == 3
    assert floor["seconds"] == pytest.approx(floor["read_seconds"] + floor["text_seconds"], abs=0.011)
    assert floor["read_seconds"] > 0


def test_the_document_has_the_figures_and_goes_where_the_settings_say(tmp_path, monkeypatch):
    floor = {"seconds": 20.0, "read_seconds": 15.0, "text_seconds": 5.0}
    stages = {"ingest files": 40.123, "star index": 1.5}
    doc = national_figures(
        rows=1000,
        files=510,
        stages=stages,
        data_seconds=45.0,
        reports_seconds=70.0,
        floor=floor,
        peak_rss_mb=1234.4,
        workers=2,
        database_url="postgresql+psycopg://cx@localhost/cx",
    )
    assert set(doc) >= KEYS and doc["stages"] == {"ingest files": 40.12, "star index": 1.5}
    assert (doc["total_seconds"], doc["data_over_floor"], doc["database"]) == (115.0, 2.25, "postgresql")
    assert national_figures(**{**_args(), "database_url": "sqlite:////tmp/x.db"})["database"] == "sqlite"
    monkeypatch.setenv("CXLOOP_OUT_DIR", str(tmp_path / "elsewhere"))
    path = write_figures(doc)
    assert path == figures_path() == tmp_path / "elsewhere" / "bench" / "national.json"
    assert json.loads(path.read_text(encoding="utf-8")) == doc


def _args() -> dict:
    return dict(
        rows=1,
        files=1,
        stages={},
        data_seconds=1.0,
        reports_seconds=1.0,
        floor={"seconds": 1.0},
        peak_rss_mb=1.0,
        workers=1,
        database_url="",
    )
