"""Applying an edited register file back: each row judged against the register, then
written through the same rules as every other edit.

The working group exports the register (``cxloop measures export --xlsx``), edits
it in Excel — a status, an owner, a due date, the co-design evidence — and gives
it back (``cxloop measures import --xlsx``). :mod:`tasks.measures.register_file` reads
and stages the file (steps 1-2); this module judges and applies it, through the
register's rules (:mod:`tasks.measures.register`, :mod:`tasks.measures.status`): the
status flow, the co-design rule, the version check and one history row per changed
field. A row is applied whole or not at all.

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
5. **Apply** the rest with :func:`tasks.measures.edits.edit_measure`: fields first, then
   the status, ``expected_version`` = the row's version; the history comment is the
   row's "change comment" cell or ``import of <file name>``.

The caller owns the transaction: commit to keep the changes, roll back for a dry
run (:func:`import_register_file` does both).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlmodel import Session, select

from cxloop.domain import COUNTRY_CODE
from cxloop.export_safety import neutralise_formula
from models.tables import Measure
from tasks.collect.offices import office_regions
from tasks.measures.edits import edit_measure, preview
from tasks.measures.export import REGISTER_LABELS
from tasks.measures.register import VersionConflict, normalise_changes, normalise_offices
from tasks.measures.register_file import (
    COMMENT_COLUMN,
    EDITABLE_COLUMNS,
    FLOAT_COLUMNS,
    READ_ONLY_COLUMNS,
    RegisterFile,
    read_register_file,
    stage_rows,
    stored_value,
)
from tasks.measures.status import CodesignMissing, InvalidTransition, check_status_change
from tasks.validate.redaction import redact
from tasks.validate.suites import load_suite_json, run_suite

SUITE = "measure_register"
_TEXT_COLUMNS = frozenset(
    {
        "title",
        "description",
        "owner",
        "region_code",
        "theme",
        "source_pain_point",
        "proposed_quarter",
        "kpi_metric",
        "journey_stage",
        "type",
        COMMENT_COLUMN,
    }
)

CODESIGN_GAPS_RU = {
    "codesign_date": "дата совместного проектирования",
    "codesign_form": "форма (воркшоп, наблюдение, тестирование с клиентами)",
    "codesign_clients": "число участвовавших клиентов (не меньше 1)",
}


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


# --------------------------------------------------------------------------- comparing


def _same(column: str, cell: Any, staged: str | None, current: Any) -> bool:
    """Whether a cell still holds the register's value (as any export would write it)."""
    if column in _TEXT_COLUMNS or column == "description":
        cur = "" if current is None else str(current)
        if isinstance(cell, str) and cell.strip() == str(neutralise_formula(cur)).strip():
            return True
        return (staged or "") == cur.strip()
    if column == "offices":
        return (staged or "") == normalise_offices(current)
    if column == "office_starts":
        return (staged or "") == (current or "")
    if column in FLOAT_COLUMNS:
        if staged is None or current is None:
            return staged is None and current is None
        # The CSV export rounds to 2 decimals.
        return abs(float(staged) - float(current)) < 0.005
    return stored_value(column, staged) == current


def _value_text(value: Any) -> str:
    return "" if value is None else (value.isoformat() if isinstance(value, date) else str(value))


def _problem(
    rejected: list[dict[str, Any]],
    row: int,
    code: str | None,
    column: str,
    register: RegisterFile,
    rule: str,
    reason: str,
) -> None:
    label = register.columns.get(column, (0, REGISTER_LABELS["ru"].get(column, column)))[1]
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
            json.dumps({**spec, "expectations": present}, ensure_ascii=False), encoding="utf-8"
        )
        # distinct=False: uniqueness of codes is judged over the rows, not over distinct values.
        return run_suite(frame, SUITE, {"known_codes": known_codes}, directory=Path(tmp), distinct=False)


def _transition_reason(exc: InvalidTransition) -> str:
    allowed = ", ".join(exc.allowed) if exc.allowed else "никуда (статус конечный)"
    return (
        f"Переход статуса «{exc.from_status}» → «{exc.to_status}» недопустим; из «{exc.from_status}» можно: {allowed}"
    )


def _codesign_reason(exc: CodesignMissing, measure: Any) -> str:
    parts = []
    for fld, _ in exc.gaps:
        if fld == "codesign_date" and measure.codesign_date is not None:
            parts.append(f"дата совместного проектирования {measure.codesign_date.isoformat()} ещё не наступила")
        else:
            parts.append(CODESIGN_GAPS_RU[fld])
    return (
        "Меру нельзя перевести в работу (in_progress) без подтверждённого совместного проектирования с "
        "клиентами: не хватает — " + "; ".join(parts) + ". Заполните эти столбцы (или решение с обоснованием "
        "принимает утверждающий: cxloop measures update --override-reason)"
    )


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
    frame = stage_rows(register, path)
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
    regions_of = office_regions(session)
    comment_default = default_comment or f"import of {path.name}"
    for pos, rec in enumerate(frame.to_dict("records")):
        if pos in bad_rows:
            continue
        row, code = int(rec["source_row"]), rec["code"]
        measure = measures[code]
        problems: list[tuple[str, str, str]] = []  # (field, rule, reason)
        changes: dict[str, Any] = {}
        for column in EDITABLE_COLUMNS:
            if column in register.columns and not _same(
                column, rec[f"{column}__cell"], rec[column], getattr(measure, column)
            ):
                changes[column] = stored_value(column, rec[column])
        for column in READ_ONLY_COLUMNS:
            if column in register.columns and not _same(
                column, rec[f"{column}__cell"], rec[column], getattr(measure, column)
            ):
                problems.append(
                    (
                        column,
                        "read_only",
                        f"Столбец «{register.columns[column][1]}» ведёт cxloop, импортом его не изменить "
                        f"(в файле «{_cell_for_reason(rec[f'{column}__cell'])}», в реестре "
                        f"«{_cell_for_reason(_value_text(getattr(measure, column)))}»)",
                    )
                )
        status = rec["status"] if "status" in register.columns and rec["status"] != measure.status else None
        if not changes and status is None and not problems:
            summary.unchanged.append(code)
            continue
        version = int(rec["version"])
        if version != measure.version:
            _problem(
                rejected,
                row,
                code,
                "version",
                register,
                "stale_version",
                f"Мера изменена другим пользователем после выгрузки (changed by someone else since export): "
                f"в файле версия {version}, в реестре {measure.version}. Выгрузите реестр заново и повторите правку",
            )
            continue
        if "offices" in changes:
            added = sorted(
                set(normalise_offices(changes["offices"]).split(",")) - set(measure.offices.split(",")) - {""}
            )
            unknown = [o for o in added if o not in regions_of]
            outside = [
                o
                for o in added
                if o in regions_of and measure.region_code != COUNTRY_CODE and regions_of[o] != measure.region_code
            ]
            if unknown:
                problems.append(
                    (
                        "offices",
                        "unknown_office",
                        f"Неизвестные коды ЦЗН: {', '.join(unknown)} — их нет в реестре офисов",
                    )
                )
            if outside:
                problems.append(
                    (
                        "offices",
                        "office_outside_region",
                        f"ЦЗН {', '.join(outside)} не относятся к региону меры {measure.region_code}",
                    )
                )
            if not normalise_offices(changes["offices"]):
                problems.append(("offices", "no_offices", "У меры должен остаться хотя бы один ЦЗН"))
        try:
            normalised = normalise_changes(measure, changes)
        except ValueError as exc:
            problems.append((next(iter(changes), "status"), "invalid_value", str(exc)))
            normalised = {}
        after = preview(measure, normalised)
        if (
            ("due_date" in normalised or "planned_start" in normalised)
            and after.due_date
            and after.planned_start
            and after.due_date < after.planned_start
        ):
            problems.append(
                (
                    "due_date",
                    "due_before_start",
                    f"Срок {after.due_date.isoformat()} раньше планового старта {after.planned_start.isoformat()}",
                )
            )
        if status is not None:
            try:
                check_status_change(after, status, at)
            except InvalidTransition as exc:
                problems.append(("status", "invalid_transition", _transition_reason(exc)))
            except CodesignMissing as exc:
                problems.append(("status", "codesign_missing", _codesign_reason(exc, after)))
        if problems:
            for fld, rule, reason in problems:
                _problem(rejected, row, code, fld, register, rule, reason)
            continue
        comment = rec.get(COMMENT_COLUMN) or comment_default
        try:
            result = edit_measure(
                session, code, who, at, status=status, changes=normalised, comment=comment, expected_version=version
            )
        except (VersionConflict, ValueError, LookupError) as exc:  # a concurrent edit between check and write
            _problem(
                rejected,
                row,
                code,
                "version" if isinstance(exc, VersionConflict) else "status",
                register,
                type(exc).__name__,
                str(exc),
            )
            continue
        summary.applied += [{"row": row, "code": code, **change} for change in result["changes"]]
    summary.rejected = sorted(rejected, key=lambda r: (r["row"], r["field"]))
    return summary


def import_register_file(
    path: Path, who: str, at: datetime, *, dry_run: bool = False, url: str | None = None
) -> ImportSummary:
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
    head = (
        f"{s['file']}: {s['rows']} rows — {len(s['measures_changed'])} measures changed "
        f"({len(s['applied'])} field changes), {len(s['unchanged'])} unchanged, {len(s['rows_rejected'])} rejected"
        + (" (dry run: nothing saved)" if s.get("dry_run") else "")
    )
    lines = [head]
    lines += [f"  row {a['row']} {a['code']}: {a['field']} {a['from'] or '—'} → {a['to'] or '—'}" for a in s["applied"]]
    lines += [f"  REJECTED row {r['row']} {r['code'] or '—'} [{r['column']}]: {r['reason']}" for r in s["rejected"]]
    if s.get("ignored_columns"):
        lines.append("  ignored columns (not in the register): " + ", ".join(s["ignored_columns"]))
    return lines
