"""Row 2 of issue 14: any valid file name (backslashes, 255 bytes, Cyrillic, dots) gives a
safe, bounded, readable and distinct GE Data Docs key, and the docs build with it."""

from datetime import UTC, datetime

import pytest

from tasks.collect.discovery import FileInput
from tasks.validate.datadocs import MAX_KEY_BYTES, build_data_docs, docs_key
from tasks.validate.step import ingest_one_file

GOOD = "call_id,call_date,office_code,client_type,rating,comment\nc1,2026-02-01,52-01,citizen,5,Спасибо\n"
LONG = "contact_center_" + "a" * (255 - len("contact_center_") - len(".csv")) + ".csv"
NAMES = [
    "contact_center_..\\..\\x.csv",
    LONG,
    "contact_center_отзывы май.csv",
    'contact_center_a:b*c?d"e<f>g|h.csv',
    "contact_center_..",
    "contact_center_\t\n.csv",
]


@pytest.mark.parametrize("name", NAMES + ["..", ".", "", "/", "\\", "a/b"])
def test_key_is_safe_and_bounded(name):
    key = docs_key(name)
    assert key and len(key.encode("utf-8")) <= MAX_KEY_BYTES
    assert not set(key) & set('/\\:*?"<>|\t\n\r\x00 ') and not key.startswith(".")
    assert key not in (".", "..")


def test_key_is_readable_and_names_never_collide():
    assert docs_key("contact_center_52.csv").startswith("contact_center_52.csv-")
    # names that sanitise alike still get distinct keys (hash of the original name)
    alike = ["a\\b.csv", "a/b.csv", "a_b.csv", "a:b.csv", "a b.csv", LONG, LONG[:-5] + "b.csv"]
    keys = [docs_key(n) for n in alike]
    assert len(set(keys)) == len(keys)
    assert docs_key("a\\b.csv") == docs_key("a\\b.csv")  # stable across runs


def test_data_docs_build_for_hostile_file_names(tmp_path, env, registry, config):
    reports = []
    for name in NAMES:
        path = tmp_path / name
        path.write_text(GOOD.replace("c1,", f"c{len(reports)},"), encoding="utf-8")
        reports.append(ingest_one_file(FileInput(path, "contact_center", "2026Q1"), config))
    assert all(r.summary.accepted == 1 for r in reports)
    index = build_data_docs(reports, tmp_path / "docs", "2026Q1", datetime.now(UTC))
    assert index is not None and index.is_file()
    pages = [p for p in (tmp_path / "docs").rglob("*.html") if "validations" in p.parts]
    assert len(pages) == sum(len(r.suites) for r in reports) and len(pages) >= len(NAMES)
    assert {p.stem for p in pages} == {docs_key(n) for n in NAMES}
    assert all(len(p.name.encode()) < 255 for p in pages)
    # nothing written outside the site
    assert {p.name for p in tmp_path.iterdir()} - {"incoming", "out"} - {
        p.name for p in tmp_path.glob("cxloop.db*")
    } == {
        *NAMES,
        "docs",
    }


def test_a_second_run_renders_its_own_pages_only(tmp_path, env, registry, config):
    """The keys GE gets are looked up in a set (tasks.validate.datadocs._KeyList); a run renders
    the pages of its own results and leaves earlier runs' pages as they were."""
    from tasks.validate.datadocs import _KeyList

    keys = _KeyList([("a", 1), ("b", 2)])
    assert keys == [("a", 1), ("b", 2)] and ("b", 2) in keys and ("c", 3) not in keys and keys

    site = tmp_path / "docs"
    runs = []
    for run, when in enumerate((datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC))):
        path = tmp_path / f"contact_center_{run}.csv"
        path.write_text(GOOD.replace("c1,", f"r{run},"), encoding="utf-8")
        report = ingest_one_file(FileInput(path, "contact_center", "2026Q1"), config)
        build_data_docs([report], site, f"2026Q1-{run}", when)
        runs.append({p: p.stat().st_mtime_ns for p in site.rglob("*.html") if "validations" in p.parts})
    first, second = runs
    assert len(first) == 2 and len(second) == 4  # contact_center + feedback suites per run
    assert all(second[p] == t for p, t in first.items())  # the first run's pages not rendered again
