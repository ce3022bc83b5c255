"""tasks.validate.quarantine and summary (with tasks.collect.discovery) on a real SQLite file:
which files a run takes, list/export of the quarantine (formulas neutralised), release =
re-ingest of the fixed file, nothing lost."""

import csv
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.db import session_scope
from models.tables import Feedback, Quarantine
from tasks.collect.discovery import InputError, resolve_inputs
from tasks.validate.quarantine import export_quarantine_csv, list_quarantine, release_plan
from tasks.validate.step import ingest_one_file
from tasks.validate.summary import file_record, validation_markdown

REVIEWS = (
    "Дата;Код ЦЗН;Категория заявителя;Текст отзыва\n"
    "12.03.2026;52-01;гражданин;Очередь два часа\n"
    "13.03.2026;52-99;гражданин;Нет пандуса\n"
    "14.03.2026;52-02;работодатель;Кандидаты не приходят\n"
)


def test_resolve_inputs_files_folders_globs(tmp_path):
    drop = tmp_path / "2026Q2"
    (drop / "sub").mkdir(parents=True)
    for name in (
        "star_survey_52.xlsx",
        "sub/pos_1.json",
        "notes.md",
        ".hidden.csv",
        "~$review_book.xlsx",
        "mystery.csv",
    ):
        (drop / name).write_text("x", encoding="utf-8")
    items = resolve_inputs([str(drop), str(drop / "*.xlsx")], today=date(2026, 11, 24))
    assert [(i.path.name, i.channel, i.quarter) for i in items] == [
        ("mystery.csv", None, "2026Q2"),
        ("star_survey_52.xlsx", "star_survey", "2026Q2"),
        ("pos_1.json", "pos", "2026Q2"),
    ]  # each file once; lock, hidden and unreadable kinds left out; no channel in a name -> None
    other = tmp_path / "exports"
    other.mkdir()
    (other / "export.csv").write_text("x", encoding="utf-8")
    [item] = resolve_inputs(str(other / "export.csv"), channel="contact_center", today=date(2026, 11, 24))
    assert (item.channel, item.quarter) == ("contact_center", "2026Q3")  # last complete quarter
    [item] = resolve_inputs([str(other / "export.csv")], quarter="2025q4")
    assert item.quarter == "2025Q4"
    for args, message in [
        (([str(tmp_path / "nope")],), "no such file or folder"),
        (([str(other / "*.json")],), "no file matches"),
        (([str(other)], "fax"), "unknown channel 'fax'"),
        (([str(other)], None, "2026Q9"), "2026Q3"),
        (([],), "no path given"),
    ]:
        with pytest.raises(InputError, match=message):
            resolve_inputs(*args)


def test_unknown_channel_name_is_a_rejected_file_not_a_crash(tmp_path, env, registry, config):
    path = tmp_path / "mystery.csv"
    path.write_text(REVIEWS, encoding="utf-8")
    [item] = resolve_inputs([str(path)], quarter="2026Q1")
    report = ingest_one_file(item, config)
    assert report.rejected and report.suites == []
    rec = file_record(report.summary)
    assert rec["rejected"] and rec["channel"] is None and "mystery.csv" in rec["error"] and "--channel" in rec["error"]


def test_list_export_neutralised(tmp_path, env, registry, config):
    path = tmp_path / "review_book_52.csv"
    path.write_text(REVIEWS, encoding="utf-8")
    [item] = resolve_inputs([str(path)], quarter="2026Q1")
    report = ingest_one_file(item, config)
    assert (report.summary.received, report.summary.accepted, report.summary.quarantined) == (3, 2, 1)
    assert [(r.suite, [x["unexpected_count"] for x in r.results if x["unexpected_count"]]) for r in report.suites] == [
        ("review_book", [1]),
        ("feedback", []),
    ]
    md = validation_markdown([report])
    assert (
        "| review_book_52.csv | review_book | expect_column_values_to_be_in_set | office_code | critical | 3 | 1 |"
        in md
    )
    assert "Нет пандуса" not in md

    with session_scope() as s:  # a row whose text would run as a formula in a spreadsheet
        file_id = s.execute(select(Quarantine.ingested_file_id)).scalars().first()
        s.add(
            Quarantine(
                ingested_file_id=file_id,
                channel="pos",
                source_file="@evil.json",
                source_row=7,
                field="-text",
                rule="+rule",
                reason='=HYPERLINK("http://x")',
                quarter="2026Q2",
            )
        )
    with session_scope() as s:
        rows = list_quarantine(s, quarter="2026Q1")
        assert [(r["row"], r["field"], r["file"]) for r in rows] == [(3, "office_code", str(path))]
        assert "52-99" in rows[0]["reason"]
        assert len(list_quarantine(s, file=path.name)) == 0  # a file is named as it was ingested
        assert len(list_quarantine(s, file=str(path))) == 1 and len(list_quarantine(s, channel="pos")) == 1
        assert len(list_quarantine(s, limit=1)) == 1
        out = tmp_path / "quarantine.csv"
        assert export_quarantine_csv(s, out) == 2
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    exported = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    evil = exported[1]
    assert (evil["file"], evil["field"], evil["rule"], evil["reason"]) == (
        "'@evil.json",
        "'-text",
        "'+rule",
        '\'=HYPERLINK("http://x")',
    )
    assert exported[0]["reason"].startswith("Неизвестный код ЦЗН «52-99»")
    path.unlink()
    with session_scope() as s:
        assert [p.status for p in release_plan(s, file=str(path))] == ["missing"]


def test_release_then_reingest_fixed_file_loses_nothing(tmp_path, env, registry, config):
    path = tmp_path / "review_book_52.csv"
    path.write_text(REVIEWS, encoding="utf-8")
    [item] = resolve_inputs([str(path)], quarter="2026Q1")
    first = ingest_one_file(item, config).summary
    assert (first.accepted, first.quarantined) == (2, 1)

    with session_scope() as s:
        with pytest.raises(InputError):
            release_plan(s)
        [plan] = release_plan(s, file=str(path))
        assert (plan.status, plan.quarantined_rows) == ("unchanged", 1)
        qid = s.execute(select(Quarantine.id)).scalar_one()
        assert [p.status for p in release_plan(s, ids=[qid])] == ["unchanged"]
        assert release_plan(s, ids=[qid + 100]) == []

    path.write_text(REVIEWS.replace("52-99", "52-03"), encoding="utf-8")  # the source fixed
    with session_scope() as s:
        [plan] = release_plan(s, file=str(path))
        assert plan.status == "ready" and str(path) in plan.message

    second = ingest_one_file(item, config).summary
    assert (second.status, second.received, second.accepted, second.quarantined, second.duplicates) == (
        "ingested",
        3,
        1,
        0,
        2,
    )
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(Feedback)).scalar_one() == 3  # every row now stored once
        [plan] = release_plan(s, file=str(path))
        assert plan.status == "superseded"

    Path(path).unlink()
    with session_scope() as s:
        assert [p.status for p in release_plan(s, file=str(path))] == ["superseded"]
