"""Reading an edited register file: the export the working group gave back, as staged text.

The first half of the register's round trip through Excel (the second half, judging
and applying the rows, is :mod:`tasks.measures.register_io`):

1. **Read.** The first sheet of an XLSX (formulas come back as their text and are
   never evaluated; the archive is checked like any incoming workbook) or a CSV
   (encoding and delimiter detected as for feedback files). Row 1 is the header;
   each header is matched to a register column by its label in Russian, English or
   Finnish, or by the column id (case, spacing and ё-insensitive). ``code`` and
   ``version`` are required; any other column may be left out (the register keeps
   its value); unknown columns are ignored and listed.
2. **Stage.** Every cell becomes text the way the export writes it: dates ISO
   (Excel dates, ``dd.mm.yyyy`` accepted), whole numbers without ``.0``, decimal
   commas as points, the co-design form's label as its id, the status
   case-insensitive, the office list sorted; the apostrophe the export puts before
   formula-like text is removed. A value that cannot be read stays as typed, so the
   suite can name it.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from cxloop.domain import MEASURE_STATUSES
from cxloop.export_safety import FORMULA_PREFIXES
from tasks.collect.decoding import IntakeError, decode_bytes
from tasks.collect.headers import norm_header
from tasks.collect.readers import check_xlsx_archive
from tasks.collect.staging import parse_date
from tasks.measures.export import EXPORT_COLUMNS, REGISTER_LABELS
from tasks.measures.register import normalise_offices
from tasks.measures.rollout import normalise_office_starts
from tasks.measures.status import codesign_form_id

MAX_ROWS = 100_000

KEY_COLUMNS = ("code", "version")
# What a person may change through the file (status has its own flow).
EDITABLE_COLUMNS: tuple[str, ...] = (
    "title",
    "description",
    "owner",
    "offices",
    "journey_stage",
    "type",
    "codesign_date",
    "codesign_form",
    "codesign_clients",
    "planned_start",
    "due_date",
    "implemented_on",
    "office_starts",
    "kpi_target",
)
# Stored fields cxloop maintains: shown for context, a change is refused.
READ_ONLY_COLUMNS: tuple[str, ...] = (
    "region_code",
    "theme",
    "source_pain_point",
    "proposed_quarter",
    "kpi_metric",
    "kpi_baseline",
)
COMMENT_COLUMN = "change_comment"
_DATE_COLUMNS = frozenset({"codesign_date", "planned_start", "due_date", "implemented_on"})
_INT_COLUMNS = frozenset({"version", "codesign_clients"})
FLOAT_COLUMNS = frozenset({"kpi_target", "kpi_baseline"})
_STAGED = ("code", "version", "status", *EDITABLE_COLUMNS, *READ_ONLY_COLUMNS, COMMENT_COLUMN)


class RegisterFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, no header, no code or version column)."""


# --------------------------------------------------------------------------- reading


def _header_lookup() -> dict[str, str]:
    """Normalised header text -> column id, for every label language and the ids."""
    lookup: dict[str, str] = {}
    for labels in REGISTER_LABELS.values():
        for column, label in labels.items():
            lookup[norm_header(label)] = column
    for column in EXPORT_COLUMNS:
        lookup[norm_header(column)] = column
    return lookup


@dataclass
class RegisterFile:
    columns: dict[str, tuple[int, str]]  # column id -> (position, header as written)
    rows: list[tuple[int, list[Any]]]  # (row number as the user sees it, cells)
    ignored: list[str]


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_xlsx(path: Path, data: bytes) -> list[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        check_xlsx_archive(path, data)
    except IntakeError as exc:
        raise RegisterFileError(str(exc)) from None
    try:
        # Formulas are read as their text (data_only=False) and never evaluated.
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise RegisterFileError(f"{path}: not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        if not wb.worksheets:
            raise RegisterFileError(f"{path}: the workbook has no worksheet")
        rows = []
        for number, cells in enumerate(wb.worksheets[0].iter_rows(values_only=True), start=1):
            if number > MAX_ROWS + 1:
                raise RegisterFileError(f"{path}: more than {MAX_ROWS:,} rows; the register is never that long")
            rows.append((number, list(cells)))
        return rows
    finally:
        wb.close()


def _read_csv(path: Path, data: bytes, hints: tuple[str, ...]) -> list[tuple[int, list[Any]]]:
    try:
        text = decode_bytes(data, path, hints)
    except IntakeError as exc:
        raise RegisterFileError(str(exc)) from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((";", ",", "\t"), key=lambda d: (first.count(d), d == ";"))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, start = [], 1
    try:
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1  # a quoted cell may span lines: number rows by their first line
            if len(rows) > MAX_ROWS + 1:
                raise RegisterFileError(f"{path}: more than {MAX_ROWS:,} rows; the register is never that long")
    except csv.Error as exc:
        raise RegisterFileError(f"{path}: line {reader.line_num}: cannot split the line into cells ({exc})") from None
    return rows


def read_register_file(path: Path) -> RegisterFile:
    """The header mapping and the non-blank rows of an exported (and edited) register.

    XLSX is recognised by its content (a zip archive), anything else is read as CSV.
    Raises :class:`RegisterFileError` for a file that cannot be imported at all.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RegisterFileError(f"{path}: cannot read the file ({exc.strerror})") from None
    if not data.strip():
        raise RegisterFileError(f"{path}: the file is empty")
    lookup = _header_lookup()
    if data.startswith(b"PK\x03\x04"):
        raw_rows = _read_xlsx(path, data)
    else:
        hints = tuple(k for k in lookup if not k.isascii())
        raw_rows = _read_csv(path, data, hints)
    raw_rows = [(n, cells) for n, cells in raw_rows if not all(_is_blank(c) for c in cells)]
    if not raw_rows:
        raise RegisterFileError(f"{path}: no header row and no data")
    header_no, header = raw_rows[0]
    columns: dict[str, tuple[int, str]] = {}
    ignored: list[str] = []
    for pos, cell in enumerate(header):
        if _is_blank(cell):
            continue
        label = str(cell).strip()
        column = lookup.get(norm_header(label))
        if column is None:
            ignored.append(label)
        elif column in columns:
            raise RegisterFileError(
                f"{path}: row {header_no}: columns «{columns[column][1]}» and «{label}» are both {column}"
            )
        else:
            columns[column] = (pos, label)
    missing = [c for c in KEY_COLUMNS if c not in columns]
    if missing:
        names = ", ".join(f"{c} ({REGISTER_LABELS['ru'][c]})" for c in missing)
        raise RegisterFileError(
            f"{path}: row {header_no}: no column {names}; import a file exported by 'cxloop measures export' "
            "(the code identifies each measure, the version shows whether it changed since the export)"
        )
    return RegisterFile(columns=columns, rows=raw_rows[1:], ignored=ignored)


# --------------------------------------------------------------------------- staging


def _unneutralise(text: str) -> str:
    """Undo the export's formula neutralisation: ``'=...`` back to ``=...``."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES) else text


def _number_text(value: Any) -> str | None:
    """A number as text without a trailing ``.0``; text with a decimal comma gets a point."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return str(value).strip()
    if math.isfinite(number) and number.is_integer() and "e" not in text.lower():
        return str(int(number))
    return text


def stage_cell(column: str, value: Any) -> str | None:
    """One cell as the text the suite judges (``None`` for blank); see the module docstring."""
    if _is_blank(value):
        return None
    if column in _DATE_COLUMNS:
        parsed = parse_date(value)
        return parsed.isoformat() if parsed else str(value).strip()
    if column in _INT_COLUMNS or column in FLOAT_COLUMNS:
        return _number_text(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value) if not isinstance(value, float) else _number_text(value) or ""
    text = text.strip("\r\n\t ") if column == "description" else text.strip()
    if column == "status":
        word = "_".join(text.lower().replace("-", " ").split())
        return word if word in MEASURE_STATUSES else text
    if column == "codesign_form":
        try:
            return codesign_form_id(text)
        except ValueError:
            return text
    if column == "offices":
        return normalise_offices(text)
    if column == "office_starts":
        try:
            return normalise_office_starts(text) or None
        except ValueError:
            return text  # as written: the suite names the cell
    return _unneutralise(text)


def stored_value(column: str, staged: str | None) -> Any:
    """A validated staged value as the register stores it."""
    if staged is None:
        return "" if column in ("offices", "office_starts", "description") else None
    if column in _DATE_COLUMNS:
        return date.fromisoformat(staged)
    if column in _INT_COLUMNS:
        return int(staged)
    if column in FLOAT_COLUMNS:
        return float(staged)
    return staged


def stage_rows(register: RegisterFile, path: Path) -> pd.DataFrame:
    """The file's rows as staged text: a column per register column the file has (:func:`stage_cell`),
    ``<column>__cell`` with the cell as read, ``source_file`` and ``source_row``."""
    records = []
    for number, cells in register.rows:
        rec: dict[str, Any] = {"source_file": path.name, "source_row": number}
        for column in _STAGED:
            if column not in register.columns:
                continue
            pos = register.columns[column][0]
            raw = cells[pos] if pos < len(cells) else None
            rec[column] = stage_cell(column, raw)
            rec[f"{column}__cell"] = raw
        records.append(rec)
    names = list(dict.fromkeys(k for rec in records for k in rec))
    # Object columns: cells stay what they are (no NaN/NaT for blanks, no date conversion).
    return pd.DataFrame({k: pd.Series([rec.get(k) for rec in records], dtype=object) for k in names})
