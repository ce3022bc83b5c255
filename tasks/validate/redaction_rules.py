"""Validate stage (loop step 2), what personal data looks like: the redaction rules (a pattern and a
placeholder per kind: phones, e-mails (also "name(at)mail.ru"), SNILS, INN, passports, cards,
Finnish identity codes, IBANs, Russian 20-digit accounts, names), the check digits that tell a
card, an INN, a bare SNILS, an IBAN (mod 97) or a lower-case henkilötunnus from any long
number, and the hosts
whose links point at a person. :mod:`tasks.validate.redaction` applies them to text.
"""

# What is and is not personal (the judgement calls, each covered by a test):
#
# * **Cards**: a 13-19 digit run (contiguous, in groups of four, or 4-6-5) is a card only
#   when it passes the Luhn check; any other long number is left alone.
# * **INN**: 10 digits (organisation) or 12 (individual). A bare run is an INN only when
#   its check digits are valid and it is not a numbered reference ("№ 7707083893",
#   "#..."); after the word "ИНН" (also "ИНН/КПП", "ИНН организации") any 10-12 digit
#   run is redacted, check digits or not: a mistyped INN still identifies someone.
#   Valid-looking 10-digit runs starting with 9 or 0 are phones (mobile, Finnish
#   domestic), since those shapes are checked first.
# * **URLs**: a link is replaced by ``[URL]`` when it points at a person: a profile on a
#   social network or messenger (``vk.com/id123``, ``vk.com/ivan.petrov``,
#   ``ok.ru/profile/...``, ``t.me/username``, ``facebook.com/john.smith``,
#   ``instagram.com/...``, ``wa.me/...``, ``linkedin.com/in/...``), a CV on a job site
#   (``hh.ru/resume/...``), a query parameter such as ``?email=`` or ``?phone=``, or any
#   other personal data inside the link. Community, group and post links
#   (``vk.com/club1``, ``vk.com/wall-1_2``, ``ok.ru/group/...``) and public services
#   (``https://trudvsem.ru/vacancy``, ``gosuslugi.ru``) are kept *byte for byte*: while the
#   other rules run, a kept link is swapped for a private-use placeholder character, so a
#   vacancy id in its path is not mistaken for a phone number.
# * Dates (12.03.2026, 2026-03-12), ratings, amounts ("5000 рублей", "1 250 000 руб."),
#   office codes ("52-01"), respondent ids ("S00012345") and numbered references
#   ("заявка № 1234567", "вакансия №1234567890") are left alone: the patterns demand the
#   shapes of identifiers, not just "some digits". A vacancy number typed in a phone's
#   shape ("345-67-89") *is* redacted: it cannot be told from a phone, and erring towards
#   redaction is the safe side.

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    kind: str
    pattern: re.Pattern[str]
    # A template (``\1[SNILS]``) or a function that returns the replacement (the match
    # unchanged when a check digit says it is not personal data).
    replacement: str | Callable[[re.Match[str]], str]
    # Within the digit group, the cheap test that must pass for the rule to run at all: a
    # number N (the text has a cluster of at least N digits, see redaction's _CLUSTER), "plus" (a "+"),
    # "passport" (the word) or "fi_id" (the shape of a Finnish identity code).
    gate: int | str | None = None


# Building blocks. Order of the rules matters: the most specific shapes go first so that
# e.g. an 11-digit SNILS after the word "СНИЛС" is not taken for a phone number, and a
# 16-digit card number is not cut into two phone numbers.
_D = r"(?<![\w+])"  # digit run must not continue a word, a number or a "+" prefix
_E = r"(?![\w])"  # ... nor be followed by more digits or letters
_SEP = r"[ \-\u00a0]?"
_PSEP = r"[ \-\u00a0.–—]"  # phone separators: also dots and en/em dashes ("8.912.345.67.84")

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
INTRO = (
    r"меня\s+зовут|мо[её]\s+имя|мо[её]\s+фамилия|фио|ф\.\s?и\.\s?о\.|заявител[ьяю]|"
    r"с\s+уважением|с\s+благодарностью|"
    r"my\s+name\s+is|regards|sincerely|best\s+wishes|"
    r"nimeni\s+on|terveisin|ystävällisin\s+terveisin|allekirjoittanut"
)

# Honorifics before a surname: "Mrs Thompson", "Dr. Lee", "госпожа Ковалёва", "г-н Орлов",
# "rouva Korhonen". Case-sensitive (a title is written capitalised, or lower case in the
# middle of a Russian or Finnish sentence) so that "miss" the verb and "dr" inside "address"
# stay out of it; the name after it must be capitalised too.
# Each part starts with a letter, so that the gate made of it (redaction._NAME_GATES) is
# scanned for in C.
HONORIFIC_PARTS = (
    r"M(?:rs|r|s|iss|x)",
    r"Dr",
    r"Prof",
    r"[Гг](?:оспо(?:дин[ауе]?|ж[аиеу])|-(?:н|жа))",
    r"[HhRrNn](?:err(?:a|an|alle)|ouv(?:a|an|alle)|ei(?:ti|din|dille))",  # herra, rouva, neiti: one scan
)
HONORIFIC = rf"(?:{'|'.join(HONORIFIC_PARTS)})\.?"


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
    # The weights cover the digits before the check digit: n is longer, its tail is ignored.
    return sum(w * x for w, x in zip(weights, n, strict=False)) % 11 % 10


def inn_valid(digits: str) -> bool:
    """Check digits of a Russian INN: 10 digits (organisation) or 12 (individual)."""
    if not digits.isdigit() or len(digits) not in (10, 12):
        return False
    n = [int(c) for c in digits]
    if len(n) == 10:
        return _inn_digit(n, _INN_W10) == n[9]
    return _inn_digit(n, _INN_W11) == n[10] and _inn_digit(n, _INN_W12) == n[11]


def snils_valid(digits: str) -> bool:
    """Check number of a SNILS (11 digits): weights 9..1 over the first nine, mod 101."""
    if not digits.isdigit() or len(digits) != 11:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(9, 0, -1), strict=True))
    check = total if total < 100 else (0 if total in (100, 101) else total % 101 % 100)
    return check == int(digits[9:])


def iban_valid(code: str) -> bool:
    """ISO 13616 check of an IBAN (spaces removed): letters as 10..35, the whole mod 97 == 1."""
    code = code.upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", code):
        return False
    return int("".join(str(int(c, 36)) for c in code[4:] + code[:4])) % 97 == 1


_HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def hetu_valid(code: str) -> bool:
    """Check character of a Finnish henkilötunnus (ddmmyy, century sign, nnn, check), any case."""
    m = re.fullmatch(r"(\d{6})[-+A-FU-Ya-fu-y](\d{3})([0-9A-Ya-y])", code)
    return m is not None and _HETU_CHECK[int(m[1] + m[2]) % 31] == m[3].upper()


def _snils_repl(m: re.Match[str]) -> str:
    return "[SNILS]" if snils_valid(re.sub(r"\D", "", m.group(0))) else m.group(0)


def _iban_repl(m: re.Match[str]) -> str:
    return "[IBAN]" if iban_valid(re.sub(r"\s", "", m.group(0))) else m.group(0)


def _hetu_repl(m: re.Match[str]) -> str:
    code = m.group(0)
    # The upper-case shape alone is enough (a mistyped code still identifies); lower case
    # only with a valid check character.
    upper = re.fullmatch(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]", code) is not None
    return "[ID]" if upper or hetu_valid(code) else code


def _card_repl(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    return "[CARD]" if luhn_valid(digits) else m.group(0)


def _inn_repl(m: re.Match[str]) -> str:
    return "[INN]" if inn_valid(m.group(0)) else m.group(0)


# --- the rules, in four groups, each behind a cheap gate (see tasks.validate.redaction) -----

_AT_WORD = r"[(\[{<]\s*(?i:at|собака|эт)\s*[)\]}>]"
_DOT_WORD = r"(?:\.|\s*[(\[{<]\s*(?i:dot|точка)\s*[)\]}>]\s*)"
# "@" written out: "name(at)mail.ru", "name [at] mail [dot] ru" (a bare "at ... dot" is left:
# "look at mail dot ru" is English).
OBFUSCATED_EMAIL_GATE = re.compile(r"[(\[{<]\s*(?:at|собака|эт)\s*[)\]}>]")  # in case-folded text
EMAIL_RULES: tuple[Rule, ...] = (
    Rule("email", re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"), "[EMAIL]"),
    Rule("email", re.compile(rf"[\w.+\-]+\s*{_AT_WORD}\s*[\w\-]+(?:{_DOT_WORD}[\w\-]+)+"), "[EMAIL]"),
)

DIGIT_RULES: tuple[Rule, ...] = (
    # IBAN (upper case, in groups of four or run together), mod-97 checked.
    Rule(
        "iban",
        re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?:[ \u00a0]?[A-Z0-9]{4}){2,7}(?:[ \u00a0]?[A-Z0-9]{1,3})?(?![\w])"),
        _iban_repl,
        "iban",
    ),
    # Russian bank accounts: 20 digits, run together, 5-3-1-4-7 or in groups of four.
    Rule(
        "account",
        re.compile(
            rf"{_D}(?:\d{{20}}|\d{{5}}([ .\-])\d{{3}}\1\d\1\d{{4}}\1\d{{7}}"
            rf"|\d{{4}}( )\d{{4}}\2\d{{4}}\2\d{{4}}\2\d{{4}}){_E}"
        ),
        "[ACCOUNT]",
        20,
    ),
    # Bank cards, Luhn-checked: 4-4-4-4(-1..3) with one separator, 13-19 contiguous, Amex 4-6-5.
    Rule(
        "card",
        re.compile(
            rf"{_D}(?:\d{{4}}([ \-]?)\d{{4}}\1\d{{4}}\1\d{{4}}(?:\1\d{{1,3}})?"
            rf"|\d{{13,19}}|\d{{4}}([ \-])\d{{6}}\2\d{{5}}){_E}"
        ),
        _card_repl,
        13,
    ),
    # SNILS: the formatted shape is unambiguous; a bare 11-digit run only in a SNILS context.
    Rule("snils", re.compile(rf"{_D}\d{{3}}-\d{{3}}-\d{{3}}[ \-]\d{{2}}{_E}"), "[SNILS]", 11),
    Rule(
        "snils",
        re.compile(
            rf"((?i:снилс\w*|страхов\w+\s+номер\w*)\s*[:№#]?\s*(?:№\s*)?)\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{2}}{_E}"
        ),
        r"\1[SNILS]",
        11,
    ),
    # A bare SNILS in groups "123 456 789 64" only with a valid check number.
    Rule("snils", re.compile(rf"{_D}\d{{3}}([ \-\u00a0])\d{{3}}\1\d{{3}}[ \-\u00a0]\d{{2}}{_E}"), _snils_repl, 11),
    # Passports: "45 10 123456", "4510 123456", "паспорт 4510123456", "серия 4510 номер 123456".
    Rule(
        "passport",
        re.compile(
            rf"((?i:паспорт\w*|passport|passi)\s*(?i:гражданина\s+рф\s*)?[:№#]?\s*(?i:сери[яи]\s*)?)"
            rf"\d{{2}}\s?\d{{2}}[\s\-–—]*(?:(?i:номер|№|no\.?)\s*)?\d{{6}}{_E}"
        ),
        r"\1[PASSPORT]",
        "passport",
    ),
    Rule(
        "passport",
        re.compile(rf"((?i:сери[яи])\s*)\d{{2}}\s?\d{{2}}\s*(?:(?i:номер|№)\s*)?\d{{6}}{_E}"),
        r"\1[PASSPORT]",
        "passport",
    ),
    # Bare shapes, not when a further digit group follows (an invalid Amex "3782 822463 10006").
    Rule(
        "passport", re.compile(rf"{_D}\d{{2}}[ \u00a0]\d{{2}}[ \u00a0]\d{{6}}{_E}(?![ \u00a0\-]\d)"), "[PASSPORT]", 10
    ),
    Rule("passport", re.compile(rf"{_D}\d{{4}}[ \u00a0]№?\s?\d{{6}}{_E}(?![ \u00a0\-]\d)"), "[PASSPORT]", 10),
    # "4511-223344", unless a numbered reference ("заявка № 2024-123456").
    Rule("passport", re.compile(r"(?<![\w+№#\-])(?<!№ )(?<!# )\d{4}-\d{6}(?![\w\-])"), "[PASSPORT]", 10),
    # Finnish personal identity code (henkilötunnus): ddmmyy, century sign, 3 digits, check char.
    Rule("id", re.compile(rf"{_D}[0-3]\d[01]\d\d\d[-+A-FU-Ya-fu-y]\d{{3}}[0-9A-Ya-y]{_E}"), _hetu_repl, "fi_id"),
    # INN after its name: "ИНН 7707083893", "ИНН/КПП 7707083893/770701001", "ИНН организации: ...".
    Rule(
        "inn",
        re.compile(
            rf"((?<!\w)(?:(?i:инн)|INN)(?:\s*/\s*(?i:кпп))?(?:\s+[а-яё]+)?\s*[:№#\-–—]?\s*(?:№\s*)?)\d{{10,12}}{_E}"
        ),
        r"\1[INN]",
        10,
    ),
    # Phones. Russian: +7 / 8 then 10 digits in any grouping with spaces, dashes, brackets.
    Rule(
        "phone",
        re.compile(rf"(?:\+7|{_D}8){_PSEP}?\(?\d{{3}}\)?{_PSEP}?\d{{3}}{_PSEP}?\d{{2}}{_PSEP}?\d{{2}}{_E}"),
        "[PHONE]",
        11,
    ),
    # Finnish: +358 40 123 4567, +358 (0)9 123 4567.
    Rule(
        "phone",
        re.compile(rf"\+358[ \-\u00a0]?(?:\(0\))?\d{{1,3}}(?:[ \-\u00a0]?\d{{2,4}}){{1,3}}{_E}"),
        "[PHONE]",
        "plus",
    ),
    # Other international numbers: "+" and at least 8 digits in groups.
    Rule(
        "phone",
        re.compile(rf"(?<![\w+])\+\d{{1,3}}[ \-\u00a0]?\(?\d{{1,4}}\)?(?:[ \-\u00a0]?\d{{2,4}}){{2,4}}{_E}"),
        "[PHONE]",
        "plus",
    ),
    # Finnish domestic: 040 1234567, 040-123 4567, 09 1234 5678, 0401234567 (8-10 digits after 0).
    Rule("phone", re.compile(rf"{_D}0\d{{1,2}}[ \-]?\d{{3,4}}[ \-]?\d{{3,4}}{_E}"), "[PHONE]", 8),
    # Russian mobile without the trunk prefix: 912 345-67-89, 9123456789.
    Rule("phone", re.compile(rf"{_D}9\d{{2}}{_PSEP}?\d{{3}}{_PSEP}?\d{{2}}{_PSEP}?\d{{2}}{_E}"), "[PHONE]", 10),
    # Local seven-digit numbers written the Russian way: 345-67-89.
    Rule("phone", re.compile(rf"{_D}\d{{3}}-\d{{2}}-\d{{2}}{_E}"), "[PHONE]", 7),
    # A bare INN with valid check digits, unless it is a numbered reference ("№ ...", "#...").
    Rule("inn", re.compile(rf"(?<![\w+№#])(?<!№ )(?<!# )(?:\d{{12}}|\d{{10}}){_E}"), _inn_repl, 10),
)

NAME_RULES: tuple[Rule, ...] = (
    # Names after an introducing phrase (keep the phrase, drop the name).
    Rule("name", re.compile(rf"((?<!\w)(?i:{INTRO})\s*[:,\-–—]?\s*){_NAME_SEQ}"), r"\1[NAME]"),
    # A surname after an honorific (keep the title).
    Rule("name", re.compile(rf"((?<!\w){HONORIFIC}\s+){_NAME_SEQ}"), r"\1[NAME]"),
    # "я, Иванов Иван Иванович," / "I am John Smith" / "I'm John Smith".
    Rule("name", re.compile(rf"((?:\b[Яя]|\bI)\s*,\s*){_NAME_SEQ}(?=\s*,)"), r"\1[NAME]"),
    Rule("name", re.compile(rf"(\b(?:I\s+am|I'm|I’m)\s+){_CAP}\s+{_CAP}"), r"\1[NAME]"),
    # Full Russian names with a patronymic anywhere in the text (clients name staff too):
    # "Иванов Иван Иванович", "Иван Иванович Иванов", "Мария Петровна".
    Rule(
        "name",
        re.compile(
            rf"\b(?:[А-ЯЁ][а-яё]+\s+)?[А-ЯЁ][а-яё]+\s+{_PATRONYMIC}(?:\s+[А-ЯЁ][а-яё]+(?:ов|ев|ин|ын|ова|ева|ина|ына|ский|ская|цкий|цкая))?\b"
        ),
        "[NAME]",
    ),
    # "Петров А.В." and "А.В. Петров".
    Rule("name", re.compile(r"\b[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?\s+[А-ЯЁ]\.\s?[А-ЯЁ]\.(?!\w)"), "[NAME]"),
    Rule("name", re.compile(r"(?<!\w)[А-ЯЁ]\.\s?[А-ЯЁ]\.\s?[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?\b"), "[NAME]"),
    # A surname with one initial: "Сидорова Н.", "Н. Сидорова" (the surname told by its ending).
    Rule("name", re.compile(rf"\b{_SURNAME}\s+[А-ЯЁ]\.(?!\w)"), "[NAME]"),
    Rule("name", re.compile(rf"(?<!\w)[А-ЯЁ]\.\s?{_SURNAME}\b"), "[NAME]"),
)

PLACEHOLDERS: tuple[str, ...] = (
    "[PHONE]",
    "[EMAIL]",
    "[SNILS]",
    "[INN]",
    "[PASSPORT]",
    "[CARD]",
    "[ID]",
    "[URL]",
    "[NAME]",
    "[IBAN]",
    "[ACCOUNT]",
    "[ADDRESS]",
)
KIND_ORDER = ("phone", "email", "snils", "inn", "passport", "card", "id", "iban", "account", "address", "url", "name")


# --- URLs ---------------------------------------------------------------------------------

# A link: with a scheme or "www.", or a bare host with a known top-level domain; either way
# only links with a path or a query matter (a bare "gosuslugi.ru" can hold nothing personal).
# Not after "@" or a word character, so the domain of an e-mail address is never a link.
_TLD = r"(?i:ru|com|fi|org|net|me|su|info|io|рф|ly|cc|to|tv|by|kz|ua|uz|ee|lv|eu|de|se|app|site|online|pro)"
_URL_BODY = r"[^\s<>\"'«»{}|\\^`]"
URL_RE = re.compile(
    r"(?<![\w@.\-/])"
    rf"(?:(?i:https?://)(?:[^\W_][\w\-]*\.)*[^\W_][\w\-]*(?::\d+)?"
    rf"|(?i:www\.)(?:[^\W_][\w\-]*\.)+{_TLD}"
    rf"|(?:[^\W_][\w\-]*\.)+{_TLD}(?![\w\-]))"
    rf"[/?]{_URL_BODY}*"
)
# Every link the pattern above can find has "://" or a top-level domain right before its
# "/" or "?": the gate for the whole link step.
URL_GATE = re.compile(rf"://|\.{_TLD}[/?]")
URL_TRAIL_CHARS = ".,;:!?»\"'…"
URL_CLOSERS = {")": "(", "]": "[", "}": "{"}
URL_SPLIT = re.compile(r"^(?:(?i:https?)://)?(?P<host>[^/?#:]+)(?::\d+)?(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?")

# Hosts where the first path segment names a person unless it is one of these
# (community, group, post, media or service pages).
PROFILE_UNLESS: dict[str, re.Pattern[str]] = {
    host: re.compile(pattern, re.I)
    for hosts, pattern in (
        (
            ("vk.com", "vk.ru", "vkontakte.ru", "vk.me"),
            r"(?:wall-|club\d|public\d|event\d|topic-|photo-|video-|album-|board\d|market-|page-|doc-|clip-|"
            r"feed\b|search\b|groups\b|away\.php|apps?\b|music\b)",
        ),
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
PROFILE_ONLY: dict[str, re.Pattern[str]] = {
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
PUBLIC_HOSTS = (
    "trudvsem.ru",
    "gosuslugi.ru",
    "gov.ru",
    "mintrud.gov.ru",
    "rostrud.gov.ru",
    "suomi.fi",
    "tyomarkkinatori.fi",
    "te-palvelut.fi",
    "kela.fi",
    "hh.ru",
    "superjob.ru",
    "rabota.ru",
    "zarplata.ru",
    "2gis.ru",
    "yandex.ru",
)
PERSONAL_QUERY_KEYS = frozenset(
    "email e-mail e_mail mail phone tel telephone mobile msisdn puhelin sahkoposti sähköposti "
    "snils inn passport hetu fio name firstname first_name lastname last_name surname "
    "user username user_name login uid userid user_id profile profile_id".split()
)
