"""Ingest on a real SQLite file: accounting identity, quarantine, redaction, re-ingest."""

import shutil
from datetime import UTC

import pandas as pd
from sqlalchemy import func, select

from models.db import session_scope
from models.tables import Feedback, IngestedFile, Quarantine, SurveyAnswer
from tasks.validate.ingest import ingest_file
from tasks.validate.redaction import find_personal_data

REVIEWS = (
    "\n".join(
        [
            "Дата;Код ЦЗН;Категория заявителя;Текст отзыва;Оценка;Контакт",
            "12.03.2026;52-01;гражданин;Просидела в очереди два часа, мой телефон +7 912 345-67-89;2;"
            "ivanova@example.ru",
            "13.03.2026;52-99;гражданин;Нет пандуса;3;",
            "32.13.2026;52-01;гражданин;Всё хорошо;5 звёзд;",
            "14.03.2026;52-02;работодатель;Кандидаты не приходят на собеседования;отлично!!;",
            "12.03.2026;52-01;гражданин;Просидела в очереди два часа, мой телефон +7 912 345-67-89;2;",
            "",
        ]
    )
    + "\n"
)


def _counts(url):
    with session_scope(url) as s:
        return {
            t.__name__: s.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Feedback, Quarantine, IngestedFile, SurveyAnswer)
        }


def test_identity_quarantine_redaction_and_reingest(tmp_path, db_url, registry, config):
    path = tmp_path / "review_book_52.csv"
    path.write_bytes(REVIEWS.encode("cp1251"))
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "review_book", "2026Q1", config)
    assert (summary.received, summary.accepted, summary.quarantined, summary.duplicates) == (5, 2, 2, 1)
    assert summary.warnings == 1 and summary.skipped_blank == 1  # the trailing empty line
    with session_scope(db_url) as s:
        q = {r.source_row: r for r in s.execute(select(Quarantine)).scalars()}
        assert set(q) == {3, 4}
        assert q[3].field == "office_code" and "52-99" in q[3].reason
        assert q[4].field == "received_at" and "32.13.2026" in q[4].reason
        texts = [r.text for r in s.execute(select(Feedback).order_by(Feedback.source_row)).scalars()]
        rows = s.execute(select(Feedback).order_by(Feedback.source_row)).scalars().all()
    assert "+7 912" not in texts[0] and find_personal_data(texts[0]) == []
    assert rows[1].client_type == "employer" and rows[1].rating is None and "rating" in rows[1].flags
    assert "waiting_time" in rows[0].themes.split(",") and rows[0].language == "ru"
    before = _counts(db_url)

    with session_scope(db_url) as s:  # the same file again: nothing changes
        again = ingest_file(s, path, "review_book", "2026Q1", config)
    assert again.status == "already_ingested" and again.duplicates == again.received == 5
    assert _counts(db_url) == before

    copy = tmp_path / "review_book_52_resent.csv"
    shutil.copy(path, copy)
    with session_scope(db_url) as s:
        repeat = ingest_file(s, copy, "review_book", "2026Q1", config)
    assert repeat.status == "repeat" and repeat.duplicates == 5 and repeat.accepted == 0
    after = _counts(db_url)
    assert after["Feedback"] == before["Feedback"] and after["IngestedFile"] == before["IngestedFile"] + 1


def test_star_survey_answers_are_stored(tmp_path, db_url, registry, config):
    items = [f"{r}{i}" for r in "FUEPC" for i in range(1, 5)]
    rows = [
        ["r1", "2026-02-01", "52-01", "citizen", *(["5"] * 20), "Всё отлично"],
        ["r2", "2026-02-02", "52-01", "employer", "не знаю", *(["3"] * 19), ""],
        ["r1", "2026-02-01", "52-01", "citizen", *(["5"] * 20), "Всё отлично"],
        ["r3", "2026-02-03", "52-01", "citizen", "6", *(["3"] * 19), ""],
    ]
    frame = pd.DataFrame(
        rows, columns=["respondent_id", "survey_date", "office_code", "client_type", *items, "comment"]
    )
    path = tmp_path / "star_survey_52.csv"
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "star_survey", "2026Q1", config)
    assert (summary.received, summary.accepted, summary.quarantined, summary.duplicates) == (4, 2, 1, 1)
    with session_scope(db_url) as s:
        answers = s.execute(select(SurveyAnswer).order_by(SurveyAnswer.feedback_id)).scalars().all()
    assert [a.F1 for a in answers] == [5, None] and answers[1].F2 == 3


def test_same_complaint_on_platform_and_social_is_stored_once(tmp_path, db_url, registry, config):
    import json

    text = "Третий раз прихожу и никто не может объяснить что делать дальше с пособием"
    (tmp_path / "pos_52.json").write_text(
        json.dumps(
            [
                {
                    "id": "p1",
                    "created_at": "2026-03-01T10:00:00",
                    "region_code": "52",
                    "office_code": "52-01",
                    "category": "x",
                    "text": text,
                    "status": "new",
                }
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    (tmp_path / "social_52.jsonl").write_text(
        "\n".join(
            json.dumps(o, ensure_ascii=False)
            for o in [
                {
                    "id": "s1",
                    "published_at": "2026-03-03",
                    "office_code": "52-01",
                    "author": "Иван",
                    "text": text + "!!",
                },
                {"id": "s2", "published_at": "2026-03-30", "office_code": "52-01", "author": "Пётр", "text": text},
            ]
        ),
        encoding="utf-8",
    )
    with session_scope(db_url) as s:
        first = ingest_file(s, tmp_path / "pos_52.json", "pos", "2026Q1", config)
        second = ingest_file(s, tmp_path / "social_52.jsonl", "social", "2026Q1", config)
    assert first.accepted == 1
    assert (second.received, second.accepted, second.duplicates, second.near_duplicates) == (2, 1, 1, 1)
    assert _counts(db_url)["Feedback"] == 2


def test_released_rows_are_validated_again_after_the_registry_is_fixed(tmp_path, db_url, registry, config):
    from datetime import datetime

    from cxloop.config import Office
    from tasks.collect.offices import merge_offices
    from tasks.validate.quarantine import list_quarantine, release_rows

    path = tmp_path / "review_book_52.csv"
    path.write_bytes(REVIEWS.encode("cp1251"))
    with session_scope(db_url) as s:
        first = ingest_file(s, path, "review_book", "2026Q1", config)
    assert first.quarantined == 2
    with session_scope(db_url) as s:  # the unknown office 52-99 turns out to be real
        merge_offices(
            s,
            [
                Office(
                    office_code="52-99", office_name="ЦЗН новый", region_code="52", region_name="Нижегородская область"
                )
            ],
        )
        items = release_rows(s, datetime(2026, 4, 1, tzinfo=UTC), file=str(path))
        assert [i.status for i in items] == ["released"] and items[0].quarantined_rows == 2
        assert list_quarantine(s) == [] and len(list_quarantine(s, include_released=True)) == 2
    with session_scope(db_url) as s:
        again = ingest_file(s, path, "review_book", "2026Q1", config)
    assert again.status == "ingested"
    assert (again.received, again.accepted, again.quarantined, again.duplicates) == (5, 1, 1, 3)
    with session_scope(db_url) as s:
        open_rows = list_quarantine(s)
        assert [(r["row"], r["field"]) for r in open_rows] == [(4, "received_at")]
        third = ingest_file(s, path, "review_book", "2026Q1", config)
    assert third.status == "already_ingested"
