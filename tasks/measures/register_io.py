"""The measure register's round trip through Excel: apply an edited export back.

The working group exports the register (``cxloop measures export --xlsx``), edits
it in Excel — a status, an owner, a due date, the co-design evidence — and gives
it back (``cxloop measures import --xlsx``). This module reads that file and
applies what changed, through the same register rules as every other edit
(``tasks.measures.register``): the status flow, the co-design rule, the version check and
one history row per changed field. A row is applied whole or not at all.

How a file is read and judged:

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
3. **Validate** with the Great Expectations suite ``expectations/measure_register.json``
   (run by :func:`tasks.validate.suites.run_suite`, restricted to the columns present):
   unknown or repeated codes, versions, status names, dates, co-design forms and
   counts, KPI targets. Each failing cell rejects its row with row number, field,
   rule and a reason in Russian quoting the (redacted) value.
4. **Compare** each remaining row with the register by code. A cell equal to what
   the export writes for the register's value is unchanged, so an unchanged file
   changes nothing. Then a row is rejected when it changes a column cxloop
   maintains (region, theme, pain point, proposing quarter, KPI metric and
   baseline), when its version is not the register's and it changes something
   ("changed by someone else since export"), when it adds offices missing from the
   registry or outside the measure's region, when its status move is not in the
   flow, or when it starts a measure without co-design evidence (the override is
   for the approver on the command line or in the UI, not for a spreadsheet).
   Computed columns (overdue, effect results, the effect verdict) are ignored.
5. **Apply** the rest with :func:`tasks.measures.register.update_measure`: fields first, then
   the status, ``expected_version`` = the row's version; the history comment is the
   row's "change comment" cell or ``import of <file name>``.

The caller owns the transaction: commit to keep the changes, roll back for a dry
run (:func:`import_register_file` does both).
"""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlmodel import Session, select

from models.tables import Measure
from tasks.measures import register as reg
from cxloop.export_safety import FORMULA_PREFIXES, neutralise_formula
from tasks.collect.readers import IntakeError, check_xlsx_archive, decode_bytes, norm_header, parse_date
from tasks.validate.redaction import redact
from tasks.validate.suites import load_suite_json, run_suite

SUITE = "measure_register"
MAX_ROWS = 100_000

KEY_COLUMNS = ("code", "version")
# What a person may change through the file (status has its own flow).
EDITABLE_COLUMNS: tuple[str, ...] = (
    "title", "description", "owner", "offices", "journey_stage", "type", "codesign_date", "codesign_form",
    "codesign_clients", "planned_start", "due_date", "implemented_on", "kpi_target",
)
# Stored fields cxloop maintains: shown for context, a change is refused.
READ_ONLY_COLUMNS: tuple[str, ...] = ("region_code", "theme", "source_pain_point", "proposed_quarter", "kpi_metric", "kpi_baseline")
COMMENT_COLUMN = "change_comment"
_DATE_COLUMNS = frozenset({"codesign_date", "planned_start", "due_date", "implemented_on"})
_INT_COLUMNS = frozenset({"version", "codesign_clients"})
_FLOAT_COLUMNS = frozenset({"kpi_target", "kpi_baseline"})
_TEXT_COLUMNS = frozenset({"title", "description", "owner", "region_code", "theme", "source_pain_point",
                           "proposed_quarter", "kpi_metric", "journey_stage", "type", COMMENT_COLUMN})
_STAGED = ("code", "version", "status", *EDITABLE_COLUMNS, *READ_ONLY_COLUMNS, COMMENT_COLUMN)

CODESIGN_GAPS_RU = {
    "codesign_date": "дата совместного проектирования",
    "codesign_form": "форма (воркшоп, наблюдение, тестирование с клиентами)",
    "codesign_clients": "число участвовавших клиентов (не меньше 1)",
}


class RegisterFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, no header, no code or version column)."""


@dataclass
class ImportSummary:
    """What an import did. ``applied``: one entry per history row written
    (``row, code, field, from, to``); ``unchanged``: codes of rows equal to the
    register; ``rejected``: one entry per problem (``row, code, field, column, rule,
    reason``), a row rejected whole; ``ignored_columns``: headers not in the register."""

    file: str
    rows: int = 0
    applied: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def measures_changed(self) -> list[str]:
        return sorted({a["code"] for a in self.applied})

    @property
    def rows_rejected(self) -> list[int]:
        return sorted({r["row"] for r in self.rejected})

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["measures_changed"] = self.measures_changed
        out["rows_rejected"] = self.rows_rejected
        return out


# --------------------------------------------------------------------------- reading


def _header_lookup() -> dict[str, str]:
    """Normalised header text -> column id, for every label language and the ids."""
    lookup: dict[str, str] = {}
    for labels in reg.REGISTER_LABELS.values():
        for column, label in labels.items():
            lookup[norm_header(label)] = column
    for column in reg.EXPORT_COLUMNS:
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
            raise RegisterFileError(f"{path}: row {header_no}: columns «{columns[column][1]}» and «{label}» are both {column}")
        else:
            columns[column] = (pos, label)
    missing = [c for c in KEY_COLUMNS if c not in columns]
    if missing:
        names = ", ".join(f"{c} ({reg.REGISTER_LABELS['ru'][c]})" for c in missing)
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
    if column in _INT_COLUMNS or column in _FLOAT_COLUMNS:
        return _number_text(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value) if not isinstance(value, float) else _number_text(value) or ""
    if column == "description":
        text = text.strip("\r\n\t ")
    else:
        text = text.strip()
    if column == "status":
        word = "_".join(text.lower().replace("-", " ").split())
        return word if word in reg.STATUSES else text
    if column == "codesign_form":
        try:
            return reg.codesign_form_id(text)
        except ValueError:
            return text
    if column == "offices":
        return reg.normalise_offices(text)
    return _unneutralise(text)


def _typed(column: str, staged: str | None) -> Any:
    """A validated staged value as the register stores it."""
    if staged is None:
        return "" if column in ("offices", "description") else None
    if column in _DATE_COLUMNS:
        return date.fromisoformat(staged)
    if column in _INT_COLUMNS:
        return int(staged)
    if column in _FLOAT_COLUMNS:
        return float(staged)
    return staged


def _stage(register: RegisterFile, path: Path) -> pd.DataFrame:
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


# --------------------------------------------------------------------------- comparing


def _same(column: str, cell: Any, staged: str | None, current: Any) -> bool:
    """Whether a cell still holds the register's value (as any export would write it)."""
    if column in _TEXT_COLUMNS or column == "description":
        cur = "" if current is None else str(current)
        if isinstance(cell, str) and cell.strip() == str(neutralise_formula(cur)).strip():
            return True
        return (staged or "") == cur.strip()
    if column == "offices":
        return (staged or "") == reg.normalise_offices(current)
    if column in _FLOAT_COLUMNS:
        if staged is None or current is None:
            return staged is None and current is None
        # The CSV export rounds to 2 decimals.
        return abs(float(staged) - float(current)) < 0.005
    return _typed(column, staged) == current


def _value_text(value: Any) -> str:
    return "" if value is None else (value.isoformat() if isinstance(value, date) else str(value))


def _problem(rejected: list[dict[str, Any]], row: int, code: str | None, column: str, register: RegisterFile,
             rule: str, reason: str) -> None:
    label = register.columns.get(column, (0, reg.REGISTER_LABELS["ru"].get(column, column)))[1]
    rejected.append({"row": row, "code": code, "field": column, "column": label, "rule": rule, "reason": reason})


def _cell_for_reason(value: Any) -> str:
    text = "" if value is None else (value.isoformat() if isinstance(value, (date, datetime)) else str(value))
    return redact(text[:60]) or ""


def _suite_results(frame: pd.DataFrame, known_codes: list[str]) -> list[dict]:
    """The register suite on the staged frame, limited to the columns the file has."""
    spec = load_suite_json(SUITE)
    present = [e for e in spec["expectations"] if e["kwargs"]["column"] in frame.columns]
    with tempfile.TemporaryDirectory(prefix="cxloop-register-suite-") as tmp:
        Path(tmp, f"{SUITE}.json").write_text(
            json.dumps({**spec, "expectations": present}, ensure_ascii=False), encoding="utf-8")
        # distinct=False: uniqueness of codes is judged over the rows, not over distinct values.
        return run_suite(frame, SUITE, {"known_codes": known_codes}, directory=Path(tmp), distinct=False)


def _transition_reason(exc: reg.InvalidTransition) -> str:
    allowed = ", ".join(exc.allowed) if exc.allowed else "никуда (статус конечный)"
    return f"Переход статуса «{exc.from_status}» → «{exc.to_status}» недопустим; из «{exc.from_status}» можно: {allowed}"


def _codesign_reason(exc: reg.CodesignMissing, measure: Any) -> str:
    parts = []
    for fld, _ in exc.gaps:
        if fld == "codesign_date" and measure.codesign_date is not None:
            parts.append(f"дата совместного проектирования {measure.codesign_date.isoformat()} ещё не наступила")
        else:
            parts.append(CODESIGN_GAPS_RU[fld])
    return ("Меру нельзя перевести в работу (in_progress) без подтверждённого совместного проектирования с "
            "клиентами: не хватает — " + "; ".join(parts) + ". Заполните эти столбцы (или решение с обоснованием "
            "принимает утверждающий: cxloop measures update --override-reason)")


def import_register(
    session: Session,
    path: Path,
    who: str,
    at: datetime,
    *,
    dry_run: bool = False,
    default_comment: str | None = None,
) -> ImportSummary:
    """Apply an edited register file to the register in ``session`` (see the module docstring).

    Writes through ``session`` without committing; the caller commits (or rolls back
    for a dry run — ``dry_run`` only marks the summary). Raises
    :class:`RegisterFileError` when the file cannot be imported at all.
    """
    if not who or not who.strip():
        raise ValueError("who imports the file is required (it goes into the history)")
    path = Path(path)
    register = read_register_file(path)
    summary = ImportSummary(file=path.name, rows=len(register.rows), ignored_columns=register.ignored, dry_run=dry_run)
    if not register.rows:
        return summary
    frame = _stage(register, path)
    measures = {m.code: m for m in session.exec(select(Measure))}
    rejected: list[dict[str, Any]] = []
    bad_rows: set[int] = set()

    # 3. The suite: every failing cell rejects its row.
    for res in _suite_results(frame, sorted(measures)):
        if res["success"]:
            continue
        column = res["column"]
        for pos in res["rows"].tolist():
            rec = frame.iloc[pos]
            cell = rec.get(f"{column}__cell")
            reason = res["reason"].replace("{value}", _cell_for_reason(cell))
            _problem(rejected, int(rec["source_row"]), rec.get("code"), column, register, res["type"], reason)
            bad_rows.add(pos)

    # 4-5. Compare with the register, judge, apply.
    regions_of = reg.office_regions(session)
    comment_default = default_comment or f"import of {path.name}"
    for pos, rec in enumerate(frame.to_dict("records")):
        if pos in bad_rows:
            continue
        row, code = int(rec["source_row"]), rec["code"]
        measure = measures[code]
        problems: list[tuple[str, str, str]] = []  # (field, rule, reason)
        changes: dict[str, Any] = {}
        for column in EDITABLE_COLUMNS:
            if column in register.columns and not _same(column, rec[f"{column}__cell"], rec[column], getattr(measure, column)):
                changes[column] = _typed(column, rec[column])
        for column in READ_ONLY_COLUMNS:
            if column in register.columns and not _same(column, rec[f"{column}__cell"], rec[column], getattr(measure, column)):
                problems.append((column, "read_only",
                                 f"Столбец «{register.columns[column][1]}» ведёт cxloop, импортом его не изменить "
                                 f"(в файле «{_cell_for_reason(rec[f'{column}__cell'])}», в реестре "
                                 f"«{_cell_for_reason(_value_text(getattr(measure, column)))}»)"))
        status = rec["status"] if "status" in register.columns and rec["status"] != measure.status else None
        if not changes and status is None and not problems:
            summary.unchanged.append(code)
            continue
        version = int(rec["version"])
        if version != measure.version:
            _problem(rejected, row, code, "version", register, "stale_version",
                     f"Мера изменена другим пользователем после выгрузки (changed by someone else since export): "
                     f"в файле версия {version}, в реестре {measure.version}. Выгрузите реестр заново и повторите правку")
            continue
        if "offices" in changes:
            added = sorted(set(reg.normalise_offices(changes["offices"]).split(",")) - set(measure.offices.split(",")) - {""})
            unknown = [o for o in added if o not in regions_of]
            outside = [o for o in added if o in regions_of and measure.region_code != "ALL"
                       and regions_of[o] != measure.region_code]
            if unknown:
                problems.append(("offices", "unknown_office",
                                 f"Неизвестные коды ЦЗН: {', '.join(unknown)} — их нет в реестре офисов"))
            if outside:
                problems.append(("offices", "office_outside_region",
                                 f"ЦЗН {', '.join(outside)} не относятся к региону меры {measure.region_code}"))
            if not reg.normalise_offices(changes["offices"]):
                problems.append(("offices", "no_offices", "У меры должен остаться хотя бы один ЦЗН"))
        try:
            normalised = reg.normalise_changes(measure, changes)
        except ValueError as exc:
            problems.append((next(iter(changes), "status"), "invalid_value", str(exc)))
            normalised = {}
        after = reg.preview(measure, normalised)
        if ("due_date" in normalised or "planned_start" in normalised) and after.due_date and after.planned_start \
                and after.due_date < after.planned_start:
            problems.append(("due_date", "due_before_start",
                             f"Срок {after.due_date.isoformat()} раньше планового старта {after.planned_start.isoformat()}"))
        if status is not None:
            try:
                reg.check_status_change(after, status, at)
            except reg.InvalidTransition as exc:
                problems.append(("status", "invalid_transition", _transition_reason(exc)))
            except reg.CodesignMissing as exc:
                problems.append(("status", "codesign_missing", _codesign_reason(exc, after)))
        if problems:
            for fld, rule, reason in problems:
                _problem(rejected, row, code, fld, register, rule, reason)
            continue
        comment = rec.get(COMMENT_COLUMN) or comment_default
        try:
            result = reg.update_measure(session, code, who, at, status=status, changes=normalised, comment=comment,
                                        expected_version=version)
        except (reg.VersionConflict, ValueError, LookupError) as exc:  # a concurrent edit between check and write
            _problem(rejected, row, code, "version" if isinstance(exc, reg.VersionConflict) else "status", register,
                     type(exc).__name__, str(exc))
            continue
        summary.applied += [{"row": row, "code": code, **change} for change in result["changes"]]
    summary.rejected = sorted(rejected, key=lambda r: (r["row"], r["field"]))
    return summary


def import_register_file(path: Path, who: str, at: datetime, *, dry_run: bool = False, url: str | None = None) -> ImportSummary:
    """:func:`import_register` in its own transaction: committed, or rolled back when ``dry_run``
    (then the summary says exactly what a real import would do)."""
    from models.db import get_engine

    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            summary = import_register(session, path, who, at, dry_run=dry_run)
        except BaseException:
            session.rollback()
            raise
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return summary


def summary_lines(summary: ImportSummary | Mapping[str, Any]) -> list[str]:
    """The summary as short lines for a terminal or a Prefect artifact (values already redacted)."""
    s = summary.as_dict() if isinstance(summary, ImportSummary) else dict(summary)
    head = (f"{s['file']}: {s['rows']} rows — {len(s['measures_changed'])} measures changed "
            f"({len(s['applied'])} field changes), {len(s['unchanged'])} unchanged, {len(s['rows_rejected'])} rejected"
            + (" (dry run: nothing saved)" if s.get("dry_run") else ""))
    lines = [head]
    lines += [f"  row {a['row']} {a['code']}: {a['field']} {a['from'] or '—'} → {a['to'] or '—'}" for a in s["applied"]]
    lines += [f"  REJECTED row {r['row']} {r['code'] or '—'} [{r['column']}]: {r['reason']}" for r in s["rejected"]]
    if s.get("ignored_columns"):
        lines.append("  ignored columns (not in the register): " + ", ".join(s["ignored_columns"]))
    return lines
