"""Workbooks read through calamine (tasks.collect.xlsx_fast) give what openpyxl gives, and
the ones calamine must not read (too sparse to hold densely, error or ISO-date cells, cells
without references) go to openpyxl. Real workbooks: written by openpyxl here, the bad-file
corpus, and the demo generator's exports."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

import tasks.collect.xlsx_fast as xlsx_fast
from tasks.collect.decoding import IntakeError
from tasks.collect.readers import read_channel_file

BAD = Path(__file__).resolve().parents[2] / "data" / "bad"
HEADER = ["Дата", "Код ЦЗН", "Категория заявителя", "Текст отзыва", "Оценка"]


def _save(wb: Workbook, path: Path) -> Path:
    wb.save(path)
    return path


def _awkward(path: Path) -> Path:
    """Two visible sheets and a hidden one, data from B3 on one of them, every kind of cell
    an export holds: dates with and without time, times, whole and fractional numbers,
    1E3, booleans, padded and blank text, empty rows in between."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Январь"
    ws.append(["Книга отзывов"])
    ws.append([])
    ws.append(HEADER)
    ws.append([date(2026, 3, 2), " 52-01 ", "гражданин", "  Долго ждала  ", 4])
    ws.append([datetime(2026, 3, 3, 14, 5), "52-02", "работодатель", "Всё хорошо", 4.5])
    ws.append([None, None, None, None, None])
    ws.append([46085, "52-01", "гражданин", "   ", 1e3])
    ws.append(["05.03.2026", "52-01", True, time(10, 30), -0.0])
    other = wb.create_sheet("Февраль")
    other["B3"], other["C3"], other["D3"], other["E3"], other["F3"] = HEADER
    other["B4"], other["C4"], other["D4"], other["E4"], other["F4"] = date(2026, 3, 9), "52-02", "гражданин", "x", 5
    hidden = wb.create_sheet("Скрытый")
    hidden.append(HEADER)
    hidden.append([date(2026, 3, 10), "52-01", "гражданин", "скрыто", 2])
    hidden.sheet_state = "hidden"
    wb.create_sheet("Пустой")
    return _save(wb, path)


def _both(path: Path, channel: str, config, monkeypatch):
    """(calamine's reading, openpyxl's reading); an IntakeError's message in place of either."""

    def read():
        try:
            raw = read_channel_file(path, channel, config)
        except IntakeError as exc:
            return str(exc)
        return raw.frame, raw.skipped_blank, raw.skipped_header, raw.unreadable

    fast = read()
    with monkeypatch.context() as m:
        m.setattr(xlsx_fast, "fits", lambda scans: False)
        slow = read()
    return fast, slow


def _same(fast, slow):
    """The same frame and counts. One difference is allowed: a cell of spaces written without
    xml:space="preserve" (Excel always writes it for such text; openpyxl does not) is "" after
    openpyxl and stripping, and empty (None) after calamine, which drops the spaces; staging
    reads both as no value."""
    if isinstance(slow, str) or isinstance(fast, str):
        assert fast == slow
        return
    pd.testing.assert_frame_equal(fast[0], slow[0].replace({"": None}))
    assert fast[1:] == slow[1:]


def test_awkward_workbook_reads_the_same(tmp_path, config, monkeypatch):
    path = _awkward(tmp_path / "review_book_52.xlsx")
    assert xlsx_fast.fits(xlsx_fast.scan_sheets(path.read_bytes()))  # calamine does read it
    fast, slow = _both(path, "review_book", config, monkeypatch)
    _same(fast, slow)
    frame = fast[0]
    assert frame["source_sheet"].tolist() == ["Январь"] * 4 + ["Февраль", "Скрытый"]
    assert frame["source_row"].tolist() == [4, 5, 7, 8, 4, 2]


@pytest.mark.parametrize("name", sorted(p.name for p in BAD.glob("*.xlsx")))
def test_bad_corpus_workbooks_read_the_same(name, config, monkeypatch):
    channel = next(c for c in ("review_book", "star_survey") if name.startswith(c))
    _same(*_both(BAD / name, channel, config, monkeypatch))


def test_demo_exports_read_the_same(tmp_path, config, monkeypatch):
    from cxloop.quarters import Quarter
    from demo.generate import generate_demo_data

    generate_demo_data(tmp_path, [Quarter.parse("2026Q1")], seed=7, offices=config.offices, scale=0.3)
    books = sorted(tmp_path.rglob("*.xlsx"))
    assert books
    for path in books:
        channel = next(c for c in ("review_book", "star_survey", "contact_center", "pos") if path.name.startswith(c))
        fast, slow = _both(path, channel, config, monkeypatch)
        assert not isinstance(fast, str), fast
        _same(fast, slow)


def _rewrite(path: Path, edit) -> Path:
    """The workbook with its first sheet's XML passed through ``edit``."""
    src = zipfile.ZipFile(path)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = edit(data)
            dst.writestr(info, data)
    path.write_bytes(out.getvalue())
    return path


def _simple(path: Path, extra=None) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append([date(2026, 3, 2), "52-01", "гражданин", "Отзыв", 4])
    if extra:
        extra(ws)
    return _save(wb, path)


def test_an_error_cell_goes_to_openpyxl_and_stays_an_error(tmp_path, config, monkeypatch):
    """calamine reads #N/A as empty: a missing rating. openpyxl reads the text, which the
    suite refuses as a rating: so such a workbook is openpyxl's."""
    path = _rewrite(
        _simple(tmp_path / "review_book_52.xlsx"),
        lambda xml: re.sub(rb'<c r="E2"( [^>]*)?><v>4</v></c>', b'<c r="E2" t="e"><v>#N/A</v></c>', xml),
    )
    assert b't="e"' in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    assert not xlsx_fast.fits(xlsx_fast.scan_sheets(path.read_bytes()))
    raw = read_channel_file(path, "review_book", config)
    assert raw.frame["rating"].tolist() == ["#N/A"]


def test_cells_without_references_or_iso_dates_go_to_openpyxl(tmp_path):
    no_ref = _rewrite(_simple(tmp_path / "a.xlsx"), lambda xml: xml.replace(b'<c r="B2"', b"<c"))
    iso = _rewrite(
        _simple(tmp_path / "b.xlsx"),
        lambda xml: re.sub(rb'<c r="D2"[^>]*>.*?</c>', b'<c r="D2" t="d"><v>2026-03-02</v></c>', xml),
    )
    for path in (no_ref, iso):
        assert not xlsx_fast.fits(xlsx_fast.scan_sheets(path.read_bytes())), path.name


def test_a_sparse_sheet_is_never_held_densely(tmp_path, config, monkeypatch):
    """One cell at AZ400000 makes calamine allocate 20M cells (635 MB measured): openpyxl
    streams such a sheet instead, and the far cell is read as a row of its own."""

    def far(ws):
        ws["AZ400000"] = "x"

    path = _simple(tmp_path / "review_book_52.xlsx", far)
    scans = xlsx_fast.scan_sheets(path.read_bytes())
    (scan,) = scans.values()
    assert (scan.rows, scan.columns) == (400_000, 52)
    assert not xlsx_fast.fits(scans)
    called = []
    monkeypatch.setattr(xlsx_fast, "read_sheets", lambda data: called.append(data))
    raw = read_channel_file(path, "review_book", config)
    assert not called
    assert raw.received == 2  # the review, and the stray cell's row (quarantined later)
