"""Byte-stable writers of the demo's files: CSV, XLSX, JSON and JSON lines.

They turn a :class:`~demo.rows.Table` (or records) into bytes, planting blank and
repeated-header rows (:class:`Noise`) with the caller's random stream, and fix every
timestamp an XLSX would carry, so the same seed always gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from openpyxl import Workbook

from demo.rows import Table


@dataclass
class Noise:
    blank_rows: int = 0
    blank_as_delimiters: bool = False  # ";;;;" lines as Excel writes them, instead of empty lines
    repeated_header: bool = False
    trailing_empty_cols: int = 0


def _noise_positions(rng: np.random.Generator, n_rows: int, noise: Noise) -> dict[int, str]:
    """Row index -> 'blank' | 'header', inserted before that data row."""
    slots: dict[int, str] = {}
    if n_rows < 4:
        return slots
    if noise.repeated_header:
        slots[int(rng.integers(n_rows // 3, 2 * n_rows // 3 + 1))] = "header"
    free = [k for k in range(1, n_rows) if k not in slots]
    for k in rng.choice(free, size=min(noise.blank_rows, len(free)), replace=False):
        slots[int(k)] = "blank"
    return slots


def csv_bytes(
    table: Table, encoding: str, delimiter: str, noise: Noise, rng: np.random.Generator, bom: bytes = b""
) -> tuple[bytes, int]:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    tail = [""] * noise.trailing_empty_cols
    width = len(table.header) + len(tail)
    # Placed among the rows that came before the emerging ones, so that appending those
    # rows moves no blank or repeated-header row and draws nothing else from ``rng``.
    slots = _noise_positions(rng, len(table.rows) - table.emerging, noise)
    writer.writerow(table.header + tail)
    for i, row in enumerate(table.rows):
        kind = slots.get(i)
        if kind == "header":
            writer.writerow(table.header + tail)
        elif kind == "blank":
            if noise.blank_as_delimiters:
                writer.writerow([""] * width)
            else:
                buf.write("\r\n")
        writer.writerow(["" if v is None else v for v in row] + tail)
    return bom + buf.getvalue().encode(encoding), len(slots)


_FIXED_TIME = datetime(2020, 1, 1, 0, 0, 0)
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_CORE_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:(?:created|modified)>)")


def xlsx_bytes(table: Table, sheet: str, noise: Noise, rng: np.random.Generator) -> tuple[bytes, int]:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    wb.properties.creator = "cxloop demo"
    wb.properties.created = _FIXED_TIME
    wb.properties.modified = _FIXED_TIME
    slots = _noise_positions(rng, len(table.rows) - table.emerging, noise)  # as in csv_bytes
    ws.append(table.header)
    r = 1
    for i, row in enumerate(table.rows):
        kind = slots.get(i)
        if kind is not None:
            r += 1
            if kind == "header":
                for c, v in enumerate(table.header, start=1):
                    ws.cell(row=r, column=c, value=v)
        r += 1
        for c, v in enumerate(row, start=1):
            if v is None:
                continue
            cell = ws.cell(row=r, column=c, value=v)
            if isinstance(v, date):
                cell.number_format = "DD.MM.YYYY"
    raw = io.BytesIO()
    wb.save(raw)
    return _normalise_zip(raw.getvalue()), len(slots)


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite an XLSX with fixed timestamps and sorted entries, so equal content gives equal bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(src.namelist()):
            content = src.read(name)
            if name == "docProps/core.xml":
                # openpyxl stamps "modified" with the wall clock on save.
                content = _CORE_STAMP.sub(rb"\g<1>2020-01-01T00:00:00Z\g<2>", content)
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, content)
    return out.getvalue()


def json_bytes(records: list[dict[str, Any]]) -> bytes:
    return (json.dumps(records, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def jsonl_bytes(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
