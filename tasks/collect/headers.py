"""Collect stage (loop step 1), header rows: a channel's column names and their aliases
(``config/channels/<channel>.yaml``) mapped to canonical fields, the header row found
among the first rows, blank and repeated header rows skipped. Personal-data columns are
never mapped. Used by every reader and by the CSV fast path.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cxloop.config import ChannelMapping
from tasks.collect.decoding import IntakeError

# Columns that hold personal data by design: never copied into the staging frame.
PERSONAL_FIELDS = {"contact", "author"}
# The largest field (cell) read, in characters, in every format: a longer field
# quarantines its row (the reason names the row, the field and this limit), never
# the file. 1 MiB of text is ~500 printed pages; real comments stay far below.
MAX_FIELD_CHARS = 1024 * 1024


def norm_header(value: object) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\ufeff", "").strip().lower().replace("ё", "е")
    return re.sub(r"\s+", " ", text)


def header_map(cells: Sequence[object], mapping: ChannelMapping) -> dict[int, str]:
    """Column position -> canonical field, for the cells of a candidate header row."""
    aliases = {norm_header(a): f for f, names in mapping.fields.items() for a in [f, *names]}
    out: dict[int, str] = {}
    for pos, cell in enumerate(cells):
        fld = aliases.get(norm_header(cell))
        if fld and fld not in out.values():
            out[pos] = fld
    return out


def is_header(cells: Sequence[object], mapping: ChannelMapping) -> bool:
    hmap = header_map(cells, mapping)
    return bool(hmap) and all(r in hmap.values() for r in mapping.required)


def _no_header_message(rows: Sequence[tuple[int, Sequence[object]]], mapping: ChannelMapping, label: str) -> str:
    """Why no header was found: the closest candidate row and what it lacks.
    ``label``: the file, or the file and the sheet.

    Only canonical field names are quoted, never cell contents (a headerless
    file's first row is data and may hold personal data)."""
    best_row: int | None = None
    best: dict[int, str] = {}
    for row_no, cells in rows:
        hmap = header_map(cells, mapping)
        if len(hmap) > len(best):
            best_row, best = row_no, hmap
    required = ", ".join(mapping.required)
    where = f"(aliases in config/channels/{mapping.channel}.yaml)"
    if not best:
        return (
            f"{label}: unknown layout: no header row with the required columns {required} "
            f"in the first {len(rows)} rows; none of the channel's column names was found {where}"
        )
    missing = [f for f in mapping.required if f not in best.values()]
    return (
        f"{label}: no header row with the required columns {required}: the closest, row {best_row}, "
        f"has {', '.join(best.values())} but lacks {', '.join(missing)} {where}"
    )


def oversized_reason(
    row_no: int, fields: Sequence[tuple[str, int]], sheet: str | None = None, unit: str = "row"
) -> str:
    """The quarantine reason of a row with fields over MAX_FIELD_CHARS: row, field names, sizes, limit.
    ``unit``: what the number counts (row, or a JSON line or element)."""
    where = f"sheet {sheet!r}, {unit} {row_no}" if sheet is not None else f"{unit} {row_no}"
    sizes = ", ".join(f"{name} holds {size:,} characters" for name, size in fields)
    return f"{where}: field {sizes}, over the limit of {MAX_FIELD_CHARS:,} characters per field (not read)"


def _is_blank(cells: Sequence[object]) -> bool:
    """Whether every cell is missing or only blanks."""
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _holds_long_text(record: tuple) -> bool:
    return any(isinstance(v, str) and len(v) > MAX_FIELD_CHARS for v in record)


def _picker(positions: list[int]) -> Callable[[Sequence[object]], tuple]:
    """The cells at ``positions`` of a row at least that wide, as a tuple."""
    if not positions:
        return lambda cells: ()
    get = operator.itemgetter(*positions)
    if len(positions) == 1:
        return lambda cells: (get(cells),)
    return get


def rows_to_frame(
    rows: Sequence[tuple[int, Sequence[object]]],
    mapping: ChannelMapping,
    path: Path | str,
    *,
    sheet: str | None = None,
    unreadable: list[tuple[int, str]] | None = None,
) -> tuple[pd.DataFrame, int, int]:
    """rows: (physical row number, cells). Finds the header, skips blank and repeated header rows.

    ``sheet``: the workbook sheet the rows come from (named in messages). A row with a
    mapped field over MAX_FIELD_CHARS is left out of the frame and appended to
    ``unreadable`` as (row, reason); without that list such a row raises IntakeError."""
    where = f"{path}, sheet {sheet!r}" if sheet is not None else str(path)
    header_at = None
    for i, (_, cells) in enumerate(rows[:20]):
        if is_header(cells, mapping):
            header_at = i
            break
    if header_at is None:
        raise IntakeError(_no_header_message(rows[:20], mapping, where))
    header_cells = rows[header_at][1]
    hmap = {pos: f for pos, f in header_map(header_cells, mapping).items() if f not in PERSONAL_FIELDS}
    header_norm = [norm_header(c) for c in header_cells]
    names, positions = list(hmap.values()), list(hmap)
    width = max(positions, default=-1) + 1
    pick = _picker(positions)
    records: list[tuple] = []
    numbers: list[int] = []
    blank = header_again = 0
    for row_no, cells in rows[header_at + 1 :]:
        if _is_blank(cells):
            blank += 1
            continue
        if (
            cells
            and norm_header(cells[0]) == header_norm[0]
            and [norm_header(c) for c in cells[: len(header_norm)]] == header_norm
        ):
            header_again += 1
            continue
        record = pick(cells) if len(cells) >= width else tuple(cells[p] if p < len(cells) else None for p in positions)
        if _holds_long_text(record):
            too_long = [
                (f, len(v))
                for f, v in zip(names, record, strict=True)
                if isinstance(v, str) and len(v) > MAX_FIELD_CHARS
            ]
            reason = oversized_reason(row_no, too_long, sheet)
            if unreadable is None:
                raise IntakeError(f"{path}: {reason}")
            unreadable.append((row_no, reason))
            continue
        records.append(record)
        numbers.append(row_no)
    frame = pd.DataFrame.from_records(records, columns=names) if records else pd.DataFrame(columns=names)
    for f in mapping.fields:
        if f not in frame.columns and f not in PERSONAL_FIELDS:
            frame[f] = None
    frame["source_row"] = np.asarray(numbers, dtype="int64")
    # Blank lines before the header are not data either.
    blank += sum(1 for _, cells in rows[:header_at] if all(c is None or not str(c).strip() for c in cells))
    return frame, blank, header_again


def alias_hints(mapping: ChannelMapping) -> tuple[str, ...]:
    return tuple(norm_header(a) for f, names in mapping.fields.items() for a in [f, *names])
