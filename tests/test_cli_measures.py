"""``cxloop measures list|show|update|import``: the register from the command line.
Exit 0 when done, 2 when the input is refused (and then nothing is written)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import select
from typer.testing import CliRunner

from cxloop.cli import app
from cxloop.config import read_offices_csv
from demo.seed_measures import seed_measures
from models.db import session_scope
from models.tables import Measure, MeasureHistory
from tasks.collect.offices import merge_offices
from tasks.measures import register as reg
from tasks.measures.export import REGISTER_LABELS, export_register_xlsx
from tasks.measures.status import is_override

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _rec(code: str, status: str, region: str, offices: list[str], due: str, **extra) -> dict:
    return {
        "code": code,
        "title": f"Мера {code}",
        "theme": "waiting_time",
        "type": "process_optimisation",
        "journey_stage": "first_contact",
        "region_code": region,
        "offices": offices,
        "owner": f"РГ {region}",
        "status": status,
        "proposed_quarter": "2026Q1",
        "kpi_metric": "item:E2",
        "kpi_target_change": 10,
        "planned_start": "2026-04-10",
        "due_date": due,
        **extra,
    }


@pytest.fixture()
def register(env):
    with session_scope() as session:
        merge_offices(session, read_offices_csv(ROOT / "config" / "offices.csv"))
        seed_measures(
            session,
            [
                _rec("M-52-P", "proposed", "52", ["52-01"], "2099-01-01"),
                _rec("M-52-A", "approved", "52", ["52-02"], "2026-05-01"),  # overdue
                _rec(
                    "M-66-I",
                    "in_progress",
                    "66",
                    ["66-01"],
                    "2026-05-01",
                    codesign_date="2026-03-01",
                    codesign_form="workshop",
                    codesign_clients=10,
                ),  # overdue
                _rec("M-ALL", "approved", "ALL", ["52-03", "66-02"], "2099-01-01"),  # rolled out across regions
                _rec("M-10-R", "rejected", "10", ["10-01"], "2026-05-01"),
            ],
        )
    return env


def _measure(code: str) -> tuple[Measure, list[MeasureHistory]]:
    with session_scope() as session:
        m = reg.get_measure(session, code)
        return m, reg.history_of(session, m)


def _invoke(*args: str):
    return runner.invoke(app, ["measures", *args])


def test_list_filters_by_region_status_and_overdue(register):
    result = _invoke("list", "--json", "--as-of", "2026-07-01")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["code"] for r in rows] == ["M-10-R", "M-52-A", "M-52-P", "M-66-I", "M-ALL"]
    assert {r["code"] for r in rows if r["overdue"]} == {"M-52-A", "M-66-I"}

    def codes(*args: str) -> list[str]:
        out = _invoke("list", "--json", "--as-of", "2026-07-01", *args)
        assert out.exit_code == 0, out.output
        return [json.loads(line)["code"] for line in out.stdout.splitlines()]

    assert codes("--region", "52") == ["M-52-A", "M-52-P", "M-ALL"]  # with the cross-region measure
    assert codes("--status", "approved,in_progress") == ["M-52-A", "M-66-I", "M-ALL"]
    assert codes("--status", "approved", "--status", "rejected") == ["M-10-R", "M-52-A", "M-ALL"]
    assert codes("--overdue", "--region", "66") == ["M-66-I"]
    assert codes("--not-overdue", "--status", "approved") == ["M-ALL"]
    table = _invoke("list", "--as-of", "2026-07-01", "--overdue")
    assert table.exit_code == 0 and "OVERDUE" in table.output and "2 measures, 2 overdue" in table.output
    bad = _invoke("list", "--status", "done")
    assert bad.exit_code == 2 and "unknown status 'done'" in bad.output


def test_update_walks_the_flow_and_refuses_bad_input(register):
    ok = _invoke("update", "M-52-P", "--status", "approved", "--who", "Иванова", "--comment", "РГ согласовала")
    assert ok.exit_code == 0, ok.output
    assert "status proposed → approved" in ok.output and "version 2" in ok.output

    def refused(*args: str, says: str) -> None:
        before = _measure("M-52-P")
        result = _invoke("update", "M-52-P", *args)
        assert result.exit_code == 2, result.output
        assert says in " ".join(result.output.split())
        after = _measure("M-52-P")
        assert (after[0].status, after[0].version, len(after[1])) == (
            before[0].status,
            before[0].version,
            len(before[1]),
        )

    refused("--status", "in_progress", "--who", "x", says="without co-design evidence")
    refused("--status", "in_progress", "--who", "x", "--override-reason", "  ", says="without co-design evidence")
    refused("--status", "closed", "--who", "x", says="cannot change status from 'approved' to 'closed'")
    refused(
        "--owner", "Петров", "--expected-version", "1", "--who", "x", says="changed by someone else since version 1"
    )
    refused("--codesign-form", "фокус-группа", "--who", "x", says="unknown co-design form")
    refused("--due", "31.02.2026", "--who", "x", says="is not a date")
    refused("--codesign-clients", "0", "--who", "x", says="at least 1")
    assert _invoke("update", "M-NOPE", "--status", "approved").exit_code == 2
    assert _invoke("update", "M-52-P").exit_code == 2  # nothing to change

    # Co-design recorded and the start in one command; then the owner with the right version.
    started = _invoke(
        "update",
        "M-52-P",
        "--status",
        "in_progress",
        "--codesign-date",
        "2026-04-02",
        "--codesign-form",
        "Наблюдение",
        "--codesign-clients",
        "7",
        "--who",
        "Иванова",
        "--expected-version",
        "2",
        "--json",
    )
    assert started.exit_code == 0, started.output
    result = json.loads(started.stdout)
    assert [c["field"] for c in result["changes"]] == ["codesign_clients", "codesign_date", "codesign_form", "status"]
    assert (result["status"], result["version"], result["override"]) == ("in_progress", 4, False)
    m, history = _measure("M-52-P")
    assert (m.codesign_form, m.codesign_clients, m.codesign_date) == ("observation", 7, date(2026, 4, 2))
    assert {h.who for h in history[1:]} == {"Иванова"}


def test_override_is_recorded_and_shown(register):
    result = _invoke(
        "update",
        "M-52-A",
        "--status",
        "in_progress",
        "--who",
        "Начальник отдела",
        "--override-reason",
        "срочно: решение министерства",
        "--comment",
        "старт без воркшопа",
    )
    assert result.exit_code == 0, result.output
    assert "override recorded" in result.output
    m, history = _measure("M-52-A")
    assert m.status == "in_progress"
    assert history[-1].comment == "override: срочно: решение министерства — старт без воркшопа"
    assert is_override(history[-1]) and not any(is_override(h) for h in history[:-1])

    shown = _invoke("show", "M-52-A")
    assert shown.exit_code == 0, shown.output
    flat = " ".join(shown.output.split())
    assert "OVERRIDE" in flat and "срочно: решение министерства" in flat and "approved" in flat
    as_json = json.loads(_invoke("show", "M-52-A", "--json").stdout)
    assert [(h["from"], h["to"], h["override"]) for h in as_json["history"] if h["field"] == "status"] == [
        (None, "proposed", False),
        ("proposed", "approved", False),
        ("approved", "in_progress", True),
    ]
    assert as_json["measure"]["status"] == "in_progress" and as_json["measure"]["version"] == 3
    missing = _invoke("show", "M-NOPE")
    assert missing.exit_code == 2 and "no measure 'M-NOPE'" in missing.output


def _edited_export(path: Path, edits: dict[str, dict[str, object]]) -> Path:
    with session_scope() as session:
        export_register_xlsx(session, path, date(2026, 7, 5))
    wb = load_workbook(path)
    ws = wb.active
    col = {c.value: c.column for c in ws[1]}
    rows = {ws.cell(row=r, column=1).value: r for r in range(2, ws.max_row + 1)}
    for code, cells in edits.items():
        for column, value in cells.items():
            ws.cell(row=rows[code], column=col[REGISTER_LABELS["ru"][column]]).value = value
    wb.save(path)
    return path


def test_import_applies_edits_and_exit_code_says_if_a_row_was_rejected(register, tmp_path):
    with session_scope() as session:
        n_before = len(session.exec(select(MeasureHistory)).all())
    unchanged = _edited_export(tmp_path / "same.xlsx", {})
    result = _invoke("import", "--xlsx", str(unchanged), "--who", "Иванова")
    assert result.exit_code == 0, result.output
    assert "0 measures changed (0 field changes), 5 unchanged, 0 rejected" in result.output

    edited = _edited_export(
        tmp_path / "edited.xlsx",
        {
            "M-52-P": {"status": "approved", "change_comment": "утверждено"},
            "M-ALL": {"status": "in_progress"},  # no co-design evidence: rejected
        },
    )
    dry = _invoke("import", "--xlsx", str(edited), "--who", "Иванова", "--dry-run", "--json")
    assert dry.exit_code == 2
    summary = json.loads(dry.stdout)
    assert summary["dry_run"] and summary["measures_changed"] == ["M-52-P"]
    assert [(r["code"], r["rule"]) for r in summary["rejected"]] == [("M-ALL", "codesign_missing")]
    assert _measure("M-52-P")[0].status == "proposed"  # dry run: nothing saved

    real = _invoke("import", "--xlsx", str(edited), "--who", "Иванова")
    assert real.exit_code == 2
    flat = " ".join(real.output.split())
    row = summary["rejected"][0]["row"]
    assert f"REJECTED row {row} M-ALL [Статус]" in flat and "status proposed → approved" in flat
    m, history = _measure("M-52-P")
    assert m.status == "approved" and (history[-1].who, history[-1].comment) == ("Иванова", "утверждено")
    with session_scope() as session:
        assert len(session.exec(select(MeasureHistory)).all()) == n_before + 1

    no_version = tmp_path / "bad.csv"
    no_version.write_text("Код;Статус\nM-52-P;approved\n", encoding="utf-8")
    bad = _invoke("import", "--csv", str(no_version))
    assert bad.exit_code == 2 and "no column version" in bad.output
    assert _invoke("import").exit_code == 2  # neither --xlsx nor --csv
