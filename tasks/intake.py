"""Stage 1 of the loop, *collect*: find the quarter's files and read every channel's
messy exports into one typed staging frame.

What comes in: files in ``<data_dir>/<quarter>/`` named after their channel
(``star_survey_52.xlsx``, ``review_book-office3.csv``...), in whatever encoding,
delimiter and header language the exporting system chose.
What goes out: a :class:`RawFile` per file (canonical columns, raw text values,
the physical row number of each record) and, from :func:`stage_rows`, a staging
DataFrame with typed columns plus ``<field>__raw`` copies used to explain
rejections. Nothing is dropped here: blank lines and repeated header rows are
counted and reported; personal-data columns (contact, author) are never read
into the frame.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from cxloop.config import CHANNELS, ITEMS, AppConfig, ChannelMapping
from cxloop.quarters import Quarter

SUPPORTED_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx", ".json", ".jsonl", ".ndjson")
# Columns that hold personal data by design: never copied into the staging frame.
PERSONAL_FIELDS = {"contact", "author"}
NO_ANSWER = {"", "не знаю", "нет ответа", "затрудняюсь ответить", "n/a", "na", "-", "en osaa sanoa", "don't know", "dont know"}
CLIENT_TYPE_VALUES = {
    "citizen": "citizen", "гражданин": "citizen", "граждане": "citizen", "соискатель": "citizen",
    "безработный": "citizen", "физлицо": "citizen", "физическое лицо": "citizen", "asiakas": "citizen",
    "työnhakija": "citizen", "employer": "employer", "работодатель": "employer", "работодатели": "employer",
    "юрлицо": "employer", "юридическое лицо": "employer", "työnantaja": "employer",
}
ID_FIELD = {
    "star_survey": "respondent_id", "contact_center": "call_id", "pos": "id",
    "social": "id", "interview_followup": "response_id", "review_book": None,
}
DATE_FIELD = {
    "star_survey": "survey_date", "review_book": "date", "contact_center": "call_date",
    "pos": "created_at", "social": "published_at", "interview_followup": "date",
}
TEXT_FIELD = {
    "star_survey": "comment", "review_book": "text", "contact_center": "comment",
    "pos": "text", "social": "text", "interview_followup": "comment",
}
RATING_FIELD = {"review_book": "rating", "contact_center": "rating", "social": "stars"}
FOLLOWUP_ITEMS = ("q_useful", "q_clear_next_steps", "q_confident")


class IntakeError(ValueError):
    """A file cannot be read at all (the message names the file and why)."""


@dataclass
class RawFile:
    path: Path
    channel: str
    sha256: str
    frame: pd.DataFrame  # canonical columns (strings or native cell values) + source_row
    skipped_blank: int = 0
    skipped_header: int = 0
    unreadable: list[tuple[int, str]] = field(default_factory=list)  # (row, reason) e.g. broken JSON line

    @property
    def received(self) -> int:
        return len(self.frame) + len(self.unreadable)


# --------------------------------------------------------------------------- discovery


def channel_of(path: Path) -> str | None:
    """The channel a file belongs to, from its name (``<channel>...``), longest id first."""
    name = path.name.lower()
    for channel in sorted(CHANNELS, key=len, reverse=True):
        if name.startswith(channel):
            return channel
    return None


def discover_files(data_dir: Path, quarter: str) -> list[tuple[Path, str]]:
    """The quarter's drop folder, sorted, with each file's channel. Unknown names raise."""
    folder = Path(data_dir) / str(Quarter.parse(quarter))
    if not folder.exists():
        return []
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS or path.name.startswith((".", "~$")):
            continue
        channel = channel_of(path)
        if channel is None:
            raise IntakeError(f"{path}: file name does not start with a channel id ({', '.join(CHANNELS)})")
        found.append((path, channel))
    return found


# --------------------------------------------------------------------------- decoding


def norm_header(value: object) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\ufeff", "").strip().lower().replace("ё", "е")
    return re.sub(r"\s+", " ", text)


def decode_bytes(data: bytes, path: Path) -> str:
    """Detect the encoding from the bytes, never from the file name."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    # UTF-16 without BOM: every other byte is NUL in mostly-ASCII text.
    head = data[:4000]
    if head and head.count(b"\x00") > len(head) // 4:
        return data.decode("utf-16-le" if head[1:2] == b"\x00" else "utf-16-be")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["cp1251", "koi8_r", "cp1252", "latin_1", "iso8859_15"]).best()
    if best is None:
        raise IntakeError(f"{path}: cannot detect the text encoding")
    return str(best)


def _sniff_delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (";", "\t", ",")}
    return max(counts, key=lambda d: (counts[d], d == ";"))


# --------------------------------------------------------------------------- readers


def _header_map(cells: list[object], mapping: ChannelMapping) -> dict[int, str]:
    """Column position -> canonical field, for the cells of a candidate header row."""
    aliases = {norm_header(a): f for f, names in mapping.fields.items() for a in [f, *names]}
    out: dict[int, str] = {}
    for pos, cell in enumerate(cells):
        fld = aliases.get(norm_header(cell))
        if fld and fld not in out.values():
            out[pos] = fld
    return out


def _is_header(cells: list[object], mapping: ChannelMapping) -> bool:
    hmap = _header_map(cells, mapping)
    return bool(hmap) and all(r in hmap.values() for r in mapping.required)


def _rows_to_frame(rows: list[tuple[int, list[object]]], mapping: ChannelMapping, path: Path) -> tuple[pd.DataFrame, int, int]:
    """rows: (physical row number, cells). Finds the header, skips blank and repeated header rows."""
    header_at = None
    for i, (_, cells) in enumerate(rows[:20]):
        if _is_header(cells, mapping):
            header_at = i
            break
    if header_at is None:
        raise IntakeError(
            f"{path}: no header row with the required columns {mapping.required} "
            f"(aliases in config/channels/{mapping.channel}.yaml)"
        )
    header_cells = rows[header_at][1]
    hmap = {pos: f for pos, f in _header_map(header_cells, mapping).items() if f not in PERSONAL_FIELDS}
    header_norm = [norm_header(c) for c in header_cells]
    records, numbers = [], []
    blank = header_again = 0
    for row_no, cells in rows[header_at + 1 :]:
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            blank += 1
            continue
        if cells and norm_header(cells[0]) == header_norm[0] and [norm_header(c) for c in cells[: len(header_norm)]] == header_norm:
            header_again += 1
            continue
        records.append({f: (cells[pos] if pos < len(cells) else None) for pos, f in hmap.items()})
        numbers.append(row_no)
    frame = pd.DataFrame.from_records(records, columns=list(hmap.values())) if records else pd.DataFrame(columns=list(hmap.values()))
    for f in mapping.fields:
        if f not in frame.columns and f not in PERSONAL_FIELDS:
            frame[f] = None
    frame["source_row"] = np.asarray(numbers, dtype="int64")
    # Blank lines before the header are not data either.
    blank += sum(1 for _, cells in rows[:header_at] if all(c is None or not str(c).strip() for c in cells))
    return frame, blank, header_again


def _read_csv(path: Path, data: bytes, mapping: ChannelMapping) -> tuple[pd.DataFrame, int, int]:
    text = decode_bytes(data, path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    rows = []
    for cells in reader:
        rows.append((reader.line_num, [c.strip() if isinstance(c, str) else c for c in cells]))
    return _rows_to_frame(rows, mapping, path)


def _read_xlsx(path: Path, mapping: ChannelMapping) -> tuple[pd.DataFrame, int, int]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises a zoo of types for broken files
        raise IntakeError(f"{path}: not a readable XLSX workbook ({exc})") from exc
    try:
        ws = wb.worksheets[0]
        rows = [(i, list(cells)) for i, cells in enumerate(ws.iter_rows(values_only=True), start=1)]
    finally:
        wb.close()
    return _rows_to_frame(rows, mapping, path)


def _read_json(path: Path, data: bytes, mapping: ChannelMapping) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    text = decode_bytes(data, path)
    unreadable: list[tuple[int, str]] = []
    items: list[tuple[int, dict]] = []
    if path.suffix.lower() == ".json":
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise IntakeError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
        if isinstance(payload, dict):  # some exports wrap the array
            payload = next((v for v in payload.values() if isinstance(v, list)), [payload])
        for i, obj in enumerate(payload, start=1):
            if isinstance(obj, dict):
                items.append((i, obj))
            else:
                unreadable.append((i, "element is not a JSON object"))
    else:
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                unreadable.append((i, f"line is not valid JSON ({exc.msg})"))
                continue
            if isinstance(obj, dict):
                items.append((i, obj))
            else:
                unreadable.append((i, "line is not a JSON object"))
    aliases = {norm_header(a): f for f, names in mapping.fields.items() for a in [f, *names]}
    records = []
    for _, obj in items:
        rec: dict[str, object] = {}
        for key, value in obj.items():
            fld = aliases.get(norm_header(key))
            if fld and fld not in PERSONAL_FIELDS:
                rec[fld] = value
        records.append(rec)
    cols = [f for f in mapping.fields if f not in PERSONAL_FIELDS]
    frame = pd.DataFrame.from_records(records, columns=cols) if records else pd.DataFrame(columns=cols)
    frame["source_row"] = np.asarray([i for i, _ in items], dtype="int64")
    return frame, unreadable


def read_channel_file(path: Path, channel: str, config: AppConfig) -> RawFile:
    """Read one export into canonical columns. Raises IntakeError when the file as a whole is unreadable."""
    path = Path(path)
    mapping = config.channels[channel]
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    ext = path.suffix.lower()
    blank = header_again = 0
    unreadable: list[tuple[int, str]] = []
    if ext == ".xlsx":
        frame, blank, header_again = _read_xlsx(path, mapping)
    elif ext in (".json", ".jsonl", ".ndjson"):
        frame, unreadable = _read_json(path, data, mapping)
    else:
        frame, blank, header_again = _read_csv(path, data, mapping)
    return RawFile(path, channel, sha, frame, blank, header_again, unreadable)


# --------------------------------------------------------------------------- typing

_DMY = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})(?:[ T].*)?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$")
_EXCEL_EPOCH = date(1899, 12, 30)


def parse_date(value: object) -> date | None:
    """ISO, dd.mm.yyyy, dd.mm.yy, Excel serials (number or numeric text), datetime cells."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        serial = float(value)
        return _EXCEL_EPOCH + timedelta(days=int(serial)) if 20000 <= serial <= 80000 else None
    text = str(value).strip()
    if not text:
        return None
    try:
        m = _ISO.match(text)
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _DMY.match(text)
        if m:
            year = int(m.group(3))
            year = year + 2000 if year < 100 else year
            return date(year, int(m.group(2)), int(m.group(1)))
        if re.fullmatch(r"\d{5}(\.\d+)?", text):
            return parse_date(float(text))
    except ValueError:  # 32.13.2025 and friends
        return None
    return None


_NUM = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)")


def parse_number(value: object) -> float | None:
    """Numbers, numbers as text ("4", "4,0"), ratings as text ("5 звёзд", "4/5")."""
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return None if np.isnan(float(value)) else float(value)
    m = _NUM.match(str(value))
    return float(m.group(1).replace(",", ".")) if m else None


def _is_no_answer(value: object) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return True
    return isinstance(value, str) and norm_header(value) in NO_ANSWER


def map_unique(series: pd.Series, fn) -> pd.Series:
    """Apply ``fn`` once per distinct value: exports repeat the same few answers,
    dates and codes across millions of rows (the benchmark's hot spot)."""
    if series.empty:
        return pd.Series([], index=series.index, dtype=object)
    keyed = series.map(lambda v: (type(v).__name__, v) if v is not None and v == v else None) if series.dtype == object else series
    codes, uniques = pd.factorize(keyed, use_na_sentinel=True)
    values = [fn(u[1] if isinstance(u, tuple) else u) for u in uniques]
    values.append(fn(None))  # position -1: missing values
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return pd.Series(out[codes], index=series.index, dtype=object)


def _answer_value(v: object) -> float:
    """1-5 answers: NaN for no answer, -1 for an answer that is not a number (rejected later)."""
    if _is_no_answer(v):
        return np.nan
    num = parse_number(v)
    return -1.0 if num is None else num


def _parse_answers(series: pd.Series) -> pd.Series:
    return map_unique(series, _answer_value).astype("float64")


_parse_optional_rating = _parse_answers


def _str_or_none(v: object) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    text = str(v).strip()
    return text or None


def stage_rows(raw: RawFile, office_regions: dict[str, str]) -> pd.DataFrame:
    """Typed staging frame for validation. One row per record of the file.

    Columns: source_file, source_row, channel, external_id, received_at (date or None),
    quarter, office_code, region_code, client_type, journey_stage, rating, scale, text,
    F1..C4 (star survey), and ``<field>__raw`` for every parsed field.
    ``office_regions`` maps the registry's office codes to their regions.
    """
    f = raw.frame
    ch = raw.channel
    n = len(f)
    out = pd.DataFrame(index=f.index)
    out["source_file"] = str(raw.path)
    out["source_row"] = f["source_row"].astype("int64")
    out["channel"] = ch
    id_field = ID_FIELD[ch]
    out["external_id"] = f[id_field].pipe(map_unique, _str_or_none) if id_field else None
    date_raw = f[DATE_FIELD[ch]]
    out["received_at__raw"] = date_raw.pipe(map_unique, _str_or_none)
    received = map_unique(date_raw, parse_date)
    out["received_at"] = received
    out["quarter"] = map_unique(received, lambda d: str(Quarter.of(d)) if d else None)
    out["office_code"] = f["office_code"].pipe(map_unique, _str_or_none) if "office_code" in f else None
    region_raw = f["region_code"].pipe(map_unique, _str_or_none) if "region_code" in f else pd.Series([None] * n, index=f.index)
    office_region = out["office_code"].map(lambda c: office_regions.get(c))
    out["region_code"] = office_region.where(office_region.notna(), region_raw)
    if "client_type" in f:
        ct_raw = f["client_type"].pipe(map_unique, _str_or_none)
        out["client_type__raw"] = ct_raw
        out["client_type"] = map_unique(ct_raw, lambda v: "citizen" if v is None else CLIENT_TYPE_VALUES.get(norm_header(v), None))
    else:
        out["client_type__raw"] = None
        out["client_type"] = "citizen"
    out["journey_stage"] = f["stage"].pipe(map_unique, _str_or_none) if "stage" in f else None
    out["text"] = f[TEXT_FIELD[ch]].pipe(map_unique, _str_or_none)
    out["scale"] = 5
    if ch in RATING_FIELD:
        rf = RATING_FIELD[ch]
        out["rating__raw"] = f[rf].pipe(map_unique, _str_or_none)
        out["rating"] = _parse_optional_rating(f[rf])
    elif ch == "interview_followup":
        answers = pd.DataFrame({q: _parse_answers(f[q]) for q in FOLLOWUP_ITEMS})
        for q in FOLLOWUP_ITEMS:
            out[q] = answers[q]
            out[f"{q}__raw"] = f[q].pipe(map_unique, _str_or_none)
        valid = answers.where((answers >= 1) & (answers <= 5))
        out["rating"] = valid.mean(axis=1).round(2)
        out["rating__raw"] = None
    else:
        out["rating"] = np.nan
        out["rating__raw"] = None
    if ch == "star_survey":
        for item in ITEMS:
            out[f"{item}__raw"] = f[item].pipe(map_unique, _str_or_none)
            out[item] = _parse_answers(f[item])
        out["scale"] = None
    return out.reset_index(drop=True)
