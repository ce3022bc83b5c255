"""The command line: clear errors for bad input, exports through the flows."""

from openpyxl import load_workbook
from typer.testing import CliRunner

from cxloop.cli import app

runner = CliRunner()


def test_offices_load_rejects_bad_file_naming_row(tmp_path, env, prefect_harness):
    bad = tmp_path / "offices.csv"
    bad.write_text(
        "office_code,office_name,region_code,region_name\n52-01,ЦЗН,52,Область\n52-02,,52,Область\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["offices", "load", str(bad)])
    assert result.exit_code == 2
    assert "offices.csv, row 3: empty office_name" in " ".join(result.output.split())


def test_offices_load_merges_and_measures_export(tmp_path, env, prefect_harness):
    good = tmp_path / "offices.csv"
    good.write_text(
        "office_code,office_name,region_code,region_name\n77-01,ЦЗН Тест,77,Тестовая область\n", encoding="utf-8"
    )
    first = runner.invoke(app, ["offices", "load", str(good)])
    assert first.exit_code == 0, first.output
    assert "1 added" in first.output
    again = runner.invoke(app, ["offices", "load", str(good)])
    assert "0 added, 0 updated, 1 unchanged" in again.output

    from demo.seed_measures import seed_measures
    from models.db import session_scope

    with session_scope() as session:
        seed_measures(
            session,
            [
                {
                    "code": "M-T-1",
                    "title": '=HYPERLINK("http://x")',
                    "theme": "waiting_time",
                    "type": "process_optimisation",
                    "region_code": "77",
                    "offices": ["77-01"],
                    "owner": "Рабочая группа",
                    "status": "approved",
                    "proposed_quarter": "2026Q1",
                    "kpi_metric": "item:E2",
                    "kpi_target_change": 10,
                    "due_date": "2026-04-01",
                }
            ],
        )
    out = tmp_path / "register.xlsx"
    result = runner.invoke(app, ["measures", "export", "--xlsx", str(out), "--quarter", "2026Q2"])
    assert result.exit_code == 0, result.output
    ws = load_workbook(out).active
    values = [c.value for row in ws.iter_rows(min_row=2) for c in row]
    assert "M-T-1" in values
    assert not any(isinstance(v, str) and v.startswith("=") for v in values)


def test_bad_quarter_is_refused():
    result = runner.invoke(app, ["cycle", "--quarter", "2026Q7"])
    assert result.exit_code == 2 and "2026Q3" in result.output


def test_cycle_summary_says_how_the_texts_were_read():
    from cxloop.cli.common import console
    from cxloop.cli.data import print_cycle

    summary = {
        "quarter": "2026Q3",
        "intake": {"received": 3, "accepted": 3, "quarantined": 0, "duplicates": 0, "files": 1},
        "files": [],
        "index": {},
        "top_pain_points": [],
        "measures_proposed": [],
        "effects": [],
        "reports": {},
        "register": {"xlsx": "out/register/measures_2026Q3.xlsx"},
        "text_reading": {"method": "rules+model", "model_version": "7cde4b88", "rated_texts": 1083, "texts_read": 709},
    }
    with console.capture() as cap:
        print_cycle(summary)
    assert "texts read by: rules + sentiment model 7cde4b88 (1083 rated texts)" in cap.get()
    summary["text_reading"] = {"method": "rules+themes", "model_version": None, "rated_texts": 12, "texts_read": 3}
    with console.capture() as cap:
        print_cycle(summary)
    assert "rules (12 rated texts: too few to learn from) + analysts' theme labels" in cap.get()
