"""Validate stage, what a street address looks like in Russian, Finnish and English: the
rules that replace a street with its house number (and flat) by ``[ADDRESS]``, and the
cheap gate that tells :mod:`tasks.validate.redaction` when a text may hold one.

A street *without* a house number ("офис на улице Ленина") is not a person's address and is
left alone; so is a bare number. Russian: a street word (``ул.``, ``улица``, ``пр-т``,
``проспект``, ``пер.``, ``бульвар``, ``шоссе``, ``наб.``, ``пл.``, ``проезд``, ``мкр``), the
name, the house (``д. 5``, ``5а``, ``17/3``, ``17-3``), optional ``корп.``/``стр.`` and
``кв.``; also ``д. 5, кв. 12`` alone. Finnish: a capitalised word ending in a street suffix
(``-tie``, ``-katu``, ``-kuja``, ``-polku``, ``-tori``...) and a number, with staircase and
flat (``Mannerheimintie 12 B 5``). English: a house number, one to three capitalised words
and a street type (``12 Baker Street``, ``221B Baker St``).
"""

from __future__ import annotations

import re

from tasks.validate.redaction_rules import Rule

__all__ = ["ADDRESS_GATES", "ADDRESS_RULES", "RU_STREET_WORDS"]

RU_STREET_WORDS = (  # the words that introduce a street name (case-folded)
    r"ул\.|ул(?=\s)|улиц[аеыу]|пр\.|пр-т|просп\.|проспект[аеу]?|пер\.|переул(?:ок|ка|ке)|бул\.|бульвар[аеу]?|б-р|"
    r"шоссе|наб\.|набережн(?:ая|ой|ую)|пл\.|площад[ьи]|проезд[аеу]?|мкр\.?|микрорайон[аеу]?|тупик[аеу]?"
)
_RU_HOUSE = r"[0-9]{1,4}[а-яА-Я]?(?:\s*[/\-]\s*[0-9]{1,4}[а-яА-Я]?)?"
_RU_TAIL = (
    r"(?:,?\s*(?i:корп\.?|корпус|к\.|стр\.|строение)\s*[0-9]{1,3}[а-яА-Я]?)?"
    r"(?:,?\s*(?i:кв\.|квартира|кв|оф\.|офис)\s*[0-9]{1,4})?"
)
_FI_SUFFIX = (
    r"(?:tie|katu|kuja|polku|tori|väylä|ranta|rinne|kaari|piha|raitti|aukio|puistikko|portti|"
    r"mäki|vainio|kallio|laita|valli|tanhua|kaarre|kulma|tanner|kehä)"
)
_EN_TYPE = (
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Close|"
    r"Crescent|Terrace|Square|Gardens|Grove)"
)

ADDRESS_RULES: tuple[Rule, ...] = (
    Rule(
        "address",
        re.compile(
            rf"(?<![\w\-])(?i:{RU_STREET_WORDS})\s*(?:[А-ЯЁ0-9][\w\-]*\.?\s+){{0,2}}[А-ЯЁ][а-яё\-]+"
            rf",?\s*(?:(?i:д\.|дом)\s*)?{_RU_HOUSE}(?![\w]){_RU_TAIL}"
        ),
        "[ADDRESS]",
    ),
    Rule(
        "address",
        re.compile(rf"(?<![\w\-])(?i:д\.|дом)\s*{_RU_HOUSE},?\s*(?i:кв\.|квартира)\s*[0-9]{{1,4}}(?!\w)"),
        "[ADDRESS]",
    ),
    Rule(
        "address",
        re.compile(
            rf"(?<![\w\-])[A-ZÄÖÅ][a-zäöå]+(?:-[A-ZÄÖÅa-zäöå][a-zäöå]+)?{_FI_SUFFIX}\s+[0-9]{{1,4}}[a-zA-Z]?"
            r"(?:\s?[A-Z](?!\w))?(?:\s?[0-9]{1,3})?(?:\s*(?i:as\.?|lh\.?)\s*[0-9]{1,3})?(?!\w)"
        ),
        "[ADDRESS]",
    ),
    Rule(
        "address",
        re.compile(rf"(?<![\w\-])[0-9]{{1,5}}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){{1,3}}{_EN_TYPE}(?!\w)"),
        "[ADDRESS]",
    ),
)

# In case-folded text: a street word or "д. 5", a Finnish suffix before a number, or an
# English street type after a number; every rule above needs one of these (and a digit:
# redaction runs these gates only on texts with one). Alternations of literals, so the regex
# engine skips in C to the letters they can start with.
ADDRESS_GATES: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"ул(?:\.|иц|\s)|пр(?:\.|-т|осп|оезд)|пер(?:\.|еул)|бул(?:\.|ьв)|б-р|шоссе|наб(?:\.|ереж)|пл(?:\.|ощад)|"
        r"мкр|микрорайон|тупик|д\.\s*[0-9]|дом\s*[0-9]"
    ),
    re.compile(rf"{_FI_SUFFIX}\s+[0-9]"),
    re.compile(rf"[0-9][a-z]?\s+(?:[a-z]+\s+){{1,3}}{_EN_TYPE.lower()}(?!\w)"),
)
