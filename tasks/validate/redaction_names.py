"""Validate stage, names without a trigger word: a dictionary pass after the pattern rules of
:mod:`tasks.validate.redaction_rules` ("Ирина Смирнова", "Петров Иван", "спасибо
Смирновой", "Matti Meikäläinen", "Emily Johnson").

* **Russian** (Cyrillic words): pymorphy3's OpenCorpora dictionary tags first names
  (``Name``), surnames (``Surn``) and patronymics (``Patr``) in every case. Two or three
  capitalised words in a row that all can be names, one of them by its most likely
  reading, are a name; so is one capitalised word inside a sentence whose most likely
  reading is a first name or a surname ("спасибо Смирновой"). A capitalised word that starts
  a sentence alone is left (it is capitalised for the sentence, "Надежда есть").
* **Finnish and English** (Latin words): a first name from a list (the US census 1990 first
  names shipped with the ``names`` package, and the most common Finnish first names in
  :mod:`tasks.validate.redaction_fi_names`) followed by a capitalised word is a name.

Everything found becomes ``[NAME]``. Words of the service's own vocabulary that a
dictionary also knows as names ("Надежда", "Вера", "Мира", "Grace", "Will") are left alone
unless they stand next to another name.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from tasks.validate.redaction_fi_names import FINNISH_FIRST_NAMES
from tasks.validate.redaction_places import RU_STREET_WORDS

__all__ = ["DICTIONARY_NAME_GATES", "redact_dictionary_names"]

_CYR_WORD = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_LAT_WORD = r"[A-ZÄÖÅ][a-zäöå'’]+(?:-[A-ZÄÖÅ][a-zäöå]+)?"
# A word broken across lines by a hyphen ("Прио‐" + "ритет" in a PDF's text) is a part of a
# word, not a name: the hyphens (ASCII, U+2010, U+2011, soft hyphen) bound no word here.
_HYPHENS = "\\-\u2010\u2011\u00ad"
_WORD = re.compile(
    rf"(?<![\w{_HYPHENS}]){_CYR_WORD}(?![\w{_HYPHENS}])|(?<![\w{_HYPHENS}]){_LAT_WORD}(?![\w{_HYPHENS}])"
)
# A capitalised Cyrillic word inside a sentence, or two capitalised words in a row: the
# dictionary pass cannot find anything in a text without one of these. Each gate starts with
# a capital letter (rare, scanned for in C); the look-behinds come after it.
_LOWER = "[а-яёa-zäöå,;:]"
DICTIONARY_NAME_GATES: tuple[re.Pattern[str], ...] = (
    re.compile(
        rf"[А-ЯЁ](?:(?:(?<={_LOWER}[А-ЯЁ])|(?<={_LOWER}\s[А-ЯЁ])|(?<={_LOWER}\s\s[А-ЯЁ]))[а-яё]"
        r"|[а-яё]+\s+[А-ЯЁ][а-яё])"
    ),
    re.compile(r"[A-ZÄÖÅ][a-zäöå'’]+\s+[A-ZÄÖÅ][a-zäöå]"),
)

# "улица Ленина", "проспект Мира", "ЦЗН им. Горького": a street or an institution named after
# someone, not a client or a member of staff.
_NAMED_AFTER = re.compile(rf"(?:(?i:{RU_STREET_WORDS})|(?i:им\.|имени))\s*$")
_INSIDE = re.compile(rf"{_LOWER}\s{{0,2}}$")  # what precedes a word inside a sentence

# Words a dictionary knows as names but that are more often ordinary words in feedback.
_RU_NOT_NAMES = frozenset(
    "вера надежда любовь мира слава роман лев заря майя мая ангелина звезда роза лилия марта "
    "август мир свет дина спасибо здравствуйте пожалуйста центр банк отделение".split()
)
_EN_NOT_NAMES = frozenset(
    "WILL MAY JUNE APRIL AUGUST HOPE JOY GRACE FAITH ART BILL MARK SUNNY CHRISTIAN SO AN IN "
    "PAGE BANK MAN GAY LOVE GOOD BEST NICE VERY THE THANK THANKS DEAR GREAT CHANCE ROYAL "
    "SUMMER AUTUMN WINTER DAWN STAR TRUE LONG YOUNG KING HUNTER TUESDAY SUNDAY OK".split()
)


@cache
def _morph() -> Any:
    import pymorphy3  # loaded on first use: ~20 MB of dictionaries

    return pymorphy3.MorphAnalyzer()


@cache
def _latin_first_names() -> frozenset[str]:
    import names  # US census 1990 first names, data files in the package

    folder = Path(names.__file__).parent
    found: set[str] = {n.upper() for n in FINNISH_FIRST_NAMES}
    for file in ("dist.male.first", "dist.female.first"):
        with open(folder / file, encoding="ascii") as fh:
            found.update(line.split()[0] for line in fh if line.strip())
    return frozenset(found - _EN_NOT_NAMES)


_PERSON_TAGS = ("Name", "Surn", "Patr")


@lru_cache(maxsize=200_000)
def _ru_reading(word: str) -> int:
    """2: most likely a first name, surname or patronymic; 1: can be one; 0: cannot."""
    if word.lower() in _RU_NOT_NAMES:
        return 0
    parses = _morph().parse(word)
    if not parses:
        return 0
    if any(t in parses[0].tag for t in _PERSON_TAGS):
        # A town that is also a surname ("в Борисове") counts only next to another name.
        return 1 if any("Geox" in p.tag for p in parses[:3]) else 2
    return 1 if any(p.score >= 0.2 and any(t in p.tag for t in _PERSON_TAGS) for p in parses) else 0


def _inside_sentence(text: str, start: int) -> bool:
    """Is the word at ``start`` preceded by a lower-case word, a comma, a colon...?"""
    return _INSIDE.search(text, max(0, start - 3), start) is not None


def _spans(text: str) -> list[tuple[int, int]]:
    words = list(_WORD.finditer(text))
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        # the run of capitalised words separated by spaces only
        j = i + 1
        while (
            j < len(words)
            and words[j].start() - words[j - 1].end() <= 2
            and not text[words[j - 1].end() : words[j].start()].strip()
        ):
            j += 1
        run = words[i:j]
        cyr = [w for w in run if "А" <= w.group(0)[0] <= "Я" or w.group(0)[0] == "Ё"]
        if len(cyr) == len(run) and not _NAMED_AFTER.search(text, max(0, run[0].start() - 16), run[0].start()):
            spans += _cyrillic_spans(text, run)
        elif not cyr:
            spans += _latin_spans(run)
        i = j
    return spans


def _cyrillic_spans(text: str, run: list[re.Match[str]]) -> list[tuple[int, int]]:
    grades = [_ru_reading(w.group(0)) for w in run]
    out: list[tuple[int, int]] = []
    k = 0
    while k < len(run):
        if grades[k] == 0:
            k += 1
            continue
        m = k
        while m < len(run) and grades[m] and m - k < 3:
            m += 1
        if (m - k >= 2 and max(grades[k:m]) == 2) or (
            m - k == 1 and grades[k] == 2 and _inside_sentence(text, run[k].start())
        ):
            out.append((run[k].start(), run[m - 1].end()))
        k = m
    return out


def _latin_spans(run: list[re.Match[str]]) -> list[tuple[int, int]]:
    first = _latin_first_names()
    out: list[tuple[int, int]] = []
    for k in range(len(run) - 1):
        if run[k].group(0).upper() in first and (not out or out[-1][1] <= run[k].start()):
            out.append((run[k].start(), run[k + 1].end()))
    return out


def redact_dictionary_names(text: str, found: set[str] | None) -> str:
    """``text`` with the names the dictionaries recognise replaced by ``[NAME]``."""
    spans = _spans(text)
    if not spans:
        return text
    if found is not None:
        found.add("name")
    parts: list[str] = []
    last = 0
    for start, end in spans:
        parts += [text[last:start], "[NAME]"]
        last = end
    parts.append(text[last:])
    return "".join(parts)
