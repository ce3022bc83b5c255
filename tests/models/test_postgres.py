"""The important database paths on both supported databases.

Every test taking ``any_db_url`` runs twice: ``[sqlite]`` on a migrated SQLite file
and ``[postgresql]`` on a fresh, migrated database of the PostgreSQL server the test
session starts itself (``tests/conftest.py``: ``postgres_server``, ``pg_url``). The
paths: the migrations (down to nothing and up again, head equal to the models),
ingest of one small file of each channel with the accounting identity, the same
files giving the same stored rows and aggregates on both databases, the quarter
results store, the measure register (history, optimistic locking between sessions,
a blocked concurrent edit on PostgreSQL), the register's export/import round trip
and the quarantine's list/release/re-ingest.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from openpyxl import load_workbook
from sqlalchemy import func, inspect, select, text
from sqlmodel import Session, SQLModel

import models.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from cxloop.config import read_offices_csv
from cxloop.domain import ITEMS
from demo.seed_measures import seed_measures
from models import answers as answers_store
from models import store
from models.db import alembic_config, get_engine, session_scope
from models.tables import Feedback, IngestedFile, Measure, MeasureHistory, PainPoint, Quarantine, SurveyAnswer
from tasks.collect.offices import merge_offices
from tasks.measures import register as reg
from tasks.measures import register_io as rio
from tasks.measures.export import REGISTER_LABELS, export_register_xlsx
from tasks.measures.status import InvalidTransition
from tasks.validate.ingest import ingest_file
from tasks.validate.redaction import find_personal_data

ROOT = Path(__file__).resolve().parents[2]
QUARTER = "2026Q1"
AT = datetime(2026, 4, 10, 9, 30)
TABLES = set(SQLModel.metadata.tables)  # what models/tables.py declares


def _with_registry(url: str) -> None:
    with session_scope(url) as s:
        merge_offices(s, read_offices_csv(ROOT / "config" / "offices.csv"))


# --------------------------------------------------------------------------- engine


def test_plain_postgresql_urls_get_psycopg_and_the_session_settings(pg_url):
    """``postgresql://`` (and ``postgres://``) mean psycopg 3; every session speaks UTC and
    names itself; a setting given in the URL's query wins over the default."""
    bare = pg_url.replace("postgresql+psycopg://", "postgresql://")
    heroku = pg_url.replace("postgresql+psycopg://", "postgres://")
    custom = pg_url + "?application_name=cxloop-test"
    for url, app in ((bare, "cxloop"), (heroku, "cxloop"), (custom, "cxloop-test")):
        engine = get_engine(url)
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            assert conn.execute(text("SHOW timezone")).scalar_one() == "UTC"
            assert conn.execute(text("SHOW application_name")).scalar_one() == app
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1


# --------------------------------------------------------------------------- migrations


def _schema_diff(url: str) -> list:
    with get_engine(url).connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)


def _tables(url: str) -> set[str]:
    with get_engine(url).connect() as conn:
        return set(inspect(conn).get_table_names()) - {"alembic_version"}


def test_migrations_walk_down_to_nothing_and_up_to_the_models(any_db_url):
    assert _schema_diff(any_db_url) == []
    assert _tables(any_db_url) == TABLES
    cfg = alembic_config(get_engine(any_db_url).url.render_as_string(hide_password=False))
    command.downgrade(cfg, "0001")
    with get_engine(any_db_url).connect() as conn:
        cols = {c["name"] for c in inspect(conn).get_columns("pain_point")}
        uniques = {u["name"] for u in inspect(conn).get_unique_constraints("pain_point")}
    assert "unit_code" not in cols and "region_code" in cols and uniques == {"uq_pain_point"}
    command.downgrade(cfg, "base")
    assert _tables(any_db_url) == set()
    command.upgrade(cfg, "head")
    assert _tables(any_db_url) == TABLES
    assert _schema_diff(any_db_url) == []


# --------------------------------------------------------------------------- ingest

REVIEWS = (
    "\n".join(
        [
            "Дата;Код ЦЗН;Категория заявителя;Текст отзыва;Оценка;Контакт",
            "12.03.2026;52-01;гражданин;Просидела в очереди два часа, мой телефон +7 912 345-67-89;2;"
            "ivanova@example.ru",
            "13.03.2026;52-99;гражданин;Нет пандуса;3;",  # unknown office: quarantined
            "32.13.2026;52-01;гражданин;Всё хорошо;5 звёзд;",  # impossible date: quarantined
            # rating discarded (warning)
            "14.03.2026;52-02;работодатель;Кандидаты не приходят на собеседования;отлично!!;",
            "12.03.2026;52-01;гражданин;Просидела в очереди два часа, мой телефон +7 912 345-67-89;2;",  # duplicate
        ]
    )
    + "\n"
)


def _channel_files(folder: Path) -> dict[str, tuple[Path, tuple[int, int, int, int]]]:
    """One small file per channel, each with good rows, rows its suite quarantines and a
    duplicate; the expected (received, accepted, quarantined, duplicates) follows from
    the rows as written (see the comments) and docs/import-templates.md."""
    files: dict[str, tuple[Path, tuple[int, int, int, int]]] = {}

    items = [f"{r}{i}" for r in "FUEPC" for i in range(1, 5)]
    survey = pd.DataFrame(
        [
            [
                "r1",
                "2026-02-01",
                "52-01",
                "citizen",
                *(["5"] * 20),
                "8",
                "9",
                "6",
                "Всё отлично, пишите на ivan@example.ru",
            ],
            ["r2", "2026-02-02", "52-02", "employer", "не знаю", *(["3"] * 19), "", "", "", ""],
            [
                "r1",
                "2026-02-01",
                "52-01",
                "citizen",
                *(["5"] * 20),
                "8",
                "9",
                "6",
                "Всё отлично, пишите на ivan@example.ru",
            ],
            ["r3", "2026-02-03", "52-01", "citizen", "6", *(["3"] * 19), "7", "7", "4", ""],
        ],  # F1 = 6: quarantined
        columns=[
            "respondent_id",
            "survey_date",
            "office_code",
            "client_type",
            *items,
            "overall",
            "nps",
            "ces",
            "comment",
        ],
    )
    path = folder / "star_survey_52.csv"
    survey.to_csv(path, index=False, encoding="utf-8-sig")
    files["star_survey"] = (path, (4, 2, 1, 1))

    path = folder / "review_book_52.csv"
    path.write_bytes(REVIEWS.encode("cp1251"))
    files["review_book"] = (path, (5, 2, 2, 1))

    path = folder / "contact_center_52.csv"
    path.write_text(
        "\n".join(
            [
                "call_id,call_date,office_code,client_type,rating,comment",
                "c1,2026-01-15,52-01,citizen,5,Быстро ответили",
                "c2,2026-01-16,52-02,employer,4 из 5,",
                "c3,2026-01-17,52-01,citizen,7,Слишком долго ждал на линии",  # rating outside 1-5: quarantined
                "c1,2026-01-15,52-01,citizen,5,Быстро ответили",  # duplicate call id
                "c4,2026-01-18,52-99,citizen,3,",  # unknown office: quarantined
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    files["contact_center"] = (path, (5, 2, 2, 1))

    path = folder / "pos_52.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": "p1",
                    "created_at": "2026-03-01T10:00:00+03:00",
                    "region_code": "52",
                    "office_code": "52-01",
                    "category": "Очередь",
                    "text": "Электронная очередь не работает третий день",
                    "status": "new",
                },
                {"id": "p2", "created_at": "2026-03-02", "region_code": "52", "text": "", "status": "new"},  # no text
                {
                    "id": "p1",
                    "created_at": "2026-03-01T10:00:00+03:00",
                    "region_code": "52",
                    "office_code": "52-01",
                    "category": "Очередь",
                    "text": "Электронная очередь не работает третий день",
                    "status": "new",
                },
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    files["pos"] = (path, (3, 1, 1, 1))

    path = folder / "social_52.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "id": "s1",
                        "platform": "vk",
                        "published_at": "2026-02-10",
                        "office_code": "52-03",
                        "author": "Иван",
                        "text": "Спасибо консультанту, помогли с резюме",
                        "stars": 5,
                    },
                    ensure_ascii=False,
                ),
                "{not json",  # unreadable row: quarantined
                json.dumps(
                    {
                        "id": "s2",
                        "platform": "maps",
                        "published_at": "2026-02-11",
                        "office_code": "52-03",
                        "text": "Грубый охранник на входе",
                        "stars": 9,
                    },
                    ensure_ascii=False,
                ),  # stars discarded (warning)
                json.dumps(
                    {
                        "id": "s1",
                        "platform": "vk",
                        "published_at": "2026-02-10",
                        "office_code": "52-03",
                        "author": "Иван",
                        "text": "Спасибо консультанту, помогли с резюме",
                        "stars": 5,
                    },
                    ensure_ascii=False,
                ),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    files["social"] = (path, (4, 2, 1, 1))

    path = folder / "interview_followup_52.csv"
    path.write_text(
        "\n".join(
            [
                "response_id,date,office_code,stage,q_useful,q_clear_next_steps,q_confident,comment",
                "i1,2026-03-10,52-04,periodic_meetings,4,5,4,Понятно что делать дальше",
                "i2,2026-03-11,52-04,periodic_meetings,6,5,4,",  # answer outside 1-5: quarantined
                "i3,2026-03-12,52-04,no_such_stage,3,3,3,",  # unknown stage: warning, stage discarded
                "i1,2026-03-10,52-04,periodic_meetings,4,5,4,Понятно что делать дальше",  # duplicate
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    files["interview_followup"] = (path, (4, 2, 1, 1))
    return files


def _ingest_all(url: str, folder: Path, config) -> dict:
    out = {}
    for channel, (path, _expected) in _channel_files(folder).items():
        with session_scope(url) as s:
            out[channel] = ingest_file(s, path, channel, QUARTER, config)
    return out


def test_each_channel_ingests_with_the_accounting_identity(tmp_path, any_db_url, config):
    _with_registry(any_db_url)
    files = _channel_files(tmp_path)
    for channel, (path, expected) in files.items():
        with session_scope(any_db_url) as s:
            summary = ingest_file(s, path, channel, QUARTER, config)
        got = (summary.received, summary.accepted, summary.quarantined, summary.duplicates)
        assert got == expected, channel
        assert summary.received == summary.accepted + summary.quarantined + summary.duplicates
        with session_scope(any_db_url) as s:
            record = s.execute(select(IngestedFile).where(IngestedFile.path == str(path))).scalar_one()
            stored = s.execute(
                select(func.count()).select_from(Feedback).where(Feedback.source_file == str(path))
            ).scalar_one()
            held = s.execute(
                select(func.count()).select_from(Quarantine).where(Quarantine.ingested_file_id == record.id)
            ).scalar_one()
            texts = s.execute(select(Feedback.text).where(Feedback.source_file == str(path))).scalars().all()
        assert (record.received, record.accepted, record.quarantined, record.duplicates) == expected
        assert (stored, held) == (summary.accepted, summary.quarantined)
        assert all(find_personal_data(t) == [] for t in texts if t)

    with session_scope(any_db_url) as s:  # the survey's answers, overall questions included
        answers = s.execute(
            select(Feedback.external_id, SurveyAnswer)
            .join(SurveyAnswer, SurveyAnswer.feedback_id == Feedback.id)
            .order_by(Feedback.external_id)
        ).all()
        dates = s.execute(
            select(Feedback.external_id, Feedback.received_at)
            .where(Feedback.channel == "contact_center")
            .order_by(Feedback.external_id)
        ).all()
    assert [(rid, a.F1, a.C4, a.overall, a.nps, a.ces) for rid, a in answers] == [
        ("r1", 5, 5, 8, 9, 6),
        ("r2", None, 3, None, None, None),
    ]
    assert dates == [("c1", date(2026, 1, 15)), ("c2", date(2026, 1, 16))]

    path = files["review_book"][0]
    before = _counts(any_db_url)
    with session_scope(any_db_url) as s:  # the same file again: skipped, nothing stored
        again = ingest_file(s, path, "review_book", QUARTER, config)
    assert again.status == "already_ingested" and again.duplicates == again.received == 5
    assert _counts(any_db_url) == before


def test_an_over_long_source_id_is_quarantined_not_a_crash(tmp_path, any_db_url, config):
    """A 250-character call id: PostgreSQL enforces the VARCHAR(200) of ``feedback.dedup_key``
    (SQLite ignores lengths), so the suites quarantine ids longer than 160 characters and
    the file is processed the same way on both databases."""
    _with_registry(any_db_url)
    path = tmp_path / "contact_center_long.csv"
    path.write_text(
        "call_id,call_date,office_code,client_type,rating,comment\n"
        f"{'x' * 250},2026-01-15,52-01,citizen,5,\nc2,2026-01-16,52-01,citizen,4,\n",
        encoding="utf-8",
    )
    with session_scope(any_db_url) as s:
        summary = ingest_file(s, path, "contact_center", QUARTER, config)
    assert (summary.received, summary.accepted, summary.quarantined, summary.duplicates) == (2, 1, 1, 0)
    assert _counts(any_db_url)["Feedback"] == 1
    with session_scope(any_db_url) as s:
        (q,) = s.execute(select(Quarantine)).scalars().all()
    assert (q.source_row, q.field) == (2, "external_id") and "160" in q.reason


def _counts(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        return {
            t.__name__: s.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Feedback, Quarantine, IngestedFile, SurveyAnswer)
        }


def _content(url: str) -> dict[str, list]:
    """Everything the ingest stored, without surrogate ids (they are the databases' own)."""
    with session_scope(url) as s:
        feedback = sorted(
            (tuple(v for k, v in f.model_dump().items() if k != "id") for f in s.execute(select(Feedback)).scalars()),
            key=repr,
        )
        answers = sorted(
            (
                tuple(r)
                for r in s.execute(
                    select(
                        Feedback.dedup_key,
                        *[getattr(SurveyAnswer, c) for c in SurveyAnswer.model_fields if c != "feedback_id"],
                    ).join(SurveyAnswer, SurveyAnswer.feedback_id == Feedback.id)
                ).all()
            ),
            key=repr,
        )
        quarantine = sorted(
            (q.source_file, q.source_row, q.field, q.rule, q.reason, q.quarter, q.channel)
            for q in s.execute(select(Quarantine)).scalars()
        )
        files = sorted(
            (
                tuple(v for k, v in r.model_dump().items() if k != "id")
                for r in s.execute(select(IngestedFile)).scalars()
            ),
            key=repr,
        )
    return {"feedback": feedback, "answers": answers, "quarantine": quarantine, "files": files}


def test_the_same_files_store_the_same_rows_on_both_databases(tmp_path, db_url, pg_url, config):
    """SQLite and PostgreSQL hold the same content after the same ingest, and the SQL
    aggregations the later stages read (text groups, KPI observations) agree."""
    from tasks.measures.kpi import kpi_observations

    summaries = []
    for url in (db_url, pg_url):
        _with_registry(url)
        summaries.append({c: s.as_dict() for c, s in _ingest_all(url, tmp_path, config).items()})
    assert summaries[0] == summaries[1]
    lite, pg = _content(db_url), _content(pg_url)
    assert len(lite["feedback"]) == 11 and len(lite["answers"]) == 2
    assert lite == pg
    for reader in (
        lambda s: store.load_text_groups(s, QUARTER, ["2025Q4"]),
        lambda s: answers_store.load_answers(s, QUARTER),
        lambda s: kpi_observations(s, "neg_share:waiting_time", [QUARTER]),
        lambda s: kpi_observations(s, "ray:friendliness", [QUARTER], client_type="citizen"),
    ):
        frames = []
        for url in (db_url, pg_url):
            with session_scope(url) as s:
                frame = reader(s)
            frames.append(frame.sort_values(list(frame.columns)).reset_index(drop=True))
        assert not frames[0].empty
        pd.testing.assert_frame_equal(frames[0], frames[1], check_dtype=False)


def test_texts_copy_would_read_as_control_characters_are_stored_as_written(tmp_path, db_url, pg_url, config):
    """PostgreSQL stores feedback with COPY (tasks.validate.ingest._bulk_insert), whose text
    format gives tabs, line breaks, backslashes and ``\\N`` a meaning of their own: such
    texts come back from both databases exactly as written."""
    import csv

    texts = [
        "Окно\tрегистрации закрыто, ждал у двери",
        "Первая строка\nвторая строка\r\nтретья",
        "Путь C:\\temp\\new и \\N посередине",
        "\\N",
        'Кавычки "внутри", точка с запятой; и эмодзи 😡',
        "Обратный слеш в конце \\",
    ]
    path = tmp_path / "review_book_copy.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["Дата", "Код ЦЗН", "Категория заявителя", "Текст отзыва", "Оценка", "Контакт"])
        for n, text in enumerate(texts):
            writer.writerow([f"{10 + n}.03.2026", "52-01", "гражданин", text, "2", ""])
    stored = []
    for url in (db_url, pg_url):
        _with_registry(url)
        with session_scope(url) as s:
            summary = ingest_file(s, path, "review_book", QUARTER, config)
        assert (summary.received, summary.accepted) == (len(texts), len(texts))
        with session_scope(url) as s:
            stored.append(sorted(s.execute(select(Feedback.text, Feedback.received_at)).all()))
    assert stored[0] == stored[1]
    assert {t for t, _ in stored[1]} >= {"\\N", "Обратный слеш в конце \\"}
    assert any("\t" in t for t, _ in stored[1]) and any("C:\\temp\\new" in t for t, _ in stored[1])


# --------------------------------------------------------------------------- quarter results


def _survey_file(folder: Path, seed: int = 11) -> Path:
    """60 respondents in two offices of region 52 (40 citizens, 20 employers), answers 1-5."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(60):
        office = "52-01" if i % 2 else "52-02"
        kind = "employer" if i % 3 == 0 else "citizen"
        answers = [str(v) if v else "не знаю" for v in rng.integers(0, 6, size=len(ITEMS))]  # 0 = no answer
        rows.append([f"r{i}", f"2026-02-{1 + i % 28:02d}", office, kind, *answers, ""])
    path = folder / "star_survey_big.csv"
    pd.DataFrame(
        rows, columns=["respondent_id", "survey_date", "office_code", "client_type", *ITEMS, "comment"]
    ).to_csv(path, index=False, encoding="utf-8")
    return path


def _records(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    sub = frame[columns].astype(object)
    return sorted(
        (
            tuple(None if (isinstance(v, float) and v != v) or v is pd.NA else v for v in row)
            for row in sub.itertuples(index=False, name=None)
        ),
        key=repr,
    )


def test_index_and_pain_points_are_replaced_and_read_back(tmp_path, any_db_url, config):
    from tasks.insight.index import quarter_index

    _with_registry(any_db_url)
    with session_scope(any_db_url) as s:
        summary = ingest_file(s, _survey_file(tmp_path), "star_survey", QUARTER, config)
    assert summary.accepted == 60
    with session_scope(any_db_url) as s:
        answers = answers_store.load_answers(s, QUARTER)
    computed = quarter_index(answers, config.thresholds.star)
    assert set(computed["level"]) == {"office", "region", "country"}
    for _ in range(2):  # a rerun replaces, it does not add
        with session_scope(any_db_url) as s:
            assert store.replace_index_results(s, QUARTER, computed) == len(computed)
    with session_scope(any_db_url) as s:
        loaded = store.load_index(s, QUARTER)
    assert len(loaded) == len(computed)
    keys = ["level", "unit_code", "client_type"]
    lo = loaded.set_index(keys).sort_index()
    co = computed.set_index(keys).sort_index()
    for col in ("index", "ci_low", "ci_high", "friendliness", "effort"):
        np.testing.assert_allclose(lo[col].astype(float), co[col].astype(float), atol=1e-6, equal_nan=True)
    assert lo["n"].astype(int).tolist() == co["n"].astype(int).tolist()
    assert lo["sufficient_sample"].astype(bool).tolist() == co["sufficient_sample"].astype(bool).tolist()
    assert [None if pd.isna(v) else int(v) for v in lo["stars"]] == [
        None if pd.isna(v) else int(v) for v in co["stars"]
    ]

    columns = [c for c in PainPoint.model_fields if c not in ("id", "quarter")]
    rng = np.random.default_rng(5)
    rows = []
    for rank, (theme, stage) in enumerate(
        [
            ("waiting_time", "first_contact"),
            ("staff_attitude", "periodic_meetings"),
            ("digital_services", "registration"),
        ],
        start=1,
    ):
        neg = int(rng.integers(5, 40))
        rows.append(
            {
                "level": "region",
                "unit_code": "52",
                "region_code": "52",
                "client_type": "citizen",
                "theme": theme,
                "journey_stage": stage,
                "mentions": neg + 3,
                "negative_mentions": neg,
                "texts_total": 200,
                "negative_share": neg / 2,
                "mean_rating": round(float(rng.uniform(0, 100)), 4),
                "reach_offices": 2,
                "offices_total": 5,
                "reach_clients": neg,
                "ray": "effort",
                "ray_score": 61.25,
                "trend": None if rank == 3 else round(float(rng.normal()), 4),
                "signal": "rise" if rank == 1 else None,
                "p_bar": 0.05,
                "ucl": 0.1,
                "lcl": 0.0,
                "driver_importance": None,
                "covered_by": "M-1" if rank == 2 else None,
                "component_reach": 1.0,
                "component_severity": 1.5,
                "component_trend": 1.0,
                "component_driver": 1.0,
                "component_coverage": 1.0,
                "priority": float(100 - rank),
                "rank": rank,
                "recurring": rank == 3,
            }
        )
    frame = pd.DataFrame(rows, columns=columns)
    with session_scope(any_db_url) as s:
        store.replace_pain_points(s, "2025Q4", frame.assign(rank=9))  # another quarter: must survive
        store.replace_pain_points(s, QUARTER, frame.iloc[:1])
    with session_scope(any_db_url) as s:
        assert store.replace_pain_points(s, QUARTER, frame) == 3
    with session_scope(any_db_url) as s:
        loaded = store.load_pain_points(s, QUARTER)
        other = store.load_pain_points(s, "2025Q4")
    assert _records(loaded, columns) == _records(frame, columns)
    assert len(other) == 3 and set(other["rank"]) == {9}


# --------------------------------------------------------------------------- the measure register


def _seed(url: str) -> None:
    def rec(code: str, status: str, region: str = "52", **extra) -> dict:
        return {
            "code": code,
            "title": f"Мера {code}",
            "description": "",
            "theme": "waiting_time",
            "journey_stage": "first_contact",
            "type": "process_optimisation",
            "region_code": region,
            "offices": [f"{region}-01", f"{region}-02"],
            "owner": f"РГ {region}",
            "status": status,
            "proposed_quarter": "2026Q1",
            "kpi_metric": "item:E2",
            "kpi_target_change": 10,
            "planned_start": "2026-04-01",
            "due_date": "2026-06-30",
            **extra,
        }

    codesign = {"codesign_date": "2026-03-20", "codesign_form": "workshop", "codesign_clients": 9}
    with session_scope(url) as s:
        merge_offices(s, read_offices_csv(ROOT / "config" / "offices.csv"))
        seed_measures(
            s,
            [
                rec("M-P", "proposed"),
                rec("M-A", "approved", region="66", **codesign),
                rec("M-I", "in_progress", **codesign),
            ],
        )


def test_status_changes_leave_history_and_versions(any_db_url):
    _seed(any_db_url)
    with session_scope(any_db_url) as s:
        m = reg.get_measure(s, "M-A")
        v = m.version
        reg.change_status(s, m, "in_progress", "Иванова", datetime(2026, 4, 12, 9), "старт")
        reg.change_status(s, m, "implemented", "Петров", datetime(2026, 5, 30, 17, tzinfo=UTC))
    with session_scope(any_db_url) as s:
        m = reg.get_measure(s, "M-A")
        history = [(h.field, h.from_value, h.to_value, h.who, h.at) for h in reg.history_of(s, m)]
    assert (m.status, m.version, m.implemented_on) == ("implemented", v + 2, date(2026, 5, 30))
    assert history[-3:] == [
        ("status", "approved", "in_progress", "Иванова", datetime(2026, 4, 12, 9, tzinfo=UTC)),
        ("status", "in_progress", "implemented", "Петров", datetime(2026, 5, 30, 17, tzinfo=UTC)),
        ("implemented_on", None, "2026-05-30", "Петров", datetime(2026, 5, 30, 17, tzinfo=UTC)),
    ]
    assert [h[2] for h in history if h[0] == "status"] == ["proposed", "approved", "in_progress", "implemented"]
    with session_scope(any_db_url) as s, pytest.raises(InvalidTransition):
        reg.change_status(s, reg.get_measure(s, "M-A"), "proposed", "Иванова", AT)


def test_two_sessions_editing_one_version_one_gets_a_conflict(any_db_url):
    """Both analysts read the same version; the first writer wins, the second one's
    conditional UPDATE matches no row and is refused, and leaves no trace."""
    _seed(any_db_url)
    engine = get_engine(any_db_url)
    with Session(engine, expire_on_commit=False) as a, Session(engine, expire_on_commit=False) as b:
        ma, mb = reg.get_measure(a, "M-P"), reg.get_measure(b, "M-P")
        start = ma.version
        assert mb.version == start
        a.commit()
        b.commit()  # both only read so far: no transaction, no snapshot held
        reg.change_status(a, ma, "approved", "Иванова", AT, "одобрено РГ")
        a.commit()
        with pytest.raises(reg.VersionConflict):
            reg.update_fields(b, mb, {"owner": "ЦЗН 52-01"}, "Петров", AT)
        b.rollback()
    with session_scope(any_db_url) as s:
        m = reg.get_measure(s, "M-P")
        history = reg.history_of(s, m)
    assert (m.status, m.owner, m.version) == ("approved", "РГ 52", start + 1)
    assert [(h.field, h.to_value, h.who) for h in history] == [
        ("status", "proposed", "cxloop"),
        ("status", "approved", "Иванова"),
    ]


def test_concurrent_edit_waits_for_the_first_then_conflicts_on_postgres(pg_url):
    """On PostgreSQL both edits really overlap: the second UPDATE blocks on the row
    lock of the first, and when the first commits it re-checks the version, finds it
    changed, matches no row and raises VersionConflict (READ COMMITTED re-evaluation)."""
    _seed(pg_url)
    engine = get_engine(pg_url)
    outcome: dict[str, object] = {}
    with Session(engine, expire_on_commit=False) as a, Session(engine, expire_on_commit=False) as b:
        ma, mb = reg.get_measure(a, "M-I"), reg.get_measure(b, "M-I")
        start = ma.version
        reg.update_fields(a, ma, {"owner": "ЦЗН 52-02"}, "Иванова", AT)  # row locked, not committed

        def second_edit() -> None:
            try:
                reg.update_fields(b, mb, {"owner": "ЦЗН 52-01"}, "Петров", AT)
                outcome["result"] = "won"
            except Exception as exc:  # the test inspects it
                outcome["result"] = exc
            finally:
                b.rollback()

        worker = threading.Thread(target=second_edit)
        worker.start()
        waiting = 0
        deadline = time.monotonic() + 20
        with engine.connect() as probe:
            while time.monotonic() < deadline and not waiting:
                waiting = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar_one()
                probe.rollback()
                time.sleep(0.05)
        assert waiting == 1, "the second edit should wait for the first one's row lock"
        assert "result" not in outcome
        a.commit()
        worker.join(timeout=30)
    assert isinstance(outcome.get("result"), reg.VersionConflict), outcome
    with session_scope(pg_url) as s:
        m = reg.get_measure(s, "M-I")
        owners = [h.to_value for h in reg.history_of(s, m) if h.field == "owner"]
    assert (m.owner, m.version, owners) == ("ЦЗН 52-02", start + 1, ["ЦЗН 52-02"])


def test_register_export_then_import_changes_nothing_but_edits(tmp_path, any_db_url):
    _seed(any_db_url)

    def snapshot():
        with session_scope(any_db_url) as s:
            measures = [
                tuple(getattr(m, f) for f in Measure.model_fields)
                for m in s.execute(select(Measure).order_by(Measure.code)).scalars()
            ]
            return measures, s.execute(select(func.count()).select_from(MeasureHistory)).scalar_one()

    before = snapshot()
    path = tmp_path / "register.xlsx"
    with session_scope(any_db_url) as s:
        export_register_xlsx(s, path, date(2026, 4, 5))
    summary = rio.import_register_file(path, "Иванова", AT, url=any_db_url)
    assert summary.rejected == [] and summary.applied == []
    assert sorted(summary.unchanged) == ["M-A", "M-I", "M-P"]
    assert snapshot() == before

    wb = load_workbook(path)
    ws = wb.active
    col = {c.value: c.column for c in ws[1]}
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=1).value == "M-P")
    ws.cell(row=row, column=col[REGISTER_LABELS["ru"]["owner"]]).value = "ЦЗН 52-01, начальник отдела"
    wb.save(path)
    summary = rio.import_register_file(path, "Иванова", AT, url=any_db_url)
    assert summary.rejected == []
    assert [(a["code"], a["field"], a["from"], a["to"]) for a in summary.applied] == [
        ("M-P", "owner", "РГ 52", "ЦЗН 52-01, начальник отдела")
    ]
    measures, history = snapshot()
    assert history == before[1] + 1
    # The same file again: its values are the register's now, so nothing to do (and no
    # stale-version complaint: a row that changes nothing is not checked for its version).
    again = rio.import_register_file(path, "Петров", AT, url=any_db_url)
    assert (again.applied, again.rejected, sorted(again.unchanged)) == ([], [], ["M-A", "M-I", "M-P"])
    assert snapshot() == (measures, history)

    ws.cell(row=row, column=col[REGISTER_LABELS["ru"]["title"]]).value = "Другое название"
    wb.save(path)  # an edit on the export taken before the owner change: stale
    stale = rio.import_register_file(path, "Петров", AT, url=any_db_url)
    assert stale.applied == [] and [(r["code"], r["field"]) for r in stale.rejected] == [("M-P", "version")]
    assert snapshot() == (measures, history)


# --------------------------------------------------------------------------- quarantine


def test_quarantine_list_release_and_reingest(tmp_path, any_db_url, config):
    from cxloop.config import Office
    from tasks.validate.quarantine import count_quarantine, list_quarantine, release_rows

    _with_registry(any_db_url)
    path = tmp_path / "review_book_52.csv"
    path.write_bytes(REVIEWS.encode("cp1251"))
    with session_scope(any_db_url) as s:
        first = ingest_file(s, path, "review_book", QUARTER, config)
    assert first.quarantined == 2
    with session_scope(any_db_url) as s:
        listed = list_quarantine(s, quarter=QUARTER, file=path)
        assert [(r["row"], r["field"]) for r in listed] == [(3, "office_code"), (4, "received_at")]
        assert count_quarantine(s, channel="review_book") == 2
        merge_offices(
            s,
            [
                Office(
                    office_code="52-99", office_name="ЦЗН новый", region_code="52", region_name="Нижегородская область"
                )
            ],
        )
        items = release_rows(s, datetime(2026, 4, 1, tzinfo=UTC), file=str(path))
        assert [(i.status, i.quarantined_rows) for i in items] == [("released", 2)]
    with session_scope(any_db_url) as s:
        assert list_quarantine(s) == []
        released = list_quarantine(s, include_released=True)
        stamps = s.execute(select(Quarantine.released_at)).scalars().all()
    assert len(released) == 2 and stamps == [datetime(2026, 4, 1, tzinfo=UTC)] * 2
    with session_scope(any_db_url) as s:
        again = ingest_file(s, path, "review_book", QUARTER, config)
    # the fixed office's row is accepted now; the impossible date is quarantined again
    assert (again.status, again.received, again.accepted, again.quarantined, again.duplicates) == (
        "ingested",
        5,
        1,
        1,
        3,
    )
    with session_scope(any_db_url) as s:
        assert [(r["row"], r["field"]) for r in list_quarantine(s)] == [(4, "received_at")]
