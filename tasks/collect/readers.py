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
into the frame. A file that cannot be read as a whole (empty, header only,
binary, a broken, oversized or zip-bomb XLSX, unknown layout, unreadable
encoding, JSON that is no array or object stream) raises one IntakeError naming
the file and the cause; docs/import-templates.md lists them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from cxloop.config import AppConfig, ChannelMapping
from cxloop.domain import CHANNELS, ITEMS, SURVEY_QUESTIONS
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

# Whole-file limits. An XLSX is a zip archive: its declared member sizes and
# compression ratios are checked from the central directory *before* openpyxl
# opens it (Python's zipfile never inflates a member past its declared size, so
# the declared sizes bound what reading can cost). Excel itself stops at
# 1,048,576 rows, so a sheet past MAX_XLSX_ROWS was not written by Excel.
MAX_XLSX_ROWS = 2_000_000
MAX_XLSX_CELLS = 30_000_000
MAX_XLSX_COLUMNS = 1_000  # a declared width past this is ignored (rows are not padded to it)
MAX_XLSX_UNCOMPRESSED = 200 * 1024 * 1024  # bytes, all members together
MAX_COMPRESSION_RATIO = 100  # real sheets compress 4-20x; checked for members above ZIP_RATIO_MIN_SIZE
ZIP_RATIO_MIN_SIZE = 1024 * 1024
MAX_ZIP_MEMBERS = 10_000
# A quoted CSV cell that spans more lines than this is an unclosed quote, not a comment.
MAX_RECORD_LINES = 1_000

# Signatures of binary formats people rename to .csv/.json by mistake (checked on
# the first bytes only; the message says what the file really is).
_SIGNATURES = (
    (b"PK\x03\x04", "a zip archive (an XLSX workbook or other zip)"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Excel .xls or a password-protected workbook (OLE2)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "an executable"),
)
# Bytes that never occur in a text export (tab, LF, CR, FF and NUL excluded:
# stray NULs are tolerated and removed, see decode_bytes).
_CONTROL_BYTES = bytes([*range(1, 9), 11, *range(14, 32), 127])
_BLANK_FILE = re.compile(rb"(?:\xef\xbb\xbf|\xff\xfe|\xfe\xff)?[\s\x00]*\Z")
# Line breaks as the csv module and JSON lines know them (str.splitlines would also
# split on U+2028, U+0085..., which JSON strings may hold unescaped).
_LINE_BREAK = re.compile(r"\r\n?|\n")


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


# --------------------------------------------------------------------------- decoding


def norm_header(value: object) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\ufeff", "").strip().lower().replace("ё", "е")
    return re.sub(r"\s+", " ", text)


def binary_kind(data: bytes) -> str | None:
    """What a binary file really is, from its first bytes (None for anything else)."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    return None


def _looks_binary(head: bytes) -> bool:
    """Control bytes a text export never holds; random bytes have ~11 %, text none."""
    bad = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return bad > max(2, len(head) // 50)


def _decode(data: bytes, path: Path, hints: tuple[str, ...] = ()) -> str:
    """The text; raises UnicodeDecodeError (bytes the detected encoding rejects) or IntakeError."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return data.decode("utf-32")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    # UTF-16 without BOM: every other byte is NUL in mostly-ASCII text.
    head = data[:4000]
    if head and head.count(b"\x00") > len(head) // 4:
        return data.decode("utf-16-le" if head[1:2] == b"\x00" else "utf-16-be")
    if _looks_binary(head):
        raise IntakeError(f"{path}: binary or garbage content, not a text export (control bytes in the first {len(head)} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # An 8-bit code page. Statistical detection misreads short, mostly-ASCII files
    # (a header with one Russian word): when the channel's own Russian column names
    # read correctly in cp1251, this domain's usual legacy encoding, that settles it.
    cyrillic = [h for h in hints if not h.isascii()]
    if cyrillic:
        try:
            text = data.decode("cp1251")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            head = text[:65536].lower().replace("ё", "е")
            if any(h in head for h in cyrillic):
                return text
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["cp1251", "koi8_r", "cp1252", "latin_1", "iso8859_15"]).best()
    if best is not None:
        return str(best)
    try:  # detection gives up on short or odd texts: fall back to cp1251
        return data.decode("cp1251")
    except UnicodeDecodeError:
        raise IntakeError(f"{path}: unreadable encoding: not UTF-8, UTF-16 or cp1251 (cannot detect the text encoding)") from None


def decode_bytes(data: bytes, path: Path, hints: tuple[str, ...] = ()) -> str:
    """Detect the encoding from the bytes, never from the file name.

    UTF-8 (with or without BOM), UTF-16/32 (BOM or NUL pattern), else the best
    8-bit code page (cp1251 first). Bytes the detected encoding cannot decode,
    or binary content, raise :class:`IntakeError` with the offset and line.
    Stray NUL characters (some exporters pad fields with them) are removed.
    ``hints``: normalised words the text should contain (the channel's column
    names), used to settle the code page of short files.
    """
    try:
        text = _decode(data, path, hints)
    except UnicodeDecodeError as exc:
        offset = 3 if data.startswith(b"\xef\xbb\xbf") else 0  # the BOM is not part of what was decoded
        at = exc.start + offset
        line = data.count(b"\n", 0, at) + 1
        what = "starts with a UTF-8 byte-order mark but is not UTF-8" if offset == 3 else f"is not valid {exc.encoding} ({exc.reason})"
        raise IntakeError(
            f"{path}: unreadable encoding: the file {what} (bytes {data[at:at + 4].hex(' ')} at offset {at}, line {line}); "
            "save it as UTF-8, UTF-16 or cp1251"
        ) from None
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text


def _first_line(text: str) -> str:
    # A prefix is enough to find the first line (splitting a whole file copies it).
    return next((line for line in _LINE_BREAK.split(text[:65536]) if line.strip()), "")


def _sniff_delimiter(text: str) -> str:
    first = _first_line(text)
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


def _no_header_message(rows: list[tuple[int, list[object]]], mapping: ChannelMapping, path: Path) -> str:
    """Why no header was found: the closest candidate row and what it lacks.

    Only canonical field names are quoted, never cell contents (a headerless
    file's first row is data and may hold personal data)."""
    best_row, best = None, {}
    for row_no, cells in rows:
        hmap = _header_map(cells, mapping)
        if len(hmap) > len(best):
            best_row, best = row_no, hmap
    required = ", ".join(mapping.required)
    where = f"(aliases in config/channels/{mapping.channel}.yaml)"
    if not best:
        return (f"{path}: unknown layout: no header row with the required columns {required} "
                f"in the first {len(rows)} rows; none of the channel's column names was found {where}")
    missing = [f for f in mapping.required if f not in best.values()]
    return (f"{path}: no header row with the required columns {required}: the closest, row {best_row}, "
            f"has {', '.join(best.values())} but lacks {', '.join(missing)} {where}")


def _rows_to_frame(rows: list[tuple[int, list[object]]], mapping: ChannelMapping, path: Path) -> tuple[pd.DataFrame, int, int]:
    """rows: (physical row number, cells). Finds the header, skips blank and repeated header rows."""
    header_at = None
    for i, (_, cells) in enumerate(rows[:20]):
        if _is_header(cells, mapping):
            header_at = i
            break
    if header_at is None:
        raise IntakeError(_no_header_message(rows[:20], mapping, path))
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


def _check_multiline_record(path: Path, start: int, end: int, cells: list[str], delimiter: str, width: int) -> None:
    """A record spanning lines start..end holds a quoted cell with line breaks: fine
    for a multi-line comment, but an unclosed quote swallows the following rows
    into one cell, silently. Refuse a cell whose continuation lines look like
    whole rows (as many delimiters as the first line) or that runs on too long."""
    if end - start >= MAX_RECORD_LINES:
        raise IntakeError(
            f"{path}: line {start}: a quoted field runs over {end - start + 1} lines (to line {end}); "
            "probably an unclosed quote (\") - fix it and send the file again"
        )
    for cell in cells:
        if "\n" not in cell and "\r" not in cell:
            continue
        for k, line in enumerate(_LINE_BREAK.split(cell)[1:], start=1):
            if width and line.count(delimiter) >= width:
                raise IntakeError(
                    f"{path}: line {start}: a quoted field opened here swallows line {start + k}, which looks like "
                    "a whole row; probably an unclosed quote (\") - fix it and send the file again"
                )


def _alias_hints(mapping: ChannelMapping) -> tuple[str, ...]:
    return tuple(norm_header(a) for f, names in mapping.fields.items() for a in [f, *names])


def _read_csv(path: Path, data: bytes, mapping: ChannelMapping) -> tuple[pd.DataFrame, int, int]:
    text = decode_bytes(data, path, _alias_hints(mapping))
    delimiter = _sniff_delimiter(text)
    from tasks.collect.fast_csv import read_delimited_fast

    fast = read_delimited_fast(text, delimiter, mapping, data)  # None unless every record is one plain line
    if fast is not None:
        return fast
    width = _first_line(text).count(delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    end = 0
    try:
        for cells in reader:
            # A record's row number is the physical line it starts on (a quoted
            # cell with line breaks makes a record span several lines).
            start, end = end + 1, reader.line_num
            if end != start:
                _check_multiline_record(path, start, end, cells, delimiter, width)
            rows.append((start, [c.strip() if isinstance(c, str) else c for c in cells]))
    except csv.Error as exc:  # e.g. a cell over the csv module's 128 KiB field limit
        raise IntakeError(f"{path}: line {end + 1}: cannot split the line into cells ({exc}); probably an unclosed quote") from None
    return _rows_to_frame(rows, mapping, path)


def check_xlsx_archive(path: Path, data: bytes) -> None:
    """Refuse a workbook before openpyxl opens it: not a complete zip, not an XLSX,
    too many members, too large once unpacked, or a zip bomb (a member inflating
    more than MAX_COMPRESSION_RATIO times). Reads only the zip's central directory."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
        raise IntakeError(f"{path}: truncated or damaged XLSX: the zip archive is incomplete ({exc})") from None
    with archive:
        infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise IntakeError(f"{path}: oversized XLSX: {len(infos):,} zip members (limit {MAX_ZIP_MEMBERS:,})")
    if not any(i.filename == "xl/workbook.xml" for i in infos):
        raise IntakeError(f"{path}: not an XLSX workbook: a zip archive without xl/workbook.xml")
    for info in infos:
        if info.file_size > ZIP_RATIO_MIN_SIZE and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise IntakeError(
                f"{path}: refused as a zip bomb: {info.filename} would inflate {info.compress_size:,} bytes to "
                f"{info.file_size:,} ({info.file_size // max(info.compress_size, 1):,}x, limit {MAX_COMPRESSION_RATIO}x)"
            )
    total = sum(i.file_size for i in infos)
    if total > MAX_XLSX_UNCOMPRESSED:
        raise IntakeError(
            f"{path}: oversized XLSX: unpacks to {total / 2**20:,.0f} MB (limit {MAX_XLSX_UNCOMPRESSED / 2**20:,.0f} MB); "
            "split the export or send it as CSV"
        )


def _read_xlsx(path: Path, mapping: ChannelMapping, data: bytes | None = None) -> tuple[pd.DataFrame, int, int]:
    from openpyxl import load_workbook

    data = path.read_bytes() if data is None else data
    check_xlsx_archive(path, data)
    try:
        # From the bytes already read: the content decides the format, not the name.
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises a zoo of types for broken files
        raise IntakeError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {str(exc)[:200]})") from None
    rows = []
    empty = cells_seen = 0
    row_no = 0
    try:
        if not wb.worksheets:
            raise IntakeError(f"{path}: the workbook has no worksheet")
        ws = wb.worksheets[0]
        if (ws.max_row or 0) > MAX_XLSX_ROWS:
            raise IntakeError(f"{path}: oversized XLSX: the sheet declares {ws.max_row:,} rows (limit {MAX_XLSX_ROWS:,})")
        if (ws.max_column or 0) > MAX_XLSX_COLUMNS:
            ws.reset_dimensions()  # else openpyxl pads every row to the declared width
        for row_no, cells in enumerate(ws.iter_rows(values_only=True), start=1):
            if row_no > MAX_XLSX_ROWS:
                raise IntakeError(f"{path}: oversized XLSX: more than {MAX_XLSX_ROWS:,} rows")
            cells_seen += len(cells)
            if cells_seen > MAX_XLSX_CELLS:
                raise IntakeError(f"{path}: oversized XLSX: more than {MAX_XLSX_CELLS:,} cells")
            if all(c is None for c in cells):
                empty += 1  # counted, not kept: a sparse sheet must not cost memory per missing row
                continue
            rows.append((row_no, [c.strip() if isinstance(c, str) else c for c in cells]))
    except IntakeError:
        raise
    except Exception as exc:  # a damaged member (bad CRC, truncated deflate stream, broken XML)
        # The type only: a parser's message may quote cell contents.
        raise IntakeError(f"{path}: damaged XLSX: the sheet cannot be read past row {row_no} ({type(exc).__name__})") from None
    finally:
        wb.close()
    frame, blank, header_again = _rows_to_frame(rows, mapping, path)
    return frame, blank + empty, header_again


_JSON_TYPE = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number", bool: "true/false", type(None): "null"}
_MAX_SAFE_INT = 2**53  # larger JSON integers are ids, not numbers: kept as text (float() would overflow)


def _json_records(payload: object, mapping: ChannelMapping, path: Path) -> list:
    """The records of a parsed .json file: an array, or an object wrapping one
    ({"items": [...]}), or a single record object."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for value in payload.values():
            if isinstance(value, list) and value and sum(isinstance(v, dict) for v in value) * 2 >= len(value):
                return value
        required = {norm_header(a) for f in mapping.required for a in [f, *mapping.fields.get(f, [])]}
        if any(norm_header(k) in required for k in payload):
            return [payload]  # a single record
        if any(isinstance(v, list) and not v for v in payload.values()):
            return []  # {"items": []}: an empty export
        raise IntakeError(f"{path}: JSON object holds no array of records and none of the required fields "
                          f"{', '.join(mapping.required)} (an error response instead of an export?)")
    raise IntakeError(f"{path}: JSON is {_JSON_TYPE.get(type(payload), 'a value')}, not an array of objects or an object stream")


def _json_lines(text: str, path: Path) -> tuple[list[tuple[int, object]], list[tuple[int, str]]]:
    """(line number, parsed value) for every line that parses, and the lines that do not."""
    parsed: list[tuple[int, object]] = []
    broken: list[tuple[int, str]] = []
    for i, line in enumerate(_LINE_BREAK.split(text), start=1):
        if not line.strip():
            continue
        try:
            parsed.append((i, json.loads(line)))
        except json.JSONDecodeError as exc:
            broken.append((i, f"line is not valid JSON ({exc.msg})"))
        except (ValueError, RecursionError) as exc:  # 5,000-digit numbers, absurd nesting
            broken.append((i, f"line is not usable JSON ({type(exc).__name__})"))
    if broken and not parsed:
        raise IntakeError(f"{path}: not JSON lines: none of the {len(broken)} non-blank lines is valid JSON (line {broken[0][0]}: {broken[0][1]})")
    return parsed, broken


def _read_json(path: Path, data: bytes, mapping: ChannelMapping) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    text = decode_bytes(data, path)
    unreadable: list[tuple[int, str]] = []
    items: list[tuple[int, dict]] = []
    values: list[tuple[int, object]]
    if path.suffix.lower() == ".json":
        try:
            payload = json.loads(text)
            values = list(enumerate(_json_records(payload, mapping, path), start=1))
            kind = "element"
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":
                raise IntakeError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
            # One object per line saved as .json: read it as the JSON lines it is.
            values, unreadable = _json_lines(text, path)
            kind = "line"
        except IntakeError:
            raise
        except RecursionError:
            raise IntakeError(f"{path}: not usable JSON: nested too deeply") from None
        except ValueError as exc:  # e.g. an integer of thousands of digits
            raise IntakeError(f"{path}: not usable JSON ({type(exc).__name__})") from None
    else:
        values, unreadable = _json_lines(text, path)
        kind = "line"
    for i, obj in values:
        if isinstance(obj, dict):
            items.append((i, obj))
        else:
            unreadable.append((i, f"{kind} is not a JSON object"))
    aliases = {norm_header(a): f for f, names in mapping.fields.items() for a in [f, *names]}
    records, numbers = [], []
    for i, obj in items:
        rec: dict[str, object] = {}
        nested: tuple[str, str] | None = None
        for key, value in obj.items():
            fld = aliases.get(norm_header(key))
            if not fld or fld in PERSONAL_FIELDS:
                continue
            if isinstance(value, (dict, list)):
                nested = nested or (fld, "an object" if isinstance(value, dict) else "an array")
                continue
            if type(value) is int and not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
                value = str(value)
            rec[fld] = value
        if nested:  # a field that is an object/array has no single value to validate
            unreadable.append((i, f"field {nested[0]} holds {nested[1]}, not a single value"))
            continue
        records.append(rec)
        numbers.append(i)
    unreadable.sort()
    cols = [f for f in mapping.fields if f not in PERSONAL_FIELDS]
    frame = pd.DataFrame.from_records(records, columns=cols) if records else pd.DataFrame(columns=cols)
    frame["source_row"] = np.asarray(numbers, dtype="int64")
    return frame, unreadable


_TEXT_EXTENSIONS = (".csv", ".txt", ".tsv")


def read_channel_file(path: Path, channel: str, config: AppConfig) -> RawFile:
    """Read one export into canonical columns.

    Raises :class:`IntakeError` (one message naming the file and the cause) when
    the file as a whole is unusable: unreadable, empty or whitespace only, binary
    or garbage, a truncated, oversized or zip-bomb XLSX, an unknown layout
    (no header with the required columns), an unreadable encoding, JSON that is
    neither an array nor an object stream, or no data rows (header only).
    Rows that cannot be read (a broken JSON line, an array element that is not
    an object) are not a file failure: they are returned as ``unreadable``.
    """
    path = Path(path)
    mapping = config.channels[channel]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IntakeError(f"{path}: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    if not data:
        raise IntakeError(f"{path}: empty file (0 bytes)")
    if _BLANK_FILE.match(data):
        only = "a byte-order mark" if data in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff") else "whitespace"
        raise IntakeError(f"{path}: empty file: only {only}, no header and no data rows")
    sha = hashlib.sha256(data).hexdigest()
    ext = path.suffix.lower()
    kind = binary_kind(data)
    blank = header_again = 0
    unreadable: list[tuple[int, str]] = []
    if ext == ".xlsx" or (ext in _TEXT_EXTENSIONS and data.startswith(b"PK\x03\x04")):
        if ext == ".xlsx" and not data.startswith(b"PK\x03\x04"):
            raise IntakeError(f"{path}: not an XLSX workbook (not a zip archive): {_what_instead(data, kind)}")
        frame, blank, header_again = _read_xlsx(path, mapping, data)
    elif kind is not None:
        raise IntakeError(f"{path}: binary file: this is {kind}, not a {ext.lstrip('.').upper() or 'text'} export")
    elif ext in (".json", ".jsonl", ".ndjson"):
        frame, unreadable = _read_json(path, data, mapping)
    else:
        frame, blank, header_again = _read_csv(path, data, mapping)
    if frame.empty and not unreadable:
        if ext in (".json", ".jsonl", ".ndjson"):
            raise IntakeError(f"{path}: no data rows (no records in the JSON)")
        raise IntakeError(f"{path}: no data rows (header only; {blank} blank and {header_again} repeated header rows)")
    return RawFile(path, channel, sha, frame, blank, header_again, unreadable)


def _what_instead(data: bytes, kind: str | None) -> str:
    if kind is not None:
        return f"this is {kind}"
    try:
        decode_bytes(data[:65536], Path("-"))
    except IntakeError:
        return "the content is binary or garbage"
    return "it is a text file (if it is a CSV export, name it .csv)"


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
    if series.dtype != object or pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        keyed = series  # one type (or all missing): values cannot collide across types
    else:
        # Mixed cells (XLSX: 5 and "5", dates and text): key by type so 1 and True stay apart.
        keyed = series.map(lambda v: (type(v).__name__, v) if v is not None and v == v else None)
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



def _strings_or_none(series: pd.Series) -> pd.Series:
    """Stripped text, None for empty or missing: vectorised for text columns (CSV),
    one call per distinct value for mixed cells (XLSX, JSON)."""
    if pd.api.types.is_string_dtype(series.dtype) and pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        text = series.str.strip()
        return text.where(text.notna() & (text != ""), None).astype(object)
    return map_unique(series, _str_or_none)


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
    F1..C4 and overall, nps, ces (star survey; NaN = not answered), and
    ``<field>__raw`` for every parsed field.
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
    out["external_id"] = f[id_field].pipe(_strings_or_none) if id_field else None
    date_raw = f[DATE_FIELD[ch]]
    out["received_at__raw"] = date_raw.pipe(_strings_or_none)
    received = map_unique(date_raw, parse_date)
    out["received_at"] = received
    out["quarter"] = map_unique(received, lambda d: str(Quarter.of(d)) if d else None)
    out["office_code"] = f["office_code"].pipe(_strings_or_none) if "office_code" in f else None
    region_raw = f["region_code"].pipe(_strings_or_none) if "region_code" in f else pd.Series([None] * n, index=f.index)
    office_region = out["office_code"].map(lambda c: office_regions.get(c))
    out["region_code"] = office_region.where(office_region.notna(), region_raw)
    if "client_type" in f:
        ct_raw = f["client_type"].pipe(_strings_or_none)
        out["client_type__raw"] = ct_raw
        out["client_type"] = map_unique(ct_raw, lambda v: "citizen" if v is None else CLIENT_TYPE_VALUES.get(norm_header(v), None))
    else:
        out["client_type__raw"] = None
        out["client_type"] = "citizen"
    out["journey_stage"] = f["stage"].pipe(_strings_or_none) if "stage" in f else None
    out["text"] = f[TEXT_FIELD[ch]].pipe(_strings_or_none)
    out["scale"] = 5
    if ch in RATING_FIELD:
        rf = RATING_FIELD[ch]
        out["rating__raw"] = f[rf].pipe(_strings_or_none)
        out["rating"] = _parse_answers(f[rf])  # same rule: blank/"не знаю" = none, text = -1
    elif ch == "interview_followup":
        answers = pd.DataFrame({q: _parse_answers(f[q]) for q in FOLLOWUP_ITEMS})
        for q in FOLLOWUP_ITEMS:
            out[q] = answers[q]
            out[f"{q}__raw"] = f[q].pipe(_strings_or_none)
        valid = answers.where((answers >= 1) & (answers <= 5))
        out["rating"] = valid.mean(axis=1).round(2)
        out["rating__raw"] = None
    else:
        out["rating"] = np.nan
        out["rating__raw"] = None
    if ch == "star_survey":
        for item in ITEMS:
            out[f"{item}__raw"] = f[item].pipe(_strings_or_none)
            out[item] = _parse_answers(f[item])
        for question in SURVEY_QUESTIONS:  # optional columns: a file without them has them empty
            column = f[question] if question in f else pd.Series([None] * n, index=f.index, dtype=object)
            out[f"{question}__raw"] = column.pipe(_strings_or_none)
            out[question] = _parse_answers(column)
        out["scale"] = None
    return out.reset_index(drop=True)
