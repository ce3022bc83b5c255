"""Collect stage (loop step 1), header rows: a channel's column names and their aliases
(``config/channels/<channel>.yaml``) mapped to canonical fields, the header row found
among the first rows, blank and repeated header rows skipped. Personal-data columns are
never mapped. Used by every reader and by the CSV fast path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cxloop.config import ChannelMapping
from tasks.collect.decoding import IntakeError

# Columns that hold personal data by design: never copied into the staging frame.
PERSONAL_FIELDS = {"contact", "author"}


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


def _no_header_message(rows: Sequence[tuple[int, Sequence[object]]], mapping: ChannelMapping, path: Path) -> str:
    """Why no header was found: the closest candidate row and what it lacks.

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
            f"{path}: unknown layout: no header row with the required columns {required} "
            f"in the first {len(rows)} rows; none of the channel's column names was found {where}"
        )
    missing = [f for f in mapping.required if f not in best.values()]
    return (
        f"{path}: no header row with the required columns {required}: the closest, row {best_row}, "
        f"has {', '.join(best.values())} but lacks {', '.join(missing)} {where}"
    )


def rows_to_frame(
    rows: Sequence[tuple[int, Sequence[object]]], mapping: ChannelMapping, path: Path
) -> tuple[pd.DataFrame, int, int]:
    """rows: (physical row number, cells). Finds the header, skips blank and repeated header rows."""
    header_at = None
    for i, (_, cells) in enumerate(rows[:20]):
        if is_header(cells, mapping):
            header_at = i
            break
    if header_at is None:
        raise IntakeError(_no_header_message(rows[:20], mapping, path))
    header_cells = rows[header_at][1]
    hmap = {pos: f for pos, f in header_map(header_cells, mapping).items() if f not in PERSONAL_FIELDS}
    header_norm = [norm_header(c) for c in header_cells]
    records, numbers = [], []
    blank = header_again = 0
    for row_no, cells in rows[header_at + 1 :]:
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            blank += 1
            continue
        if (
            cells
            and norm_header(cells[0]) == header_norm[0]
            and [norm_header(c) for c in cells[: len(header_norm)]] == header_norm
        ):
            header_again += 1
            continue
        records.append({f: (cells[pos] if pos < len(cells) else None) for pos, f in hmap.items()})
        numbers.append(row_no)
    frame = (
        pd.DataFrame.from_records(records, columns=list(hmap.values()))
        if records
        else pd.DataFrame(columns=list(hmap.values()))
    )
    for f in mapping.fields:
        if f not in frame.columns and f not in PERSONAL_FIELDS:
            frame[f] = None
    frame["source_row"] = np.asarray(numbers, dtype="int64")
    # Blank lines before the header are not data either.
    blank += sum(1 for _, cells in rows[:header_at] if all(c is None or not str(c).strip() for c in cells))
    return frame, blank, header_again


def alias_hints(mapping: ChannelMapping) -> tuple[str, ...]:
    return tuple(norm_header(a) for f, names in mapping.fields.items() for a in [f, *names])
