"""Rerunning one region of a quarter (``quarterly_cycle(region=...)``) after the whole cycle:
only that region's rows and report are recomputed, the rest is left exactly as it was, and
the run says that the national figures were not refreshed."""

import time

import pytest
from sqlalchemy import text

from models.db import session_scope

pytestmark = pytest.mark.slow

QUARTER = "2026Q2"
REGION = "52"
MARK = -1.0  # a value no computation gives: a row still holding it was not rewritten


def _rows(url: str, sql: str) -> list[tuple]:
    with session_scope(url) as s:
        return sorted(map(tuple, s.execute(text(sql), {"q": QUARTER}).all()), key=repr)


def _results(url: str) -> dict[str, list[tuple]]:
    """The quarter's result rows without their ids (a replaced row gets a new id)."""
    index_cols = 'level, unit_code, region_code, client_type, "index", ci_low, ci_high, n, stars, change'
    pain_cols = "level, unit_code, region_code, client_type, theme, journey_stage, negative_mentions, priority, rank"
    effect_cols = "m.code, e.mde, e.method, e.estimate, e.ci_low, e.ci_high, e.verdict"
    return {
        "index": _rows(url, f"SELECT {index_cols} FROM index_result WHERE quarter = :q"),
        "pain": _rows(url, f"SELECT {pain_cols} FROM pain_point WHERE quarter = :q"),
        "effect": _rows(
            url,
            f"SELECT {effect_cols} FROM effect_evaluation e JOIN measure m ON m.id = e.measure_id WHERE e.quarter = :q",
        ),
        "measure": _rows(url, "SELECT * FROM measure WHERE :q = :q"),
        "measure_history": _rows(url, "SELECT * FROM measure_history WHERE :q = :q"),
        "text_reading": _rows(url, "SELECT * FROM text_reading WHERE quarter = :q"),
        "feedback": _rows(
            url, "SELECT id, language, sentiment, themes, negative_themes FROM feedback WHERE quarter = :q"
        ),
    }


def _in_region(row: tuple) -> bool:
    """An index or pain-point row (level, unit_code, region_code, ...) of the rerun region."""
    return row[0] in ("office", "region") and row[2] == REGION


def _mark_every_result(url: str) -> None:
    """Overwrite the quarter's figures with MARK, so the rerun's rewrites can be told apart
    (figures the rerun region's report does not show, so its PDF must come out as before)."""
    with session_scope(url) as s:
        s.execute(text('UPDATE index_result SET "index" = :m WHERE quarter = :q'), {"m": MARK, "q": QUARTER})
        s.execute(text("UPDATE pain_point SET priority = :m WHERE quarter = :q"), {"m": MARK, "q": QUARTER})
        # The MDE, not the estimate: every report embeds the register, which shows the estimates.
        s.execute(text("UPDATE effect_evaluation SET mde = :m WHERE quarter = :q"), {"m": MARK, "q": QUARTER})


def _full_rows(url: str, table: str) -> list[tuple]:
    """Every column, ids included, of the quarter's rows of ``table``."""
    return _rows(url, f"SELECT * FROM {table} WHERE quarter = :q")


def _reports(root) -> dict[str, tuple[bytes, int]]:
    folder = root / "out" / "reports" / QUARTER
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.glob("*.pdf"))}


def test_region_rerun_recomputes_only_its_region(demo_run):
    from flows.cycle_summary import summary_markdown
    from flows.quarterly_cycle import quarterly_cycle

    url, root = demo_run["url"], demo_run["root"]
    whole = _results(url)  # as the whole-quarter cycle left them
    assert any(_in_region(r) for r in whole["index"]) and any(not _in_region(r) for r in whole["index"])
    assert any(_in_region(r) for r in whole["pain"]) and any(not _in_region(r) for r in whole["pain"])
    # SMS reminders (offices 52-01, 52-02, 66-01) has offices in 52; the queue measure (66, 10) has none.
    assert len(whole["effect"]) == 2

    _mark_every_result(url)
    marked = {t: _full_rows(url, t) for t in ("index_result", "pain_point", "effect_evaluation")}
    reports_before = _reports(root)
    own_pdf = f"cx-report_{QUARTER}_{REGION}_ru.pdf"
    (root / "out" / "reports" / QUARTER / own_pdf).unlink()  # the rerun must write it again

    started = time.perf_counter()
    summary = quarterly_cycle(quarter=QUARTER, region=REGION, send_reports=True)
    print(f"region {REGION} rerun: {time.perf_counter() - started:.1f} s")

    after = _results(url)
    # The region's rows are recomputed, and come out as the whole cycle computed them.
    assert [r for r in after["index"] if _in_region(r)] == [r for r in whole["index"] if _in_region(r)]
    assert [r for r in after["pain"] if _in_region(r)] == [r for r in whole["pain"] if _in_region(r)]
    # The other regions' and the country's rows are untouched: still marked, same ids.
    for table in ("index_result", "pain_point"):
        others = [r for r in marked[table] if not _in_region(_unit_key(r, table))]
        assert others and others == [r for r in _full_rows(url, table) if not _in_region(_unit_key(r, table))]
    # Effects: the measure with offices in the region is evaluated again, the other one is not.
    effects = {r[0]: r for r in after["effect"]}
    touched = [code for code, r in effects.items() if r[1] != MARK]
    untouched = [code for code, r in effects.items() if r[1] == MARK]
    assert len(touched) == 1 and len(untouched) == 1
    assert effects[touched[0]] == next(r for r in whole["effect"] if r[0] == touched[0])
    # The register and the quarter's text reading are as they were (same data, same verdicts).
    assert after["measure"] == whole["measure"] and after["measure_history"] == whole["measure_history"]
    assert after["text_reading"] == whole["text_reading"]
    # The region's texts were read again with the quarter's model, and read the same.
    assert after["feedback"] == whole["feedback"]
    with session_scope(url) as s:
        method, texts_read = s.execute(
            text("SELECT method, texts_read FROM text_reading WHERE quarter = :q"), {"q": QUARTER}
        ).one()
    # (This small demo has too few rated texts for a model: the quarter is read by the rules,
    # and a rerun reads nothing again; tests/tasks/text/test_reread.py covers a model's rereading.)
    assert summary["text_reading"]["method"] == method
    if "model" in method:
        assert 0 < summary["text_reading"]["texts_read"] < texts_read
    else:
        assert summary["text_reading"]["texts_read"] == 0 == texts_read

    # Only the region's report is written, byte for byte the one of the whole cycle.
    reports_after = _reports(root)
    assert sorted(reports_after) == sorted(reports_before)
    for name, (content, mtime) in reports_before.items():
        if name == own_pdf:
            assert reports_after[name][0] == content
        else:
            assert reports_after[name] == (content, mtime), name
    assert [p.rsplit("/", 1)[-1] for p in summary["reports"]] == [own_pdf]

    # The run says plainly that the national figures were not refreshed.
    assert summary["region"] == REGION and summary["national_refreshed"] is False
    assert "National figures were not refreshed by this run" in summary_markdown(summary)
    assert list(summary["index"]) == [f"region {REGION}"]


def _unit_key(row: tuple, table: str) -> tuple:
    """(level, unit_code, region_code) of a full ``SELECT *`` row of ``table``."""
    with_columns = _COLUMNS[table]
    return tuple(row[with_columns.index(c)] for c in ("level", "unit_code", "region_code"))


_COLUMNS: dict[str, list[str]] = {}


@pytest.fixture(autouse=True, scope="module")
def _column_names(demo_run):
    with session_scope(demo_run["url"]) as s:
        for table in ("index_result", "pain_point"):
            _COLUMNS[table] = [r[1] for r in s.execute(text(f"PRAGMA table_info({table})")).all()]


def test_unknown_region_is_refused_before_anything_is_written(demo_run):
    from flows.quarterly_cycle import quarterly_cycle

    url, root = demo_run["url"], demo_run["root"]
    tables = ("index_result", "pain_point", "effect_evaluation")
    before = {t: _full_rows(url, t) for t in tables}
    files_before = sorted((p, p.stat().st_mtime_ns) for p in (root / "out").rglob("*") if p.is_file())
    with pytest.raises(Exception, match="unknown region '99'"):
        quarterly_cycle(quarter=QUARTER, region="99", send_reports=True)
    assert {t: _full_rows(url, t) for t in tables} == before
    assert sorted((p, p.stat().st_mtime_ns) for p in (root / "out").rglob("*") if p.is_file()) == files_before
