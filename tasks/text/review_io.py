"""Analysts teach themes, part 2: reading a ticked review file back as gold labels.

:func:`read_review_xlsx` reads the workbook :func:`tasks.text.review.write_review_xlsx`
wrote, after an analyst ticked it, and checks every row before anything is stored:

* the archive is checked like any incoming workbook; formulas are read as their text,
  never evaluated, and a formula in any cell is refused (type the value);
* headers are matched by their label in Russian, English or Finnish or by the id
  (case, spacing and ё-insensitive); the feedback id column is required, and at least
  one theme column or "no theme";
* a tick is ``1`` or ``x`` (also ``X`` and the Cyrillic ``х``), blank is no tick;
  anything else is an error; "no theme" next to a theme tick is an error;
* the sentiment is blank or one of negative/neutral/positive in any of the languages;
* a feedback id must be a whole number the database holds, once per file.

Every error names the file, the row as the spreadsheet shows it and the column.
A row without any tick (and no sentiment) is not labelled and is skipped.
:func:`store_labels` writes the labels of a checked file, replacing the earlier
label of the same text (who and when are those of the latest import).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from cxloop.config import AppConfig
from models.tables import Feedback, TextLabel
from tasks.collect.decoding import IntakeError
from tasks.collect.headers import norm_header
from tasks.collect.readers import check_xlsx_archive
from tasks.text.review import FIXED_LABELS, NO_THEME, SENTIMENT, SENTIMENT_VALUES, SENTIMENT_WORDS

__all__ = ["Label", "ReviewFile", "ReviewFileError", "import_review_file", "read_review_xlsx", "store_labels"]

MAX_ROWS = 50_000
_TICKS = frozenset({"1", "x", "х"})  # Latin x, Cyrillic х (a Russian keyboard)


class ReviewFileError(ValueError):
    """The file cannot be imported; ``errors`` lists every problem (file: row: column: what)."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(errors[0] + more if errors else "the file cannot be imported")


@dataclass(frozen=True)
class Label:
    feedback_id: int
    themes: tuple[str, ...]  # sorted; () = the analyst ticked "no theme"
    sentiment: str | None
    row: int


@dataclass
class ReviewFile:
    path: Path
    labels: list[Label] = field(default_factory=list)
    skipped_rows: int = 0  # rows without any tick
    ignored_columns: list[str] = field(default_factory=list)


def _lookup(config: AppConfig) -> dict[str, str]:
    """Normalised header -> column id (fixed columns, themes, no theme, sentiment)."""
    out: dict[str, str] = {}
    for labels in FIXED_LABELS.values():
        for column, label in labels.items():
            out[norm_header(label)] = column
    for tid, theme in config.themes.items():
        for label in theme.labels.values():
            out[norm_header(label)] = tid
        out[norm_header(tid)] = tid
    for column in (*FIXED_LABELS["en"], NO_THEME, SENTIMENT):
        out[norm_header(column)] = column
    return out


def _sentiment_lookup() -> dict[str, str]:
    out = {v: v for v in SENTIMENT_VALUES}
    for words in SENTIMENT_WORDS.values():
        out.update({norm_header(w): v for v, w in words.items()})
    out.update({"-1": "negative", "0": "neutral", "1": "positive"})
    return out


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows(path: Path) -> list[tuple[int, list[tuple[Any, bool]]]]:
    """(row number, [(value, is formula)]) of the first sheet."""
    from openpyxl import load_workbook

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReviewFileError([f"{path}: cannot read the file ({exc.strerror})"]) from None
    if not data.startswith(b"PK\x03\x04"):
        raise ReviewFileError([f"{path}: not an XLSX workbook; import the file 'text review export' wrote"])
    try:
        check_xlsx_archive(path, data)
    except IntakeError as exc:
        raise ReviewFileError([str(exc)]) from None
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise ReviewFileError([f"{path}: not a readable XLSX workbook ({type(exc).__name__})"]) from None
    try:
        if not wb.worksheets:
            raise ReviewFileError([f"{path}: the workbook has no worksheet"])
        rows = []
        for number, cells in enumerate(wb.worksheets[0].iter_rows(), start=1):
            if number > MAX_ROWS + 1:
                raise ReviewFileError([f"{path}: more than {MAX_ROWS:,} rows; a review sample is never that long"])
            rows.append((number, [(c.value, getattr(c, "data_type", None) == "f") for c in cells]))
        return rows
    finally:
        wb.close()


def read_review_xlsx(path: Path | str, config: AppConfig, session: Session) -> ReviewFile:
    """The checked labels of a ticked review file (see the module docstring).

    Raises :class:`ReviewFileError` with every problem found; nothing is half-read.
    """
    path = Path(path)
    rows = [(n, cells) for n, cells in _rows(path) if not all(_blank(v) for v, _ in cells)]
    if not rows:
        raise ReviewFileError([f"{path}: no header row and no data"])
    lookup = _lookup(config)
    header_no, header = rows[0]
    columns: dict[str, tuple[int, str]] = {}
    result = ReviewFile(path=path)
    errors: list[str] = []
    for pos, (cell, _) in enumerate(header):
        if _blank(cell):
            continue
        written = str(cell).strip()
        column = lookup.get(norm_header(written))
        if column is None:
            result.ignored_columns.append(written)
        elif column in columns:
            errors.append(f"{path}: row {header_no}: columns «{columns[column][1]}» and «{written}» are both {column}")
        else:
            columns[column] = (pos, written)
    if "feedback_id" not in columns:
        errors.append(f"{path}: row {header_no}: no column «{FIXED_LABELS['ru']['feedback_id']}» (feedback_id)")
    tick_columns = [c for c in (*config.themes, NO_THEME) if c in columns]
    if not tick_columns:
        errors.append(f"{path}: row {header_no}: no theme column and no «{FIXED_LABELS['ru'][NO_THEME]}» column")
    if errors:
        raise ReviewFileError(errors)
    sentiments = _sentiment_lookup()
    seen: dict[int, int] = {}
    pending: list[tuple[int, int, str, Label]] = []  # (row, id, id header, label)
    for number, cells in rows[1:]:

        def cell(column: str, cells: list[tuple[Any, bool]] = cells) -> tuple[Any, bool]:
            pos = columns[column][0]
            return cells[pos] if pos < len(cells) else (None, False)

        where = f"{path}: row {number}"
        for pos, (value, formula) in enumerate(cells):
            if formula:
                name = next((h for c, (p, h) in columns.items() if p == pos), f"column {pos + 1}")
                errors.append(f"{where}: column «{name}»: a formula ({value}); type the value instead")
        themes: list[str] = []
        no_theme = False
        row_errors = False
        for column in tick_columns:
            value, formula = cell(column)
            if formula or _blank(value):
                continue
            if _text(value).lower() not in _TICKS:
                errors.append(
                    f"{where}: column «{columns[column][1]}»: {value!r} is not a tick; write 1 or x, or leave it empty"
                )
                row_errors = True
            elif column == NO_THEME:
                no_theme = True
            else:
                themes.append(column)
        if no_theme and themes:
            errors.append(
                f"{where}: column «{columns[NO_THEME][1]}»: ticked together with "
                + ", ".join(f"«{columns[t][1]}»" for t in themes)
            )
            row_errors = True
        sentiment = None
        if SENTIMENT in columns:
            value, formula = cell(SENTIMENT)
            if not formula and not _blank(value):
                sentiment = sentiments.get(norm_header(_text(value)))
                if sentiment is None:
                    allowed = ", ".join(SENTIMENT_VALUES)
                    errors.append(f"{where}: column «{columns[SENTIMENT][1]}»: {value!r} is not one of {allowed}")
                    row_errors = True
        id_value, id_formula = cell("feedback_id")
        id_header = columns["feedback_id"][1]
        if id_formula:
            continue
        if not themes and not no_theme and sentiment is None and not row_errors:
            result.skipped_rows += 1
            continue
        if not themes and not no_theme and sentiment is not None:
            errors.append(
                f"{where}: column «{columns[SENTIMENT][1]}»: a sentiment without a theme decision; "
                f"tick the themes or «{FIXED_LABELS['ru'][NO_THEME]}»"
            )
            row_errors = True
        try:
            if isinstance(id_value, bool):
                raise ValueError
            feedback_id = int(_text(id_value)) if not _blank(id_value) else None
        except ValueError:
            feedback_id = None
        if feedback_id is None:
            errors.append(f"{where}: column «{id_header}»: {id_value!r} is not a feedback id")
            continue
        if feedback_id in seen:
            errors.append(
                f"{where}: column «{id_header}»: feedback {feedback_id} is labelled twice "
                f"(also on row {seen[feedback_id]})"
            )
            continue
        seen[feedback_id] = number
        label = Label(feedback_id, tuple(sorted(themes)), sentiment, number)
        pending.append((number, feedback_id, id_header, label))
    known: set[int] = set()
    ids = sorted(seen)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found = session.exec(select(Feedback.id).where(Feedback.id.in_(chunk))).all()  # type: ignore[union-attr]
        known.update(int(i) for i in found if i is not None)
    for number, feedback_id, id_header, label in pending:
        if feedback_id not in known:
            errors.append(f"{path}: row {number}: column «{id_header}»: no feedback {feedback_id} in the database")
        else:
            result.labels.append(label)
    if errors:
        errors.sort(key=_row_of)
        raise ReviewFileError(errors)
    return result


def _row_of(error: str) -> int:
    marker = ": row "
    try:
        return int(error.split(marker, 1)[1].split(":", 1)[0])
    except (IndexError, ValueError):
        return 0


@dataclass(frozen=True)
class StoreSummary:
    stored: int
    replaced: int
    skipped_rows: int

    def as_dict(self) -> dict[str, int]:
        return {"stored": self.stored, "replaced": self.replaced, "skipped_rows": self.skipped_rows}


def store_labels(session: Session, review: ReviewFile, who: str, at: datetime) -> StoreSummary:
    """Store the labels of a checked file; a text labelled before gets the new label
    (and the new who, when and source file)."""
    ids = [label.feedback_id for label in review.labels]
    existing: dict[int, TextLabel] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in session.exec(select(TextLabel).where(TextLabel.feedback_id.in_(chunk))).all():  # type: ignore[attr-defined]
            existing[row.feedback_id] = row
    replaced = 0
    for label in review.labels:
        earlier = existing.get(label.feedback_id)
        if earlier is None:
            row = TextLabel(feedback_id=label.feedback_id, labelled_by=who, labelled_at=at, source_file="")
        else:
            row = earlier
            replaced += 1
        row.themes = ",".join(label.themes)
        row.sentiment = label.sentiment
        row.labelled_by = who
        row.labelled_at = at
        row.source_file = review.path.name
        session.add(row)
    session.flush()
    return StoreSummary(stored=len(review.labels), replaced=replaced, skipped_rows=review.skipped_rows)


def import_review_file(session: Session, path: Path | str, config: AppConfig, who: str, at: datetime) -> StoreSummary:
    """:func:`read_review_xlsx` then :func:`store_labels`, in the caller's session."""
    return store_labels(session, read_review_xlsx(path, config, session), who, at)
