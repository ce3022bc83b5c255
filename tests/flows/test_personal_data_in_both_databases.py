"""Issue 14 row 3, end to end: feedback carrying every planted class of personal data is
ingested by the real ``ingest-feedback`` flow on a real Prefect API; then the bytes of the
app's database, of Prefect's database (flow and task runs, their logs, artifacts, events)
and of the Data Docs folder are searched for each planted value. None may be there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.tasks.validate.test_redaction_classes import PLANTED


def _csv(rows: list[tuple[str, str, str]]) -> str:
    lines = ["call_id,call_date,office_code,client_type,rating,comment"]
    for i, (text, _secret, _kind) in enumerate(rows, start=1):
        quoted = '"' + text.replace('"', '""') + '"'
        lines.append(f"c{i},2026-02-{1 + i % 27:02d},52-01,citizen,2,{quoted}")
    return "\n".join(lines) + "\n"


def _sqlite_bytes(url: str) -> bytes:
    """The file of a SQLite URL with its write-ahead log, as stored on disk."""
    path = Path(url.split(":///", 1)[1])
    assert path.is_file(), f"no database file at {path}"
    data = path.read_bytes()
    for suffix in ("-wal", "-journal"):
        extra = path.with_name(path.name + suffix)
        if extra.is_file():
            data += extra.read_bytes()
    return data


def _planted(secret: str) -> re.Pattern[bytes]:
    """The value as it would stand in a text: not inside a longer run of letters or digits.
    A bare search would find a short value such as "0004312" by chance in Prefect's
    database (hex ids, timestamps); left in a text by redaction, it stands between spaces
    or punctuation and is found."""
    return re.compile(rb"(?<![0-9A-Za-z])" + re.escape(secret.encode("utf-8")) + rb"(?![0-9A-Za-z])")


def test_planted_personal_data_is_in_neither_database(tmp_path, env, db_url, prefect_harness):
    from prefect.settings import get_current_settings

    from flows.ingest import ingest_feedback
    from models.db import session_scope
    from models.tables import Feedback

    folder = tmp_path / "drop" / "2026Q1"
    folder.mkdir(parents=True)
    (folder / "contact_center_52.csv").write_text(_csv(PLANTED), encoding="utf-8")

    summary = ingest_feedback([str(folder)], quarter="2026Q1")
    totals = summary["totals"]
    assert totals["received"] == len(PLANTED)
    assert totals["received"] == totals["accepted"] + totals["quarantined"] + totals["duplicates"]
    with session_scope() as session:
        stored = list(session.execute(select(Feedback.text)).scalars())
    assert len(stored) == totals["accepted"] > 0  # the texts reached the store, redacted

    prefect_url = get_current_settings().server.database.connection_url
    assert prefect_url is not None and prefect_url.get_secret_value().startswith("sqlite")
    places = {
        "app database": _sqlite_bytes(db_url),
        "Prefect database": _sqlite_bytes(prefect_url.get_secret_value()),
        "Data Docs": b"".join(p.read_bytes() for p in (env.out_dir / "data_docs").rglob("*") if p.is_file()),
    }
    found = [
        f"{kind} {secret!r} in the {where}"
        for text, secret, kind in PLANTED
        for where, data in places.items()
        if _planted(secret).search(data)
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("text, secret, kind", PLANTED)
def test_the_search_would_find_an_unredacted_value(text, secret, kind):
    """The search above can fail: the planted value is found in the text before redaction."""
    assert _planted(secret).search(text.encode("utf-8"))
