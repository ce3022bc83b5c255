"""The register's Excel round trip: export, edit, import back — GE-validated, row by row,
every accepted change in the history, every rejected row explained."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from cxloop.config import read_offices_csv
from cxloop.domain import JOURNEY_STAGES, MEASURE_STATUSES, MEASURE_TYPES
from cxloop.paths import EXPECTATIONS_DIR
from demo.seed_measures import seed_measures
from models.db import dispose_engines, get_engine
from models.tables import Measure, MeasureHistory
from tasks.collect.headers import norm_header
from tasks.collect.offices import merge_offices
from tasks.measures import register as reg
from tasks.measures import register_io as rio
from tasks.measures.edits import edit_measure
from tasks.measures.export import EXPORT_COLUMNS, REGISTER_LABELS, export_register_csv, export_register_xlsx
from tasks.measures.register_file import RegisterFileError, stage_cell
from tasks.measures.status import CODESIGN_FORMS

ROOT = Path(__file__).resolve().parents[3]
AS_OF = date(2026, 7, 5)
AT = datetime(2026, 7, 10, 9, 30)
CODESIGN = {"codesign_date": "2026-05-20", "codesign_form": "observation", "codesign_clients": 14}


def _rec(code: str, status: str, region: str = "52", **extra) -> dict:
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
        "proposed_quarter": "2026Q2",
        "kpi_metric": "item:E2",
        "kpi_target_change": 10,
        "planned_start": "2026-07-05",
        "due_date": "2026-09-30",
        **extra,
    }


SEED = [
    _rec("M-P", "proposed"),
    _rec("M-A", "approved", region="66"),  # no co-design evidence yet
    _rec("M-A2", "approved", region="66"),
    _rec("M-I", "in_progress", **CODESIGN, planned_start="2026-06-01", due_date="2026-06-30"),  # overdue
    _rec(
        "M-C",
        "closed",
        **CODESIGN,
        planned_start="2026-06-01",
        implemented_on="2026-06-10",
        description='=HYPERLINK("http://x")',
    ),
    _rec("M-R", "rejected", region="10"),
]


@pytest.fixture()
def db(db_url):
    with Session(get_engine(db_url), expire_on_commit=False) as s:
        merge_offices(s, read_offices_csv(ROOT / "config" / "offices.csv"))
        seed_measures(s, SEED)
        s.commit()
    yield db_url
    dispose_engines()


def _export(db_url: str, path: Path, lang: str = "ru", kind: str = "xlsx") -> Path:
    with Session(get_engine(db_url)) as s:
        if kind == "xlsx":
            return export_register_xlsx(s, path, AS_OF, lang=lang)
        return export_register_csv(s, path, AS_OF, lang=lang)


def _snapshot(db_url: str) -> tuple[list[tuple], int]:
    with Session(get_engine(db_url)) as s:
        measures = [
            tuple(getattr(m, f) for f in Measure.model_fields) for m in s.exec(select(Measure).order_by(Measure.code))
        ]
        return measures, len(s.exec(select(MeasureHistory)).all())


def _edit_xlsx(path: Path, edits: dict[str, dict[str, object]], lang: str = "ru", out: Path | None = None) -> Path:
    """Set cells by measure code and column id, as a person does in Excel."""
    wb = load_workbook(path)
    ws = wb.active
    labels = REGISTER_LABELS[lang]
    col = {c.value: c.column for c in ws[1]}
    rows = {ws.cell(row=r, column=1).value: r for r in range(2, ws.max_row + 1)}
    for code, cells in edits.items():
        for column, value in cells.items():
            ws.cell(row=rows[code], column=col[labels[column]]).value = value
    out = out or path
    wb.save(out)
    return out


def _row_of(path: Path, code: str) -> int:
    ws = load_workbook(path).active
    return next(r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=1).value == code)


def _import(db_url: str, path: Path, **kw) -> rio.ImportSummary:
    return rio.import_register_file(path, "Иванова", AT, url=db_url, **kw)


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("lang, kind", [("ru", "xlsx"), ("en", "csv"), ("fi", "xlsx"), ("ru", "csv")])
def test_unchanged_export_imports_as_no_change(db, tmp_path, lang, kind):
    before = _snapshot(db)
    path = _export(db, tmp_path / f"register.{kind}", lang, kind)
    summary = _import(db, path)
    assert summary.rejected == [] and summary.applied == []
    assert sorted(summary.unchanged) == sorted(r["code"] for r in SEED)
    assert summary.rows == len(SEED) and summary.ignored_columns == []
    assert _snapshot(db) == before  # not a field, not a version, not a history row


def test_three_edited_cells_become_exactly_three_changes(db, tmp_path):
    path = _export(db, tmp_path / "register.xlsx")
    evil = '=HYPERLINK("http://evil.example/x","подробнее")'
    _edit_xlsx(
        path,
        {
            "M-P": {"status": "approved", "change_comment": "согласовано на РГ 12.07"},
            "M-A": {"owner": "ЦЗН 66-01, начальник отдела"},
            "M-I": {"description": evil},  # typed into Excel: stored by the workbook as a formula
        },
    )
    assert load_workbook(path).active.cell(row=_row_of(path, "M-I"), column=len(EXPORT_COLUMNS) - 1).data_type == "f"
    (measures_before, hist_before) = _snapshot(db)

    summary = _import(db, path)
    assert summary.rejected == []
    got = {(a["code"], a["field"], a["from"], a["to"]) for a in summary.applied}
    assert got == {
        ("M-P", "status", "proposed", "approved"),
        ("M-A", "owner", "РГ 66", "ЦЗН 66-01, начальник отдела"),
        ("M-I", "description", "", evil),
    }
    assert {a["row"] for a in summary.applied if a["code"] == "M-P"} == {_row_of(path, "M-P")}
    _, hist_after = _snapshot(db)
    assert hist_after - hist_before == 3

    with Session(get_engine(db)) as s:
        versions = {m.code: m.version for m in s.exec(select(Measure))}
        before_versions = {
            t[list(Measure.model_fields).index("code")]: t[list(Measure.model_fields).index("version")]
            for t in measures_before
        }
        assert {c for c in versions if versions[c] != before_versions[c]} == {"M-P", "M-A", "M-I"}
        assert all(versions[c] == before_versions[c] + 1 for c in ("M-P", "M-A", "M-I"))
        p_hist = reg.history_of(s, reg.get_measure(s, "M-P"))[-1]
        assert (p_hist.who, p_hist.comment, p_hist.at) == ("Иванова", "согласовано на РГ 12.07", reg.as_utc(AT))
        a_hist = reg.history_of(s, reg.get_measure(s, "M-A"))[-1]
        assert a_hist.comment == "import of register.xlsx"  # no comment in the row: the file is named
        assert reg.get_measure(s, "M-I").description == evil  # stored as text, never evaluated

    # The next export neutralises the formula text; importing that unchanged export changes nothing.
    again = _export(db, tmp_path / "again.xlsx")
    ws = load_workbook(again).active
    assert all(c.data_type != "f" for r in ws.iter_rows() for c in r)
    assert ws.cell(row=_row_of(again, "M-I"), column=len(EXPORT_COLUMNS) - 1).value == "'" + evil
    snap = _snapshot(db)
    assert _import(db, again).applied == [] and _snapshot(db) == snap
    # Importing the edited file a second time: the register already says so, nothing to do.
    second = _import(db, path)
    assert second.applied == [] and second.rejected == [] and _snapshot(db) == snap


def test_stale_row_is_rejected_and_the_others_applied(db, tmp_path):
    path = _export(db, tmp_path / "register.xlsx")
    with Session(get_engine(db), expire_on_commit=False) as s:  # someone else edits M-P after the export
        edit_measure(s, "M-P", "Петров", AT, changes={"owner": "ЦЗН 52-02"})
        s.commit()
    _edit_xlsx(path, {"M-P": {"due_date": datetime(2026, 12, 1)}, "M-A2": {"due_date": "01.11.2026"}})
    summary = _import(db, path)
    assert [(r["row"], r["code"], r["field"], r["rule"]) for r in summary.rejected] == [
        (_row_of(path, "M-P"), "M-P", "version", "stale_version")
    ]
    reason = summary.rejected[0]["reason"]
    assert "changed by someone else since export" in reason and "версия 1" in reason and "в реестре 2" in reason
    assert [(a["code"], a["field"], a["to"]) for a in summary.applied] == [("M-A2", "due_date", "2026-11-01")]
    with Session(get_engine(db)) as s:
        p = reg.get_measure(s, "M-P")
        assert (p.owner, p.due_date) == ("ЦЗН 52-02", date(2026, 9, 30))  # the other person's edit stands


def test_bad_rows_are_rejected_whole_with_row_field_and_reason(db, tmp_path):
    path = _export(db, tmp_path / "register.xlsx")
    wb = load_workbook(path)
    ws = wb.active
    # Two extra rows: a copy of M-P under an unknown code and a second copy of M-R.
    copy_of = {
        code: [ws.cell(row=_row_of(path, code), column=c).value for c in range(1, ws.max_column + 1)]
        for code in ("M-P", "M-R")
    }
    ws.append(["M-NOPE", *copy_of["M-P"][1:]])
    ws.append(copy_of["M-R"])
    wb.save(path)
    phone = "+7 912 345-67-89"
    _edit_xlsx(
        path,
        {
            "M-P": {"status": "implemented", "owner": "Новый владелец"},  # proposed -> implemented: not in the flow
            "M-A": {"status": "in_progress"},  # no co-design evidence
            "M-A2": {
                "status": "in_progress",
                "codesign_date": "2026-06-30",  # evidence in the same row: accepted
                "codesign_form": "тестирование с клиентами",
                "codesign_clients": 6,
            },
            "M-I": {"due_date": "31.02.2026", "owner": "Сидорова"},  # no such date; the owner edit waits too
            "M-C": {"codesign_form": "фокус-группа", "theme": "staff_attitude", "codesign_clients": "много"},
            "M-R": {"status": f"позвонить {phone}"},
        },
    )
    before_p = _snapshot(db)
    summary = _import(db, path)
    rows = {code: _row_of(path, code) for code in ("M-P", "M-A", "M-A2", "M-I", "M-C")}
    ws = load_workbook(path).active
    r_rows = [r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=1).value == "M-R"]
    nope = next(r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=1).value == "M-NOPE")
    got = {(r["row"], r["field"], r["rule"]) for r in summary.rejected}
    expected = {
        (rows["M-P"], "status", "invalid_transition"),
        (rows["M-A"], "status", "codesign_missing"),
        (rows["M-I"], "due_date", "expect_column_values_to_match_strftime_format"),
        (rows["M-C"], "codesign_form", "expect_column_values_to_be_in_set"),
        (rows["M-C"], "codesign_clients", "expect_column_values_to_match_regex"),
        (nope, "code", "expect_column_values_to_be_in_set"),
        *{(r, "code", "expect_column_values_to_be_unique") for r in r_rows},
        (max(r_rows), "status", "expect_column_values_to_be_in_set"),  # the edit went to the last copy
    }
    assert got == expected
    reasons = {(r["row"], r["field"]): r["reason"] for r in summary.rejected}
    assert "«proposed» → «implemented» недопустим" in reasons[(rows["M-P"], "status")]
    assert "можно: approved, cancelled, rejected" in reasons[(rows["M-P"], "status")]
    assert "дата совместного проектирования" in reasons[(rows["M-A"], "status")]
    assert "31.02.2026" in reasons[(rows["M-I"], "due_date")]
    assert "фокус-группа" in reasons[(rows["M-C"], "codesign_form")]
    assert all(phone not in r["reason"] and "912" not in r["reason"] for r in summary.rejected)  # redacted
    assert {r["column"] for r in summary.rejected if r["field"] == "due_date"} == {"Срок"}  # the header as in the file
    # Only M-A2 went through: fields first, then the start.
    assert [(a["code"], a["field"]) for a in summary.applied] == [
        ("M-A2", "codesign_clients"),
        ("M-A2", "codesign_date"),
        ("M-A2", "codesign_form"),
        ("M-A2", "status"),
    ]
    with Session(get_engine(db)) as s:
        assert reg.get_measure(s, "M-A2").codesign_form == "client_test"
        assert reg.get_measure(s, "M-I").owner == "РГ 52"  # its row was rejected whole
        assert reg.get_measure(s, "M-P").owner == "РГ 52"
        assert s.exec(select(Measure).where(Measure.code == "M-NOPE")).first() is None
    _, hist_after = _snapshot(db)
    assert hist_after - before_p[1] == 4


def test_read_only_columns_and_offices_are_guarded(db, tmp_path):
    path = _export(db, tmp_path / "register.xlsx")
    _edit_xlsx(
        path,
        {
            "M-P": {"theme": "staff_attitude", "kpi_baseline": 99.5},
            "M-A": {"offices": "66-01, 66-02, 52-01, 99-99"},  # another region's office and an unknown one
            "M-A2": {"offices": "66-03;66-01"},  # accepted: normalised, same region
            "M-I": {"due_date": "2026-05-01"},  # before its planned start
        },
    )
    summary = _import(db, path)
    got = {(r["code"], r["field"], r["rule"]) for r in summary.rejected}
    assert got == {
        ("M-P", "theme", "read_only"),
        ("M-P", "kpi_baseline", "read_only"),
        ("M-A", "offices", "unknown_office"),
        ("M-A", "offices", "office_outside_region"),
        ("M-I", "due_date", "due_before_start"),
    }
    assert [(a["code"], a["field"], a["to"]) for a in summary.applied] == [("M-A2", "offices", "66-01,66-03")]


def test_dry_run_reports_exactly_and_saves_nothing(db, tmp_path):
    path = _edit_xlsx(_export(db, tmp_path / "register.xlsx"), {"M-P": {"status": "approved"}, "M-A": {"owner": "X"}})
    before = _snapshot(db)
    dry = _import(db, path, dry_run=True)
    assert dry.dry_run and len(dry.applied) == 2
    assert _snapshot(db) == before
    real = _import(db, path)
    assert [(a["code"], a["field"], a["to"]) for a in real.applied] == [
        (a["code"], a["field"], a["to"]) for a in dry.applied
    ]


def test_partial_csv_with_english_headers_semicolons_and_cp1251(db, tmp_path):
    path = tmp_path / "edited.csv"
    with path.open("w", encoding="cp1251", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["Code", "Version", "Status", "Ответственный", "Notes"])
        w.writerow(["M-P", "1", "Approved", "Отдел приёма", "позвонить завтра"])
        w.writerow(["M-R", "2", "rejected", "РГ 10", ""])
    summary = _import(db, path)
    assert summary.ignored_columns == ["Notes"]
    assert summary.unchanged == ["M-R"] and summary.rejected == []
    assert [(a["code"], a["field"], a["to"]) for a in summary.applied] == [
        ("M-P", "owner", "Отдел приёма"),
        ("M-P", "status", "approved"),
    ]


def test_files_that_cannot_be_imported_at_all(db, tmp_path):
    no_version = tmp_path / "no_version.csv"
    no_version.write_text("Код,Статус\nM-P,approved\n", encoding="utf-8")
    with pytest.raises(RegisterFileError, match="no column version"):
        _import(db, no_version)
    twice = tmp_path / "twice.csv"
    twice.write_text("Code,Version,Статус,Status\nM-P,1,approved,approved\n", encoding="utf-8")
    with pytest.raises(RegisterFileError, match="both status"):
        _import(db, twice)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(RegisterFileError, match="XLSX"):
        _import(db, broken)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(RegisterFileError, match="empty"):
        _import(db, empty)


def test_suite_vocabularies_are_the_registers():
    suite = json.loads((EXPECTATIONS_DIR / "measure_register.json").read_text(encoding="utf-8"))
    sets = {
        e["kwargs"]["column"]: e["kwargs"]["value_set"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set"
    }
    assert tuple(sets["status"]) == MEASURE_STATUSES
    assert tuple(sets["codesign_form"]) == CODESIGN_FORMS
    assert tuple(sets["journey_stage"]) == JOURNEY_STAGES
    assert tuple(sets["type"]) == MEASURE_TYPES
    assert sets["code"] == {"$PARAMETER": "known_codes"}
    assert all(e["severity"] == "critical" and e["meta"]["reason"] for e in suite["expectations"])
    # Every header label of every language names one column only.
    lookup: dict[str, set[str]] = {}
    for labels in REGISTER_LABELS.values():
        for column, label in labels.items():
            lookup.setdefault(norm_header(label), set()).add(column)
    assert all(len(columns) == 1 for columns in lookup.values())
    assert set(REGISTER_LABELS["ru"]) == set(EXPORT_COLUMNS)


@pytest.mark.parametrize(
    "column, cell, staged",
    [
        ("due_date", datetime(2026, 3, 1), "2026-03-01"),
        ("due_date", "01.03.2026", "2026-03-01"),
        ("due_date", "1 марта", "1 марта"),  # kept as typed: the suite names it
        ("version", 3.0, "3"),
        ("kpi_target", "72,5", "72.5"),
        ("status", "In progress", "in_progress"),
        ("status", "done", "done"),
        ("codesign_form", "Työpaja", "workshop"),
        ("codesign_form", "usability_testing", "client_test"),
        ("offices", "52-02, 52-01;52-02", "52-01,52-02"),
        ("description", "'=1+1", "=1+1"),  # the export's neutralising apostrophe removed
        ("owner", "'Отдел", "'Отдел"),  # an apostrophe before plain text is the person's
        ("owner", "   ", None),
    ],
)
def test_stage_cell(column, cell, staged):
    assert stage_cell(column, cell) == staged
