"""Personal-data redaction: stage 2 of the loop (*validate*), applied before anything is stored.

Free text typed by clients into review books, the feedback platform or social networks
often carries phone numbers, e-mail addresses, SNILS, INN, passport and card numbers,
links to their own social-network pages and names. The product keeps only the redacted
text (``Feedback.text``), so nothing personal can reach a report, an e-mail, an
artifact or a log.

Every kind of personal data is replaced by a language-neutral placeholder:
``[PHONE]``, ``[EMAIL]``, ``[SNILS]``, ``[INN]``, ``[PASSPORT]``, ``[CARD]``, ``[ID]``
(Finnish personal identity code), ``[URL]`` and ``[NAME]``.

What is and is not personal (the judgement calls, each covered by a test):

* **Cards**: a 13-19 digit run (contiguous, in groups of four, or 4-6-5) is a card only
  when it passes the Luhn check; any other long number is left alone.
* **INN**: 10 digits (organisation) or 12 (individual). A bare run is an INN only when
  its check digits are valid and it is not a numbered reference ("№ 7707083893",
  "#..."); after the word "ИНН" (also "ИНН/КПП", "ИНН организации") any 10-12 digit
  run is redacted, check digits or not: a mistyped INN still identifies someone.
  Valid-looking 10-digit runs starting with 9 or 0 are phones (mobile, Finnish
  domestic), since those shapes are checked first.
* **URLs**: a link is replaced by ``[URL]`` when it points at a person: a profile on a
  social network or messenger (``vk.com/id123``, ``vk.com/ivan.petrov``,
  ``ok.ru/profile/...``, ``t.me/username``, ``facebook.com/john.smith``,
  ``instagram.com/...``, ``wa.me/...``, ``linkedin.com/in/...``), a CV on a job site
  (``hh.ru/resume/...``), a query parameter such as ``?email=`` or ``?phone=``, or any
  other personal data inside the link. Community, group and post links
  (``vk.com/club1``, ``vk.com/wall-1_2``, ``ok.ru/group/...``) and public services
  (``https://trudvsem.ru/vacancy``, ``gosuslugi.ru``) are kept *byte for byte*: while the
  other rules run, a kept link is swapped for a private-use placeholder character, so a
  vacancy id in its path is not mistaken for a phone number.
* Dates (12.03.2026, 2026-03-12), ratings, amounts ("5000 рублей", "1 250 000 руб."),
  office codes ("52-01"), respondent ids ("S00012345") and numbered references
  ("заявка № 1234567", "вакансия №1234567890") are left alone: the patterns demand the
  shapes of identifiers, not just "some digits". A vacancy number typed in a phone's
  shape ("345-67-89") *is* redacted: it cannot be told from a phone, and erring towards
  redaction is the safe side.

``redact`` handles one string; ``redact_series`` a whole column (each distinct text
redacted once, with cheap vectorised pre-filters deciding which texts can hold
anything); ``find_personal_data`` runs the very same pipeline and reports which kinds it
replaced. All three share one implementation, so they cannot disagree:
``find_personal_data(t) == []`` exactly when ``redact(t) == t`` (for non-empty text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote

import numpy as np
import pandas as pd

__all__ = ["PLACEHOLDERS", "redact", "redact_series", "find_personal_data", "luhn_valid", "inn_valid"]


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    # A template (``\1[SNILS]``) or a function that returns the replacement (the match
    # unchanged when a check digit says it is not personal data).
    replacement: str | Callable[[re.Match[str]], str]
    # Within the digit group, the cheap test that must pass for the rule to run at all: a
    # number N (the text has a cluster of at least N digits, see _CLUSTER), "plus" (a "+"),
    # "passport" (the word) or "fi_id" (the shape of a Finnish identity code).
    gate: int | str | None = None


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
# A patronymic in any case: "Иванович", "Ивановичу", "Ивановна", "Ивановне", "Ильиничной".
_PATRONYMIC = r"[А-ЯЁ][а-яё]+(?:(?:ович|евич|ьич|ич)(?:а|у|ем|е)?|(?:овн|евн|ичн|иничн)(?:а|ы|е|у|ой|ою))"
# A surname by its ending (any case), for "Сидорова Н." and "Н. Сидорова".
_SURNAME = r"[А-ЯЁ][а-яё]+(?:ов|ев|ёв|ин|ын|ск|цк|енк|ук|юк)[а-яё]{0,3}"

# Phrases after which the next capitalised words are a person's name. Case-insensitive
# for the phrase only; the name itself must be capitalised, which keeps "меня зовут
# обратно" (not a name) intact.
_INTRO = (
    r"меня\s+зовут|мо[её]\s+имя|мо[её]\s+фамилия|фио|ф\.\s?и\.\s?о\.|заявител[ьяю]|"
    r"с\s+уважением|с\s+благодарностью|"
    r"my\s+name\s+is|regards|sincerely|best\s+wishes|"
    r"nimeni\s+on|terveisin|ystävällisin\s+terveisin|allekirjoittanut"
)


# --- check digits ----------------------------------------------------------------------

def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check of a string of decimal digits, as printed on bank cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_INN_W10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_W11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_W12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _inn_digit(n: list[int], weights: tuple[int, ...]) -> int:
    return sum(w * x for w, x in zip(weights, n)) % 11 % 10


def inn_valid(digits: str) -> bool:
    """Check digits of a Russian INN: 10 digits (organisation) or 12 (individual)."""
    if not digits.isdigit() or len(digits) not in (10, 12):
        return False
    n = [int(c) for c in digits]
    if len(n) == 10:
        return _inn_digit(n, _INN_W10) == n[9]
    return _inn_digit(n, _INN_W11) == n[10] and _inn_digit(n, _INN_W12) == n[11]


def _card_repl(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    return "[CARD]" if luhn_valid(digits) else m.group(0)


def _inn_repl(m: re.Match[str]) -> str:
    return "[INN]" if inn_valid(m.group(0)) else m.group(0)


# --- the rules, in four groups, each behind a cheap gate (see _pipeline) -------------------

_EMAIL_RULES: tuple[_Rule, ...] = (
    _Rule("email", re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"), "[EMAIL]"),
)

_DIGIT_RULES: tuple[_Rule, ...] = (
    # Bank cards, Luhn-checked: 4-4-4-4(-1..3) with one separator, 13-19 contiguous, Amex 4-6-5.
    _Rule(
        "card",
        re.compile(
            rf"{_D}(?:\d{{4}}([ \-]?)\d{{4}}\1\d{{4}}\1\d{{4}}(?:\1\d{{1,3}})?|\d{{13,19}}|\d{{4}}([ \-])\d{{6}}\2\d{{5}}){_E}"
        ),
        _card_repl,
        13,
    ),
    # SNILS: the formatted shape is unambiguous; a bare 11-digit run only in a SNILS context.
    _Rule("snils", re.compile(rf"{_D}\d{{3}}-\d{{3}}-\d{{3}}[ \-]\d{{2}}{_E}"), "[SNILS]", 11),
    _Rule(
        "snils",
        re.compile(rf"((?i:снилс\w*|страхов\w+\s+номер\w*)\s*[:№#]?\s*(?:№\s*)?)\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{2}}{_E}"),
        r"\1[SNILS]",
        11,
    ),
    # Passports: "45 10 123456", "4510 123456", "паспорт 4510123456", "серия 4510 номер 123456".
    _Rule(
        "passport",
        re.compile(
            rf"((?i:паспорт\w*|passport|passi)\s*(?i:гражданина\s+рф\s*)?[:№#]?\s*(?i:сери[яи]\s*)?)"
            rf"\d{{2}}\s?\d{{2}}\s*(?:(?i:номер|№|no\.?)\s*)?\d{{6}}{_E}"
        ),
        r"\1[PASSPORT]",
        "passport",
    ),
    _Rule("passport", re.compile(rf"((?i:сери[яи])\s*)\d{{2}}\s?\d{{2}}\s*(?:(?i:номер|№)\s*)?\d{{6}}{_E}"), r"\1[PASSPORT]", "passport"),
    # Bare shapes, not when a further digit group follows (an invalid Amex "3782 822463 10006").
    _Rule("passport", re.compile(rf"{_D}\d{{2}}[ \u00a0]\d{{2}}[ \u00a0]\d{{6}}{_E}(?![ \u00a0\-]\d)"), "[PASSPORT]", 10),
    _Rule("passport", re.compile(rf"{_D}\d{{4}}[ \u00a0]№?\s?\d{{6}}{_E}(?![ \u00a0\-]\d)"), "[PASSPORT]", 10),
    # Finnish personal identity code (henkilötunnus): ddmmyy, century sign, 3 digits, check char.
    _Rule("id", re.compile(rf"{_D}[0-3]\d[01]\d\d\d[-+A-FU-Y]\d{{3}}[0-9A-Y]{_E}"), "[ID]", "fi_id"),
    # INN after its name: "ИНН 7707083893", "ИНН/КПП 7707083893/770701001", "ИНН организации: ...".
    _Rule(
        "inn",
        re.compile(
            rf"((?<!\w)(?:(?i:инн)|INN)(?:\s*/\s*(?i:кпп))?(?:\s+[а-яё]+)?\s*[:№#\-–—]?\s*(?:№\s*)?)\d{{10,12}}{_E}"
        ),
        r"\1[INN]",
        10,
    ),
    # Phones. Russian: +7 / 8 then 10 digits in any grouping with spaces, dashes, brackets.
    _Rule(
        "phone",
        re.compile(rf"(?:\+7|{_D}8)[ \-\u00a0]?\(?\d{{3}}\)?[ \-\u00a0]?\d{{3}}[ \-\u00a0]?\d{{2}}[ \-\u00a0]?\d{{2}}{_E}"),
        "[PHONE]",
        11,
    ),
    # Finnish: +358 40 123 4567, +358 (0)9 123 4567.
    _Rule("phone", re.compile(rf"\+358[ \-\u00a0]?(?:\(0\))?\d{{1,3}}(?:[ \-\u00a0]?\d{{2,4}}){{1,3}}{_E}"), "[PHONE]", "plus"),
    # Other international numbers: "+" and at least 8 digits in groups.
    _Rule("phone", re.compile(rf"(?<![\w+])\+\d{{1,3}}[ \-\u00a0]?\(?\d{{1,4}}\)?(?:[ \-\u00a0]?\d{{2,4}}){{2,4}}{_E}"), "[PHONE]", "plus"),
    # Finnish domestic: 040 1234567, 040-123 4567, 09 1234 5678, 0401234567 (8-10 digits after 0).
    _Rule("phone", re.compile(rf"{_D}0\d{{1,2}}[ \-]?\d{{3,4}}[ \-]?\d{{3,4}}{_E}"), "[PHONE]", 8),
    # Russian mobile without the trunk prefix: 912 345-67-89, 9123456789.
    _Rule("phone", re.compile(rf"{_D}9\d{{2}}[ \-]?\d{{3}}[ \-]?\d{{2}}[ \-]?\d{{2}}{_E}"), "[PHONE]", 10),
    # Local seven-digit numbers written the Russian way: 345-67-89.
    _Rule("phone", re.compile(rf"{_D}\d{{3}}-\d{{2}}-\d{{2}}{_E}"), "[PHONE]", 7),
    # A bare INN with valid check digits, unless it is a numbered reference ("№ ...", "#...").
    _Rule("inn", re.compile(rf"(?<![\w+№#])(?<!№ )(?<!# )(?:\d{{12}}|\d{{10}}){_E}"), _inn_repl, 10),
)

_NAME_RULES: tuple[_Rule, ...] = (
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
    # A surname with one initial: "Сидорова Н.", "Н. Сидорова" (the surname told by its ending).
    _Rule("name", re.compile(rf"\b{_SURNAME}\s+[А-ЯЁ]\.(?!\w)"), "[NAME]"),
    _Rule("name", re.compile(rf"(?<!\w)[А-ЯЁ]\.\s?{_SURNAME}\b"), "[NAME]"),
)

PLACEHOLDERS: tuple[str, ...] = ("[PHONE]", "[EMAIL]", "[SNILS]", "[INN]", "[PASSPORT]", "[CARD]", "[ID]", "[URL]", "[NAME]")
_KIND_ORDER = ("phone", "email", "snils", "inn", "passport", "card", "id", "url", "name")


# --- URLs ---------------------------------------------------------------------------------

# A link: with a scheme or "www.", or a bare host with a known top-level domain; either way
# only links with a path or a query matter (a bare "gosuslugi.ru" can hold nothing personal).
# Not after "@" or a word character, so the domain of an e-mail address is never a link.
_TLD = r"(?i:ru|com|fi|org|net|me|su|info|io|рф|ly|cc|to|tv|by|kz|ua|uz|ee|lv|eu|de|se|app|site|online|pro)"
_URL_BODY = r"[^\s<>\"'«»{}|\\^`]"
_URL = re.compile(
    r"(?<![\w@.\-/])"
    rf"(?:(?i:https?://)(?:[^\W_][\w\-]*\.)*[^\W_][\w\-]*(?::\d+)?"
    rf"|(?i:www\.)(?:[^\W_][\w\-]*\.)+{_TLD}"
    rf"|(?:[^\W_][\w\-]*\.)+{_TLD}(?![\w\-]))"
    rf"[/?]{_URL_BODY}*"
)
# Every link the pattern above can find has "://" or a top-level domain right before its
# "/" or "?": the gate for the whole link step.
_URL_GATE = re.compile(rf"://|\.{_TLD}[/?]")
_URL_TRAIL_CHARS = ".,;:!?»\"'…"
_URL_CLOSERS = {")": "(", "]": "[", "}": "{"}
_URL_SPLIT = re.compile(r"^(?:(?i:https?)://)?(?P<host>[^/?#:]+)(?::\d+)?(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?")

# Hosts where the first path segment names a person unless it is one of these
# (community, group, post, media or service pages).
_PROFILE_UNLESS: dict[str, re.Pattern[str]] = {
    host: re.compile(pattern, re.I)
    for hosts, pattern in (
        (("vk.com", "vk.ru", "vkontakte.ru", "vk.me"),
         r"(?:wall-|club\d|public\d|event\d|topic-|photo-|video-|album-|board\d|market-|page-|doc-|clip-|"
         r"feed\b|search\b|groups\b|away\.php|apps?\b|music\b)"),
        (("ok.ru", "odnoklassniki.ru"), r"(?:group/|group\d|groups\b|video/|games?\b|music\b|search\b|feed\b|dk\b)"),
        (("t.me", "telegram.me"), r"(?:joinchat/|\+|addstickers/|share/)"),
        (("wa.me",), r"$^"),
        (("facebook.com", "fb.com"), r"(?:groups/|pages/|events/|watch\b|hashtag/|help\b|policies\b|sharer)"),
        (("instagram.com",), r"(?:p/|reels?/|explore/|tv/)"),
        (("twitter.com", "x.com"), r"(?:hashtag/|search\b|i/|intent/|home\b|explore\b)"),
    )
    for host in hosts
}
# Hosts where only these paths name a person (a CV, a user's page).
_PROFILE_ONLY: dict[str, re.Pattern[str]] = {
    host: re.compile(pattern, re.I)
    for hosts, pattern in (
        (("linkedin.com",), r"(?:in|pub)/"),
        (("tiktok.com", "youtube.com"), r"(?:@|user/|c/|channel/)"),
        (("hh.ru", "superjob.ru", "rabota.ru", "zarplata.ru", "trudvsem.ru"), r"resume/"),
        (("avito.ru",), r"user/"),
        (("my.mail.ru",), r"(?:mail|inbox|bk|list|ya\.ru|yandex\.ru)/"),
        (("yandex.ru", "yandex.com"), r"(?:maps/)?user/"),
        (("gosuslugi.ru",), r"profile/"),
    )
    for host in hosts
}
# Public services whose paths carry ids, not people: their paths are not scanned for
# phone- or INN-shaped numbers (a vacancy id is not a phone).
_PUBLIC_HOSTS = (
    "trudvsem.ru", "gosuslugi.ru", "gov.ru", "mintrud.gov.ru", "rostrud.gov.ru", "suomi.fi",
    "tyomarkkinatori.fi", "te-palvelut.fi", "kela.fi", "hh.ru", "superjob.ru", "rabota.ru",
    "zarplata.ru", "2gis.ru", "yandex.ru",
)
_PERSONAL_QUERY_KEYS = frozenset(
    "email e-mail e_mail mail phone tel telephone mobile msisdn puhelin sahkoposti sähköposti "
    "snils inn passport hetu fio name firstname first_name lastname last_name surname "
    "user username user_name login uid userid user_id profile profile_id".split()
)
_SENTINEL_BASE = 0xF0000  # Unicode private-use plane 15: never typed by clients
_SENTINEL_MAX = 0xFFFD
_SENTINEL = re.compile("[\U000F0000-\U000FFFFD]")


def _host_rule(host: str, table: dict[str, re.Pattern[str]]) -> re.Pattern[str] | None:
    for key, pattern in table.items():
        if host == key or host.endswith("." + key):
            return pattern
    return None


def _url_is_personal(url: str) -> bool:
    """Does this link point at a person (see the module docstring)?"""
    if any(p in url for p in PLACEHOLDERS):  # an e-mail was already redacted inside it
        return True
    parts = _URL_SPLIT.match(url)
    if parts is None:  # pragma: no cover - the URL pattern always has a host
        return True
    host = parts["host"].lower().rstrip(".")
    for prefix in ("www.", "m.", "mobile.", "web."):
        if host.startswith(prefix):
            host = host[len(prefix):]
    path = unquote(parts["path"] or "").lstrip("/")
    query = parts["query"] or ""
    for pair in re.split(r"[&;]", query):
        key, _, value = pair.partition("=")
        if unquote(key).strip().lower() in _PERSONAL_QUERY_KEYS and value:
            return True
        if "@" in unquote(value):
            return True
    unless = _host_rule(host, _PROFILE_UNLESS)
    if unless is not None:
        return bool(path) and unless.match(path) is None
    only = _host_rule(host, _PROFILE_ONLY)
    if only is not None and only.match(path):
        return True
    if any(host == h or host.endswith("." + h) for h in _PUBLIC_HOSTS):
        return False
    # Any other site: personal when the link itself holds a phone, an INN, a card...
    return _pipeline(unquote(url), None, urls=False) != unquote(url)


# --- the pipeline -------------------------------------------------------------------------

# Gates: a rule can only match where its gate does, so a text failing the gate skips the
# rule (most feedback holds no identifier at all, and a regex that finds nothing still
# costs a scan of the text). Digits: every digit rule needs a *cluster* of at least six
# digits separated by at most three spaces, dashes, brackets or "№" (neither "12.03.2026"
# nor "2026-03-12" is one); most need more (a card 13, a phone 11: the rule's gate), the
# rest a "+", the word "паспорт"/"серия" or a Finnish identity code's shape. Names: every
# name rule needs an introducing phrase, initials, a patronymic ending, "я," or "I am".
# Each gate is a regex with a literal or a character class first, which the regex engine
# scans for in C. Tests (hypothesis) check that gated and ungated redaction agree.
#
# A cluster starts at a digit that follows no digit (the look-behinds sit after the first
# \d so the engine can still scan for digits in C) and is not an ISO date "2026-03-12"
# (unless after a "+": "+2026-10-26" has the shape of an international phone).
_NOT_DATE = r"(?<!\d\d)(?:(?<=\+\d)|(?!\d{3}-\d\d-\d\d(?!\d)))"
_CLUSTER = re.compile(rf"\d{_NOT_DATE}(?:[\s\-()№]{{0,3}}\d){{5,}}")
_NON_DIGITS = re.compile(r"\D+")
_FI_ID_GATE = re.compile(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]")  # the one digit rule with no other gate
_PASSPORT_GATE = re.compile(r"паспорт|passport|passi|сери[яи]")  # in case-folded text
_INTRO_GATE = re.compile(_INTRO)  # in case-folded text: a (?i) search is ~10x slower
_NAME_GATES = (
    re.compile(r"(?:ич[а-яё]{0,2}|[вч]н(?:а|ы|е|у|ой|ою))\b"),  # patronymics, any case
    re.compile(r"[а-яё]\s+[А-ЯЁ]\.|[А-ЯЁ]\.\s?[А-ЯЁ][а-яё]"),  # a surname next to one initial
    re.compile(r"[A-ZА-ЯЁ]\.\s?[А-ЯЁ]\."),  # initials
    # "я, ...", "I, ...", "I am", "I'm" (the look-behind after the letter keeps the fast scan)
    re.compile(r"[ЯяI](?<!\w[ЯяI])(?:\s*,|(?<=I)(?:\s+am|['’]m)\s)"),
)


def _apply(rules: tuple[_Rule, ...], text: str, found: set[str] | None, gates: dict[int | str | None, bool] | None = None) -> str:
    for rule in rules:
        if gates is not None and not gates[rule.gate]:
            continue
        new = rule.pattern.sub(rule.replacement, text)
        if found is not None and new != text:
            found.add(rule.kind)
        text = new
    return text


def _might_hold_name(text: str) -> bool:
    return any(g.search(text) for g in _NAME_GATES) or _INTRO_GATE.search(text.casefold()) is not None


_TIERS = (7, 8, 10, 11, 13)


def _digit_gates_from(longest: int, plus: bool, passport: bool, fi_id: bool) -> dict[int | str | None, bool] | None:
    if longest < 6:
        return None
    gates: dict[int | str | None, bool] = {n: longest >= n for n in _TIERS}
    gates.update({None: True, "plus": plus, "passport": passport, "fi_id": fi_id})
    return gates if any(gates[k] for k in (7, "plus", "passport", "fi_id")) else None


def _longest_cluster(cluster: str) -> int:
    return len(_NON_DIGITS.sub("", cluster))


def _digit_gates(text: str) -> dict[int | str | None, bool] | None:
    """Which digit rules can match ``text``; ``None`` when none can."""
    clusters = _CLUSTER.findall(text)
    if not clusters:
        return None
    return _digit_gates_from(
        max(map(_longest_cluster, clusters)),
        "+" in text,
        _PASSPORT_GATE.search(text.casefold()) is not None,
        _FI_ID_GATE.search(text) is not None,
    )


# What the gates decided for one text: run e-mails? links? which digit rules? names?
_Plan = tuple[bool, bool, "dict[int | str | None, bool] | None", bool]


def _pipeline(text: str, found: set[str] | None, urls: bool = True, gated: bool = True, plan: _Plan | None = None) -> str:
    """Redact ``text``; record the kinds replaced in ``found``. ``urls=False`` leaves links
    alone (used to look inside a link); ``gated=False`` runs every rule (tests only);
    ``plan`` carries the gates already evaluated column-wise by ``redact_series``. Gates
    taken on the original text stay sound later: replacements only take digits, "@" and
    links away and add placeholders no gate matches."""
    if plan is not None:
        email, link, digit_gates, names = plan
    else:
        email = not gated or "@" in text
        link = not gated or _URL_GATE.search(text) is not None
        digit_gates = None if not gated else _digit_gates(text)
        names = not gated or _might_hold_name(text)
    if email:
        text = _apply(_EMAIL_RULES, text, found)
    kept: list[str] = []
    if urls and link:
        text = _links(text, found, kept)
    if not gated:
        text = _apply(_DIGIT_RULES, text, found)
    elif digit_gates is not None:
        text = _apply(_DIGIT_RULES, text, found, digit_gates)
    if names:
        text = _apply(_NAME_RULES, text, found)
    if kept:
        text = _SENTINEL.sub(lambda m: kept[ord(m.group(0)) - _SENTINEL_BASE], text)
    return text


def _links(text: str, found: set[str] | None, kept: list[str]) -> str:
    """Replace personal links with [URL]; swap the others for placeholders in ``kept``."""
    protect = _SENTINEL.search(text) is None  # never confuse a client's own character with ours

    def repl(m: re.Match[str]) -> str:
        url = m.group(0)
        end = len(url)
        # Sentence punctuation after a link is not part of it; a closing bracket only when
        # the link did not open it (wiki-style "(...)" paths, "?email=[EMAIL]").
        while end:
            ch = url[end - 1]
            if ch in _URL_TRAIL_CHARS or (ch in _URL_CLOSERS and url.count(_URL_CLOSERS[ch], 0, end) < url.count(ch, 0, end)):
                end -= 1
            else:
                break
        url, tail = url[:end], url[end:]
        if _url_is_personal(url):
            if found is not None:
                found.add("url")
            return "[URL]" + tail
        if not protect or len(kept) > _SENTINEL_MAX - 1:  # 65,534 kept links per text at most
            return url + tail
        kept.append(url)
        return chr(_SENTINEL_BASE + len(kept) - 1) + tail

    return _URL.sub(repl, text)


def redact(text: str | None) -> str | None:
    """Return ``text`` with personal data replaced by placeholders; ``None`` stays ``None``."""
    if text is None:
        return None
    if not isinstance(text, str):
        # NaN and other non-text values pass through untouched (pandas-style missing values).
        return text
    return _pipeline(text, None)


def _flag(pattern: re.Pattern[str], joined: str, starts: np.ndarray, n: int) -> np.ndarray:
    """Which of the ``n`` texts joined into ``joined`` (starting at ``starts``) hold a match."""
    flags = np.zeros(n, dtype=bool)
    pos = np.fromiter((m.start() for m in pattern.finditer(joined)), dtype=np.int64)
    if pos.size:
        flags[np.searchsorted(starts, pos, side="right") - 1] = True
    return flags


def _join(texts: list[str]) -> tuple[str, np.ndarray]:
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.int64)
    return "\x00".join(texts), starts


_AT = re.compile("@")
_PLUS = re.compile(r"\+")


def _plans(texts: list[str]) -> dict[int, _Plan]:
    """The gates of ``_pipeline`` evaluated column-wise: each gate regex runs once over all
    the texts joined by NUL (no gate can match a NUL, so no match spans two texts) instead
    of once per text from Python. Returns the plan of every text that can hold personal
    data; the others are left as they are."""
    n = len(texts)
    joined, starts = _join(texts)
    folded = joined.casefold()
    fstarts = starts
    if len(folded) != len(joined):  # "ß" -> "ss" and the like moved the offsets
        folded, fstarts = _join([t.casefold() for t in texts])

    def flag(pattern: re.Pattern[str], folded_text: bool = False) -> np.ndarray:
        return _flag(pattern, folded if folded_text else joined, fstarts if folded_text else starts, n)

    email, link = flag(_AT), flag(_URL_GATE)
    names = flag(_INTRO_GATE, folded_text=True)
    for gate in _NAME_GATES:
        names |= flag(gate)
    longest = np.zeros(n, dtype=np.int64)
    matches = list(_CLUSTER.finditer(joined))
    if matches:
        where = np.searchsorted(starts, np.fromiter((m.start() for m in matches), dtype=np.int64, count=len(matches)), side="right") - 1
        np.maximum.at(longest, where, np.fromiter((_longest_cluster(m.group(0)) for m in matches), dtype=np.int64, count=len(matches)))
    has_digits = longest >= 6
    plus = passport = fi_id = np.zeros(n, dtype=bool)
    if has_digits.any():
        plus, passport, fi_id = flag(_PLUS), flag(_PASSPORT_GATE, folded_text=True), flag(_FI_ID_GATE)
    digits = has_digits & ((longest >= 7) | plus | passport | fi_id)
    plans: dict[int, _Plan] = {}
    for i in np.flatnonzero(email | link | digits | names).tolist():
        gates = _digit_gates_from(int(longest[i]), bool(plus[i]), bool(passport[i]), bool(fi_id[i]))
        plans[i] = (bool(email[i]), bool(link[i]), gates, bool(names[i]))
    return plans


_CHUNK = 50_000


def redact_series(s: pd.Series) -> pd.Series:
    """Vectorised :func:`redact` over a column; missing values stay missing, index kept.

    Each distinct text is looked at once (feedback repeats a lot); the cheap gates pick,
    column-wise, the few texts that can hold personal data (see ``_plans``), and only
    those go through the very function behind :func:`redact`, so column and scalar
    results are identical.
    """
    out = s.astype("object")
    is_text = out.map(lambda v: isinstance(v, str)).astype(bool)
    if not bool(is_text.any()):
        return out.copy()
    codes, uniques = pd.factorize(out[is_text].astype(str))
    texts = np.asarray(uniques, dtype=object)
    redacted = texts.copy()
    for lo in range(0, len(texts), _CHUNK):  # chunks keep the joined copies small
        for i, plan in _plans(texts[lo : lo + _CHUNK].tolist()).items():
            redacted[lo + i] = _pipeline(texts[lo + i], None, plan=plan)
    out = out.copy()
    out.loc[is_text] = redacted[codes]
    return out


def find_personal_data(text: str | None) -> list[str]:
    """Kinds of personal data present in ``text`` ("phone", "email", "snils", "inn",
    "passport", "card", "id", "url", "name"), unique, in that order; ``[]`` for clean or
    redacted text. Exactly the kinds :func:`redact` replaces."""
    if not isinstance(text, str) or not text:
        return []
    found: set[str] = set()
    _pipeline(text, found)
    return [k for k in _KIND_ORDER if k in found]
