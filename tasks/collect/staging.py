"""Collect stage (loop step 1), typing: the raw cells of a :class:`RawFile` turned into the typed
staging frame validation checks (dates, numbers, 1-5 answers, client types, the office's
region), with ``<field>__raw`` copies used to explain rejections. Nothing is dropped here.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from cxloop.domain import ITEMS, SURVEY_QUESTIONS
from cxloop.quarters import Quarter
from tasks.collect.headers import norm_header
from tasks.collect.readers import RawFile

NO_ANSWER = {
    "",
    "не знаю",
    "нет ответа",
    "затрудняюсь ответить",
    "n/a",
    "na",
    "-",
    "en osaa sanoa",
    "don't know",
    "dont know",
}
CLIENT_TYPE_VALUES = {
    "citizen": "citizen",
    "гражданин": "citizen",
    "граждане": "citizen",
    "соискатель": "citizen",
    "безработный": "citizen",
    "физлицо": "citizen",
    "физическое лицо": "citizen",
    "asiakas": "citizen",
    "työnhakija": "citizen",
    "employer": "employer",
    "работодатель": "employer",
    "работодатели": "employer",
    "юрлицо": "employer",
    "юридическое лицо": "employer",
    "työnantaja": "employer",
}
ID_FIELD = {
    "star_survey": "respondent_id",
    "contact_center": "call_id",
    "pos": "id",
    "social": "id",
    "interview_followup": "response_id",
    "review_book": None,
}
DATE_FIELD = {
    "star_survey": "survey_date",
    "review_book": "date",
    "contact_center": "call_date",
    "pos": "created_at",
    "social": "published_at",
    "interview_followup": "date",
}
TEXT_FIELD = {
    "star_survey": "comment",
    "review_book": "text",
    "contact_center": "comment",
    "pos": "text",
    "social": "text",
    "interview_followup": "comment",
}
RATING_FIELD = {"review_book": "rating", "contact_center": "rating", "social": "stars"}
FOLLOWUP_ITEMS = ("q_useful", "q_clear_next_steps", "q_confident")

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
# A second number after the first ("4-5", "4..5", "4 5", "3;4"): not one answer, so not
# read as its first number; "4/5" and "4 из 5" (a score out of a maximum) are.
_SECOND_NUMBER = re.compile(r"(?!\s*(?:/|из\b|of\b|out of\b))\s*[^\w\s]*\s*\d")


def parse_number(value: object) -> float | None:
    """Numbers, numbers as text ("4", "4,0"), ratings as text ("5 звёзд", "4/5"); None for
    no number or two numbers in one cell ("4-5")."""
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return None if np.isnan(float(value)) else float(value)
    text = str(value)
    m = _NUM.match(text)
    if not m or _SECOND_NUMBER.match(text, m.end()):
        return None
    return float(m.group(1).replace(",", "."))


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
        # One type (or all missing): values cannot collide across types.
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        values = [fn(u) for u in uniques]
    else:
        cells = series.to_numpy(dtype=object)
        codes, firsts = _factorize_by_type(cells)
        values = [fn(cells[k]) for k in firsts]
    values.append(fn(None))  # position -1: missing values
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return pd.Series(out[codes], index=series.index, dtype=object)


_TYPE_OF = np.frompyfunc(type, 1, 1)


def _factorize_by_type(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of mixed cells (XLSX: 5 and "5", dates and text) where equal values of different
    types stay apart (1, 1.0 and True; a date and its midnight datetime), -1 for missing
    ones; and the position of each code's first cell. Vectorised: a key per cell built in
    Python cost most of staging a national quarter."""
    value_codes, _ = pd.factorize(cells, use_na_sentinel=True)
    type_codes, type_uniques = pd.factorize(_TYPE_OF(cells))
    missing = value_codes < 0
    pairs = value_codes.astype(np.int64) * len(type_uniques) + type_codes
    codes = np.full(len(cells), -1, dtype=np.intp)
    present, firsts = np.flatnonzero(~missing), np.zeros(0, dtype=np.intp)
    if len(present):
        kept, _ = pd.factorize(pairs[present])
        codes[present] = kept
        firsts = present[np.unique(kept, return_index=True)[1]]
    return codes, firsts


def _answer_value(v: object) -> float:
    """1-5 answers: NaN for no answer, -1 for an answer that is not a number (rejected later).
    A fraction is kept as read ("4,5" -> 4.5): the suites refuse it on an integer scale."""
    if _is_no_answer(v):
        return np.nan
    num = parse_number(v)
    return -1.0 if num is None else num


def _parse_answers(series: pd.Series) -> pd.Series:
    return map_unique(series, _answer_value).astype("float64")


def _strings_or_none(series: pd.Series) -> pd.Series:
    """Stripped text, None for empty or missing: vectorised for text columns (CSV),
    one call per distinct value for mixed cells (XLSX, JSON)."""
    if pd.api.types.is_string_dtype(series.dtype) and pd.api.types.infer_dtype(series, skipna=True) in (
        "string",
        "empty",
    ):
        # Each distinct value stripped once (pandas' own .str.strip() calls Python per row).
        # Empty and missing become what .str.strip().where(..., None) made of them: None in
        # an object column, the dtype's missing value (NaN for "str") in a string column.
        missing = series.dtype.na_value if isinstance(series.dtype, pd.StringDtype) else None
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        values = np.empty(len(uniques) + 1, dtype=object)  # the last one: code -1, missing
        values[:] = [text or missing for text in (str(u).strip() for u in uniques)] + [missing]
        return pd.Series(values[codes], index=series.index, dtype=object)
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
    quarter (of the row's date; the ingest files accepted rows under the file's quarter),
    office_code, region_code, client_type, journey_stage, rating, scale, text,
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
    if "source_sheet" in f.columns:  # an XLSX: the row number is on this sheet
        out["source_sheet"] = f["source_sheet"]
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
        out["client_type"] = map_unique(
            ct_raw, lambda v: "citizen" if v is None else CLIENT_TYPE_VALUES.get(norm_header(v))
        )
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
