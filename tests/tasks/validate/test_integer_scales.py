"""Row 4 of issue 14: a non-integer answer on an integer scale (``4,5``, ``4.9``, ``1,2``)
is quarantined with a reason naming the file, row and field; never truncated. Integers
written ``4.0`` / ``4,0`` are read as 4. Real files, real GE, a real SQLite database."""

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from models.db import session_scope
from models.tables import Feedback, Quarantine, SurveyAnswer
from tasks.validate.ingest import answer_rows, ingest_file

ITEMS = [f"{r}{i}" for r in "FUEPC" for i in range(1, 5)]
TODAY = date(2026, 12, 6)


def _quarantine(db_url) -> dict[int, Quarantine]:
    with session_scope(db_url) as s:
        return {r.source_row: r for r in s.execute(select(Quarantine)).scalars()}


def test_star_survey_non_integer_answers_are_quarantined_not_truncated(tmp_path, db_url, registry, config):
    rows = [
        ["r1", "2026-08-01", "52-01", "citizen", "4,5", *(["3"] * 19)],
        ["r2", "2026-08-01", "52-01", "citizen", "3", "4.9", *(["3"] * 18)],
        ["r3", "2026-08-01", "52-01", "citizen", *(["3"] * 19), "1,2"],
        ["r4", "2026-08-01", "52-01", "citizen", "4,0", "4.0", *(["2"] * 18)],
        ["r5", "2026-08-01", "52-01", "citizen", *(["5"] * 20)],
    ]
    frame = pd.DataFrame(rows, columns=["respondent_id", "survey_date", "office_code", "client_type", *ITEMS])
    frame["overall"] = ["", "", "", "7,5", ""]  # a 1-10 question: 7,5 is not an answer either
    path = tmp_path / "star_survey_52.csv"
    frame.to_csv(path, index=False, sep=";", encoding="utf-8-sig")
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "star_survey", "2026Q3", config, today=TODAY)
    assert (summary.received, summary.accepted, summary.quarantined) == (5, 1, 4)
    q = _quarantine(db_url)
    assert set(q) == {2, 3, 4, 5}  # source rows: header is row 1
    assert q[2].field == "F1" and "4,5" in q[2].reason and q[2].source_file == str(path)
    assert q[3].field == "F2" and "4.9" in q[3].reason
    assert q[4].field == "C4" and "1,2" in q[4].reason
    assert q[5].field == "overall" and "7,5" in q[5].reason
    assert all("цел" in r.reason for r in q.values())  # the reason says an integer is expected
    with session_scope(db_url) as s:
        answers = s.execute(select(SurveyAnswer)).scalars().all()
    assert [(a.F1, a.C4) for a in answers] == [(5, 5)]


def test_integer_written_with_zero_fraction_is_accepted_as_integer(tmp_path, db_url, registry, config):
    rows = [["r1", "2026-08-01", "52-01", "citizen", "4,0", "4.0", *(["2"] * 18)]]
    frame = pd.DataFrame(rows, columns=["respondent_id", "survey_date", "office_code", "client_type", *ITEMS])
    path = tmp_path / "star_survey_52.csv"
    frame.to_csv(path, index=False, sep=";", encoding="utf-8-sig")
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "star_survey", "2026Q3", config, today=TODAY)
    assert summary.accepted == 1
    with session_scope(db_url) as s:
        (answer,) = s.execute(select(SurveyAnswer)).scalars().all()
    assert (answer.F1, answer.F2, answer.F3) == (4, 4, 2)


def test_contact_center_non_integer_rating_is_quarantined(tmp_path, db_url, registry, config):
    path = tmp_path / "contact_center_52.csv"
    path.write_text(
        "call_id,call_date,office_code,rating\n"
        'c1,2026-08-01,52-01,"4,5"\n'
        "c2,2026-08-01,52-01,4.9\n"
        "c3,2026-08-01,52-01,4\n"
        'c4,2026-08-01,52-01,"3,0"\n',
        encoding="utf-8",
    )
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "contact_center", "2026Q3", config, today=TODAY)
    assert (summary.accepted, summary.quarantined) == (2, 2)
    q = _quarantine(db_url)
    assert set(q) == {2, 3} and {r.field for r in q.values()} == {"rating"}
    with session_scope(db_url) as s:
        ratings = sorted(r.rating for r in s.execute(select(Feedback)).scalars())
    assert ratings == [3.0, 4.0]


def test_interview_followup_non_integer_answer_is_quarantined(tmp_path, db_url, registry, config):
    path = tmp_path / "interview_followup_52.csv"
    path.write_text(
        "response_id,date,office_code,q_useful,q_clear_next_steps,q_confident\n"
        'f1,2026-08-01,52-01,5,"2,5",4\nf2,2026-08-01,52-01,5,4,4\n',
        encoding="utf-8",
    )
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "interview_followup", "2026Q3", config, today=TODAY)
    assert (summary.accepted, summary.quarantined) == (1, 1)
    assert _quarantine(db_url)[2].field == "q_clear_next_steps"


def test_review_book_and_social_non_integer_ratings_are_quarantined(tmp_path, db_url, registry, config):
    review = tmp_path / "review_book_52.csv"
    review.write_text(
        "Дата;Код ЦЗН;Текст отзыва;Оценка\n"
        "01.08.2026;52-01;Долго ждала;4,5\n"
        "02.08.2026;52-01;Хорошо;4,5 звезды\n"
        "03.08.2026;52-01;Нормально;4,0\n"
        "04.08.2026;52-01;Отлично;7\n",
        encoding="utf-8",
    )
    social = tmp_path / "social_52.jsonl"
    social.write_text(
        "\n".join(
            json.dumps(o, ensure_ascii=False)
            for o in [
                {"id": "s1", "published_at": "2026-08-03", "office_code": "52-01", "text": "Плохо", "stars": 1.2},
                {"id": "s2", "published_at": "2026-08-03", "office_code": "52-01", "text": "Хорошо", "stars": 5},
            ]
        ),
        encoding="utf-8",
    )
    with session_scope(db_url) as s:
        first = ingest_file(s, review, "review_book", "2026Q3", config, today=TODAY)
        second = ingest_file(s, social, "social", "2026Q3", config, today=TODAY)
    # 4,0 is 4; 7 is out of range: the rating is discarded and the review kept (as before)
    assert (first.accepted, first.quarantined, first.warnings) == (2, 2, 1)
    assert (second.accepted, second.quarantined) == (1, 1)
    q = _quarantine(db_url)
    with session_scope(db_url) as s:
        rows = s.execute(select(Quarantine).order_by(Quarantine.id)).scalars().all()
    assert [(r.source_row, r.field) for r in rows] == [(2, "rating"), (3, "rating"), (1, "rating")]
    assert "4,5" in q[2].reason and "1.2" in rows[-1].reason


def test_answer_rows_store_whole_numbers_as_ints_and_refuse_the_rest():
    """The last guard before the database: answers the suites let through are whole; a value
    that is not (a bug upstream) stops the file instead of being truncated."""
    nan = float("nan")
    answers = np.array([[5.0, nan, 1.0], [nan, nan, nan], [3.0, 4.0, 10.0]])
    rows = answer_rows([7, 8, 9], answers)
    assert rows == [(7, 5, None, 1), (8, None, None, None), (9, 3, 4, 10)]
    assert all(type(v) is int for row in rows for v in row if v is not None)
    for bad in (4.5, float("inf"), -0.25):
        with pytest.raises(ValueError, match=f"survey answer {bad!r} is not a whole number"):
            answer_rows([1, 2], np.array([[1.0, 2.0], [3.0, bad]]))
    assert answer_rows([], np.empty((0, 3))) == []
