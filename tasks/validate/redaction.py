"""Personal-data redaction, stage 2 of the loop (*validate*), applied before anything is stored:
every kind of personal data in free text becomes a language-neutral placeholder (``[PHONE]``,
``[EMAIL]``, ``[NAME]``...; the rules: :mod:`tasks.validate.redaction_rules`), so nothing
personal can reach a report, an e-mail, an artifact or a log. ``redact`` takes one string,
``redact_series`` a column, ``find_personal_data`` reports the kinds it would replace.
"""

# Free text typed by clients into review books, the feedback platform or social networks
# often carries phone numbers, e-mail addresses, SNILS, INN, passport and card numbers,
# links to their own social-network pages and names. The product keeps only the redacted
# text (``Feedback.text``). ``redact_series`` redacts each distinct text once, with cheap
# vectorised pre-filters deciding which texts can hold anything; ``find_personal_data`` runs
# the very same pipeline and reports which kinds it replaced. All three share one
# implementation, so they cannot disagree: ``find_personal_data(t) == []`` exactly when
# ``redact(t) == t`` (for non-empty text).

from __future__ import annotations

import re
from urllib.parse import unquote

import numpy as np
import pandas as pd

from tasks.validate.redaction_names import DICTIONARY_NAME_GATES, redact_dictionary_names
from tasks.validate.redaction_places import ADDRESS_GATES, ADDRESS_RULES
from tasks.validate.redaction_rules import (
    DIGIT_RULES,
    EMAIL_RULES,
    HONORIFIC_PARTS,
    INTRO,
    KIND_ORDER,
    NAME_RULES,
    OBFUSCATED_EMAIL_GATE,
    PERSONAL_QUERY_KEYS,
    PLACEHOLDERS,
    PROFILE_ONLY,
    PROFILE_UNLESS,
    PUBLIC_HOSTS,
    URL_CLOSERS,
    URL_GATE,
    URL_RE,
    URL_SPLIT,
    URL_TRAIL_CHARS,
    Rule,
)

__all__ = ["redact", "redact_series", "find_personal_data"]

_SENTINEL_BASE = 0xF0000  # Unicode private-use plane 15: never typed by clients
_SENTINEL_MAX = 0xFFFD
_SENTINEL = re.compile("[\U000f0000-\U000ffffd]")


def _host_rule(host: str, table: dict[str, re.Pattern[str]]) -> re.Pattern[str] | None:
    for key, pattern in table.items():
        if host == key or host.endswith("." + key):
            return pattern
    return None


def _url_is_personal(url: str) -> bool:
    """Does this link point at a person (see tasks.validate.redaction_rules)?"""
    if any(p in url for p in PLACEHOLDERS):  # an e-mail was already redacted inside it
        return True
    parts = URL_SPLIT.match(url)
    if parts is None:  # pragma: no cover - the URL pattern always has a host
        return True
    host = parts["host"].lower().rstrip(".")
    for prefix in ("www.", "m.", "mobile.", "web."):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    path = unquote(parts["path"] or "").lstrip("/")
    query = parts["query"] or ""
    for pair in re.split(r"[&;]", query):
        key, _, value = pair.partition("=")
        if unquote(key).strip().lower() in PERSONAL_QUERY_KEYS and value:
            return True
        if "@" in unquote(value):
            return True
    unless = _host_rule(host, PROFILE_UNLESS)
    if unless is not None:
        return bool(path) and unless.match(path) is None
    only = _host_rule(host, PROFILE_ONLY)
    if only is not None and only.match(path):
        return True
    if any(host == h or host.endswith("." + h) for h in PUBLIC_HOSTS):
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
# Phones and accounts may also be written with dots or en/em dashes ("8.912.345.67.84"); a
# cluster with those separators counts only from ten digits on, so that dates ("12.03.2026")
# and ranges ("2024–2025") do not open the digit rules.
_LONG_CLUSTER = re.compile(rf"\d{_NOT_DATE}(?:[\s\-()№.–—]{{0,3}}\d){{9,}}")
_NON_DIGITS = re.compile(r"\D+")
_FI_ID_GATE = re.compile(r"\d{6}[-+A-FU-Ya-fu-y]\d{3}[0-9A-Ya-y]")  # the one digit rule with no other gate
_IBAN_GATE = re.compile(r"[A-Z]{2}\d\d")
_PASSPORT_GATE = re.compile(r"паспорт|passport|passi|сери[яи]")  # in case-folded text
_INTRO_GATE = re.compile(INTRO)  # in case-folded text: a (?i) search is ~10x slower
_NAME_GATES = (
    # a title before a capitalised word, one gate per title so that each starts with a letter
    *(re.compile(rf"{part}\.?\s+[A-ZА-ЯЁÄÖÅ]") for part in HONORIFIC_PARTS),
    re.compile(r"(?:ич[а-яё]{0,2}|[вч]н(?:а|ы|е|у|ой|ою))\b"),  # patronymics, any case
    re.compile(r"[а-яё]\s+[А-ЯЁ]\.|[А-ЯЁ]\.\s?[А-ЯЁ][а-яё]"),  # a surname next to one initial
    re.compile(r"[A-ZА-ЯЁ]\.\s?[А-ЯЁ]\."),  # initials
    # "я, ...", "I, ...", "I am", "I'm" (the look-behind after the letter keeps the fast scan)
    re.compile(r"[ЯяI](?<!\w[ЯяI])(?:\s*,|(?<=I)(?:\s+am|['’]m)\s)"),
)


def _apply(
    rules: tuple[Rule, ...], text: str, found: set[str] | None, gates: dict[int | str | None, bool] | None = None
) -> str:
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


_TIERS = (7, 8, 10, 11, 13, 20)


def _digit_gates_from(
    longest: int, plus: bool, passport: bool, fi_id: bool, iban: bool
) -> dict[int | str | None, bool] | None:
    if longest < 6:
        return None
    gates: dict[int | str | None, bool] = {n: longest >= n for n in _TIERS}
    gates.update({None: True, "plus": plus, "passport": passport, "fi_id": fi_id, "iban": iban})
    return gates if any(gates[k] for k in (7, "plus", "passport", "fi_id", "iban")) else None


def _longest_cluster(cluster: str) -> int:
    return len(_NON_DIGITS.sub("", cluster))


def _digit_gates(text: str) -> dict[int | str | None, bool] | None:
    """Which digit rules can match ``text``; ``None`` when none can."""
    clusters = _CLUSTER.findall(text) + _LONG_CLUSTER.findall(text)
    if not clusters:
        return None
    return _digit_gates_from(
        max(map(_longest_cluster, clusters)),
        "+" in text,
        _PASSPORT_GATE.search(text.casefold()) is not None,
        _FI_ID_GATE.search(text) is not None,
        _IBAN_GATE.search(text) is not None,
    )


# What the gates decided for one text: run e-mails? links? which digit rules? names?
# addresses? the name dictionaries?
_Plan = tuple[bool, bool, "dict[int | str | None, bool] | None", bool, bool, bool]


def _pipeline(
    text: str, found: set[str] | None, urls: bool = True, gated: bool = True, plan: _Plan | None = None
) -> str:
    """Redact ``text``; record the kinds replaced in ``found``. ``urls=False`` leaves links
    alone (used to look inside a link); ``gated=False`` runs every rule (tests only);
    ``plan`` carries the gates already evaluated column-wise by ``redact_series``. Gates
    taken on the original text stay sound later: replacements only take digits, "@" and
    links away and add placeholders no gate matches."""
    if plan is not None:
        email, link, digit_gates, names, address, dictionary = plan
    else:
        folded = text.casefold()
        email = not gated or "@" in text or OBFUSCATED_EMAIL_GATE.search(folded) is not None
        link = not gated or URL_GATE.search(text) is not None
        digit_gates = None if not gated else _digit_gates(text)
        names = not gated or _might_hold_name(text)
        address = not gated or (_ASCII_DIGIT.search(text) is not None and any(g.search(folded) for g in ADDRESS_GATES))
        dictionary = not gated or any(g.search(text) for g in DICTIONARY_NAME_GATES)
    if email:
        text = _apply(EMAIL_RULES, text, found)
    kept: list[str] = []
    if urls and link:
        text = _links(text, found, kept)
    if not gated:
        text = _apply(DIGIT_RULES, text, found)
    elif digit_gates is not None:
        text = _apply(DIGIT_RULES, text, found, digit_gates)
    if address:
        text = _apply(ADDRESS_RULES, text, found)
    if names:
        text = _apply(NAME_RULES, text, found)
    if dictionary:
        text = redact_dictionary_names(text, found)
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
            if ch in URL_TRAIL_CHARS or (
                ch in URL_CLOSERS and url.count(URL_CLOSERS[ch], 0, end) < url.count(ch, 0, end)
            ):
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

    return URL_RE.sub(repl, text)


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
_ASCII_DIGIT = re.compile(r"[0-9]")


def _has_ascii_digit(joined: str, starts: np.ndarray) -> np.ndarray:
    """Which joined texts hold a digit 0-9, counted with numpy (a regex scan for a digit
    costs more)."""
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    seen = np.concatenate(([0], np.cumsum((codes >= 48) & (codes <= 57))))
    ends = np.append(starts[1:] - 1, len(joined))
    return seen[ends] > seen[starts]


def _address_flags(folded: str, fstarts: np.ndarray, has_digit: np.ndarray) -> np.ndarray:
    """The address gates, run only over the (case-folded) texts that hold a digit."""
    flags = np.zeros(len(has_digit), dtype=bool)
    rows = np.flatnonzero(has_digit)
    if not rows.size:
        return flags
    ends = np.append(fstarts[1:] - 1, len(folded))
    joined, starts = _join([folded[fstarts[i] : ends[i]] for i in rows.tolist()])
    found = np.zeros(len(rows), dtype=bool)
    for gate in ADDRESS_GATES:
        found |= _flag(gate, joined, starts, len(rows))
    flags[rows] = found
    return flags


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

    email, link = flag(_AT) | flag(OBFUSCATED_EMAIL_GATE, folded_text=True), flag(URL_GATE)
    address = _address_flags(folded, fstarts, _has_ascii_digit(joined, starts))
    dictionary = np.zeros(n, dtype=bool)
    for gate in DICTIONARY_NAME_GATES:
        dictionary |= flag(gate)
    names = flag(_INTRO_GATE, folded_text=True)
    for gate in _NAME_GATES:
        names |= flag(gate)
    longest = np.zeros(n, dtype=np.int64)
    matches = list(_CLUSTER.finditer(joined)) + list(_LONG_CLUSTER.finditer(joined))
    if matches:
        where = (
            np.searchsorted(
                starts, np.fromiter((m.start() for m in matches), dtype=np.int64, count=len(matches)), side="right"
            )
            - 1
        )
        np.maximum.at(
            longest,
            where,
            np.fromiter((_longest_cluster(m.group(0)) for m in matches), dtype=np.int64, count=len(matches)),
        )
    has_digits = longest >= 6
    plus = passport = fi_id = iban = np.zeros(n, dtype=bool)
    if has_digits.any():
        plus, passport, fi_id = flag(_PLUS), flag(_PASSPORT_GATE, folded_text=True), flag(_FI_ID_GATE)
        iban = flag(_IBAN_GATE)
    digits = has_digits & ((longest >= 7) | plus | passport | fi_id | iban)
    plans: dict[int, _Plan] = {}
    for i in np.flatnonzero(email | link | digits | names | address | dictionary).tolist():
        gates = _digit_gates_from(int(longest[i]), bool(plus[i]), bool(passport[i]), bool(fi_id[i]), bool(iban[i]))
        plans[i] = (bool(email[i]), bool(link[i]), gates, bool(names[i]), bool(address[i]), bool(dictionary[i]))
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
    "passport", "card", "id", "iban", "account", "address", "url", "name"), unique, in that order; ``[]`` for clean or
    redacted text. Exactly the kinds :func:`redact` replaces."""
    if not isinstance(text, str) or not text:
        return []
    found: set[str] = set()
    _pipeline(text, found)
    return [k for k in KIND_ORDER if k in found]
