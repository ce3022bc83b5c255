"""Normalisation for the text stage: lower case, ё→е, placeholders dropped, contractions spelled out.

Also the token patterns (words, sentence ends, in-clause barriers), :func:`tokenise` and
the Snowball stemmer of each language. Every other module of :mod:`tasks.text` reads a
text through :func:`normalise` first.
"""

from __future__ import annotations

import re
from typing import Any

import snowballstemmer

__all__ = ["BARRIERS", "EMOTICON_RE", "STEMMER_NAMES", "TOKEN_RE", "WORD_RE", "normalise", "stemmer", "tokenise"]

STEMMER_NAMES = {"ru": "russian", "fi": "finnish", "en": "english"}

WORD_RE = re.compile(r"[^\W\d_]+")
# Emoticons (":)", ":-(", ";d", "=)", "))", "(((") and pictographic emoji, one token each,
# before the punctuation they are made of; a single ")" or "(" stays a bracket.
EMOTICON_RE = r"[:;=]-?(?:[()]|d(?![^\W\d_]))|\){2,}|\({2,}|[\u2600-\u27bf\U0001f300-\U0001faff]"
# Word runs; emoticons; sentence ends (. ! ? ; … and newlines); in-clause barriers (, : — – ( )).
TOKEN_RE = re.compile(r"[^\W\d_]+|" + EMOTICON_RE + r"|[.!?;…]+|\n|[,:—–()]")
BARRIERS = frozenset(",:—–()")
_PLACEHOLDER = re.compile(r"\[(?:PHONE|EMAIL|SNILS|INN|PASSPORT|CARD|ID|URL|NAME)\]")
_APOSTROPHE = re.compile(r"(?<=[a-z])[’'](?=[a-z])")
_CONTRACTIONS = (
    (
        re.compile(r"\b(can|won|shan)'t\b"),
        lambda m: {"can": "can", "won": "will", "shan": "shall"}[m.group(1)] + " not",
    ),
    (re.compile(r"n't\b"), lambda m: " not"),
    (re.compile(r"'ll\b"), lambda m: " will"),
    (re.compile(r"'re\b"), lambda m: " are"),
    (re.compile(r"'ve\b"), lambda m: " have"),
    (re.compile(r"'m\b"), lambda m: " am"),
    (re.compile(r"'d\b"), lambda m: " would"),
    (re.compile(r"'s\b"), lambda m: ""),
)
# "can;t", "doesn;t", "it;s": a semicolon typed for the apostrophe (next key on a phone's
# keyboard) would end the sentence in the middle of the word.
_SEMICOLON_APOSTROPHE = re.compile(r"(?<=[a-z]);(?=(?:t|s|m|ll|re|ve)\b)")
_SPACED_HYPHEN = re.compile(r"(?<=\s)-+(?=\s)")
# A rating written in the text ("1/5", "10 из 10", "5 stars", "ставлю 2", "2 tähteä") is the
# author's verdict: it becomes 👍 / 👎 (a mid rating nothing), tokens every language reads.
_DIGIT = re.compile(r"\d")
_RATING_HINTS = ("/", " из ", " of ", "kautta", "зв", "star", "täht", "ставл", "оцен", "rating", "arvosana")
_OF = r"\s*(?:/|из|out\s+of|of|kautta)\s*"
_RATING = re.compile(
    r"(?<![\d.,/:])(?:(?P<n>10|[0-9])" + _OF + r"(?P<top>10|5)(?![\d/.,]\d)"
    r"|(?P<s>[0-5])\s*(?:зв[её]зд\w*|stars?\b|tähte\w*|tähti\b)"
    r"|(?:ставлю|оценка|оценку|rating|arvosana)\s*(?P<g>10|[0-9])(?![\d/.,]\d))"
)


def _rating(m: re.Match[str]) -> str:
    """👎 for at most 40 % of the scale, 👍 for at least 80 %, nothing between: "2/5", "4 из 5",
    "ставлю 8" (a number above 5 is on the 10-point scale); an impossible one is left as it is."""
    if m.group("n") is not None:
        value, top = int(m.group("n")), int(m.group("top"))
    else:
        raw = m.group("s") if m.group("s") is not None else m.group("g")
        value = int(raw)
        top = 10 if value > 5 else 5
    if value > top:
        return m.group(0)
    share = value / top
    return " 👎 " if share <= 0.4 else " 👍 " if share >= 0.8 else " "


# "@united", "@USER": whom a post is addressed to says nothing, and as a word it would stand
# first in the text ("@USER great, another delay" is irony only when "great" opens it).
_MENTION = re.compile(r"(?<![\w.])@\w+")


def normalise(text: str) -> str:
    """Lower case, ё→е, redaction placeholders and @mentions removed, English contractions spelled out.

    A rating written in the text is 👍 / 👎 ("5/5", "1 star", "ставлю 2"; :func:`_rating`).
    "didn't" → "did not", "can't" → "can not", "they'll" → "they will", "it's" → "it"
    (a possessive or "is" carries nothing the lexicons use); a hyphen between spaces is
    a dash (a barrier), inside a word it separates two tokens ("смс-напоминание").
    """
    if "[" in text:
        text = _PLACEHOLDER.sub(" ", text)
    if "@" in text:
        text = _MENTION.sub(" ", text)
    text = text.lower().replace("ё", "е")
    if _DIGIT.search(text) and any(w in text for w in _RATING_HINTS):
        text = _RATING.sub(_rating, text)
    if ";" in text:
        text = _SEMICOLON_APOSTROPHE.sub("'", text)
    if "'" in text or "’" in text:
        text = _APOSTROPHE.sub("'", text)
        for pattern, repl in _CONTRACTIONS:
            text = pattern.sub(repl, text)
    if " -" in text:
        text = _SPACED_HYPHEN.sub("—", text)
    return text


def tokenise(text: str) -> list[str]:
    """The word tokens of a normalised text, in order (punctuation and barriers left out)."""
    return WORD_RE.findall(normalise(text))


_STEMMERS: dict[str, Any] = {}


def stemmer(language: str) -> Any:
    """The Snowball stemmer of a language (``stemWord(word)``, ``stemWords(words)``)."""
    st = _STEMMERS.get(language)
    if st is None:
        st = _STEMMERS[language] = snowballstemmer.stemmer(STEMMER_NAMES[language])
    return st
