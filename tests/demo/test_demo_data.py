"""Demo data generator (Collect stage): formats, determinism and the planted story.

Files are read back with plain readers (csv, openpyxl, json) that know nothing of the
generator's internals, so the tests check what the intake will actually receive.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import demo.emerging as demo_emerging
from cxloop.config import load_config
from cxloop.domain import CHANNELS, ITEMS
from cxloop.quarters import Quarter
from demo.emerging import SCAM_WAVE
from demo.generate import generate_demo_data
from demo.scenario import QUEUE_MEASURE_TITLE, SMS_MEASURE_TITLE

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "config")
OFFICES = CONFIG.offices
KNOWN_OFFICES = {o.office_code for o in OFFICES}
QUARTERS = [Quarter.parse("2025Q3"), Quarter.parse("2025Q4"), Quarter.parse("2026Q1")]
# What `cxloop demo` generates by default: four quarters until 2026Q3.
DEMO_QUARTERS = [Quarter.parse(q) for q in ("2025Q4", "2026Q1", "2026Q2", "2026Q3")]
TREATED = {"52-01", "52-02", "66-01"}
EXT = {
    "star_survey": {"xlsx", "csv"},
    "review_book": {"xlsx", "csv"},
    "contact_center": {"csv"},
    "pos": {"json"},
    "social": {"jsonl"},
    "interview_followup": {"csv"},
}

PHONE = re.compile(r"(\+7|8)\s?\(?\d{3}\)?\s?\d{3}-\d{2}-\d{2}")
EMAIL = re.compile(r"[\w.]+@[\w.]+\.\w+")
SNILS = re.compile(r"\d{3}-\d{3}-\d{3} \d{2}")
PASSPORT = re.compile(r"\b\d{4} \d{6}\b")
NAME = re.compile(r"Меня зовут|Nimeni on|My name is")


# ---------------------------------------------------------------- fixtures and readers


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("demo_small")
    return out, generate_demo_data(out, QUARTERS, seed=11, offices=OFFICES, scale=0.2)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """Full volumes: enough respondents for the planted effect to stand out of the noise."""
    out = tmp_path_factory.mktemp("demo_full")
    return out, generate_demo_data(out, QUARTERS, seed=7, offices=OFFICES, scale=1.0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The default demo (seed 7, four quarters until 2026Q3, full volumes), ~1.5 s."""
    out = tmp_path_factory.mktemp("demo_default")
    return out, generate_demo_data(out, DEMO_QUARTERS, seed=7, offices=OFFICES, scale=1.0)


def all_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read_table(root: Path, entry: dict[str, Any]) -> tuple[list[str], list[list[Any]], int]:
    """(header, data records, noise rows) of a tabular file; noise = blank or repeated-header rows."""
    path = root / entry["path"]
    if entry["format"] == "xlsx":
        ws = load_workbook(path).active
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
    else:
        text = path.read_bytes().decode({"utf-16": "utf-16"}.get(entry["encoding"], entry["encoding"]))
        rows = list(csv.reader(io.StringIO(text), delimiter=entry["delimiter"]))
    header = [str(h) if h is not None else "" for h in rows[0]]
    data, noise = [], 0
    for r in rows[1:]:
        cells = ["" if v is None else v for v in r]
        if not any(str(v).strip() for v in cells) or [str(v) for v in cells] == header:
            noise += 1
            continue
        data.append(cells)
    return header, data, noise


def read_records(root: Path, entry: dict[str, Any]) -> list[dict[str, Any]]:
    text = (root / entry["path"]).read_text(encoding="utf-8")
    if entry["format"] == "json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines()]


def canonical(entry: dict[str, Any], header: list[str]) -> dict[str, int]:
    """Column index of each canonical field, through the aliases in config/channels/*.yaml."""
    mapping = CONFIG.channels[entry["channel"]].fields
    out = {}
    for i, h in enumerate(header):
        for fld, aliases in mapping.items():
            if h.strip().lower() in {a.lower() for a in aliases}:
                out[fld] = i
    return out


def parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, int):
        return date(1899, 12, 30) + timedelta(days=value)
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y"):
        try:
            return datetime.strptime(str(value), fmt).date()
        except ValueError:
            pass
    return None


def by_channel(manifest: Any, channel: str) -> list[dict[str, Any]]:
    return [f for f in manifest.files if f["channel"] == channel]


# ---------------------------------------------------------------- layout and determinism


def test_one_file_per_channel_region_and_quarter(small: tuple[Path, Any]) -> None:
    root, manifest = small
    regions = sorted({o.region_code for o in OFFICES})
    expected = {(str(q), ch, r) for q in QUARTERS for ch in CHANNELS for r in regions}
    seen = {(f["quarter"], f["channel"], f["region_code"]) for f in manifest.files}
    assert seen == expected
    for f in manifest.files:
        path = root / f["path"]
        assert path.is_file()
        assert path.parent.name == f["quarter"]
        stem, ext = path.name.rsplit(".", 1)
        assert stem == f"{f['channel']}_{f['region_code']}" and ext in EXT[f["channel"]]
    on_disk = {k for k in all_files(root) if "/" in k}
    assert on_disk == {f["path"] for f in manifest.files}
    written = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert written["files"] == manifest.files
    assert written["seeded_measures"] == manifest.seeded_measures


def test_same_seed_gives_identical_bytes(small: tuple[Path, Any], tmp_path: Path) -> None:
    root, _ = small
    again = tmp_path / "again"
    generate_demo_data(again, QUARTERS, seed=11, offices=OFFICES, scale=0.2)
    first, second = all_files(root), all_files(again)
    assert first.keys() == second.keys()
    differing = [k for k in first if first[k] != second[k]]
    assert differing == []


def test_other_seed_gives_other_data(small: tuple[Path, Any], tmp_path: Path) -> None:
    root, _ = small
    generate_demo_data(tmp_path, QUARTERS[:1], seed=12, offices=OFFICES, scale=0.2)
    name = f"{QUARTERS[0]}/contact_center_52.csv"
    assert (root / name).read_bytes() != (tmp_path / name).read_bytes()


def test_adding_a_quarter_leaves_earlier_files_unchanged(small: tuple[Path, Any], tmp_path: Path) -> None:
    root, _ = small
    generate_demo_data(tmp_path, QUARTERS[:2], seed=11, offices=OFFICES, scale=0.2)
    shorter = {k: v for k, v in all_files(tmp_path).items() if "/" in k}
    longer = all_files(root)
    assert shorter and all(longer[k] == v for k, v in shorter.items())


def test_xlsx_timestamps_are_fixed(small: tuple[Path, Any]) -> None:
    root, manifest = small
    for f in manifest.files:
        if f["format"] != "xlsx":
            continue
        with zipfile.ZipFile(root / f["path"]) as zf:
            infos = zf.infolist()
            assert [i.filename for i in infos] == sorted(i.filename for i in infos)
            assert {i.date_time for i in infos} == {(2020, 1, 1, 0, 0, 0)}
            core = zf.read("docProps/core.xml").decode("utf-8")
        assert re.findall(r"<dcterms:modified[^>]*>([^<]*)<", core) == ["2020-01-01T00:00:00Z"]


# ---------------------------------------------------------------- formats and encodings


def test_encodings_are_what_the_manifest_claims(small: tuple[Path, Any]) -> None:
    root, manifest = small
    kinds = set()
    for f in manifest.files:
        raw = (root / f["path"]).read_bytes()
        kinds.add(f["encoding"])
        if f["encoding"] == "cp1251":
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            assert re.search("[А-Яа-я]", raw.decode("cp1251"))
        elif f["encoding"] == "utf-8-sig":
            assert raw.startswith(b"\xef\xbb\xbf")
            raw.decode("utf-8")
        elif f["encoding"] == "utf-16":
            assert raw.startswith(b"\xff\xfe")
            assert raw.decode("utf-16").splitlines()[0].startswith("response_id\tdate\t")
        elif f["encoding"] == "xlsx":
            assert raw.startswith(b"PK") and zipfile.is_zipfile(io.BytesIO(raw))
        else:
            assert f["encoding"] == "utf-8" and not raw.startswith(b"\xef\xbb\xbf")
            raw.decode("utf-8")
    assert kinds == {"cp1251", "utf-8-sig", "utf-16", "xlsx", "utf-8"}


def test_star_survey_shapes_per_region(small: tuple[Path, Any]) -> None:
    root, manifest = small
    for f in by_channel(manifest, "star_survey"):
        header, rows, _ = read_table(root, f)
        col = canonical(f, header)
        assert set(col) == set(CONFIG.channels["star_survey"].fields), header
        dates = [r[col["survey_date"]] for r in rows]
        types = {str(r[col["client_type"]]) for r in rows}
        if f["region_code"] == "52":
            assert f["format"] == "xlsx" and "Дата анкеты" in header
            assert any(isinstance(d, datetime) for d in dates)
            assert {"гражданин", "работодатель"} <= types
        elif f["region_code"] == "66":
            assert f["delimiter"] == ";" and f["encoding"] == "cp1251"
            assert any(re.fullmatch(r"\d\d\.\d\d\.\d{4}", str(d)) for d in dates)
        else:
            assert header[:4] == ["respondent_id", "survey_date", "office_code", "client_type"]
            assert {"citizen", "employer"} <= types
            assert any(re.fullmatch(r"\d{4}-\d\d-\d\d", str(d)) for d in dates)


def test_headers_are_known_aliases(small: tuple[Path, Any]) -> None:
    """Every non-empty header maps to a canonical field of config/channels/<channel>.yaml."""
    root, manifest = small
    for f in manifest.files:
        required = set(CONFIG.channels[f["channel"]].required)
        if f["format"] in ("json", "jsonl"):
            known = set(CONFIG.channels[f["channel"]].fields)
            for rec in read_records(root, f):
                assert set(rec) <= known
            continue
        header, _, _ = read_table(root, f)
        col = canonical(f, header)
        assert len(col) == len([h for h in header if h]), (f["path"], header)
        assert required <= set(col)


def test_review_book_dates_and_ratings_are_messy(small: tuple[Path, Any], full: tuple[Path, Any]) -> None:
    root, manifest = full
    date_kinds, ratings = set(), set()
    for f in by_channel(manifest, "review_book"):
        header, rows, _ = read_table(root, f)
        col = canonical(f, header)
        for r in rows:
            d = r[col["date"]]
            date_kinds.add(
                "cell"
                if isinstance(d, datetime)
                else "serial"
                if isinstance(d, int)
                else "yyyy"
                if re.fullmatch(r"\d\d\.\d\d\.\d{4}", str(d))
                else "yy"
                if re.fullmatch(r"\d\d\.\d\d\.\d\d", str(d))
                else "other"
            )
            ratings.add(str(r[col["rating"]]))
        contacts = [str(r[col["contact"]]) for r in rows if r[col["contact"]]]
        assert contacts and all(PHONE.search(c) or EMAIL.search(c) for c in contacts)
    assert {"cell", "serial", "yyyy", "yy"} <= date_kinds
    assert "5 звёзд" in ratings and "" in ratings and "4" in ratings


# ---------------------------------------------------------------- manifest accounting


def test_manifest_counts_match_files(small: tuple[Path, Any]) -> None:
    root, manifest = small
    noise_total = 0
    for f in manifest.files:
        if f["format"] in ("json", "jsonl"):
            assert len(read_records(root, f)) == f["rows_written"]
            continue
        _, rows, noise = read_table(root, f)
        assert len(rows) == f["rows_written"], f["path"]
        assert noise == f["noise_rows"], f["path"]
        noise_total += noise
    assert noise_total > 0


def test_volumes_follow_the_brief_at_full_scale(full: tuple[Path, Any]) -> None:
    _, manifest = full
    # The channels' own volumes: the emerging-topic complaints come on top (tested below).
    per = {ch: [f["rows_written"] - f["planted_emerging"] for f in by_channel(manifest, ch)] for ch in CHANNELS}
    assert all(5 * (55 + 12) <= n <= 5 * (75 + 18) + 20 for n in per["star_survey"])
    assert all(15 <= n <= 25 for n in per["review_book"])
    assert all(130 <= n <= 190 for n in per["contact_center"])
    assert all(25 <= n <= 35 for n in per["pos"])
    assert all(20 <= n <= 32 for n in per["social"])
    assert all(50 <= n <= 72 for n in per["interview_followup"])


# ---------------------------------------------------------------- planted defects


def _broken_star_row(row: list[Any], col: dict[str, int]) -> bool:
    office = str(row[col["office_code"]]).strip()
    if office not in KNOWN_OFFICES:
        return True
    if parse_date(row[col["survey_date"]]) is None:
        return True
    if str(row[col["client_type"]]) not in {"гражданин", "работодатель", "citizen", "employer"}:
        return True
    for item in ITEMS:
        v = row[col[item]]
        if v in ("", None, "не знаю"):
            continue
        if int(v) not in range(1, 6):
            return True
    return False


def test_planted_broken_rows_are_exactly_the_broken_ones(full: tuple[Path, Any]) -> None:
    root, manifest = full
    total = 0
    for f in by_channel(manifest, "star_survey"):
        header, rows, _ = read_table(root, f)
        col = canonical(f, header)
        found = sum(_broken_star_row(r, col) for r in rows)
        assert found == f["planted_broken"] > 0, f["path"]
        assert f["planted_broken"] <= 0.025 * f["rows_written"]
        total += found
    for f in by_channel(manifest, "contact_center"):
        header, rows, _ = read_table(root, f)
        col = canonical(f, header)
        found = sum(
            str(r[col["office_code"]]) not in KNOWN_OFFICES
            or parse_date(r[col["call_date"]]) is None
            or str(r[col["rating"]]) not in {"1", "2", "3", "4", "5"}
            for r in rows
        )
        assert found == f["planted_broken"] > 0, f["path"]
    assert total > 0


def test_every_kind_of_defect_occurs(full: tuple[Path, Any]) -> None:
    root, manifest = full
    cells: list[str] = []
    for f in manifest.files:
        if f["format"] in ("json", "jsonl"):
            cells += [str(v) for rec in read_records(root, f) for v in rec.values()]
        else:
            cells += [str(v) for r in read_table(root, f)[1] for v in r]
    assert any(re.fullmatch(r"\d\d-99", c) for c in cells)
    assert "32.13.2025" in cells or "32.13.2026" in cells
    assert "отлично!!" in cells and "7" in cells
    assert "неизвестно" in cells
    assert "6" in cells or "0" in cells


def _exact_duplicates(rows: list[list[Any]]) -> int:
    seen: set[tuple[str, ...]] = set()
    dups = 0
    for r in rows:
        key = tuple(str(v) for v in r)
        dups += key in seen
        seen.add(key)
    return dups


def test_planted_duplicates_within_files(full: tuple[Path, Any]) -> None:
    root, manifest = full
    block_files = []
    for f in manifest.files:
        if f["format"] in ("json", "jsonl"):
            continue
        header, rows, _ = read_table(root, f)
        assert _exact_duplicates(rows) == f["planted_duplicates"], f["path"]
        if f["channel"] == "star_survey":
            ids = [r[canonical(f, header)["respondent_id"]] for r in rows]
            assert len(ids) - len(set(ids)) == f["planted_duplicates"] > 0
        if f["channel"] == "contact_center" and f["planted_duplicates"] > 5:
            block_files.append(f["path"])
    # Exactly one file carries a repeated block of calls.
    assert block_files == [f"{QUARTERS[1]}/contact_center_66.csv"]


def test_same_complaint_posted_on_pos_and_social(full: tuple[Path, Any]) -> None:
    root, manifest = full
    pairs = 0
    for f in by_channel(manifest, "social"):
        pos_entry = next(
            p
            for p in by_channel(manifest, "pos")
            if (p["quarter"], p["region_code"]) == (f["quarter"], f["region_code"])
        )
        pos = [r for r in read_records(root, pos_entry) if r["text"] and parse_date(r["created_at"][:10])]
        found = 0
        # A re-post: same office, same text, published 0-3 days after the platform message.
        # (Short stock phrases also recur by chance between unrelated people, weeks apart.)
        for post in read_records(root, f):
            when = parse_date(post["published_at"][:10])
            found += when is not None and any(
                (r.get("office_code"), r["text"]) == (post.get("office_code"), post["text"])
                and timedelta(0) <= when - parse_date(r["created_at"][:10]) <= timedelta(days=3)
                for r in pos
            )
        assert found == f["planted_cross_channel_duplicates"]
        pairs += found
    assert pairs >= len(by_channel(manifest, "social"))


def test_personal_data_is_typed_into_free_text(full: tuple[Path, Any]) -> None:
    """It is supposed to be there: the intake must redact it."""
    root, manifest = full
    texts: list[str] = []
    for f in manifest.files:
        if f["format"] in ("json", "jsonl"):
            texts += [r.get("text") or "" for r in read_records(root, f)]
        else:
            header, rows, _ = read_table(root, f)
            col = canonical(f, header)
            field = "text" if "text" in col else "comment"
            texts += [str(r[col[field]]) for r in rows if r[col[field]]]
    assert sum(f["planted_pii"] for f in manifest.files) > 0
    for pattern in (PHONE, EMAIL, SNILS, PASSPORT, NAME):
        assert any(pattern.search(t) for t in texts), pattern.pattern
    share = sum(any(p.search(t) for p in (PHONE, EMAIL, SNILS, PASSPORT, NAME)) for t in texts) / len(texts)
    assert 0.01 <= share <= 0.06
    social_authors = [r["author"] for f in by_channel(manifest, "social") for r in read_records(root, f)]
    assert all(len(a.split()) == 2 for a in social_authors)


def test_languages_mix(full: tuple[Path, Any]) -> None:
    root, manifest = full
    finnish = re.compile(r"[äö]|työvoimakeskus|tapaami|verkkopalvelu|virkailija", re.I)
    for f in by_channel(manifest, "star_survey"):
        header, rows, _ = read_table(root, f)
        col = canonical(f, header)
        comments = [str(r[col["comment"]]) for r in rows if r[col["comment"]]]
        assert 0.18 <= len(comments) / len(rows) <= 0.32
        fi = sum(bool(finnish.search(c)) for c in comments)
        ru = sum(bool(re.search("[а-я]", c)) for c in comments)
        assert ru > 0.7 * len(comments)
        if f["region_code"] == "10":
            assert fi > 0
        else:
            assert fi == 0


# ---------------------------------------------------------------- the planted story


def _p3_by_office_quarter(root: Path, manifest: Any, item: str = "P3") -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = {}
    for f in by_channel(manifest, "star_survey"):
        header, rows, _ = read_table(root, f)
        col = canonical(f, header)
        for r in rows:
            if _broken_star_row(r, col) or r[col[item]] in ("", None, "не знаю"):
                continue
            out.setdefault((str(r[col["office_code"]]), f["quarter"]), []).append(int(r[col[item]]))
    return out


def test_sms_reminders_raise_p3_in_treated_offices(full: tuple[Path, Any]) -> None:
    root, manifest = full
    p3 = _p3_by_office_quarter(root, manifest)
    pre, post = str(QUARTERS[0]), [str(q) for q in QUARTERS[1:]]

    def mean(offices: set[str], quarters: list[str]) -> float:
        return float(np.mean([v for (o, q), vs in p3.items() if o in offices and q in quarters for v in vs]))

    control = KNOWN_OFFICES - TREATED
    did = (mean(TREATED, post) - mean(TREATED, [pre])) - (mean(control, post) - mean(control, [pre]))
    assert 0.4 <= did <= 0.8  # planted: +0.6 on the 1-5 scale
    # The shared time trend lifts the comparison offices too: before/after alone overstates.
    assert mean(control, post) > mean(control, [pre])


def test_queue_rollout_raises_e2_from_each_offices_start(full: tuple[Path, Any]) -> None:
    root, manifest = full
    e2 = _p3_by_office_quarter(root, manifest, "E2")
    queue = next(m for m in manifest.seeded_measures if m["title"] == QUEUE_MEASURE_TITLE)
    wave2 = set(queue["office_starts"])
    wave1 = set(queue["offices"]) - wave2
    never = KNOWN_OFFICES - set(queue["offices"])

    def mean(offices: set[str], quarter: Quarter) -> float:
        return float(np.mean([v for (o, q), vs in e2.items() if o in offices and q == str(quarter) for v in vs]))

    def change(offices: set[str], before: Quarter, after: Quarter) -> float:
        return mean(offices, after) - mean(offices, before)

    q0, q1, q2 = QUARTERS
    # Planted: +0.5 on the 1-5 scale from each office's own start quarter (wave 1: q1, wave 2: q2).
    assert 0.3 <= change(wave1, q0, q1) - change(never, q0, q1) <= 0.7
    assert abs(change(wave2, q0, q1) - change(never, q0, q1)) <= 0.2  # wave 2 not started yet
    assert 0.3 <= change(wave2, q1, q2) - change(never, q1, q2) <= 0.7


def test_sms_reminders_cut_reminder_complaints(full: tuple[Path, Any]) -> None:
    from demo.phrases import PHRASES

    root, manifest = full
    phrases = [p.lower() for lang in ("ru", "fi", "en") for p in PHRASES["reminders_notifications"]["neg"][lang]]
    counts = {(t, p): [0, 0] for t in (True, False) for p in (True, False)}  # [mentions, texts]
    for f in manifest.files:
        post = f["quarter"] != str(QUARTERS[0])
        if f["format"] in ("json", "jsonl"):
            items = [(r.get("office_code"), r.get("text") or "") for r in read_records(root, f)]
        else:
            header, rows, _ = read_table(root, f)
            col = canonical(f, header)
            field = "text" if "text" in col else "comment"
            items = [(str(r[col["office_code"]]), str(r[col[field]] or "")) for r in rows]
        for office, text in items:
            if not text or office not in KNOWN_OFFICES or office[:2] not in ("52", "66"):
                continue
            c = counts[(office in TREATED, post)]
            c[0] += any(p in text.lower() for p in phrases)
            c[1] += 1
    share = {k: m / n for k, (m, n) in counts.items()}
    drop_treated = 1 - share[(True, True)] / share[(True, False)]
    drop_control = 1 - share[(False, True)] / share[(False, False)]
    # planted: ~70 % fewer in treated offices; the comparison offices barely move
    assert drop_treated >= 0.45 and drop_control <= 0.3


def test_pain_points_show_in_items_and_texts(full: tuple[Path, Any]) -> None:
    root, manifest = full
    means: dict[tuple[str, str, str], list[int]] = {}
    for f in by_channel(manifest, "star_survey"):
        header, rows, _ = read_table(root, f)
        col = canonical(f, header)
        for r in rows:
            if _broken_star_row(r, col):
                continue
            for item in ITEMS:
                v = r[col[item]]
                if v not in ("", None, "не знаю"):
                    means.setdefault((f["region_code"], f["quarter"], item), []).append(int(v))
    m = {k: float(np.mean(v)) for k, v in means.items()}
    first, last = str(QUARTERS[0]), str(QUARTERS[-1])
    for region in ("52", "66", "10"):
        items_first = {i: m[(region, first, i)] for i in ITEMS}
        # unclear next steps everywhere: P2 among the three lowest items
        assert "P2" in sorted(items_first, key=items_first.get)[:3], (region, items_first)

    # reminders: before the measure, P3 lags the region's other items more in 52 and 66 than in 10
    # (relative to the region's own level, which the offices' strengths move around)
    def p3_gap(region: str) -> float:
        return float(np.mean([m[(region, first, i)] for i in ITEMS])) - m[(region, first, "P3")]

    assert p3_gap("52") > p3_gap("10") + 0.15
    assert p3_gap("66") > p3_gap("10") + 0.15
    # the online service is getting worse in 66, not elsewhere
    assert m[("66", last, "E4")] < m[("66", first, "E4")] - 0.15
    assert m[("52", last, "E4")] >= m[("52", first, "E4")] - 0.1
    # index level: the typical item score sits in the 70-90 band
    overall = np.mean([(v - 1) / 4 * 100 for v in m.values()])
    assert 70 <= overall <= 90


# ---------------------------------------------------------------- the emerging topic

# The planted complaints name the impostors with one of these; no other demo text does.
SCAM = re.compile(r"мошенни|аферист|выдавали себя за", re.IGNORECASE)
TEXT_CHANNELS = {"pos", "social", "review_book"}


def text_rows(root: Path, entry: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(office code or None, text) of every data record of a file, in file order."""
    if entry["format"] in ("json", "jsonl"):
        return [(r.get("office_code"), r.get("text") or "") for r in read_records(root, entry)]
    header, rows, _ = read_table(root, entry)
    col = canonical(entry, header)
    field = "text" if "text" in col else "comment"
    return [(str(r[col["office_code"]]) or None, str(r[col[field]] or "")) for r in rows]


def planted_texts(root: Path, manifest: Any) -> list[tuple[dict[str, Any], str | None, str]]:
    """(file entry, office, text) of the emerging-topic complaints: each file's last
    ``planted_emerging`` records."""
    out = []
    for f in manifest.files:
        k = f["planted_emerging"]
        if k:
            out += [(f, office, text) for office, text in text_rows(root, f)[-k:]]
    return out


def test_emerging_complaints_grow_in_the_last_two_quarters(demo: tuple[Path, Any]) -> None:
    root, manifest = demo
    per_quarter: Counter[str] = Counter()
    offices: dict[str, set[str]] = defaultdict(set)
    for f in manifest.files:
        rows = text_rows(root, f)
        k = f["planted_emerging"]
        own, planted = rows[: len(rows) - k], rows[len(rows) - k :]
        # the file's own records never mention the scam; the appended ones all do
        assert not [t for _, t in own if SCAM.search(t)], f["path"]
        assert all(SCAM.search(t) for _, t in planted), f["path"]
        if k:
            assert f["channel"] in TEXT_CHANNELS, f["path"]
        per_quarter[f["quarter"]] += len(planted)
        offices[f["quarter"]] |= {o for o, _ in planted if o}
    counts = [per_quarter[str(q)] for q in DEMO_QUARTERS]
    assert counts == [SCAM_WAVE[min(t, len(SCAM_WAVE) - 1)] for t in range(len(DEMO_QUARTERS))]
    assert counts[0] == counts[1] == 0 < counts[2] < counts[3]
    # three offices of the first region, then also two of the second
    first, last = offices[str(DEMO_QUARTERS[2])], offices[str(DEMO_QUARTERS[3])]
    assert {o[:2] for o in first} == {"52"} and 2 <= len(first) <= 3
    assert {o[:2] for o in last} == {"52", "66"}
    assert sum(o.startswith("52") for o in last) <= 3 and sum(o.startswith("66") for o in last) <= 2
    assert len(last) >= 4


def test_emerging_complaints_match_no_theme_and_read_negative(demo: tuple[Path, Any]) -> None:
    """What makes them an *emerging* topic: the text stage finds no theme in them, but a complaint."""
    from tasks.text.analyser import analyse
    from tasks.validate.redaction import redact

    root, manifest = demo
    texts = [text for _, _, text in planted_texts(root, manifest)]
    assert len(texts) == sum(SCAM_WAVE[min(t, len(SCAM_WAVE) - 1)] for t in range(len(DEMO_QUARTERS)))
    assert len(set(texts)) == len(texts)  # equal texts would be dropped as duplicates
    for text, a in zip(texts, analyse(texts, CONFIG), strict=True):
        assert a.language == "ru" and a.themes == set() and a.sentiment < 0, (text, a)
        assert redact(text) == text  # no personal data: the planted PII counts stay those of the other texts
    words = {w for t in texts for w in re.findall(r"\w+", t.lower())}
    # varied wording and inflections, not one canned sentence
    assert {"мошенник", "мошенники", "мошенников", "представились", "представлялись"} <= words
    assert len({t.split(" и ")[0] for t in texts}) >= 8


def test_emerging_complaints_leave_every_other_value_unchanged(
    demo: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their own random streams: without them, the files are the same minus the appended records."""
    root, manifest = demo
    monkeypatch.setattr(demo_emerging, "SCAM_WAVE", ())
    plain_manifest = generate_demo_data(tmp_path, DEMO_QUARTERS, seed=7, offices=OFFICES, scale=1.0)
    with_wave, plain = all_files(root), all_files(tmp_path)
    assert with_wave.keys() == plain.keys()
    entries = {f["path"]: f for f in manifest.files}
    changed = []
    for name, data in plain.items():
        if with_wave[name] == data or name == "manifest.json":
            continue
        changed.append(name)
        f = entries[name]
        k = f["planted_emerging"]
        assert k > 0, name
        if f["format"] == "json":
            before, after = json.loads(data), json.loads(with_wave[name])
        elif f["format"] == "jsonl":
            before, after = data.decode().splitlines(), with_wave[name].decode().splitlines()
        elif f["format"] == "csv":
            before = data.decode(f["encoding"]).split("\r\n")[:-1]
            after = with_wave[name].decode(f["encoding"]).split("\r\n")[:-1]
        else:
            before = [list(r) for r in load_workbook(tmp_path / name).active.iter_rows(values_only=True)]
            after = [list(r) for r in load_workbook(root / name).active.iter_rows(values_only=True)]
        assert after[: len(before)] == before and len(after) == len(before) + k, name
    assert sorted(changed) == sorted(f["path"] for f in manifest.files if f["planted_emerging"])
    for a, b in zip(manifest.files, plain_manifest.files, strict=True):
        assert b["planted_emerging"] == 0
        assert a["rows_written"] == b["rows_written"] + a["planted_emerging"]
        assert {k: v for k, v in a.items() if k not in ("rows_written", "planted_emerging")} == {
            k: v for k, v in b.items() if k not in ("rows_written", "planted_emerging")
        }
    assert manifest.seeded_measures == plain_manifest.seeded_measures


def quarter_feedback(root: Path, manifest: Any, quarter: str) -> pd.DataFrame:
    """A quarter's free texts from every channel's files, redacted and tagged as the text
    stage does (tasks.validate.redaction, then tasks.text.analyser.analyse_frame), without the database:
    the columns tasks.text.topics.emerging_topics reads."""
    from tasks.text.analyser import analyse_frame
    from tasks.validate.redaction import redact_series

    rows = []
    for f in manifest.files:
        if f["quarter"] != quarter:
            continue
        for i, (office, text) in enumerate(text_rows(root, f)):
            if text.strip():
                rows.append(
                    {"id": f"{f['path']}:{i}", "office_code": office, "region_code": f["region_code"], "text": text}
                )
    frame = pd.DataFrame(rows)
    frame["text"] = redact_series(frame["text"])
    tagged = analyse_frame(frame["text"], config=CONFIG)
    return frame.join(tagged)


def scam_topics(feedback: pd.DataFrame) -> list[Any]:
    from tasks.text.topics import emerging_topics

    return [t for t in emerging_topics(feedback) if any(w.startswith("мошенник") for w in t.top_terms)]


def test_emerging_topics_finds_the_scam(demo: tuple[Path, Any]) -> None:
    """The last quarter's negative texts without a theme hold one topic about the
    fraudsters, bigger than the quarter before's; two quarters back there is none."""
    root, manifest = demo
    found, stored = {}, {}
    for q in map(str, DEMO_QUARTERS[1:]):
        feedback = quarter_feedback(root, manifest, q)
        stored[q] = int(feedback["text"].str.contains(SCAM).sum())
        found[q] = scam_topics(feedback)
    none, before, last = (str(q) for q in DEMO_QUARTERS[1:])
    assert stored[none] == 0 and found[none] == []
    assert 0 < stored[before] < stored[last]
    assert len(found[before]) == len(found[last]) == 1
    topic = found[last][0]
    assert topic.language == "ru" and topic.top_terms[0].startswith("мошенник")
    assert 0.75 * stored[last] <= topic.size <= stored[last] + 2
    assert topic.regions == ["52", "66"] and topic.offices >= 4
    assert all(SCAM.search(e) for e in topic.examples)
    assert found[before][0].regions == ["52"] and found[before][0].size < topic.size


@pytest.mark.slow
def test_emerging_topics_finds_the_scam_after_ingest(
    demo: tuple[Path, Any], db_url: str, registry: dict, config: Any
) -> None:
    """The same through the real intake (validation, duplicates, redaction, text stage,
    the feedback table): a social post naming no office is quarantined like any other,
    the rest make the topic. ~10-20 s: two quarters of files."""
    from models import store
    from models.db import session_scope
    from tasks.collect.discovery import channel_of
    from tasks.validate.ingest import ingest_file

    root, _ = demo
    found, stored = {}, {}
    for q in map(str, DEMO_QUARTERS[-2:]):
        with session_scope(db_url) as session:
            for path in sorted((root / q).iterdir()):
                ingest_file(session, path, channel_of(path), q, config)
        with session_scope(db_url) as session:
            feedback = store.load_feedback(session, q)
        stored[q] = int(feedback["text"].fillna("").str.contains(SCAM).sum())
        found[q] = scam_topics(feedback)
    before, last = (str(q) for q in DEMO_QUARTERS[-2:])
    assert 0 < stored[before] < stored[last]
    assert len(found[before]) == len(found[last]) == 1
    topic = found[last][0]
    assert topic.top_terms[0].startswith("мошенник")
    assert 0.75 * stored[last] <= topic.size <= stored[last] + 2
    assert topic.regions == ["52", "66"] and topic.offices >= 4
    assert found[before][0].regions == ["52"] and found[before][0].size < topic.size


# ---------------------------------------------------------------- register seed and API


def test_register_seed(full: tuple[Path, Any]) -> None:
    root, manifest = full
    measures = json.loads((root / "register_seed.json").read_text(encoding="utf-8"))
    assert measures == manifest.seeded_measures
    keys = {
        "code",
        "title",
        "description",
        "theme",
        "journey_stage",
        "type",
        "region_code",
        "offices",
        "owner",
        "status",
        "proposed_quarter",
        "codesign_date",
        "codesign_form",
        "codesign_clients",
        "planned_start",
        "due_date",
        "implemented_on",
        "kpi_metric",
        "kpi_target_change",
    }
    assert all(set(m) - {"office_starts"} == keys for m in measures)
    sms = next(m for m in measures if m["title"] == SMS_MEASURE_TITLE)
    assert sms["status"] == "implemented" and sms["theme"] == "reminders_notifications"
    assert sorted(sms["offices"]) == sorted(TREATED)
    assert sms["implemented_on"] == (QUARTERS[1].start + timedelta(days=10)).isoformat()
    assert (sms["kpi_metric"], sms["kpi_target_change"], sms["type"]) == ("item:P3", 10, "new_experience")
    assert (sms["codesign_form"], sms["codesign_clients"]) == ("workshop", 12)
    assert date.fromisoformat(sms["codesign_date"]) < date.fromisoformat(sms["implemented_on"])
    overdue = [m for m in measures if m["status"] == "in_progress"]
    assert len(overdue) == 1 and overdue[0]["implemented_on"] is None
    assert overdue[0]["codesign_date"] < overdue[0]["planned_start"] < overdue[0]["due_date"]
    assert date.fromisoformat(overdue[0]["due_date"]) < QUARTERS[-1].end
    # The queue measure: rolled out in two waves of three offices outside the SMS offices, the
    # second wave with a start quarter of its own, planted in the data from each office's start.
    queue = next(m for m in measures if m["title"] == QUEUE_MEASURE_TITLE)
    assert queue["status"] == "implemented" and queue["kpi_metric"] == "item:E2"
    assert queue["implemented_on"] == (QUARTERS[1].start + timedelta(days=12)).isoformat()
    assert len(queue["offices"]) == 6 and not set(queue["offices"]) & set(TREATED)
    assert sorted(queue["office_starts"].values()) == [str(QUARTERS[2])] * 3
    assert set(queue["office_starts"]) < set(queue["offices"])
    codes = [m["code"] for m in measures]
    assert len(set(codes)) == len(codes)
    assert {m["theme"] for m in measures} <= set(CONFIG.themes)


def test_single_region_and_single_quarter(tmp_path: Path) -> None:
    offices = [o for o in OFFICES if o.region_code == "10"]
    manifest = generate_demo_data(tmp_path, [QUARTERS[0]], seed=3, offices=offices, scale=0.1)
    assert {f["region_code"] for f in manifest.files} == {"10"}
    assert len(manifest.files) == len(CHANNELS)
    sms, overdue = manifest.seeded_measures
    assert sms["status"] == "approved" and sms["implemented_on"] is None
    assert overdue["planned_start"] < overdue["due_date"] < QUARTERS[0].end.isoformat()


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_demo_data(tmp_path, [], offices=OFFICES)
    with pytest.raises(ValueError):
        generate_demo_data(tmp_path, [QUARTERS[0], QUARTERS[0]], offices=OFFICES)
    with pytest.raises(ValueError):
        generate_demo_data(tmp_path, QUARTERS, offices=OFFICES, scale=0)
