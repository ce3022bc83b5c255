"""Row 6 of issue 14: implausible dates (in the future of the ingest run, or far outside
the file's quarter) are quarantined with a reason, and accepted rows are filed under the
file's quarter, not the quarter of their date. "Now" is injected for determinism."""

from datetime import date

from sqlalchemy import select

from models.db import session_scope
from models.tables import Feedback, Quarantine
from tasks.validate.ingest import date_window, ingest_file

TODAY = date(2026, 10, 20)
HEADER = "call_id,call_date,office_code,rating\n"


def _write(path, dates):
    path.write_text(HEADER + "".join(f"c{i},{d},52-01,4\n" for i, d in enumerate(dates, 1)), encoding="utf-8")
    return path


def test_window_is_one_quarter_either_side_of_the_files_quarter():
    assert date_window("2026Q3") == (date(2026, 4, 1), date(2026, 12, 31))
    assert date_window("2026Q1") == (date(2025, 10, 1), date(2026, 6, 30))


def test_future_and_far_dates_are_quarantined_and_rows_stay_in_the_files_quarter(tmp_path, db_url, registry, config):
    path = _write(
        tmp_path / "contact_center_52.csv",
        [
            "2030-01-15",
            "01.01.1900",
            "15.08.1926",
            "2026-08-14",
            "2026-06-30",
            "2026-03-31",
            "2026-10-21",
            "2026-10-20",
        ],
    )
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "contact_center", "2026Q3", config, today=TODAY)
    assert (summary.received, summary.accepted, summary.quarantined) == (8, 3, 5)
    with session_scope(db_url) as s:
        q = {r.source_row: r for r in s.execute(select(Quarantine)).scalars()}
        stored = {r.source_row: r.quarter for r in s.execute(select(Feedback)).scalars()}
    assert set(q) == {2, 3, 4, 7, 8}
    assert all(r.field.startswith("received_at") and r.source_file == str(path) for r in q.values())
    assert "2030-01-15" in q[2].reason and "2026-10-20" in q[2].reason  # the date and the run's date
    assert "01.01.1900" in q[3].reason and "2026Q3" in q[3].reason  # the date and the file's quarter
    assert "15.08.1926" in q[4].reason
    assert "2026-10-21" in q[8].reason  # one day after the run
    # the straggler from the previous quarter and the early next-quarter row are kept in 2026Q3
    assert stored == {5: "2026Q3", 6: "2026Q3", 9: "2026Q3"}


def test_future_is_relative_to_the_injected_run_date(tmp_path, db_url, registry, config):
    path = _write(tmp_path / "contact_center_52.csv", ["2026-09-01", "2026-11-01"])
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "contact_center", "2026Q3", config, today=date(2026, 9, 15))
    assert (summary.accepted, summary.quarantined) == (1, 1)
