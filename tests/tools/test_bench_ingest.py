"""The national bench's ingest (tools.bench_ingest): batches validated in a pool of spawned
workers and stored in order end with the same tables as one process doing it all, so the
bench's 1- and 2-worker figures measure the same work."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from cxloop.config import load_config
from cxloop.quarters import Quarter
from demo.generate import generate_demo_data
from models.db import get_engine, upgrade
from tasks.collect.step import sync_registry
from tools.bench_ingest import ingest_folder

ROOT = Path(__file__).resolve().parents[2]


def _dump(url: str) -> dict[str, pd.DataFrame]:
    with get_engine(url).connect() as c:
        return {
            t: pd.read_sql_query(text(f"SELECT * FROM {t} ORDER BY id"), c)  # noqa: S608
            for t in ("ingested_file", "feedback", "quarantine")
        }


@pytest.mark.slow
def test_two_workers_store_what_one_stores(tmp_path, monkeypatch, use_database):
    import flows.ingest

    monkeypatch.setattr(flows.ingest, "BATCH_FILES", 4)  # several batches from one demo quarter
    config = load_config(ROOT / "config")
    drop = tmp_path / "incoming"
    generate_demo_data(drop, [Quarter.parse("2026Q1")], seed=11, offices=config.offices, scale=0.2)
    results = {}
    for workers in (1, 2):
        url = f"sqlite:///{tmp_path / f'w{workers}.db'}"
        upgrade(url)
        use_database(url)
        sync_registry(config)
        reports, totals = ingest_folder(drop / "2026Q1", "2026Q1", config, workers=workers)
        assert totals["files"] == len(reports) > 8 and totals["accepted"] > 0 and totals["quarantined"] > 0
        assert totals["received"] == totals["accepted"] + totals["quarantined"] + totals["duplicates"]
        results[workers] = (totals, [r.summary.as_dict() for r in reports], _dump(url))
    assert results[1][0] == results[2][0] and results[1][1] == results[2][1]
    for table in ("ingested_file", "feedback", "quarantine"):
        pd.testing.assert_frame_equal(results[1][2][table], results[2][2][table], obj=table)
