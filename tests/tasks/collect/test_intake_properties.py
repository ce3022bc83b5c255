"""Property-based tests of the readers (hypothesis): no generated input crashes a
reader with anything but IntakeError, and no data row is lost - every non-blank,
non-header line of a generated export comes out as a record with its physical
line number, whatever the encoding, delimiter, line ending, quoting or cells."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cxloop.config import load_config
from tasks.collect.decoding import IntakeError
from tasks.collect.headers import norm_header
from tasks.collect.readers import read_channel_file
from tasks.collect.staging import stage_rows

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load_config(ROOT / "config")  # read-only here; loaded once, hypothesis reruns the body many times
REGISTRY = {o.office_code: o.region_code for o in CONFIG.offices}
CSV_CHANNELS = ["star_survey", "review_book", "contact_center", "interview_followup"]
# The first column carries a row marker, so a data row is never blank by accident.
MARKER_FIELD = {
    "star_survey": "respondent_id",
    "review_book": "text",
    "contact_center": "call_id",
    "interview_followup": "response_id",
}
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# Printable characters of cp1251 (a cp1251 export can only hold these).
CP1251_CHARS = sorted(
    {b.to_bytes(1, "big").decode("cp1251", errors="ignore") for b in range(0x20, 0x100)} - {"", "\x7f"}
)
ANY_CHARS = st.characters(blacklist_categories=("Cs", "Cc"))  # no surrogates, no control characters
TRICKY = [
    '"',
    "'",
    ";",
    ",",
    "\t",
    '""',
    "не знаю",
    "5 звёзд",
    " ",
    "=1+2",
    "Ёлка ",
    "\u2028",
    "\ufeff",
    "nan",
    "None",
    "#N/A",
    "-",
]


def _cells(alphabet, encoding):
    tricky = [t for t in TRICKY if t.encode(encoding, errors="ignore").decode(encoding) == t]
    return st.one_of(st.text(alphabet=alphabet, max_size=12), st.sampled_from(tricky))


@st.composite
def csv_exports(draw):
    channel = draw(st.sampled_from(CSV_CHANNELS))
    mapping = CONFIG.channels[channel]
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1251", "utf-16"]))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    alphabet = st.sampled_from(CP1251_CHARS) if encoding == "cp1251" else ANY_CHARS
    marker = MARKER_FIELD[channel]
    others = [f for f in mapping.fields if f != marker]
    others = draw(st.permutations(others))
    header = [draw(st.sampled_from([f, *mapping.fields[f]])) for f in [marker, *others]]
    if draw(st.booleans()):  # header case and spacing do not matter
        header = [f" {h.upper()} " if i % 2 else h for i, h in enumerate(header)]
    width = len(header)

    lines: list[tuple[str, object]] = []  # (kind, cells): kind in header | data | blank
    for _ in range(draw(st.integers(0, 2))):
        lines.append(("blank", draw(st.sampled_from([[], [""] * width, ["  "] * width]))))
    lines.append(("header", header))
    for i in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["data"] * 6 + ["blank", "header"]))
        if kind == "data":
            cells = [f"r{i}", *(draw(_cells(alphabet, encoding)) for _ in range(width - 1))]
            ragged = draw(st.sampled_from([0, 0, 0, 1, -1]))
            if ragged > 0:  # extra cells past the header: ignored
                cells += [draw(_cells(alphabet, encoding)) for _ in range(draw(st.integers(1, 3)))]
            elif ragged < 0:  # fewer cells: the missing ones are empty
                cells = cells[: draw(st.integers(1, width))]
            lines.append(("data", cells))
        elif kind == "blank":
            lines.append(("blank", draw(st.sampled_from([[], [""] * width, [" "] * width]))))
        else:
            lines.append(("header", header))
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=eol, quoting=csv.QUOTE_MINIMAL)
    for _, cells in lines:
        writer.writerow(cells)
    text = buf.getvalue()
    if lines[-1][0] != "blank" and draw(st.booleans()):  # no line break after the last line
        text = text[: -len(eol)]
    return channel, encoding, text.encode(encoding), lines


_TMP = tempfile.TemporaryDirectory(prefix="cxloop-prop-")  # one folder for all examples, removed at exit


def _write(data: bytes, name: str) -> Path:
    path = Path(_TMP.name) / name  # overwritten by the next example: each is read before the next is written
    path.write_bytes(data)
    return path


@SETTINGS
@given(csv_exports())
def test_generated_csv_never_loses_a_row(export):
    channel, encoding, data, lines = export
    mapping = CONFIG.channels[channel]
    header = lines[next(i for i, (k, _) in enumerate(lines) if k == "header")][1]
    expected = [(n, cells[0]) for n, (kind, cells) in enumerate(lines, start=1) if kind == "data"]
    for _, cells in expected:  # a data row that normalises to the header would rightly be counted as one
        assume(cells != "" and norm_header(cells) != norm_header(header[0]))
    path = _write(data, f"{channel}_prop.csv")
    if not expected:
        with pytest.raises(IntakeError, match="no data rows"):
            read_channel_file(path, channel, CONFIG)
        return
    raw = read_channel_file(path, channel, CONFIG)
    marker = MARKER_FIELD[channel]
    assert raw.received == len(raw.frame) == len(expected), encoding
    assert raw.frame["source_row"].tolist() == [n for n, _ in expected]
    assert raw.frame[marker].tolist() == [m for _, m in expected]
    assert raw.skipped_header == sum(1 for k, _ in lines if k == "header") - 1
    assert raw.skipped_blank == sum(1 for k, _ in lines if k == "blank")
    assert not set(raw.frame.columns) & {"contact", "author"}
    assert set(raw.frame.columns) >= {f for f in mapping.fields if f not in ("contact", "author")}
    staged = stage_rows(raw, REGISTRY)  # typing never fails on what the reader returns
    assert len(staged) == len(expected)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(alphabet=ANY_CHARS, max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
SOCIAL_KEYS = ["id", "platform", "published_at", "url", "office_code", "author", "text", "stars", "other"]


@SETTINGS
@given(
    st.lists(
        st.one_of(
            st.dictionaries(st.sampled_from(SOCIAL_KEYS), JSON_VALUES, max_size=6).map(lambda d: ("object", d)),
            JSON_VALUES.filter(lambda v: not isinstance(v, dict)).map(lambda v: ("value", v)),
            st.sampled_from(["{broken", "[1,", "nul", '{"id": 1,}']).map(lambda s: ("broken", s)),
            st.sampled_from(["", "   "]).map(lambda s: ("blank", s)),
        ),
        max_size=10,
    ),
    st.sampled_from(["\n", "\r\n"]),
)
def test_generated_json_lines_never_lose_a_line(items, eol):
    text = eol.join(json.dumps(v, ensure_ascii=False) if kind in ("object", "value") else v for kind, v in items)
    path = _write(text.encode("utf-8"), "social_prop.jsonl")
    non_blank = [n for n, (kind, _) in enumerate(items, start=1) if kind != "blank"]
    parsed = [n for n, (kind, _) in enumerate(items, start=1) if kind in ("object", "value")]
    try:
        raw = read_channel_file(path, "social", CONFIG)
    except IntakeError as exc:  # only when nothing is JSON at all, or there are no records
        assert not parsed or "no data rows" in str(exc)
        return
    assert raw.received == len(non_blank)
    rows = sorted([*raw.frame["source_row"].tolist(), *(n for n, _ in raw.unreadable)])
    assert rows == non_blank  # every non-blank line is a record or an unreadable row, once
    assert "author" not in raw.frame.columns
    stage_rows(raw, REGISTRY)


@SETTINGS
@given(
    st.binary(max_size=3000),
    st.sampled_from(["csv", "txt", "json", "jsonl", "xlsx"]),
    st.sampled_from(CSV_CHANNELS + ["pos", "social"]),
)
def test_arbitrary_bytes_raise_only_intake_errors(data, ext, channel):
    path = _write(data, f"{channel}_bytes.{ext}")
    try:
        raw = read_channel_file(path, channel, CONFIG)
    except IntakeError as exc:
        assert str(exc).startswith(f"{path}: ")
        return
    rows = raw.frame["source_row"].tolist()
    assert rows == sorted(set(rows))
    stage_rows(raw, REGISTRY)


@SETTINGS
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
def test_arbitrary_text_raises_only_intake_errors(text, encoding):
    header = "Дата;Код ЦЗН;Категория заявителя;Текст отзыва;Оценка;Контакт\n"
    path = _write((header + text).encode(encoding), "review_book_text.csv")
    try:
        raw = read_channel_file(path, "review_book", CONFIG)
    except IntakeError as exc:
        assert str(exc).startswith(f"{path}: ")
        return
    assert "contact" not in raw.frame.columns
    stage_rows(raw, REGISTRY)
