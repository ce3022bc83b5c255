"""Personal-data redaction: stage 2 of the loop (*validate*), applied before anything is stored.

Free text typed by clients into review books, the feedback platform or social networks
often carries phone numbers, e-mail addresses, SNILS, passport and card numbers and
names. The product keeps only the redacted text (``Feedback.text``), so nothing
personal can reach a report, an e-mail, an artifact or a log.

Every kind of personal data is replaced by a language-neutral placeholder:
``[PHONE]``, ``[EMAIL]``, ``[SNILS]``, ``[PASSPORT]``, ``[CARD]``, ``[ID]`` (Finnish
personal identity code) and ``[NAME]``. Dates (12.03.2026), ratings, amounts
("5000 рублей") and office codes ("52-01") are left alone: the patterns below demand
the shapes of identifiers, not just "some digits".

``redact`` handles one string, ``redact_series`` a whole column with pandas' vectorised
``str.replace`` (the same compiled patterns, applied in the same order, so both give
identical results), and ``find_personal_data`` is the guard used by tests and by the
reporting/delivery stages to assert that an output is clean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

__all__ = ["PLACEHOLDERS", "redact", "redact_series", "find_personal_data"]


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    replacement: str


# Building blocks. Order of the rules matters: the most specific shapes go first so that
# e.g. an 11-digit SNILS after the word "СНИЛС" is not taken for a phone number, and a
# 16-digit card number is not cut into two phone numbers.
_D = r"(?<![\w+])"  # digit run must not continue a word, a number or a "+" prefix
_E = r"(?![\w])"  # ... nor be followed by more digits or letters
_SEP = r"[ \-\u00a0]?"

# Name words: a capitalised word (Cyrillic or Latin, with Finnish letters), optionally
# hyphenated ("Римский-Корсаков"), or Russian initials ("А.В.", "А. В.").
_CAP = r"[A-ZА-ЯЁÄÖÅ][a-zа-яёäöå'’]+(?:-[A-ZА-ЯЁÄÖÅ][a-zа-яёäöå'’]+)?"
_INITIALS = r"[A-ZА-ЯЁ]\.\s?(?:[A-ZА-ЯЁ]\.)?"
_NAME_WORD = rf"(?:{_CAP}|{_INITIALS})"
_NAME_SEQ = rf"{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}}"
_PATRONYMIC = r"[А-ЯЁ][а-яё]+(?:ович|евич|ьич|ич|овна|евна|ична|инична)"

# Phrases after which the next capitalised words are a person's name. Case-insensitive
# for the phrase only; the name itself must be capitalised, which keeps "меня зовут
# обратно" (not a name) intact.
_INTRO = (
    r"меня\s+зовут|мо[её]\s+имя|мо[её]\s+фамилия|фио|ф\.\s?и\.\s?о\.|заявител[ьяю]|"
    r"с\s+уважением|с\s+благодарностью|"
    r"my\s+name\s+is|regards|sincerely|best\s+wishes|"
    r"nimeni\s+on|terveisin|ystävällisin\s+terveisin|allekirjoittanut"
)

_RULES: tuple[_Rule, ...] = (
    _Rule("email", re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"), "[EMAIL]"),
    # Bank cards: 16 digits (13-19 contiguous), usually in groups of four.
    _Rule("card", re.compile(rf"{_D}\d{{4}}([ \-]?)\d{{4}}\1\d{{4}}\1\d{{4}}(?:\1\d{{1,3}})?{_E}"), "[CARD]"),
    # SNILS: the formatted shape is unambiguous; a bare 11-digit run only in a SNILS context.
    _Rule("snils", re.compile(rf"{_D}\d{{3}}-\d{{3}}-\d{{3}}[ \-]\d{{2}}{_E}"), "[SNILS]"),
    _Rule(
        "snils",
        re.compile(rf"((?i:снилс\w*|страхов\w+\s+номер\w*)\s*[:№#]?\s*(?:№\s*)?)\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{2}}{_E}"),
        r"\1[SNILS]",
    ),
    # Passports: "45 10 123456", "4510 123456", "паспорт 4510123456", "серия 4510 номер 123456".
    _Rule(
        "passport",
        re.compile(
            rf"((?i:паспорт\w*|passport|passi)\s*(?i:гражданина\s+рф\s*)?[:№#]?\s*(?i:сери[яи]\s*)?)"
            rf"\d{{2}}\s?\d{{2}}\s*(?:(?i:номер|№|no\.?)\s*)?\d{{6}}{_E}"
        ),
        r"\1[PASSPORT]",
    ),
    _Rule("passport", re.compile(rf"((?i:сери[яи])\s*)\d{{2}}\s?\d{{2}}\s*(?:(?i:номер|№)\s*)?\d{{6}}{_E}"), r"\1[PASSPORT]"),
    _Rule("passport", re.compile(rf"{_D}\d{{2}}[ \u00a0]\d{{2}}[ \u00a0]\d{{6}}{_E}"), "[PASSPORT]"),
    _Rule("passport", re.compile(rf"{_D}\d{{4}}[ \u00a0]№?\s?\d{{6}}{_E}"), "[PASSPORT]"),
    # Finnish personal identity code (henkilötunnus): ddmmyy, century sign, 3 digits, check char.
    _Rule("id", re.compile(rf"{_D}[0-3]\d[01]\d\d\d[-+A-FU-Y]\d{{3}}[0-9A-Y]{_E}"), "[ID]"),
    # Phones. Russian: +7 / 8 then 10 digits in any grouping with spaces, dashes, brackets.
    _Rule(
        "phone",
        re.compile(rf"(?:\+7|{_D}8)[ \-\u00a0]?\(?\d{{3}}\)?[ \-\u00a0]?\d{{3}}[ \-\u00a0]?\d{{2}}[ \-\u00a0]?\d{{2}}{_E}"),
        "[PHONE]",
    ),
    # Finnish: +358 40 123 4567, +358 (0)9 123 4567.
    _Rule("phone", re.compile(rf"\+358[ \-\u00a0]?(?:\(0\))?\d{{1,3}}(?:[ \-\u00a0]?\d{{2,4}}){{1,3}}{_E}"), "[PHONE]"),
    # Other international numbers: "+" and at least 8 digits in groups.
    _Rule("phone", re.compile(rf"(?<![\w+])\+\d{{1,3}}[ \-\u00a0]?\(?\d{{1,4}}\)?(?:[ \-\u00a0]?\d{{2,4}}){{2,4}}{_E}"), "[PHONE]"),
    # Finnish domestic: 040 1234567, 040-123 4567, 09 1234 5678, 0401234567 (8-10 digits after 0).
    _Rule("phone", re.compile(rf"{_D}0\d{{1,2}}[ \-]?\d{{3,4}}[ \-]?\d{{3,4}}{_E}"), "[PHONE]"),
    # Russian mobile without the trunk prefix: 912 345-67-89, 9123456789.
    _Rule("phone", re.compile(rf"{_D}9\d{{2}}[ \-]?\d{{3}}[ \-]?\d{{2}}[ \-]?\d{{2}}{_E}"), "[PHONE]"),
    # Local seven-digit numbers written the Russian way: 345-67-89.
    _Rule("phone", re.compile(rf"{_D}\d{{3}}-\d{{2}}-\d{{2}}{_E}"), "[PHONE]"),
    # Names after an introducing phrase (keep the phrase, drop the name).
    _Rule("name", re.compile(rf"((?<!\w)(?i:{_INTRO})\s*[:,\-–—]?\s*){_NAME_SEQ}"), r"\1[NAME]"),
    # "я, Иванов Иван Иванович," / "I am John Smith" / "I'm John Smith".
    _Rule("name", re.compile(rf"((?:\b[Яя]|\bI)\s*,\s*){_NAME_SEQ}(?=\s*,)"), r"\1[NAME]"),
    _Rule("name", re.compile(rf"(\b(?:I\s+am|I'm|I’m)\s+){_CAP}\s+{_CAP}"), r"\1[NAME]"),
    # Full Russian names with a patronymic anywhere in the text (clients name staff too):
    # "Иванов Иван Иванович", "Иван Иванович Иванов", "Мария Петровна".
    _Rule("name", re.compile(rf"\b(?:[А-ЯЁ][а-яё]+\s+)?[А-ЯЁ][а-яё]+\s+{_PATRONYMIC}(?:\s+[А-ЯЁ][а-яё]+(?:ов|ев|ин|ын|ова|ева|ина|ына|ский|ская|цкий|цкая))?\b"), "[NAME]"),
    # "Петров А.В." and "А.В. Петров".
    _Rule("name", re.compile(r"\b[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?\s+[А-ЯЁ]\.\s?[А-ЯЁ]\.(?!\w)"), "[NAME]"),
    _Rule("name", re.compile(r"(?<!\w)[А-ЯЁ]\.\s?[А-ЯЁ]\.\s?[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?\b"), "[NAME]"),
)

PLACEHOLDERS: tuple[str, ...] = ("[PHONE]", "[EMAIL]", "[SNILS]", "[PASSPORT]", "[CARD]", "[ID]", "[NAME]")
_KIND_ORDER = ("phone", "email", "snils", "passport", "card", "id", "name")


def redact(text: str | None) -> str | None:
    """Return ``text`` with personal data replaced by placeholders; ``None`` stays ``None``."""
    if text is None:
        return None
    if not isinstance(text, str):
        # NaN and other non-text values pass through untouched (pandas-style missing values).
        return text
    for rule in _RULES:
        text = rule.pattern.sub(rule.replacement, text)
    return text


# Cheap pre-filters for the vectorised path: a row can only hold an identifier if it has
# seven digits, an e-mail only with "@", a name only with one of the
# triggers below. Most feedback has none of them, so most rows skip most patterns.
_DIGITS_TRIGGER = re.compile(r"(?:\d\D*){6}\d")  # seven digits anywhere ("серия 4510 номер 123456")
_INTRO_TRIGGER = re.compile(_INTRO)  # searched in lower-cased text: case-insensitive search is slow
_NAME_SHAPE_TRIGGER = re.compile(r"[A-ZА-ЯЁ]\.\s?[А-ЯЁ]\.|(?:ич|вна|чна)\b")
_SELF_TRIGGERS = ("я,", "я ,", "i,", "i ,", "i am ", "i'm ", "i’m ")


def redact_series(s: pd.Series) -> pd.Series:
    """Vectorised :func:`redact` over a column; missing values stay missing, index kept.

    Each distinct text is redacted once (feedback repeats a lot), with the same compiled
    patterns as :func:`redact`, and only on the rows whose pre-filter says it can match.
    """
    out = s.astype("object")
    is_text = out.map(lambda v: isinstance(v, str)).astype(bool)
    if not bool(is_text.any()):
        return out.copy()
    codes, uniques = pd.factorize(out[is_text].astype(str))
    texts = pd.Series(uniques, dtype="object")
    lower = texts.str.lower()
    names = lower.str.contains(_INTRO_TRIGGER, regex=True) | texts.str.contains(_NAME_SHAPE_TRIGGER, regex=True)
    for literal in _SELF_TRIGGERS:
        names |= lower.str.contains(literal, regex=False)
    triggers = {
        "email": texts.str.contains("@", regex=False),
        "name": names,
        "digits": texts.str.contains(_DIGITS_TRIGGER, regex=True),
    }
    for rule in _RULES:
        mask = triggers.get(rule.kind, triggers["digits"])
        if not bool(mask.any()):
            continue
        texts.loc[mask] = texts.loc[mask].str.replace(rule.pattern, rule.replacement, regex=True)
    out = out.copy()
    out.loc[is_text] = texts.to_numpy(dtype=object)[codes]
    return out


def find_personal_data(text: str | None) -> list[str]:
    """Kinds of personal data present in ``text`` ("phone", "email", "snils", "passport",
    "card", "id", "name"), unique, in that order; ``[]`` for clean or redacted text."""
    if not isinstance(text, str) or not text:
        return []
    found = {rule.kind for rule in _RULES if rule.pattern.search(text)}
    return [k for k in _KIND_ORDER if k in found]
