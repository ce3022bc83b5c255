"""Export safety (tasks/export_safety.py): formula text is neutralised, nothing else changes,
and a neutralised cell reaches a real CSV and XLSX file as text."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal

import pytest

from cxloop.export_safety import FORMULA_PREFIXES, neutralise_formula, neutralise_row


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://evil.example","click")',
        "=1+2",
        "+79123456789",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+2",
        "\r=1+2",
        "=cmd|' /C calc'!A0",
    ],
)
def test_formula_text_gets_a_leading_apostrophe(value: str) -> None:
    assert neutralise_formula(value) == "'" + value


@pytest.mark.parametrize(
    "value",
    [
        "Долгое ожидание в очереди",
        "52-01",
        "'=already quoted",
        " =1+2",  # a leading space: spreadsheets treat it as text
        "",
        "2026-03-12",
        "[PHONE] перезвоните",
    ],
)
def test_safe_text_is_unchanged(value: str) -> None:
    assert neutralise_formula(value) == value


@pytest.mark.parametrize(
    "value", [None, -5, 0, 3.5, -0.25, Decimal("-1.5"), True, date(2026, 3, 12), datetime(2026, 3, 12, 10, 0)]
)
def test_non_text_passes_through_as_the_same_object(value: object) -> None:
    assert neutralise_formula(value) is value


def test_prefixes_are_the_documented_ones() -> None:
    assert set(FORMULA_PREFIXES) == {"=", "+", "-", "@", "\t", "\r"}


def test_row_helper_keeps_order_and_types() -> None:
    assert neutralise_row(("=1+1", 7, None, "ok", "-x")) == ["'=1+1", 7, None, "ok", "'-x"]


def test_neutralised_cells_are_text_in_a_real_csv_and_xlsx(tmp_path) -> None:
    from openpyxl import Workbook, load_workbook

    row = neutralise_row(["=1+2", "@SUM(A1:A2)", -3, "Очередь"])
    path = tmp_path / "out.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerow(row)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        assert next(csv.reader(fh)) == ["'=1+2", "'@SUM(A1:A2)", "-3", "Очередь"]

    wb = Workbook()
    wb.active.append(row)
    wb.save(tmp_path / "out.xlsx")
    cells = list(next(load_workbook(tmp_path / "out.xlsx").active.iter_rows()))
    assert [c.data_type for c in cells] == ["s", "s", "n", "s"]  # no "f" (formula) cell
    assert [c.value for c in cells] == ["'=1+2", "'@SUM(A1:A2)", -3, "Очередь"]
