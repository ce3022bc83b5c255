"""The ingest flow with more than one batch: batches validated by the flow's process pool,
files stored in order by the flow; the database ends exactly as with files ingested one by
one in this process (ids included), a repeat across batches included."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from cxloop.quarters import Quarter

TABLES = {"ingested_file": "id", "feedback": "id", "survey_answer": "feedback_id", "quarantine": "id"}


def _dump(url: str) -> dict[str, pd.DataFrame]:
    from models.db import get_engine

    with get_engine(url).connect() as c:
        return {t: pd.read_sql_query(text(f"SELECT * FROM {t} ORDER BY {key}"), c) for t, key in TABLES.items()}  # noqa: S608


def _task_runs(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


@pytest.mark.slow
def test_batches_through_the_pool_store_what_serial_ingest_stores(
    tmp_path, env, prefect_harness, monkeypatch, use_database
):
    import flows.ingest
    from cxloop.config import get_config
    from demo.generate import generate_demo_data
    from models.db import upgrade
    from tasks.collect.discovery import resolve_inputs
    from tasks.collect.step import sync_registry
    from tasks.validate.step import ingest_one_file

    config = get_config(env.config_dir)
    generate_demo_data(env.data_dir, [Quarter.parse("2026Q1")], seed=5, offices=config.offices, scale=0.3)
    folder = env.data_dir / "2026Q1"
    # The fourth file in name order, so in the second batch: the content of a file of the first.
    shutil.copy(folder / "contact_center_10.csv", folder / "contact_center_zz.csv")
    shutil.copy(folder / "contact_center_10.csv", folder / "zz_contact_center_10.csv")
    monkeypatch.setattr(flows.ingest, "BATCH_FILES", 3)  # 20 files: 7 batches, 6 through the pool

    state = flows.ingest.ingest_feedback([str(folder)], quarter="2026Q1", return_state=True)
    summary = state.result()
    validated = [r for r in _task_runs(state.state_details.flow_run_id) if r.name.startswith("validate-")]
    assert len(validated) == 7 and all(r.state.is_completed() for r in validated)
    flowed = _dump(env.database_url)

    serial_url = f"sqlite:///{tmp_path / 'serial.db'}"
    upgrade(serial_url)
    use_database(serial_url)
    sync_registry(config)
    serial = [ingest_one_file(item, config) for item in resolve_inputs([str(folder)], None, "2026Q1")]
    assert [(Path(f["file"]).name, f["accepted"], f["quarantined"], f["duplicates"]) for f in summary["files"]] == [
        (Path(r.summary.path).name, r.summary.accepted, r.summary.quarantined, r.summary.duplicates) for r in serial
    ]
    statuses = {Path(r.summary.path).name: r.summary.status for r in serial}
    assert statuses["zz_contact_center_10.csv"] == "unreadable"  # named after no channel
    assert statuses["contact_center_zz.csv"] == "repeat"
    want = _dump(serial_url)
    for table in TABLES:
        assert len(want[table]) > 0, table
        pd.testing.assert_frame_equal(flowed[table], want[table], obj=table)
