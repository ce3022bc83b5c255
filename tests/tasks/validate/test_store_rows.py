"""Storing accepted feedback: the rows handed to the driver and the dedup lookup, on a real
SQLite database (what the national intake's speed-ups in tasks.validate.ingest must keep)."""

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import select

from models.db import session_scope
from models.tables import Feedback
from tasks.validate.ingest import FEEDBACK_COLUMNS, _existing_keys, _tuples, store_feedback


def _feedback(n: int) -> pd.DataFrame:
    """``n`` contact-centre rows, every third without an office, text or rating."""
    k = np.arange(n)
    gap = k % 3 == 0
    return pd.DataFrame(
        {
            "dedup_key": [f"contact_centre:key-{i:05d}" for i in k],
            "channel": "contact_centre",
            "external_id": [None if g else f"call-{i}" for i, g in zip(k, gap, strict=True)],
            "source_file": "contact_centre_52.csv",
            "source_row": k + 2,
            "received_at": [
                date(2026, 7, 1 + i % 30) if not g else date(2026, 8, 1) for i, g in zip(k, gap, strict=True)
            ],
            "quarter": "2026Q3",
            "office_code": [None if g else "52-01" for g in gap],
            "region_code": "52",
            "client_type": "citizen",
            "journey_stage": None,
            "rating": np.where(gap, np.nan, (k % 5 + 1).astype(float)),
            "scale": 5,
            "text": [None if g else f"обращение {i}" for i, g in zip(k, gap, strict=True)],
            "language": [None if g else "ru" for g in gap],
            "sentiment": np.where(gap, np.nan, 0.25),
            "themes": "",
            "negative_themes": "",
            "flags": "",
            "text_key": [None if g else f"t{i:05d}" for i, g in zip(k, gap, strict=True)],
        }
    )


def test_rows_are_python_values_with_none_for_what_is_missing():
    frame = _feedback(4)
    frame.loc[1, "journey_stage"] = float("nan")  # NaN in an object column is missing too
    rows = _tuples(frame, FEEDBACK_COLUMNS, "sqlite")
    assert len(rows) == 4 and all(len(r) == len(FEEDBACK_COLUMNS) for r in rows)
    first, second = (dict(zip(FEEDBACK_COLUMNS, r, strict=True)) for r in rows[:2])
    assert first["office_code"] is None and first["text"] is None and first["rating"] is None
    assert first["received_at"] == "2026-08-01"  # SQLite keeps a date as ISO text
    assert second["received_at"] == "2026-07-02" and second["journey_stage"] is None
    assert second["rating"] == 2.0 and type(second["rating"]) is float
    assert second["source_row"] == 3 and type(second["source_row"]) is int
    assert second["text"] == "обращение 1"
    # Other databases take the date itself.
    assert dict(zip(FEEDBACK_COLUMNS, _tuples(frame, FEEDBACK_COLUMNS, "postgresql")[1], strict=True))[
        "received_at"
    ] == date(2026, 7, 2)


def test_stored_rows_read_back_and_the_dedup_lookup_finds_exactly_them(db_url):
    """2,400 keys asked, over three chunks of the lookup: the 1,200 stored ones come back."""
    frame = _feedback(2400)
    stored = frame.iloc[::2]
    with session_scope(db_url) as s:
        assert store_feedback(s, stored) == 1200
    with session_scope(db_url) as s:
        found = _existing_keys(s, frame["dedup_key"].tolist())
        back = {f.dedup_key: f for f in s.execute(select(Feedback)).scalars()}
    assert found == set(stored["dedup_key"])
    row = back["contact_centre:key-00002"]
    assert (row.received_at, row.office_code, row.rating, row.text) == (date(2026, 7, 3), "52-01", 3.0, "обращение 2")
    gap = back["contact_centre:key-00000"]
    assert (gap.received_at, gap.office_code, gap.rating, gap.text, gap.text_key) == (
        date(2026, 8, 1),
        None,
        None,
        None,
        None,
    )
