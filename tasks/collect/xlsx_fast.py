"""Reading a workbook's sheets with calamine (Rust) instead of openpyxl, when that is safe
and gives the same cells.

openpyxl's streaming reader is the slow part of reading a workbook. In a 1M-row national
intake, reading the 86 XLSX files' cells took 40.9 s with openpyxl and 7.3 s with calamine,
cell for cell the same values; through :func:`tasks.collect.readers.read_channel_file`
(headers, frame) 10 national star-survey exports took 19.3 s before and 5.5 s after
(``tests/tasks/collect/test_xlsx_fast.py`` compares both readers).

calamine has two traits openpyxl has not, so a workbook is first scanned
(:func:`scan_sheets`, regular expressions over the sheets' XML, after
:func:`tasks.collect.readers.check_xlsx_archive` has bounded its size):

* it holds a sheet as one dense block from A1 to its last cell: a 5 KB file with one cell
  in A1 and one in AZ400000 takes 635 MB. A workbook whose sheets' blocks hold more than
  :data:`DENSE_CELL_BUDGET` cells together is read by openpyxl, which streams and keeps
  non-empty rows only;
* it reads an error cell (``#N/A``) as empty and may read ISO date cells (``t="d"``)
  otherwise; a workbook with either, or with a cell without its reference (``r``), is read
  by openpyxl too.

One difference stays: a cell of spaces only written without ``xml:space="preserve"``
(Excel writes it for such text; openpyxl does not) is "   " to openpyxl and empty to
calamine; once stripped both are no value for staging.

Otherwise each cell is turned into what openpyxl gives: ``""`` → ``None``, a whole float
→ ``int``, a date → a ``datetime`` at midnight; rows are numbered from 1 as on the sheet.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = ["DENSE_CELL_BUDGET", "SheetScan", "as_openpyxl", "fits", "read_sheets", "scan_sheets"]

DENSE_CELL_BUDGET = 4_000_000
"""Cells (rows × columns from A1 to each sheet's last cell, all sheets together) above which
a workbook is read by openpyxl: ~30 bytes each in calamine, before Python's objects."""

# A cell's reference attribute, as every writer seen puts it (r="B12", after a space; a row's
# r="12" has no letters). A cell written otherwise makes the counts disagree: openpyxl then.
_CELL_REF = re.compile(rb' r="([A-Z]{1,3})([0-9]{1,7})"')
_ERROR_OR_DATE = (b' t="e"', b" t='e'", b' t="d"', b" t='d'")  # cell types e (error) and d (ISO date)
_DIMENSION = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?dimension\s[^>]*?\bref=[\"']([A-Z]*)([0-9]*)(?::([A-Z]*)([0-9]*))?[\"']"
)


@dataclass(frozen=True)
class SheetScan:
    """What the scan of one worksheet's XML found."""

    declared_rows: int | None  # the last row of its <dimension>, as openpyxl reads it (None: none declared)
    rows: int  # the last row holding a cell
    columns: int  # the last column holding a cell
    readable: bool  # every cell has its reference and none is an error or ISO date cell


def _column_number(letters: bytes) -> int:
    n = 0
    for b in letters:
        n = n * 26 + (b - 64)
    return n


def _scan(xml: bytes) -> SheetScan:
    dimension = _DIMENSION.search(xml)
    declared = None
    if dimension:
        last = dimension.group(4) or dimension.group(2)
        declared = int(last) if last else None
    refs = _CELL_REF.findall(xml)
    rows = max(map(int, {r for _, r in refs}), default=0)
    columns = max(map(_column_number, {c for c, _ in refs}), default=0)
    cells = xml.count(b"<c ") + xml.count(b"<c>") + xml.count(b"<c/>")  # a prefixed <x:c> counts 0: openpyxl
    readable = len(refs) == cells and not any(xml.find(t) >= 0 for t in _ERROR_OR_DATE)
    return SheetScan(declared, rows, columns, readable)


_SHEET = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheet\s([^>]*)>")
_RELATIONSHIP = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Relationship\s([^>]*)>")


def _attribute(attributes: bytes, name: bytes) -> str | None:
    m = re.search(rb"(?:^|\s)" + name + rb"=\"([^\"]*)\"", attributes)
    return html.unescape(m.group(1).decode("utf-8")) if m else None


def scan_sheets(data: bytes) -> dict[str, SheetScan] | None:
    """Per worksheet of the (already checked) archive, by its title, what :class:`SheetScan`
    says; ``None`` when a worksheet cannot be found from the workbook's parts as written."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        try:
            book = archive.read("xl/workbook.xml")
            rels = archive.read("xl/_rels/workbook.xml.rels")
        except KeyError:
            return None
        targets = {}
        for m in _RELATIONSHIP.finditer(rels):
            rid, target = _attribute(m.group(1), b"Id"), _attribute(m.group(1), b"Target")
            if rid and target:
                targets[rid] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        members = set(archive.namelist())
        scans: dict[str, SheetScan] = {}
        for m in _SHEET.finditer(book):
            title, rid = _attribute(m.group(1), b"name"), _attribute(m.group(1), rb"r:id")
            member = targets.get(rid or "")
            if title is None or member is None:
                return None
            if not member.startswith("xl/worksheets/"):
                continue  # a chart or dialog sheet: not a worksheet, read by neither reader
            if member not in members:
                return None
            scans[title] = _scan(archive.read(member))
        return scans


def fits(scans: dict[str, SheetScan]) -> bool:
    """Whether calamine may read a workbook with these sheets (see the module)."""
    return all(s.readable for s in scans.values()) and sum(s.rows * s.columns for s in scans.values()) <= (
        DENSE_CELL_BUDGET
    )


def read_sheets(data: bytes) -> list[tuple[str, bool, list[list[Any]]]]:
    """The workbook's worksheets in order: (title, visible, rows from row 1 as calamine gives
    them; :func:`as_openpyxl` turns a row into openpyxl's values). Only for a workbook
    :func:`fits` accepts."""
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    book = CalamineWorkbook.from_object(io.BytesIO(data))
    try:
        return [
            (
                meta.name,
                meta.visible == SheetVisibleEnum.Visible,
                book.get_sheet_by_name(meta.name).to_python(skip_empty_area=False),
            )
            for meta in book.sheets_metadata
            if meta.typ == SheetTypeEnum.WorkSheet
        ]
    finally:
        book.close()


def as_openpyxl(row: list[Any]) -> list[Any]:
    """A row's cells as openpyxl reads them: ``""`` → ``None``, a whole float → ``int``, a
    date → a ``datetime`` at midnight (one pass: a national intake has ~23M cells)."""
    return [
        None
        if v == "" and v.__class__ is str
        else (
            (int(v) if v.is_integer() else v)
            if v.__class__ is float
            else (datetime(v.year, v.month, v.day) if v.__class__ is date else v)
        )
        for v in row
    ]
