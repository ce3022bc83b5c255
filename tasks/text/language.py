"""Language detection for the text stage: Russian, Finnish or English.

Cyrillic means Russian; Finnish is told from English by ä/ö/å, frequent Finnish words
and typical endings. :mod:`tasks.text.analyser` reads each text with the lexicons of
the language found here.
"""

from __future__ import annotations

import re

from tasks.text.normalise import WORD_RE, normalise

__all__ = ["detect_language", "detect_normalised"]

_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-zäöå]", re.IGNORECASE)
_FI_LETTERS = re.compile(r"[äöå]", re.IGNORECASE)
# Frequent function words that are not also English words.
_FI_WORDS = frozenset(
    "ei en et emme ette eivät on ole oli olen olin ollut olla ovat ja tai että kun mutta myös "
    "minä minun minulle minua mä sinä hän se ne me te he tämä tuo mitä mikä miten miksi missä "
    "kuka koska jos niin vain jo vielä enää ollenkaan kanssa ilman kautta mukaan jälkeen ennen "
    "aina koskaan mitään kukaan sain saanut saa voi voin pitää täytyy pitäisi erittäin todella "
    "tosi hyvin hyvä huono paljon liian kiitos yhtään vaan eikä siitä sitä kuin sekä yli heti nyt vasta "
    "koko ajan sain pääsin ihan mulle mua mun sulle sun tää nää oon ollu kans sit sitte sitten jotain joku "
    "mikään ettei jonka jotka joita tänään eilen".split()
)
_EN_WORDS = frozenset(
    "the a an and or but is are was were be been being have has had do does did not no nobody "
    "never i my me we our you your he she it its they them this that these those what which who "
    "when where why how to of in on at for with from by about after before very too so can could "
    "would should will there here get got any all just only still again always".split()
)
_FI_ENDINGS = (
    "ssa",
    "ssä",
    "sta",
    "stä",
    "lla",
    "llä",
    "lta",
    "ltä",
    "lle",
    "ksi",
    "nen",
    "isen",
    "kaan",
    "kään",
    "ko",
    "kö",
    "itse",
)
_FI_CLUSTERS = re.compile(r"(aa|ee|ii|oo|uu|yy|ää|öö|kk|tt|pp|nn|uo|yö|^j[aeiouy])")
_EN_SHAPES = re.compile(r"(th|sh|ch|w|c|q|x|z|f|b|ing$|ed$|ly$|tion)")
_LANG_WORD_CACHE: dict[str, tuple[float, float]] = {}


def _word_votes(w: str) -> tuple[float, float]:
    """(Finnish, English) evidence of one lower-case Latin word; cached per word."""
    votes = _LANG_WORD_CACHE.get(w)
    if votes is not None:
        return votes
    fi = en = 0.0
    if w in _FI_WORDS:
        fi += 2
    if w in _EN_WORDS:
        en += 2
    if _FI_LETTERS.search(w):
        fi += 2
    if len(w) > 3:
        if _FI_CLUSTERS.search(w) or w.endswith(_FI_ENDINGS):
            fi += 0.5
        if _EN_SHAPES.search(w):
            en += 0.5
        if w[-1] in "aeiouyäö" and w[-1] != "e":
            fi += 0.25
    if len(_LANG_WORD_CACHE) < 1_000_000:
        _LANG_WORD_CACHE[w] = (fi, en)
    return fi, en


def detect_language(text: str | None) -> str | None:
    """ISO 639-1 code of ``text``: "ru", "fi" or "en"; ``None`` if it has no letters.

    Deliberately simple: Cyrillic wins if it is at least as frequent as Latin script;
    otherwise Finnish and English are scored by function words, ä/ö/å and word shapes
    (Finnish vowel/consonant doubling and case endings, English "th"/"w"/"-ing"). The
    text is normalised first, so redaction placeholders ("[PHONE]") do not count as Latin.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    norm = normalise(text)
    return detect_normalised(norm, WORD_RE.findall(norm))


def detect_normalised(norm: str, tokens: list[str]) -> str | None:
    """:func:`detect_language` on an already normalised, tokenised text."""
    if _LATIN.search(norm) is None:
        return "ru" if _CYRILLIC.search(norm) else None
    cyr = len(_CYRILLIC.findall(norm))
    lat = len(_LATIN.findall(norm))
    if cyr >= lat:
        return "ru"
    fi = en = 0.0
    cache = _LANG_WORD_CACHE
    for w in tokens:
        votes = cache.get(w)
        if votes is None:
            if not _LATIN.match(w):
                continue
            votes = _word_votes(w)
        fi += votes[0]
        en += votes[1]
    return "fi" if fi > en else "en"
