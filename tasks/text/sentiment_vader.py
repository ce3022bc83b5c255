"""English words from VADER's human-rated lexicon as a second source of the English sentiment lexicon.

``vader_lexicon.txt`` ships in the ``vaderSentiment`` wheel (C. J. Hutto and E. Gilbert,
"VADER: A Parsimonious Rule-based Model for Sentiment Analysis of Social Media Text",
ICWSM 2014; MIT licence): about 7,500 words, emoticons and slang, each rated by ten people
from -4 (extremely negative) to +4 (extremely positive). :func:`vader_entries` turns the
single words with a clear valence (raters agreeing, see ``languages.en.vader`` in
``config/sentiment.yaml``) into exact-word entries of this analyser's categories; words
the hand-written lexicon already knows, and the listed ``skip`` words, are left to it.
The file is read from the installed package; nothing is downloaded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

__all__ = ["read_vader_lexicon", "vader_entries"]

_log = logging.getLogger(__name__)
_WORD = re.compile(r"[a-z]+")
_ORDER = ("negative", "mild_negative", "mild_positive", "positive")


def read_vader_lexicon() -> list[tuple[str, float, float]]:
    """(word, mean rating, standard deviation) of every plain lower-case word of VADER's
    lexicon, in file order; ``[]`` when ``vaderSentiment`` is not installed."""
    try:
        text = (resources.files("vaderSentiment") / "vader_lexicon.txt").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        _log.info("vaderSentiment not installed (%s): English uses config/sentiment.yaml alone", exc)
        return []
    out = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and _WORD.fullmatch(parts[0]):
            out.append((parts[0], float(parts[1]), float(parts[2])))
    return out


def vader_entries(spec: dict[str, Any], covered: Callable[[str], bool]) -> dict[str, list[str]]:
    """Category → exact-word entries ("=word") from VADER for the words ``covered`` says no.

    ``spec`` is ``languages.en.vader``: the mean rating at or beyond which a word is
    ``positive``/``mild_positive``/``mild_negative``/``negative``, ``max_sd_share`` (the
    raters' standard deviation must stay below that share of the mean's size) and
    ``skip`` (function words and words whose rating does not carry over to feedback:
    "like", "please", "kind").
    """
    limits = {c: float(spec[c]) for c in _ORDER}
    share = float(spec.get("max_sd_share", 1.0))
    skip = {str(w).lower() for w in spec.get("skip") or []}
    out: dict[str, list[str]] = {c: [] for c in _ORDER}
    seen: set[str] = set()
    for word, mean, sd in read_vader_lexicon():
        if word in seen or word in skip or sd >= abs(mean) * share:
            continue
        seen.add(word)
        if mean >= limits["positive"]:
            cat = "positive"
        elif mean >= limits["mild_positive"]:
            cat = "mild_positive"
        elif mean <= limits["negative"]:
            cat = "negative"
        elif mean <= limits["mild_negative"]:
            cat = "mild_negative"
        else:
            continue
        if not covered(word):
            out[cat].append("=" + word)
    return out
