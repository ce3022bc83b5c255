"""A measure's rollout office by office in the register: the office starts as people write
them, as the register stores them, checked against the scope, in the history and through
the XLSX round trip and the CLI."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select
from typer.testing import CliRunner

from cxloop.config import read_offices_csv
from cxloop.quarters import Quarter
from demo.seed_measures import seed_measures
from models.db import dispose_engines, get_engine, upgrade
from models.tables import Measure, MeasureHistory
from tasks.collect.offices import merge_offices
from tasks.measures import register as reg
from tasks.measures import register_io as rio
from tasks.measures.export import REGISTER_LABELS, export_register_xlsx
from tasks.measures.rollout import (
    check_office_starts,
    normalise_office_starts,
    parse_office_starts,
    start_quarters,
)

ROOT = Path(__file__).resolve().parents[3]
AT = datetime(2026, 7, 10, 9, 30)
REC = {
    "code": "M-Q",
    "title": "Электронная очередь",
    "theme": "waiting_time",
    "type": "process_optimisation",
    "region_code": "52",
    "offices": ["52-01", "52-02", "52-03"],
    "owner": "РГ 52",
    "status": "implemented",
    "proposed_quarter": "2026Q1",
    "codesign_date": "2026-02-10",
    "codesign_form": "workshop",
    "codesign_clients": 9,
    "planned_start": "2026-04-01",
    "implemented_on": "2026-04-10",
    "kpi_metric": "item:E2",
    "kpi_target_change": 10,
}


@pytest.mark.parametrize(
    "written",
    [
        "52-03:2026Q3, 52-02:2026Q2",
        "52-02 2026Q2; 52-03=2026Q3",
        "52-02: 2026 Q2\n52-03 : 2026q3",
        {"52-03": "2026Q3", "52-02": Quarter(2026, 2)},
    ],
)
def test_office_starts_are_stored_in_one_form(written):
    assert normalise_office_starts(written) == "52-02:2026Q2,52-03:2026Q3"


@pytest.mark.parametrize(
    "written, says",
    [
        ("52-02", "is not 'office:quarter'"),
        ("52-02:2026Q5", "52-02: start '2026Q5' is not a quarter"),
        ("52-02:2026Q2, 52-02:2026Q3", "52-02 is given two starts"),
    ],
)
def test_bad_office_starts_are_refused_naming_the_item(written, says):
    with pytest.raises(ValueError, match=says):
        parse_office_starts(written)


def test_blank_office_starts_and_the_start_of_every_office():
    assert normalise_office_starts(None) == normalise_office_starts(" ") == ""
    starts = start_quarters("52-01,52-02,52-03", "52-03:2026Q3", Quarter(2026, 2))
    assert starts == {"52-01": Quarter(2026, 2), "52-02": Quarter(2026, 2), "52-03": Quarter(2026, 3)}
    assert start_quarters("52-01,52-03", "52-03:2026Q3", None) == {"52-03": Quarter(2026, 3)}
    assert check_office_starts("52-09:2026Q3,52-01:2026Q1", "52-01,52-02", Quarter(2026, 2)) == [
        "office start(s) for 52-09 outside the measure's offices",
        "office(s) 52-01 start before the measure's implementation quarter 2026Q2",
    ]


@pytest.fixture()
def db(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'register.db'}"
    upgrade(url)
    with Session(get_engine(url), expire_on_commit=False) as s:
        merge_offices(s, read_offices_csv(ROOT / "config" / "offices.csv"))
        seed_measures(s, [REC | {"office_starts": {"52-03": "2026Q3"}}])
        s.commit()
    yield url
    dispose_engines()


def _measure(url: str) -> Measure:
    with Session(get_engine(url), expire_on_commit=False) as s:
        return s.exec(select(Measure).where(Measure.code == "M-Q")).one()


def test_edits_are_checked_against_the_scope_and_leave_history(db):
    assert _measure(db).office_starts == "52-03:2026Q3"
    with Session(get_engine(db), expire_on_commit=False) as s:
        m = s.exec(select(Measure).where(Measure.code == "M-Q")).one()
        version = m.version
        with pytest.raises(ValueError, match="52-05 outside the measure's offices"):
            reg.update_fields(s, m, {"office_starts": "52-05:2026Q3"}, "Иванова", AT)
        with pytest.raises(ValueError, match="52-02 start before the measure's implementation quarter 2026Q2"):
            reg.update_fields(s, m, {"office_starts": "52-02:2026Q1"}, "Иванова", AT)
        with pytest.raises(ValueError, match="52-03 outside the measure's offices"):
            reg.update_fields(s, m, {"offices": "52-01,52-02"}, "Иванова", AT)  # would orphan 52-03's start
        assert m.version == version
        reg.update_fields(s, m, {"office_starts": "52-02 2026Q3, 52-03 2026Q4"}, "Иванова", AT, comment="вторая волна")
        s.commit()
        rows = s.exec(select(MeasureHistory).where(MeasureHistory.field == "office_starts")).all()
    assert [(h.from_value, h.to_value, h.who, h.comment) for h in rows] == [
        ("52-03:2026Q3", "52-02:2026Q3,52-03:2026Q4", "Иванова", "вторая волна")
    ]
    assert _measure(db).version == version + 1


def _set_cell(path: Path, column: str, value: object) -> None:
    wb = load_workbook(path)
    ws = wb.active
    col = {c.value: c.column for c in ws[1]}[REGISTER_LABELS["ru"][column]]
    ws.cell(row=2, column=col).value = value
    wb.save(path)


def test_xlsx_round_trip_of_office_starts(db, tmp_path):
    path = tmp_path / "register.xlsx"
    with Session(get_engine(db)) as s:
        export_register_xlsx(s, path, date(2026, 7, 5), lang="ru")
    ws = load_workbook(path).active
    header = [c.value for c in ws[1]]
    assert ws.cell(row=2, column=header.index("Старт по ЦЗН") + 1).value == "52-03:2026Q3"

    unchanged = rio.import_register_file(path, "Иванова", AT, url=db)
    assert unchanged.applied == [] and unchanged.rejected == [] and unchanged.unchanged == ["M-Q"]

    _set_cell(path, "office_starts", "52-02 2026Q3; 52-03 2026Q4")
    summary = rio.import_register_file(path, "Иванова", AT, url=db)
    assert summary.rejected == []
    assert [(a["field"], a["to"]) for a in summary.applied] == [("office_starts", "52-02:2026Q3,52-03:2026Q4")]
    assert _measure(db).office_starts == "52-02:2026Q3,52-03:2026Q4"

    with Session(get_engine(db)) as s:
        export_register_xlsx(s, path, date(2026, 7, 5), lang="ru")
    _set_cell(path, "office_starts", "52-02 летом")
    bad = rio.import_register_file(path, "Иванова", AT, url=db)
    assert bad.applied == [] and len(bad.rejected) == 1
    problem = bad.rejected[0]
    assert (problem["row"], problem["column"]) == (2, "Старт по ЦЗН")  # the column as the file heads it
    assert "52-02 летом" in problem["reason"] and "ЦЗН:квартал" in problem["reason"]
    assert _measure(db).office_starts == "52-02:2026Q3,52-03:2026Q4"


def test_cli_update_sets_office_starts(db, use_database):
    from cxloop.cli import app

    use_database(db)
    result = CliRunner().invoke(
        app, ["measures", "update", "M-Q", "--office-starts", "52-01:2026Q2, 52-02:2026Q3", "--json", "--who", "t"]
    )
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)["changes"]
    assert [(c["field"], c["to"]) for c in changes] == [("office_starts", "52-01:2026Q2,52-02:2026Q3")]
    refused = CliRunner().invoke(app, ["measures", "update", "M-Q", "--office-starts", "52-09:2026Q3", "--who", "t"])
    assert refused.exit_code == 2 and "52-09 outside the measure's offices" in refused.output
