"""``cxloop text review export|import|train``: label a
sample, store the labels, train the theme classifiers. Exit 0 when done, 2 when the
input is refused (and then nothing is stored)."""

from __future__ import annotations

import json

from openpyxl import load_workbook
from sqlmodel import select
from typer.testing import CliRunner

from cxloop.cli import app
from models.db import session_scope
from models.tables import TextLabel
from tests.tasks.text.review_support import MIXED_TEXTS, QUARTER, comfort_texts, other_texts, seed_feedback

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, ["text", "review", *args])


def _tick_all(src, dst, rule_headers: bool = True) -> int:
    """Tick every row: the rules' themes as the analyst's (wifi/coffee texts also office comfort)."""
    wb = load_workbook(src)
    ws = wb.active
    cols = {c.value: c.column for c in ws[1]}
    ticked = 0
    for row in range(2, ws.max_row + 1):
        text = str(ws.cell(row=row, column=cols["Text"]).value)
        rules = [
            t for t in str(ws.cell(row=row, column=cols["Themes found by the rules"]).value or "").split("; ") if t
        ]
        if any(w in text for w in ("wifi", "coffee", "vending")):
            rules = sorted(set(rules) | {"Office comfort"})
        for header in rules or ["No theme"]:
            ws.cell(row=row, column=cols[header]).value = "x"
        ticked += 1
    wb.save(dst)
    return ticked


def test_export_import_train_through_the_cli(env, tmp_path):
    caught, missed = comfort_texts()
    texts = [("survey", "52" if k % 2 else "66", t, None) for k, t in enumerate(caught + missed + other_texts())]
    seed_feedback(env.database_url, MIXED_TEXTS + texts)
    xlsx = tmp_path / "sample.xlsx"
    result = _invoke("export", "--quarter", QUARTER, "--xlsx", str(xlsx), "--size", "500", "--lang", "en")
    assert result.exit_code == 0, result.output
    total = len(MIXED_TEXTS) + len(texts)
    assert f"({total} texts:" in result.output and "uncertain" in result.output
    ticked = _tick_all(xlsx, tmp_path / "ticked.xlsx")
    result = _invoke("import", "--xlsx", str(tmp_path / "ticked.xlsx"), "--who", "anna", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"stored": ticked, "replaced": 0, "skipped_rows": 0}
    with session_scope() as session:
        labels = session.exec(select(TextLabel)).all()
    assert len(labels) == ticked and {x.labelled_by for x in labels} == {"anna"}
    # Importing the same file again replaces every label.
    again = _invoke("import", "--xlsx", str(tmp_path / "ticked.xlsx"), "--who", "boris")
    assert again.exit_code == 0 and f"{ticked} stored ({ticked} replaced earlier labels)" in again.output
    # Train: one JSON line with the card; the folder holds the model.
    out = tmp_path / "model"
    result = _invoke("train", "--out", str(out), "--min-positives", "15")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    card = json.loads(lines[0])
    assert card["labelled_texts"] == ticked and card["learned"] == ["office_comfort"]
    assert card["themes"]["office_comfort"]["model_f1"] > card["themes"]["office_comfort"]["rules_f1"]
    assert (out / "card.json").is_file() and (out / "themes.joblib").is_file()
    # Everything is labelled now: nothing left to export; with the model, labelled texts come back.
    empty = _invoke("export", "--quarter", QUARTER, "--xlsx", str(tmp_path / "none.xlsx"))
    assert empty.exit_code == 2 and "nothing to label" in empty.output
    with_model = _invoke(
        "export", "--quarter", QUARTER, "--xlsx", str(tmp_path / "m.xlsx"), "--model", str(out), "--include-labelled"
    )
    assert with_model.exit_code == 0, with_model.output


def test_a_bad_file_is_refused_with_row_and_column_and_exit_2(env, tmp_path):
    seed_feedback(env.database_url, MIXED_TEXTS)
    xlsx = tmp_path / "sample.xlsx"
    assert _invoke("export", "--quarter", QUARTER, "--xlsx", str(xlsx), "--lang", "en").exit_code == 0
    wb = load_workbook(xlsx)
    ws = wb.active
    cols = {c.value: c.column for c in ws[1]}
    ws.cell(row=2, column=cols["Waiting time"]).value = "yes"
    ws.cell(row=3, column=cols["Staff attitude"]).value = "=1"
    wb.save(tmp_path / "bad.xlsx")
    result = _invoke("import", "--xlsx", str(tmp_path / "bad.xlsx"))
    assert result.exit_code == 2
    assert "row 2: column «Waiting time»: 'yes' is not a tick" in result.output
    assert "row 3: column «Staff attitude»: a formula" in result.output
    assert "2 problem(s); no label stored" in result.output
    with session_scope() as session:
        assert session.exec(select(TextLabel)).all() == []
    assert _invoke("train", "--out", str(tmp_path / "m")).exit_code == 2  # no labels yet
    assert _invoke("export", "--quarter", "2026Q9", "--xlsx", str(xlsx)).exit_code == 2
    assert _invoke("export", "--quarter", QUARTER, "--xlsx", str(xlsx), "--lang", "de").exit_code == 2
    assert _invoke("export", "--quarter", QUARTER, "--xlsx", str(xlsx), "--model", str(tmp_path)).exit_code == 2
