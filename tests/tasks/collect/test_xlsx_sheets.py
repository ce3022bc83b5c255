"""Issue 14, row 5: every sheet of a workbook that has the channel's layout is read;
a sheet with data but no header rejects the file naming the sheet; empty sheets are
fine; the XLSX limits count all sheets together. Real workbooks written by openpyxl."""

from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

import tasks.collect.readers as readers
from models.db import session_scope
from models.tables import Feedback, Quarantine
from tasks.collect.decoding import IntakeError
from tasks.collect.readers import read_channel_file
from tasks.validate.ingest import ingest_file

HEADER = ["Дата", "Код ЦЗН", "Категория заявителя", "Текст отзыва", "Оценка"]


def _workbook(path, sheets):
    """sheets: [(title, rows)]; rows written as given."""
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def _march(n, office="52-01"):
    return [[date(2026, 3, 1 + i), office, "гражданин", f"Отзыв номер {i}", 4] for i in range(n)]


def test_second_sheet_is_read_with_its_sheet_named(tmp_path, config):
    path = _workbook(
        tmp_path / "review_book_52.xlsx",
        [("Январь", [HEADER, *_march(2)]), ("Февраль", [["Книга отзывов, февраль"], HEADER, *_march(3, "52-02")])],
    )
    raw = read_channel_file(path, "review_book", config)
    assert raw.received == 5
    assert raw.frame["source_sheet"].tolist() == ["Январь"] * 2 + ["Февраль"] * 3
    assert raw.frame["source_row"].tolist() == [2, 3, 3, 4, 5]  # the row as Excel shows it on its own sheet
    assert raw.frame["office_code"].tolist() == ["52-01"] * 2 + ["52-02"] * 3


def test_sheets_with_columns_in_another_order_are_aligned(tmp_path, config):
    other = [HEADER[3], HEADER[0], HEADER[1], HEADER[2], HEADER[4]]
    rows = [[r[3], r[0], r[1], r[2], r[4]] for r in _march(2, "52-02")]
    path = _workbook(tmp_path / "review_book_52.xlsx", [("A", [HEADER, *_march(1)]), ("B", [other, *rows])])
    raw = read_channel_file(path, "review_book", config)
    assert raw.frame["office_code"].tolist() == ["52-01", "52-02", "52-02"]
    assert raw.frame["text"].tolist() == ["Отзыв номер 0", "Отзыв номер 0", "Отзыв номер 1"]


def test_every_row_of_every_sheet_is_ingested(tmp_path, config, db_url, registry):
    path = _workbook(
        tmp_path / "review_book_52.xlsx", [("Лист1", [HEADER, *_march(2)]), ("Лист2", [HEADER, *_march(4)])]
    )
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "review_book", "2026Q1", config, registry=registry)
    assert summary.status == "ingested"
    assert summary.received == 6
    assert summary.received == summary.accepted + summary.quarantined + summary.duplicates
    with session_scope(db_url) as s:
        stored = s.execute(select(func.count()).select_from(Feedback)).scalar_one()
        quarantined = s.execute(select(func.count()).select_from(Quarantine)).scalar_one()
        duplicates = summary.duplicates
    assert stored + quarantined + duplicates == 6


def test_sheet_with_data_but_no_header_rejects_the_file_naming_it(tmp_path, config):
    path = _workbook(
        tmp_path / "review_book_52.xlsx",
        [("Отзывы", [HEADER, *_march(2)]), ("Итоги", [["Всего", 2], ["Средняя", 4]]), ("Пусто", [])],
    )
    with pytest.raises(IntakeError) as err:
        read_channel_file(path, "review_book", config)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert "'Итоги'" in message and "'Пусто'" not in message
    assert "Всего" not in message  # cell contents are never quoted
    assert "\n" not in message


def test_continuation_sheet_without_header_is_not_skipped(tmp_path, config):
    path = _workbook(tmp_path / "review_book_52.xlsx", [("Лист1", [HEADER, *_march(2)]), ("Лист2", _march(3))])
    with pytest.raises(IntakeError, match="'Лист2'"):
        read_channel_file(path, "review_book", config)


def test_empty_and_header_only_sheets_are_fine(tmp_path, config):
    path = _workbook(
        tmp_path / "review_book_52.xlsx",
        [("Пусто", []), ("Отзывы", [HEADER, *_march(2)]), ("Шапка", [HEADER]), ("Пробелы", [["  ", None]])],
    )
    raw = read_channel_file(path, "review_book", config)
    assert raw.frame["source_sheet"].tolist() == ["Отзывы", "Отзывы"]


def test_row_limit_counts_all_sheets(tmp_path, config, monkeypatch):
    monkeypatch.setattr(readers, "MAX_XLSX_ROWS", 6)
    path = _workbook(tmp_path / "review_book_52.xlsx", [("A", [HEADER, *_march(3)]), ("B", [HEADER, *_march(3)])])
    with pytest.raises(IntakeError, match="oversized XLSX"):
        read_channel_file(path, "review_book", config)


def test_cell_limit_counts_all_sheets(tmp_path, config, monkeypatch):
    monkeypatch.setattr(readers, "MAX_XLSX_CELLS", 25)  # 15 cells per sheet
    path = _workbook(tmp_path / "review_book_52.xlsx", [("A", [HEADER, *_march(2)]), ("B", [HEADER, *_march(2)])])
    with pytest.raises(IntakeError, match="oversized XLSX: more than 25 cells"):
        read_channel_file(path, "review_book", config)


def test_over_limit_cell_on_a_second_sheet_is_quarantined_naming_the_sheet(tmp_path, config):
    import random
    import zipfile

    from tasks.collect.headers import MAX_FIELD_CHARS

    # openpyxl cuts what it writes at Excel's 32,767 characters, so the long cell is put
    # into the sheet's XML afterwards (random letters: the archive stays below the zip-bomb ratio).
    big = "".join(random.Random(5).choices("абвгдежзиклмнопрстуфхцчшщэюя ", k=MAX_FIELD_CHARS + 1))
    row = [date(2026, 3, 9), "52-01", "гражданин", "LONGCELL", 4]
    made = _workbook(tmp_path / "made.xlsx", [("A", [HEADER, *_march(1)]), ("B", [HEADER, row, *_march(1)])])
    path = tmp_path / "review_book_52.xlsx"
    with zipfile.ZipFile(made) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info).replace(b"LONGCELL", big.encode()))
    raw = read_channel_file(path, "review_book", config)
    assert raw.received == 3 and len(raw.frame) == 2
    assert raw.unreadable[0][0] == 2
    assert raw.unreadable[0][1].startswith("sheet 'B', row 2: field text holds 1,048,577 characters")
    assert big[:20] not in raw.unreadable[0][1]


def test_a_row_quarantined_on_a_second_sheet_names_its_sheet(tmp_path, config, db_url, registry):
    """The row number is on its own sheet, so the quarantine reason says which sheet."""
    bad = [date(2026, 3, 20), "52-01", "гражданин", "Отзыв с дробной оценкой", "4,5"]
    path = _workbook(tmp_path / "review_book_52.xlsx", [("Лист1", [HEADER, *_march(2)]), ("Лист2", [HEADER, bad])])
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "review_book", "2026Q1", config, registry=registry)
    assert summary.quarantined == 1
    with session_scope(db_url) as s:
        (row,) = s.execute(select(Quarantine.source_row, Quarantine.reason)).all()
    assert row.source_row == 2 and row.reason.startswith("sheet 'Лист2', "), row.reason


def test_a_one_sheet_workbook_does_not_name_its_sheet(tmp_path, config, db_url, registry):
    """With one sheet the row number alone is the place (as in a CSV): reasons stay as they were."""
    bad = [date(2026, 3, 20), "52-01", "гражданин", "Отзыв с дробной оценкой", "4,5"]
    path = _workbook(tmp_path / "review_book_52.xlsx", [("Книга отзывов", [HEADER, *_march(2), bad])])
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "review_book", "2026Q1", config, registry=registry)
    assert summary.quarantined == 1
    with session_scope(db_url) as s:
        (row,) = s.execute(select(Quarantine.source_row, Quarantine.reason)).all()
    assert row.source_row == 4 and "sheet" not in row.reason, row.reason
