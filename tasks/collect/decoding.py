"""Collect stage (loop step 1), from bytes to text: what a file's bytes really are (binary
signatures, blank files), their encoding (BOM, UTF-16 without BOM, UTF-8, cp1251 and
other code pages) and the CSV delimiter; :class:`IntakeError`, the one error of a file
that cannot be read as a whole.
"""

from __future__ import annotations

import re
from pathlib import Path

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
BLANK_FILE_RE = re.compile(rb"(?:\xef\xbb\xbf|\xff\xfe|\xfe\xff)?[\s\x00]*\Z")
# Line breaks as the csv module and JSON lines know them (str.splitlines would also
# split on U+2028, U+0085..., which JSON strings may hold unescaped).
LINE_BREAK_RE = re.compile(r"\r\n?|\n")


class IntakeError(ValueError):
    """A file cannot be read at all (the message names the file and why)."""


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
        raise IntakeError(
            f"{path}: binary or garbage content, not a text export (control bytes in the first {len(head)} bytes)"
        )
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
            sample = text[:65536].lower().replace("ё", "е")
            if any(h in sample for h in cyrillic):
                return text
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["cp1251", "koi8_r", "cp1252", "latin_1", "iso8859_15"]).best()
    if best is not None:
        return str(best)
    try:  # detection gives up on short or odd texts: fall back to cp1251
        return data.decode("cp1251")
    except UnicodeDecodeError:
        raise IntakeError(
            f"{path}: unreadable encoding: not UTF-8, UTF-16 or cp1251 (cannot detect the text encoding)"
        ) from None


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
        what = (
            "starts with a UTF-8 byte-order mark but is not UTF-8"
            if offset == 3
            else f"is not valid {exc.encoding} ({exc.reason})"
        )
        raise IntakeError(
            f"{path}: unreadable encoding: the file {what} "
            f"(bytes {data[at : at + 4].hex(' ')} at offset {at}, line {line}); "
            "save it as UTF-8, UTF-16 or cp1251"
        ) from None
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text


def first_line(text: str) -> str:
    # A prefix is enough to find the first line (splitting a whole file copies it).
    return next((line for line in LINE_BREAK_RE.split(text[:65536]) if line.strip()), "")


def sniff_delimiter(text: str) -> str:
    first = first_line(text)
    counts = {d: first.count(d) for d in (";", "\t", ",")}
    return max(counts, key=lambda d: (counts[d], d == ";"))
