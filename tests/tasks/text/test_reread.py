"""tasks.text.reread: the cycle's learn-sentiment step on a real SQLite store. Rated texts
(written here, tests.tasks.text.test_text_model.corpus) are ingested through the real
ingest step; the step trains, activates the model, rereads the quarter and records how."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from models.db import session_scope
from models.tables import Feedback, TextReading
from tasks.collect.offices import merge_offices
from tasks.reports.context_text import text_method_note
from tasks.text.analyser import analyse
from tasks.text.model import ModelSettings
from tasks.text.model_store import active_model_dir, load_active_model
from tasks.text.reread import learn_and_reread, reading_of
from tasks.validate.ingest import ingest_file
from tests.tasks.text.test_text_model import corpus

SMALL = ModelSettings(min_texts=100)


def _ingest_rated(folder, url: str, config) -> None:
    texts, ratings = corpus(240)
    lines = ["call_id,call_date,office_code,client_type,rating,comment"]
    for i, (text, rating) in enumerate(zip(texts, ratings, strict=True), start=1):
        lines.append(f'c{i},2026-02-{1 + i % 27:02d},52-01,citizen,{rating},"{text}"')
    path = folder / "contact_center_52.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with session_scope(url) as s:
        summary = ingest_file(s, path, "contact_center", "2026Q1", config, today=date(2026, 4, 10))
    assert summary.accepted == 240


@pytest.fixture
def rated_quarter(tmp_path, env, db_url, registry, config):
    _ingest_rated(tmp_path, db_url, config)
    return db_url


def _rows(url: str) -> list[tuple]:
    with session_scope(url) as s:
        return [
            tuple(r)
            for r in s.execute(
                select(
                    Feedback.id, Feedback.text, Feedback.sentiment, Feedback.themes, Feedback.negative_themes
                ).order_by(Feedback.id)
            ).all()
        ]


def test_the_model_is_trained_activated_and_rereads_the_quarter(rated_quarter, config):
    before = _rows(rated_quarter)
    with session_scope(rated_quarter) as s:
        reading = learn_and_reread(s, "2026Q1", config, SMALL)
    assert reading.method == "rules+model" and reading.rated_texts == 240 and reading.texts_read == 240
    assert active_model_dir() is not None and active_model_dir().name == reading.model_version
    after = _rows(rated_quarter)
    model = load_active_model()
    expected = analyse([r[1] for r in after], config, model=model)
    assert [r[2] for r in after] == pytest.approx([a.sentiment for a in expected])
    assert [r[3] for r in after] == [r[3] for r in before]  # themes stay the rules'
    assert [r[2] for r in after] != [r[2] for r in before]  # the model did read them differently
    with session_scope(rated_quarter) as s:
        stored = reading_of(s, "2026Q1")
        note = text_method_note(s, "2026Q1", "ru")
    assert stored is not None and stored.model_version == reading.model_version
    assert "created_at" not in stored.card and stored.card["languages"]["ru"]["texts"] == 240
    assert "модель" in note and reading.model_version[:12] in note


def test_a_rerun_gives_the_same_model_and_the_same_rows(rated_quarter, config):
    with session_scope(rated_quarter) as s:
        first = learn_and_reread(s, "2026Q1", config, SMALL)
    rows = _rows(rated_quarter)
    with session_scope(rated_quarter) as s:
        second = learn_and_reread(s, "2026Q1", config, SMALL)
        count = len(s.execute(select(TextReading)).all())
    assert second.model_version == first.model_version
    assert _rows(rated_quarter) == rows
    assert count == 1


def test_a_rerun_on_the_same_data_reads_the_saved_model_back_instead_of_fitting(rated_quarter, config, monkeypatch):
    import tasks.text.reread as reread

    fits: list[str] = []
    real_fit = reread.fit
    monkeypatch.setattr(reread, "fit", lambda data, **kw: fits.append(data.version) or real_fit(data, **kw))
    with session_scope(rated_quarter) as s:
        first = learn_and_reread(s, "2026Q1", config, SMALL)
    rows = _rows(rated_quarter)
    with session_scope(rated_quarter) as s:
        second = learn_and_reread(s, "2026Q1", config, SMALL)
    assert fits == [first.model_version]  # fitted once, read back the second time
    assert second.model_version == first.model_version and second.card == first.card
    assert _rows(rated_quarter) == rows
    with session_scope(rated_quarter) as s:  # other settings are another model: fitted again
        third = learn_and_reread(s, "2026Q1", config, ModelSettings(min_texts=100, c=0.5))
    assert third.model_version != first.model_version and fits == [first.model_version, third.model_version]


def test_too_few_rated_texts_keep_the_rules_reading(rated_quarter, config):
    before = _rows(rated_quarter)
    with session_scope(rated_quarter) as s:
        reading = learn_and_reread(s, "2026Q1", config, ModelSettings(min_texts=10_000))
        note = text_method_note(s, "2026Q1", "ru")
    assert reading.method == "rules" and reading.model_version is None and reading.texts_read == 0
    assert _rows(rated_quarter) == before
    assert active_model_dir() is None
    assert "правила словарей" in note and "240" in note


def test_analysts_labels_teach_a_theme_the_rules_miss(db_url, env, config):
    """With enough gold labels, a theme whose classifier beats the rules (office comfort:
    the rules miss wifi and coffee machines) is decided by it when the quarter is reread."""
    from datetime import UTC, datetime

    from models.tables import TextLabel
    from tests.tasks.text.review_support import seed_feedback
    from tests.tasks.text.test_theme_learn import _dataset

    texts, _rules, gold = _dataset(config)
    assert len(texts) >= 50
    ids = seed_feedback(db_url, [("survey", "52", t, None) for t in texts], quarter="2026Q1")
    with session_scope(db_url) as s:
        for fid, labels in zip(ids, gold, strict=True):
            s.add(
                TextLabel(
                    feedback_id=fid,
                    themes=",".join(sorted(labels)),
                    labelled_by="analyst",
                    labelled_at=datetime(2026, 5, 2, tzinfo=UTC),
                    source_file="review.xlsx",
                )
            )
    with session_scope(db_url) as s:
        reading = learn_and_reread(s, "2026Q1", config, ModelSettings(min_texts=10_000))
    assert reading.method == "rules+themes" and "office_comfort" in reading.learned_themes
    assert reading.texts_read == len(texts)
    with session_scope(db_url) as s:
        stored = dict(s.execute(select(Feedback.text, Feedback.themes)).all())
    missed = [
        t
        for t, g in zip(texts, gold, strict=True)
        if "office_comfort" in g and "office_comfort" not in _rules[texts.index(t)]
    ]
    assert missed and all("office_comfort" in stored[t].split(",") for t in missed)
    with session_scope(db_url) as s:
        note = text_method_note(s, "2026Q1", "ru", config)
    assert "разметке аналитиков" in note and config.themes["office_comfort"].labels["ru"] in note


def test_learn_and_reread_on_sqlite_and_postgresql(any_db_url, config, tmp_path, monkeypatch):
    """The step's queries and its bulk update on both databases (data seeded through the URL)."""
    from cxloop.settings import reset_settings_cache
    from tests.tasks.text.review_support import seed_feedback

    monkeypatch.setenv("CXLOOP_OUT_DIR", str(tmp_path / "out"))
    reset_settings_cache()
    texts, ratings = corpus(150)
    seed_feedback(
        any_db_url,
        [("contact_center", "52", t, float(r)) for t, r in zip(texts, ratings, strict=True)],
        quarter="2026Q1",
    )
    with session_scope(any_db_url) as s:
        reading = learn_and_reread(s, "2026Q1", config, SMALL)
    assert reading.method == "rules+model" and reading.texts_read == 150
    rows = _rows(any_db_url)
    expected = analyse([r[1] for r in rows], config, model=load_active_model())
    assert [r[2] for r in rows] == pytest.approx([a.sentiment for a in expected])
    with session_scope(any_db_url) as s:
        assert reading_of(s, "2026Q1").model_version == reading.model_version
    reset_settings_cache()


def test_a_region_is_reread_with_the_quarters_model_without_training(rated_quarter, config):
    from sqlalchemy import update

    from tasks.text.reread import reread_region

    with session_scope(rated_quarter) as s:
        trained = learn_and_reread(s, "2026Q1", config, SMALL)
    rows = _rows(rated_quarter)
    with session_scope(rated_quarter) as s:
        recorded = s.execute(select(TextReading)).scalars().one().model_dump()
        s.execute(update(Feedback).values(sentiment=None))
    with session_scope(rated_quarter) as s:  # every text is in region 52: region 66 rereads none
        assert reread_region(s, "2026Q1", "66", config).texts_read == 0
    assert {r[2] for r in _rows(rated_quarter)} == {None}
    with session_scope(rated_quarter) as s:
        again = reread_region(s, "2026Q1", "52", config)
        assert s.execute(select(TextReading)).scalars().one().model_dump() == recorded
    assert again.method == "rules+model" and again.model_version == trained.model_version
    assert again.texts_read == 240 and _rows(rated_quarter) == rows


def test_the_reread_writes_the_same_columns_on_sqlite_and_postgresql(tmp_path, env, registry, db_url, pg_url, config):
    """The reread's UPDATE goes straight to the driver (``?`` marks for sqlite3, ``%s`` for
    psycopg): on both databases the same texts get the model's sentiment, the rules' themes
    and the same negative themes, row for row."""
    stored = {}
    for name, url in (("sqlite", db_url), ("postgresql", pg_url)):
        folder = tmp_path / name
        folder.mkdir()
        with session_scope(url) as s:
            merge_offices(s, config.offices)  # again on SQLite: nothing changes
        _ingest_rated(folder, url, config)
        with session_scope(url) as s:
            reading = learn_and_reread(s, "2026Q1", config, SMALL)
        assert reading.texts_read == 240
        stored[name] = [r[1:] for r in _rows(url)]
    model = load_active_model()
    expected = analyse([r[0] for r in stored["sqlite"]], config, model=model)
    assert [r[1] for r in stored["sqlite"]] == pytest.approx([a.sentiment for a in expected])
    assert stored["postgresql"] == stored["sqlite"]
