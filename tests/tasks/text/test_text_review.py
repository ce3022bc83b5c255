"""Analysts teach themes: the review sample, its XLSX, and reading the ticked file back
as gold labels (tasks/text/review.py, tasks/text/review_io.py, table text_label)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from openpyxl import load_workbook
from sqlalchemy import inspect
from sqlmodel import select

from models.db import alembic_config, get_engine, session_scope
from models.tables import TextLabel
from tasks.text.review import FIXED_COLUMNS, FIXED_LABELS, choose_sample, theme_headers, write_review_xlsx
from tasks.text.review_io import ReviewFileError, import_review_file, read_review_xlsx
from tests.tasks.text.review_support import MIXED_TEXTS, QUARTER, seed_feedback

AT = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def _sample(url, config, **kw):
    with session_scope(url) as session:
        return choose_sample(session, QUARTER, config=config, **kw)


def _export(url, config, path: Path, lang="ru", **kw):
    sample = _sample(url, config, **kw)
    write_review_xlsx(sample, path, config, lang)
    return sample


def _columns(path: Path) -> dict[str, int]:
    """Header -> 1-based column of the first sheet."""
    ws = load_workbook(path).active
    return {c.value: c.column for c in ws[1]}


def _tick(path: Path, out: Path, ticks: dict[int, dict[str, object]]) -> Path:
    """Copy of ``path`` with cells set by feedback id -> {header: value}."""
    wb = load_workbook(path)
    ws = wb.active
    cols = {c.value: c.column for c in ws[1]}
    for row in range(2, ws.max_row + 1):
        fid = ws.cell(row=row, column=1).value
        for header, value in ticks.get(fid, {}).items():
            ws.cell(row=row, column=cols[header]).value = value
    wb.save(out)
    return out


def _row_of(path: Path, feedback_id: int) -> int:
    ws = load_workbook(path).active
    return next(r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=1).value == feedback_id)


# --------------------------------------------------------------------------- the sample


def test_sample_is_deterministic_uncertain_first_then_stratified(db_url, config):
    ids = seed_feedback(db_url, MIXED_TEXTS)
    first = _sample(db_url, config, size=10, seed=3)
    again = _sample(db_url, config, size=10, seed=3)
    assert first.equals(again)
    assert len(first) == 10 and first["feedback_id"].is_unique and set(first["feedback_id"]) <= set(ids)
    kinds = first["kind"].tolist()
    assert kinds == sorted(kinds, key=lambda k: k != "uncertain")  # uncertain ones first
    uncertain = first[first["kind"] == "uncertain"]
    assert 0 < len(uncertain) <= 5 and (uncertain["score"] > 0).all()
    assert uncertain["score"].is_monotonic_decreasing
    stratified = first[first["kind"] == "stratified"]
    assert stratified["language"].nunique() >= 2 and stratified["channel"].nunique() >= 2


def test_uncertainty_reasons_name_what_makes_the_rules_doubtful(db_url, config):
    ids = seed_feedback(db_url, MIXED_TEXTS)
    by_text = {text: fid for fid, (_, _, text, _) in zip(ids, MIXED_TEXTS, strict=True)}
    sample = _sample(db_url, config, size=len(MIXED_TEXTS), uncertain_share=1.0).set_index("feedback_id")
    # a negative text no theme names
    assert "negative, no theme" in sample.loc[by_text["The wifi in the lobby does not work."], "reason"]
    assert "negative, no theme" in sample.loc[by_text["Kahviautomaatti ei toimi."], "reason"]
    # a clear complaint with a strong keyword is not doubtful
    assert sample.loc[by_text["I waited in the queue for two hours."], "kind"] == "stratified"
    # every text of the quarter with a language is in a sample of the quarter's size
    assert len(sample) == len(MIXED_TEXTS)


def test_sample_sizes_and_seeds(db_url, config):
    seed_feedback(db_url, MIXED_TEXTS)
    assert len(_sample(db_url, config, size=3)) == 3
    assert (_sample(db_url, config, size=6, uncertain_share=0.0)["kind"] == "stratified").all()
    with pytest.raises(ValueError, match="at least 1"):
        _sample(db_url, config, size=0)
    with session_scope(db_url) as session:
        assert choose_sample(session, "2020Q1", config=config).empty


def test_xlsx_has_a_column_per_theme_in_the_chosen_language_and_is_reproducible(db_url, config, tmp_path):
    seed_feedback(db_url, MIXED_TEXTS + [("survey", "52", '=HYPERLINK("http://x") broken wifi', 1)])
    sample = _export(db_url, config, tmp_path / "a.xlsx", lang="fi", size=30)
    _export(db_url, config, tmp_path / "b.xlsx", lang="fi", size=30)
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    headers = list(_columns(tmp_path / "a.xlsx"))
    fi = FIXED_LABELS["fi"]
    assert headers[: len(FIXED_COLUMNS)] == [fi[c] for c in FIXED_COLUMNS]
    assert headers[len(FIXED_COLUMNS) : -2] == list(theme_headers(config, "fi").values())
    assert headers[-2:] == [fi["no_theme"], fi["sentiment"]] and "Odotusaika" in headers
    ws = load_workbook(tmp_path / "a.xlsx").active
    assert ws.max_row == len(sample) + 1
    texts = [ws.cell(row=r, column=FIXED_COLUMNS.index("text") + 1).value for r in range(2, ws.max_row + 1)]
    assert '\'=HYPERLINK("http://x") broken wifi' in texts  # neutralised, never a formula
    assert all(ws.cell(row=r, column=len(FIXED_COLUMNS) + 1).value is None for r in range(2, ws.max_row + 1))


# --------------------------------------------------------------------------- the round trip


def test_export_tick_import_round_trip_and_a_reimport_replaces(db_url, config, tmp_path):
    ids = seed_feedback(db_url, MIXED_TEXTS)
    sample = _export(db_url, config, tmp_path / "s.xlsx", lang="ru", size=8)
    a, b, c = sample["feedback_id"].tolist()[:3]
    ru = theme_headers(config, "ru")
    no_theme, sentiment = FIXED_LABELS["ru"]["no_theme"], FIXED_LABELS["ru"]["sentiment"]
    _tick(
        tmp_path / "s.xlsx",
        tmp_path / "t.xlsx",
        {
            a: {ru["office_comfort"]: "x", ru["waiting_time"]: 1, sentiment: "негатив"},
            b: {no_theme: "X"},
            c: {ru["staff_attitude"]: "х", sentiment: "positive"},  # Cyrillic х
        },
    )
    with session_scope(db_url) as session:
        summary = import_review_file(session, tmp_path / "t.xlsx", config, "anna", AT)
    assert summary.as_dict() == {"stored": 3, "replaced": 0, "skipped_rows": len(sample) - 3}
    with session_scope(db_url) as session:
        labels = {r.feedback_id: r for r in session.exec(select(TextLabel)).all()}
    assert labels[a].themes == "office_comfort,waiting_time" and labels[a].sentiment == "negative"
    assert labels[b].themes == "" and labels[b].sentiment is None
    assert labels[c].themes == "staff_attitude" and labels[c].sentiment == "positive"
    assert {r.labelled_by for r in labels.values()} == {"anna"} and labels[a].source_file == "t.xlsx"
    # The labelled texts leave the next sample.
    assert not {a, b, c} & set(_sample(db_url, config, size=len(ids))["feedback_id"])
    # A second analyst relabels one text: the label is replaced, who/when/file are the latest.
    _tick(tmp_path / "s.xlsx", tmp_path / "u.xlsx", {a: {ru["benefit_payment"]: 1}})
    later = datetime(2026, 7, 2, tzinfo=UTC)
    with session_scope(db_url) as session:
        summary = import_review_file(session, tmp_path / "u.xlsx", config, "boris", later)
    assert summary.stored == 1 and summary.replaced == 1
    with session_scope(db_url) as session:
        rows = session.exec(select(TextLabel).order_by(TextLabel.feedback_id)).all()  # type: ignore[arg-type]
    assert len(rows) == 3
    relabelled = next(r for r in rows if r.feedback_id == a)
    assert (relabelled.themes, relabelled.sentiment, relabelled.labelled_by) == ("benefit_payment", None, "boris")
    assert relabelled.source_file == "u.xlsx" and relabelled.labelled_at.replace(tzinfo=UTC) == later


def test_headers_of_another_language_and_theme_ids_are_read(db_url, config, tmp_path):
    ids = seed_feedback(db_url, MIXED_TEXTS)
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Feedback id", "waiting_time", "Tavoitettavuus", "Нет темы", "Sävy", "my notes"])
    ws.append([ids[0], 1, "x", None, "neutraali", "ok"])
    ws.append([ids[1], None, None, None, None, None])
    wb.save(tmp_path / "own.xlsx")
    with session_scope(db_url) as session:
        review = read_review_xlsx(tmp_path / "own.xlsx", config, session)
    assert [(x.feedback_id, x.themes, x.sentiment) for x in review.labels] == [
        (ids[0], ("contact_reachability", "waiting_time"), "neutral")
    ]
    assert review.skipped_rows == 1 and review.ignored_columns == ["my notes"]


# --------------------------------------------------------------------------- validation


def test_every_error_names_file_row_and_column_and_nothing_is_stored(db_url, config, tmp_path):
    seed_feedback(db_url, MIXED_TEXTS)
    sample = _export(db_url, config, tmp_path / "s.xlsx", lang="en", size=8)
    a, b, c, d, e = sample["feedback_id"].tolist()[:5]
    en = theme_headers(config, "en")
    no_theme, sentiment = FIXED_LABELS["en"]["no_theme"], FIXED_LABELS["en"]["sentiment"]
    bad = _tick(
        tmp_path / "s.xlsx",
        tmp_path / "bad.xlsx",
        {
            a: {en["waiting_time"]: 2},  # not a tick
            b: {en["waiting_time"]: 1, no_theme: "x"},  # a theme and "no theme"
            c: {en["staff_attitude"]: "=1+0"},  # a formula
            d: {en["staff_attitude"]: 1, sentiment: "angry"},  # not a sentiment
            e: {sentiment: "negative"},  # a sentiment without a theme decision
        },
    )
    wb = load_workbook(bad)
    ws = wb.active
    ws.append([999_999] + [None] * (len(FIXED_COLUMNS) - 1) + [1])  # unknown id
    ws.append([a] + [None] * (len(FIXED_COLUMNS) - 1) + [1])  # a second row for a
    ws.append(["abc"] + [None] * (len(FIXED_COLUMNS) - 1) + [1])  # not an id
    wb.save(bad)
    with session_scope(db_url) as session, pytest.raises(ReviewFileError) as caught:
        import_review_file(session, bad, config, "anna", AT)
    errors = caught.value.errors
    row = {fid: _row_of(bad, fid) for fid in (a, b, c, d, e)}
    last = ws.max_row
    expected = [
        (row[a], en["waiting_time"], "is not a tick"),
        (row[b], no_theme, "ticked together with"),
        (row[c], en["staff_attitude"], "a formula"),
        (row[d], sentiment, "'angry' is not one of negative, neutral, positive"),
        (row[e], sentiment, "a sentiment without a theme decision"),
        (last - 2, "Feedback id", "no feedback 999999 in the database"),
        (last - 1, "Feedback id", f"feedback {a} is labelled twice (also on row {row[a]})"),
        (last, "Feedback id", "'abc' is not a feedback id"),
    ]
    for number, column, what in expected:
        assert any(e.startswith(f"{bad}: row {number}: column «{column}»: ") and what in e for e in errors), (
            number,
            column,
            what,
            errors,
        )
    assert len(errors) == len(expected), errors
    with session_scope(db_url) as session:
        assert session.exec(select(TextLabel)).all() == []


def test_files_that_cannot_be_read(db_url, config, tmp_path):
    (tmp_path / "x.csv").write_text("feedback_id;waiting_time\n1;1\n", encoding="utf-8")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really")
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["Text", "Waiting time"])
    wb.active.append(["hello", 1])
    wb.save(tmp_path / "noid.xlsx")
    with session_scope(db_url) as session:
        for name, what in (
            ("x.csv", "not an XLSX workbook"),
            ("broken.xlsx", "XLSX"),
            ("noid.xlsx", "row 1: no column «Номер отзыва» (feedback_id)"),
            ("missing.xlsx", "cannot read the file"),
        ):
            with pytest.raises(ReviewFileError) as caught:
                read_review_xlsx(tmp_path / name, config, session)
            assert str(caught.value).startswith(str(tmp_path / name)) and what in str(caught.value)


# --------------------------------------------------------------------------- the table on both databases


def test_labels_are_stored_on_both_databases_and_the_migration_walks_down_and_up(any_db_url, config, tmp_path):
    ids = seed_feedback(any_db_url, MIXED_TEXTS[:4])
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["Feedback id", "waiting_time", "No theme"])
    wb.active.append([ids[0], 1, None])
    wb.active.append([ids[1], None, "x"])
    wb.save(tmp_path / "l.xlsx")
    for who in ("anna", "boris"):
        with session_scope(any_db_url) as session:
            import_review_file(session, tmp_path / "l.xlsx", config, who, AT)
    with session_scope(any_db_url) as session:
        rows = session.exec(select(TextLabel).order_by(TextLabel.feedback_id)).all()  # type: ignore[arg-type]
    assert [(r.feedback_id, r.themes, r.labelled_by) for r in rows] == [
        (ids[0], "waiting_time", "boris"),
        (ids[1], "", "boris"),
    ]
    cfg = alembic_config(get_engine(any_db_url).url.render_as_string(hide_password=False))
    with get_engine(any_db_url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert "text_label" not in inspect(get_engine(any_db_url)).get_table_names()
    with get_engine(any_db_url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert "text_label" in inspect(get_engine(any_db_url)).get_table_names()
