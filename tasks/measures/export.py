"""The register exported for people and for the report: XLSX for the working group and CSV,
with column headers and co-design forms in the report's language.

The rows are :func:`tasks.measures.register.register_frame`; the exported files come
back through :mod:`tasks.measures.register_io`, which reads their headers in any language.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd
from sqlmodel import Session

from cxloop.domain import MEASURE_STATUSES
from cxloop.export_safety import neutralise_formula as neutralise  # one formula rule for every export
from cxloop.files import save_xlsx
from cxloop.i18n import LANGUAGES, NP_, Marked, gettext
from tasks.measures.register import REGISTER_COLUMNS, SYSTEM_USER, register_frame
from tasks.measures.status import CODESIGN_FORM_LABELS, CODESIGN_FORMS, codesign_label

# Column headers of the register exports, catalog entries (locale/, see cxloop/i18n.py).
# Imports recognise the headers of every language, so a changed translation should keep
# the old header readable (tasks.measures.register_io reads files exported before the change).
REGISTER_COLUMN_MSGIDS: dict[str, str | Marked] = {
    "code": NP_("register column", "Code"),
    "title": NP_("register column", "Measure"),
    "status": NP_("register column", "Status"),
    "overdue": NP_("register column", "Overdue"),
    "region_code": NP_("register column", "Region"),
    "offices": NP_("register column", "Offices"),
    "theme": NP_("register column", "Theme"),
    "journey_stage": NP_("register column", "Journey stage"),
    "type": NP_("register column", "Type"),
    "owner": NP_("register column", "Owner"),
    "source_pain_point": NP_("register column", "Pain point"),
    # TRANSLATORS: the quarter a measure was proposed in (the cells hold quarters such as 2026Q3).
    "proposed_quarter": NP_("register column", "Proposed in"),
    "codesign_date": NP_("register column", "Co-design date"),
    "codesign_form": NP_("register column", "Co-design form"),
    "codesign_clients": NP_("register column", "Clients involved"),
    "planned_start": NP_("register column", "Planned start"),
    "due_date": NP_("register column", "Due date"),
    "implemented_on": NP_("register column", "Implemented on"),
    # TRANSLATORS: offices that started a measure in a quarter of their own, e.g. "52-03:2026Q2, 52-04:2026Q3".
    "office_starts": NP_("register column", "Office starts"),
    "kpi_metric": NP_("register column", "KPI"),
    "kpi_baseline": NP_("register column", "Baseline"),
    "kpi_target": NP_("register column", "Target"),
    "effect_verdict": NP_("register column", "Effect verdict"),
    # TRANSLATORS: the quarter a measure's effect was evaluated in.
    "effect_quarter": NP_("register column", "Evaluated in"),
    "effect_method": NP_("register column", "Method"),
    "effect_estimate": NP_("register column", "Effect"),
    # TRANSLATORS: lower end of the effect's 95 % confidence interval ("%%" is a percent sign).
    "effect_ci_low": NP_("register column", "95%% CI low"),
    "effect_ci_high": NP_("register column", "95%% CI high"),
    "effect_n_obs": NP_("register column", "Observations"),
    "version": NP_("register column", "Version"),
    "description": NP_("register column", "Description"),
    "change_comment": NP_("register column", "Change comment"),
}
#: lang -> column id -> header, for every report language (ru, en, fi).
REGISTER_LABELS: dict[str, dict[str, str]] = {lang: gettext(lang).labels(REGISTER_COLUMN_MSGIDS) for lang in LANGUAGES}


# The exported files end with an empty column where a person explains an edit; the
# import (tasks.measures.register_io) keeps it as the history comment of that row's changes.
EXPORT_COLUMNS: tuple[str, ...] = (*REGISTER_COLUMNS, "change_comment")


def export_frame(session: Session, as_of: date, lang: str = "ru") -> pd.DataFrame:
    """The register as exported (``EXPORT_COLUMNS``): co-design forms as labels in
    ``lang``, the comment column empty. What the import compares a file against."""
    frame = register_frame(session, as_of)
    frame["codesign_form"] = [codesign_label(f, lang) for f in frame["codesign_form"]]
    # Counts stay whole numbers in the file (a column with blanks would be float: "12.00").
    for name in ("codesign_clients", "effect_n_obs", "version"):
        frame[name] = pd.Series(
            [None if v is None or v != v else int(v) for v in frame[name]], index=frame.index, dtype=object
        )
    frame["change_comment"] = None
    return frame[list(EXPORT_COLUMNS)]


def _cell_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars -> Python
        value = value.item()
    return neutralise(value)


STATUS_FILLS: dict[str, str] = {
    "proposed": "DDEBF7",
    "approved": "BDD7EE",
    "in_progress": "FFF2CC",
    "implemented": "E2EFDA",
    "evaluated": "C6EFCE",
    "closed": "D9D9D9",
    "rejected": "EDEDED",
    "cancelled": "EDEDED",
}
OVERDUE_FILL = "FFC7CE"
_WIDTHS = {"title": 48, "description": 60, "owner": 36, "offices": 30, "office_starts": 30, "source_pain_point": 36}


def export_register_xlsx(session: Session, path: Path, as_of: date, lang: str = "ru") -> Path:
    """Write the register as an XLSX workbook for the working group.

    Header row frozen with an autofilter, status cells coloured, overdue rows
    highlighted, text that could run as a formula neutralised with ``'``; the
    status and co-design form cells offer their allowed values as a drop-down.
    ``code`` and ``version`` let ``tasks.measures.register_io`` apply an edited copy back.
    Properties and timestamps are fixed from ``as_of``: the same register gives
    the same file.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    frame = export_frame(session, as_of, lang)
    labels = REGISTER_LABELS.get(lang, REGISTER_LABELS["en"])
    wb = Workbook()
    ws = wb.active
    sheet_lang = lang if lang in LANGUAGES else "en"
    ws.title = gettext(sheet_lang).pgettext("register sheet title", "Measure register")
    columns = list(frame.columns)
    ws.append([labels.get(c, c) for c in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    status_col = columns.index("status") + 1
    for values in frame.itertuples(index=False):
        record = dict(zip(columns, values, strict=True))
        ws.append([_cell_value(record[c]) for c in columns])
        row = ws.max_row
        for col in range(1, len(columns) + 1):
            cell = ws.cell(row=row, column=col)
            if isinstance(cell.value, (date, datetime)):
                cell.number_format = "YYYY-MM-DD"
            if record["overdue"]:
                cell.fill = PatternFill("solid", fgColor=OVERDUE_FILL)
        fill = STATUS_FILLS.get(str(record["status"]))
        if fill:
            ws.cell(row=row, column=status_col).fill = PatternFill("solid", fgColor=fill)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(ws.max_row, 1)}"
    if ws.max_row > 1:
        forms = CODESIGN_FORM_LABELS.get(lang, CODESIGN_FORM_LABELS["en"])
        for name, allowed in (("status", MEASURE_STATUSES), ("codesign_form", tuple(forms[f] for f in CODESIGN_FORMS))):
            letter = get_column_letter(columns.index(name) + 1)
            dv = DataValidation(
                type="list",
                formula1='"' + ",".join(allowed) + '"',
                allow_blank=True,
                showErrorMessage=True,
                errorTitle=labels.get(name, name),
                error=", ".join(allowed),
            )
            dv.add(f"{letter}2:{letter}{ws.max_row}")
            ws.add_data_validation(dv)
    for col, name in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(col)].width = _WIDTHS.get(
            name, max(12, min(24, len(labels.get(name, name)) + 2))
        )

    return save_xlsx(wb, path, datetime.combine(as_of, time(0)), SYSTEM_USER)


def export_register_csv(session: Session, path: Path, as_of: date, lang: str = "ru") -> Path:
    """The register as CSV (UTF-8 with BOM so Excel reads Cyrillic), formula text neutralised;
    the same columns as the XLSX (``EXPORT_COLUMNS``)."""
    frame = export_frame(session, as_of, lang)
    labels = REGISTER_LABELS.get(lang, REGISTER_LABELS["en"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([labels.get(c, c) for c in frame.columns])
        for values in frame.itertuples(index=False):
            out = []
            for v in values:
                v = _cell_value(v)
                if v is None:
                    out.append("")
                elif isinstance(v, (date, datetime)):
                    out.append(v.isoformat())
                elif isinstance(v, float):
                    out.append(f"{v:.2f}")
                else:
                    out.append(v)
            writer.writerow(out)
    return path
