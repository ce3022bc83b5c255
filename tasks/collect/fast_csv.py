"""Collect stage (loop step 1), the fast path for large delimited exports. The readers' csv module is
exact about physical line numbers but slow for millions of rows; when a file has no quote
characters and no bare carriage returns, every record is one line, so pandas' C parser reads
it and the line number is the record's position plus one. Anything else (and a file with a
line long enough to hold a field over MAX_FIELD_CHARS) returns ``None`` and the caller uses
the exact path; both give the same frame and blank/repeated-header counts.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from cxloop.config import ChannelMapping
from tasks.collect.headers import MAX_FIELD_CHARS, PERSONAL_FIELDS, header_map, is_header, norm_header

HEADER_SCAN_ROWS = 20


def _maybe_padded(text: str, delimiter: str, raw: bytes | None) -> bool:
    """Whether any cell may start or end with a blank (then cells are stripped)."""
    pads = (" ",) if delimiter == "\t" else (" ", "\t")
    if raw is None or raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4000]:
        return True  # UTF-16 or unknown bytes: no cheap byte-level check
    if raw.count(b"\xa0"):  # a no-break space (cp1251 or inside UTF-8's C2 A0) may pad a cell
        return True
    d = delimiter.encode()
    for pad in (p.encode() for p in pads):
        if any(raw.count(pair) for pair in (pad + d, d + pad, pad + b"\n", pad + b"\r", b"\n" + pad)):
            return True
    return text.startswith(pads) or text.endswith(pads)


def has_line_over(text: str, limit: int) -> bool:
    """Whether a line of ``text`` is longer than ``limit`` characters. Such a line contains
    a whole aligned window of limit // 2 characters without a line break, so only one
    ``find`` per window is needed (a few hundred for a 100 MB file), not a split."""
    window = max(limit // 2, 1)
    for lo in range(0, len(text), window):
        if text.find("\n", lo, lo + window) == -1:
            start = text.rfind("\n", 0, lo) + 1
            end = text.find("\n", lo)
            if (len(text) if end == -1 else end) - start > limit:
                return True
    return False


def read_delimited_fast(
    text: str, delimiter: str, mapping: ChannelMapping, raw: bytes | None = None
) -> tuple[pd.DataFrame, int, int] | None:
    """(frame, blank rows, repeated header rows), or None when the exact path is needed.
    ``raw`` (the file's bytes) lets a cheap byte-level check skip stripping."""
    if '"' in text or text.count("\r") != text.count("\r\n"):
        return None
    if has_line_over(text, MAX_FIELD_CHARS):
        return None  # a line long enough to hold an over-limit field: the exact path quarantines its row
    head_lines = text.split("\n", HEADER_SCAN_ROWS)[:HEADER_SCAN_ROWS]
    head = [[c.strip() for c in line.rstrip("\r").split(delimiter)] for line in head_lines]
    header_at = next((i for i, cells in enumerate(head) if is_header(cells, mapping)), None)
    if header_at is None:
        return None  # let the exact path raise its precise error
    header_cells = head[header_at]
    try:
        grid = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,
            names=range(len(header_cells)),
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            engine="c",
            quoting=3,  # QUOTE_NONE: no quotes in the file
        )
    except (pd.errors.ParserError, ValueError):
        return None  # rows longer than the header and the like: the exact path handles them
    hmap = {pos: f for pos, f in header_map(header_cells, mapping).items() if f not in PERSONAL_FIELDS}
    body = grid.iloc[header_at + 1 :]
    cells = body.fillna("")
    # Strip cells only when some cell has surrounding blanks: a few byte counts over
    # the raw file cost far less than stripping millions of cells that need nothing.
    stripped = cells.apply(lambda col: col.str.strip()) if _maybe_padded(text, delimiter, raw) else cells
    blank_mask = (stripped == "").all(axis=1).to_numpy()
    # Repeated header rows: compare normalised cells with the header (first column as a cheap filter).
    header_norm = [norm_header(c) for c in header_cells]
    # Repeated header rows: candidates by the first cell in its usual spellings, then
    # compared cell by cell, normalised, like the exact path does.
    h = header_cells[0]
    spellings = {h, h.lower(), h.upper(), h.capitalize(), h.title(), header_norm[0]}
    candidates = np.flatnonzero(stripped.iloc[:, 0].isin(spellings).to_numpy() & ~blank_mask)
    repeat_mask = np.zeros(len(body), dtype=bool)
    for i in candidates:
        row = [norm_header(c) for c in cells.iloc[i].tolist()]
        if row[: len(header_norm)] == header_norm:
            repeat_mask[i] = True
    keep = ~(blank_mask | repeat_mask)
    data = stripped[keep]
    frame = pd.DataFrame({f: data.iloc[:, pos].astype(object) for pos, f in hmap.items()})
    frame = frame.reset_index(drop=True)
    for f in mapping.fields:
        if f not in frame.columns and f not in PERSONAL_FIELDS:
            frame[f] = None
    frame["source_row"] = (body.index.to_numpy()[keep] + 1).astype("int64")
    blank_before = sum(1 for cells in head[:header_at] if not any(cells))
    return frame, int(blank_mask.sum()) + blank_before, int(repeat_mask.sum())
