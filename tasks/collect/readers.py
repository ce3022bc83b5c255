"""Collect stage (loop step 1), the readers proper: one export (CSV/TXT/TSV, XLSX, JSON, JSON
lines) read into canonical columns as a :class:`RawFile`, within whole-file limits
(zip bombs, oversized workbooks, unclosed quotes). A file that cannot be read as a whole
raises one IntakeError naming the file and the cause (docs/import-templates.md); a row
with a field over MAX_FIELD_CHARS is returned as unreadable, not the file. Every sheet
of a workbook that has data is read (``source_sheet`` names it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxloop.config import AppConfig, ChannelMapping
from tasks.collect import xlsx_fast
from tasks.collect.decoding import (
    BLANK_FILE_RE,
    LINE_BREAK_RE,
    IntakeError,
    binary_kind,
    decode_bytes,
    first_line,
    sniff_delimiter,
)
from tasks.collect.fast_csv import read_delimited_fast
from tasks.collect.headers import (
    MAX_FIELD_CHARS,
    PERSONAL_FIELDS,
    alias_hints,
    norm_header,
    oversized_reason,
    rows_to_frame,
)

# Whole-file limits. An XLSX is a zip archive: its declared member sizes and
# compression ratios are checked from the central directory *before* openpyxl
# opens it (Python's zipfile never inflates a member past its declared size, so
# the declared sizes bound what reading can cost). Excel itself stops at
# 1,048,576 rows, so a sheet past MAX_XLSX_ROWS was not written by Excel.
MAX_XLSX_ROWS = 2_000_000
MAX_XLSX_CELLS = 30_000_000
MAX_XLSX_COLUMNS = 1_000  # a declared width past this is ignored (rows are not padded to it)
MAX_XLSX_UNCOMPRESSED = 200 * 1024 * 1024  # bytes, all members together
MAX_COMPRESSION_RATIO = 100  # real sheets compress 4-20x; checked for members above ZIP_RATIO_MIN_SIZE
ZIP_RATIO_MIN_SIZE = 1024 * 1024
MAX_ZIP_MEMBERS = 10_000
# A quoted CSV cell that spans more lines than this is an unclosed quote, not a comment.
MAX_RECORD_LINES = 1_000
# The csv module's own field limit (process-wide, 128 KiB by default) would reject a
# whole file over one long comment; it is raised once so that every field reaches
# rows_to_frame, which quarantines a row with a field over MAX_FIELD_CHARS (headers.py).
# 2**31 - 1 is the largest value every platform's C long accepts.
CSV_PARSER_FIELD_LIMIT = 2**31 - 1
if csv.field_size_limit() < CSV_PARSER_FIELD_LIMIT:
    csv.field_size_limit(CSV_PARSER_FIELD_LIMIT)


@dataclass
class RawFile:
    path: Path
    channel: str
    sha256: str
    frame: pd.DataFrame  # canonical columns (strings or native cell values) + source_row
    skipped_blank: int = 0
    skipped_header: int = 0
    unreadable: list[tuple[int, str]] = field(default_factory=list)  # (row, reason) e.g. broken JSON line
    rows_read: int | None = None  # the frame's rows when it was let go (without_rows); None: len(frame)

    @property
    def received(self) -> int:
        return (len(self.frame) if self.rows_read is None else self.rows_read) + len(self.unreadable)

    def without_rows(self) -> RawFile:
        """This file without its rows, counted still: what storing a file already staged and
        checked needs (its rows are in the checked frames by then), and what an ingest
        worker then sends back instead of every cell twice."""
        return replace(self, frame=self.frame.iloc[:0], rows_read=self.received - len(self.unreadable))


def _check_multiline_record(path: Path, start: int, end: int, cells: list[str], delimiter: str, width: int) -> None:
    """A record spanning lines start..end holds a quoted cell with line breaks: fine
    for a multi-line comment, but an unclosed quote swallows the following rows
    into one cell, silently. Refuse a cell whose continuation lines look like
    whole rows (as many delimiters as the first line) or that runs on too long."""
    if end - start >= MAX_RECORD_LINES:
        raise IntakeError(
            f"{path}: line {start}: a quoted field runs over {end - start + 1} lines (to line {end}); "
            'probably an unclosed quote (") - fix it and send the file again'
        )
    for cell in cells:
        if "\n" not in cell and "\r" not in cell:
            continue
        for k, line in enumerate(LINE_BREAK_RE.split(cell)[1:], start=1):
            if width and line.count(delimiter) >= width:
                raise IntakeError(
                    f"{path}: line {start}: a quoted field opened here swallows line {start + k}, which looks like "
                    'a whole row; probably an unclosed quote (") - fix it and send the file again'
                )


_Read = tuple[pd.DataFrame, int, int, list[tuple[int, str]]]  # frame, blank, repeated header, unreadable


def _read_csv(path: Path, data: bytes, mapping: ChannelMapping) -> _Read:
    text = decode_bytes(data, path, alias_hints(mapping))
    delimiter = sniff_delimiter(text)
    fast = read_delimited_fast(text, delimiter, mapping, data)  # None unless every record is one plain line
    if fast is not None:
        return (*fast, [])
    width = first_line(text).count(delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    end = 0
    try:
        for cells in reader:
            # A record's row number is the physical line it starts on (a quoted
            # cell with line breaks makes a record span several lines).
            start, end = end + 1, reader.line_num
            if end != start:
                _check_multiline_record(path, start, end, cells, delimiter, width)
            rows.append((start, [c.strip() if isinstance(c, str) else c for c in cells]))
    except csv.Error as exc:  # a malformed record the csv module refuses (its field limit is raised above)
        raise IntakeError(
            f"{path}: line {end + 1}: cannot split the line into cells ({exc}); probably an unclosed quote"
        ) from None
    unreadable: list[tuple[int, str]] = []
    return (*rows_to_frame(rows, mapping, path, unreadable=unreadable), unreadable)


def check_xlsx_archive(path: Path, data: bytes) -> None:
    """Refuse a workbook before openpyxl opens it: not a complete zip, not an XLSX,
    too many members, too large once unpacked, or a zip bomb (a member inflating
    more than MAX_COMPRESSION_RATIO times). Reads only the zip's central directory."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
        raise IntakeError(f"{path}: truncated or damaged XLSX: the zip archive is incomplete ({exc})") from None
    with archive:
        infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise IntakeError(f"{path}: oversized XLSX: {len(infos):,} zip members (limit {MAX_ZIP_MEMBERS:,})")
    if not any(i.filename == "xl/workbook.xml" for i in infos):
        raise IntakeError(f"{path}: not an XLSX workbook: a zip archive without xl/workbook.xml")
    for info in infos:
        ratio_limit = MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
        if info.file_size > ZIP_RATIO_MIN_SIZE and info.file_size > ratio_limit:
            raise IntakeError(
                f"{path}: refused as a zip bomb: {info.filename} would inflate {info.compress_size:,} bytes to "
                f"{info.file_size:,} ({info.file_size // max(info.compress_size, 1):,}x, "
                f"limit {MAX_COMPRESSION_RATIO}x)"
            )
    total = sum(i.file_size for i in infos)
    if total > MAX_XLSX_UNCOMPRESSED:
        raise IntakeError(
            f"{path}: oversized XLSX: unpacks to {total / 2**20:,.0f} MB "
            f"(limit {MAX_XLSX_UNCOMPRESSED / 2**20:,.0f} MB); "
            "split the export or send it as CSV"
        )


def _has_data(rows: list[tuple[int, list]]) -> bool:
    return any(any(c is not None and not (isinstance(c, str) and not c.strip()) for c in cells) for _, cells in rows)


def _read_xlsx(path: Path, mapping: ChannelMapping, data: bytes | None = None) -> _Read:
    """Every worksheet with data is read; its rows carry the sheet in ``source_sheet``
    and their row number on that sheet. Empty sheets (and header-only ones) are fine;
    a sheet with data but no header row of the channel rejects the whole file naming
    the sheets (never skipped). The row, cell and size limits count all sheets together."""
    from openpyxl import load_workbook

    data = path.read_bytes() if data is None else data
    check_xlsx_archive(path, data)
    scans = xlsx_fast.scan_sheets(data)
    if scans is not None and xlsx_fast.fits(scans):
        return _read_xlsx_fast(path, mapping, data, scans)
    try:
        # From the bytes already read: the content decides the format, not the name.
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises a zoo of types for broken files
        raise IntakeError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {str(exc)[:200]})") from None
    sheets: list[tuple[str, list[tuple[int, list]], int]] = []  # (title, rows kept, empty rows)
    hidden: set[str] = set()
    seen = _Seen()
    title, several = "", False
    try:
        if not wb.worksheets:
            raise IntakeError(f"{path}: the workbook has no worksheet")
        several = len(wb.worksheets) > 1
        _check_declared(path, sum(ws.max_row or 0 for ws in wb.worksheets), several)
        for ws in wb.worksheets:
            title = ws.title
            if (ws.max_column or 0) > MAX_XLSX_COLUMNS:
                ws.reset_dimensions()  # else openpyxl pads every row to the declared width
            sheets.append((title, *_kept_rows(path, ws.iter_rows(values_only=True), seen)))
            if getattr(ws, "sheet_state", "visible") != "visible":
                hidden.add(title)
    except IntakeError:
        raise
    except Exception as exc:  # a damaged member (bad CRC, truncated deflate stream, broken XML)
        # The type only: a parser's message may quote cell contents.
        where = f"sheet {title!r}" if several else "the sheet"
        raise IntakeError(
            f"{path}: damaged XLSX: {where} cannot be read past row {seen.row} ({type(exc).__name__})"
        ) from None
    finally:
        wb.close()
    return _sheets_to_frame(path, mapping, sheets, hidden)


def _read_xlsx_fast(path: Path, mapping: ChannelMapping, data: bytes, scans: dict[str, xlsx_fast.SheetScan]) -> _Read:
    """:func:`_read_xlsx` through calamine (:mod:`tasks.collect.xlsx_fast`): the same
    limits, messages and rows."""
    _check_declared(path, sum(s.declared_rows or s.rows for s in scans.values()), len(scans) > 1)
    try:
        read = xlsx_fast.read_sheets(data)
    except Exception as exc:  # a damaged member (bad CRC, truncated deflate stream, broken XML)
        raise IntakeError(f"{path}: damaged XLSX: the workbook cannot be read ({type(exc).__name__})") from None
    if not read:
        raise IntakeError(f"{path}: the workbook has no worksheet")
    sheets: list[tuple[str, list[tuple[int, list]], int]] = []
    seen = _Seen()
    for title, _, cells_by_row in read:
        rows, empty = _kept_rows(path, map(xlsx_fast.as_openpyxl, cells_by_row), seen)
        # openpyxl goes on to the last row the sheet declares (or holds a cell, even an empty
        # one); calamine stops at its last value: the rows between are blank rows.
        scan = scans.get(title)
        blank_tail = max(0, (scan.declared_rows or scan.rows) - len(cells_by_row)) if scan else 0
        seen.count_rows(path, blank_tail)
        sheets.append((title, rows, empty + blank_tail))
    return _sheets_to_frame(path, mapping, sheets, {title for title, visible, _ in read if not visible})


@dataclass
class _Seen:
    """Rows and cells read so far in a workbook (its limits count all sheets together), and
    the row of the sheet being read."""

    rows: int = 0
    cells: int = 0
    row: int = 0

    def count_rows(self, path: Path, n: int = 1) -> None:
        self.rows += n
        if self.rows > MAX_XLSX_ROWS:
            raise IntakeError(f"{path}: oversized XLSX: more than {MAX_XLSX_ROWS:,} rows")


def _check_declared(path: Path, declared: int, several: bool) -> None:
    if declared > MAX_XLSX_ROWS:
        what = "the sheets declare" if several else "the sheet declares"
        raise IntakeError(f"{path}: oversized XLSX: {what} {declared:,} rows (limit {MAX_XLSX_ROWS:,})")


def _kept_rows(path: Path, cells_by_row: Iterable[Sequence[Any]], seen: _Seen) -> tuple[list[tuple[int, list]], int]:
    """A sheet's rows with a value (row number, text stripped) and the number of empty ones,
    counting rows and cells against the workbook's limits."""
    rows: list[tuple[int, list]] = []
    empty = 0
    seen.row = 0
    for seen.row, cells in enumerate(cells_by_row, start=1):
        seen.count_rows(path)
        seen.cells += len(cells)
        if seen.cells > MAX_XLSX_CELLS:
            raise IntakeError(f"{path}: oversized XLSX: more than {MAX_XLSX_CELLS:,} cells")
        if all(c is None for c in cells):
            empty += 1  # counted, not kept: a sparse sheet must not cost memory per missing row
            continue
        rows.append((seen.row, [c.strip() if isinstance(c, str) else c for c in cells]))
    return rows, empty


def _sheets_to_frame(
    path: Path, mapping: ChannelMapping, sheets: list[tuple[str, list[tuple[int, list]], int]], hidden: set[str]
) -> _Read:
    several = len(sheets) > 1
    with_data = [(title, rows, empty) for title, rows, empty in sheets if _has_data(rows)]
    if not with_data and several:
        raise IntakeError(f"{path}: empty workbook: none of its {len(sheets)} sheets holds data")
    if not with_data:  # one empty sheet: rows_to_frame's own message (no header in the first 0 rows)
        with_data = sheets
    frames: list[pd.DataFrame] = []
    failed: list[tuple[str, str]] = []  # (sheet, why it has no header)
    unreadable: list[tuple[int, str]] = []
    blank = header_again = 0
    for title, rows, empty in with_data:
        try:
            frame, b, h = rows_to_frame(rows, mapping, path, sheet=title if several else None, unreadable=unreadable)
        except IntakeError as exc:
            failed.append((title, str(exc)))
            continue
        # Named only when the workbook has several sheets: a row's place is then sheet and row.
        frame["source_sheet"] = title if several else None
        frames.append(frame)
        blank, header_again = blank + b + empty, header_again + h
    if failed and not several:
        raise IntakeError(failed[0][1])
    if failed:
        names = ", ".join(repr(t) + (" (hidden)" if t in hidden else "") for t, _ in failed)
        detail = failed[0][1].removeprefix(f"{path}, ")
        raise IntakeError(
            f"{path}: {len(failed)} of {len(sheets)} sheets hold data but no header row of the channel: {names}; "
            f"every sheet with data must have the header (or be removed) - nothing was read from this file "
            f"({detail})"
        )
    filled = [f for f in frames if not f.empty] or frames[:1]  # header-only sheets add no rows
    frame = pd.concat(filled, ignore_index=True) if len(filled) > 1 else filled[0]
    frame["source_row"] = frame["source_row"].astype("int64")
    return frame, blank, header_again, unreadable


_JSON_TYPE = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true/false",
    type(None): "null",
}
_MAX_SAFE_INT = 2**53  # larger JSON integers are ids, not numbers: kept as text (float() would overflow)


def _json_records(payload: object, mapping: ChannelMapping, path: Path) -> list:
    """The records of a parsed .json file: an array, or an object wrapping one
    ({"items": [...]}), or a single record object."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for value in payload.values():
            if isinstance(value, list) and value and sum(isinstance(v, dict) for v in value) * 2 >= len(value):
                return value
        required = {norm_header(a) for f in mapping.required for a in [f, *mapping.fields.get(f, [])]}
        if any(norm_header(k) in required for k in payload):
            return [payload]  # a single record
        if any(isinstance(v, list) and not v for v in payload.values()):
            return []  # {"items": []}: an empty export
        raise IntakeError(
            f"{path}: JSON object holds no array of records and none of the required fields "
            f"{', '.join(mapping.required)} (an error response instead of an export?)"
        )
    raise IntakeError(
        f"{path}: JSON is {_JSON_TYPE.get(type(payload), 'a value')}, not an array of objects or an object stream"
    )


def _json_lines(text: str, path: Path) -> tuple[list[tuple[int, object]], list[tuple[int, str]]]:
    """(line number, parsed value) for every line that parses, and the lines that do not."""
    parsed: list[tuple[int, object]] = []
    broken: list[tuple[int, str]] = []
    for i, line in enumerate(LINE_BREAK_RE.split(text), start=1):
        if not line.strip():
            continue
        try:
            parsed.append((i, json.loads(line)))
        except json.JSONDecodeError as exc:
            broken.append((i, f"line is not valid JSON ({exc.msg})"))
        except (ValueError, RecursionError) as exc:  # 5,000-digit numbers, absurd nesting
            broken.append((i, f"line is not usable JSON ({type(exc).__name__})"))
    if broken and not parsed:
        raise IntakeError(
            f"{path}: not JSON lines: none of the {len(broken)} non-blank lines is valid JSON "
            f"(line {broken[0][0]}: {broken[0][1]})"
        )
    return parsed, broken


def _read_json(path: Path, data: bytes, mapping: ChannelMapping) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    text = decode_bytes(data, path)
    unreadable: list[tuple[int, str]] = []
    items: list[tuple[int, dict]] = []
    values: list[tuple[int, object]]
    if path.suffix.lower() == ".json":
        try:
            payload = json.loads(text)
            values = list(enumerate(_json_records(payload, mapping, path), start=1))
            kind = "element"
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":
                raise IntakeError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
            # One object per line saved as .json: read it as the JSON lines it is.
            values, unreadable = _json_lines(text, path)
            kind = "line"
        except IntakeError:
            raise
        except RecursionError:
            raise IntakeError(f"{path}: not usable JSON: nested too deeply") from None
        except ValueError as exc:  # e.g. an integer of thousands of digits
            raise IntakeError(f"{path}: not usable JSON ({type(exc).__name__})") from None
    else:
        values, unreadable = _json_lines(text, path)
        kind = "line"
    for i, obj in values:
        if isinstance(obj, dict):
            items.append((i, obj))
        else:
            unreadable.append((i, f"{kind} is not a JSON object"))
    aliases = {norm_header(a): f for f, names in mapping.fields.items() for a in [f, *names]}
    records, numbers = [], []
    for i, obj in items:
        rec: dict[str, object] = {}
        nested: tuple[str, str] | None = None
        too_long: list[tuple[str, int]] = []
        for key, value in obj.items():
            fld = aliases.get(norm_header(key))
            if not fld or fld in PERSONAL_FIELDS:
                continue
            if isinstance(value, (dict, list)):
                nested = nested or (fld, "an object" if isinstance(value, dict) else "an array")
                continue
            if type(value) is int and not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
                value = str(value)
            if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
                too_long.append((fld, len(value)))
            rec[fld] = value
        if too_long:
            unreadable.append((i, oversized_reason(i, too_long, unit=kind)))
            continue
        if nested:  # a field that is an object/array has no single value to validate
            unreadable.append((i, f"field {nested[0]} holds {nested[1]}, not a single value"))
            continue
        records.append(rec)
        numbers.append(i)
    unreadable.sort()
    cols = [f for f in mapping.fields if f not in PERSONAL_FIELDS]
    frame = pd.DataFrame.from_records(records, columns=cols) if records else pd.DataFrame(columns=cols)
    frame["source_row"] = np.asarray(numbers, dtype="int64")
    return frame, unreadable


_TEXT_EXTENSIONS = (".csv", ".txt", ".tsv")


def read_channel_file(path: Path, channel: str, config: AppConfig) -> RawFile:
    """Read one export into canonical columns.

    Raises :class:`IntakeError` (one message naming the file and the cause) when
    the file as a whole is unusable: unreadable, empty or whitespace only, binary
    or garbage, a truncated, oversized or zip-bomb XLSX, an unknown layout
    (no header with the required columns), an unreadable encoding, JSON that is
    neither an array nor an object stream, or no data rows (header only).
    Rows that cannot be read (a broken JSON line, an array element that is not
    an object, a field over MAX_FIELD_CHARS characters) are not a file failure:
    they are returned as ``unreadable`` with a reason naming the row and field.
    An XLSX is read sheet by sheet (see :func:`_read_xlsx`); its frame has a
    ``source_sheet`` column and ``source_row`` is the row on that sheet.
    """
    path = Path(path)
    mapping = config.channels[channel]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IntakeError(f"{path}: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    if not data:
        raise IntakeError(f"{path}: empty file (0 bytes)")
    if BLANK_FILE_RE.match(data):
        only = "a byte-order mark" if data in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff") else "whitespace"
        raise IntakeError(f"{path}: empty file: only {only}, no header and no data rows")
    sha = hashlib.sha256(data).hexdigest()
    ext = path.suffix.lower()
    kind = binary_kind(data)
    blank = header_again = 0
    unreadable: list[tuple[int, str]] = []
    if ext == ".xlsx" or (ext in _TEXT_EXTENSIONS and data.startswith(b"PK\x03\x04")):
        if ext == ".xlsx" and not data.startswith(b"PK\x03\x04"):
            raise IntakeError(f"{path}: not an XLSX workbook (not a zip archive): {_what_instead(data, kind)}")
        frame, blank, header_again, unreadable = _read_xlsx(path, mapping, data)
    elif kind is not None:
        raise IntakeError(f"{path}: binary file: this is {kind}, not a {ext.lstrip('.').upper() or 'text'} export")
    elif ext in (".json", ".jsonl", ".ndjson"):
        frame, unreadable = _read_json(path, data, mapping)
    else:
        frame, blank, header_again, unreadable = _read_csv(path, data, mapping)
    if frame.empty and not unreadable:
        if ext in (".json", ".jsonl", ".ndjson"):
            raise IntakeError(f"{path}: no data rows (no records in the JSON)")
        raise IntakeError(f"{path}: no data rows (header only; {blank} blank and {header_again} repeated header rows)")
    return RawFile(path, channel, sha, frame, blank, header_again, unreadable)


def _what_instead(data: bytes, kind: str | None) -> str:
    if kind is not None:
        return f"this is {kind}"
    try:
        decode_bytes(data[:65536], Path("-"))
    except IntakeError:
        return "the content is binary or garbage"
    return "it is a text file (if it is a CSV export, name it .csv)"
