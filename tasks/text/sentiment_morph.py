"""Finnish base forms for the lexicons of the text stage, from Voikko when it is installed.

The Finnish lexicon is written as base forms, Snowball stems and prefixes; inflection
with consonant gradation ("hitaita", "tyly" → "tylyn"), comparatives ("huonompi"), verb
forms ("odotin" → "odottaa") and clitics escape stems and prefixes. Voikko (Debian
``libvoikko1`` + ``voikko-fi``, Python ``libvoikko``; ``make system-deps`` installs the
Debian packages) gives each word's base form, and :class:`tasks.text.lexicon.Lexicon`
matches the base form as well as the word itself. Without Voikko the Finnish lexicon
works on the words alone, as before. Nothing is downloaded: the morphology is the
installed ``voikko-fi`` package.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["finnish_base_forms"]

_log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_STATE: dict[str, Callable[[str], tuple[str, ...]] | None] = {}
_MAX_FORMS = 2  # a word's first analyses: rarer readings add more noise than matches
# Proper names: their readings only ever add false matches ("Autto" for "auton").
_NAME_CLASSES = frozenset(("etunimi", "sukunimi", "paikannimi", "nimi"))


def finnish_base_forms() -> Callable[[str], tuple[str, ...]] | None:
    """A function word → its Voikko base forms other than the word itself (lower case,
    at most two), or ``None`` when Voikko or its Finnish dictionary is not installed."""
    if "fi" in _STATE:
        return _STATE["fi"]
    try:
        import libvoikko

        voikko = libvoikko.Voikko("fi")
    except Exception as exc:  # library, dictionary or binding missing: the stems still work
        _log.info("Voikko not available (%s): Finnish words are matched without base forms", exc)
        _STATE["fi"] = None
        return None

    def base_forms(word: str) -> tuple[str, ...]:
        with _LOCK:  # a Voikko handle is not thread-safe
            analyses = voikko.analyze(word)
        out: list[str] = []
        if any((a.get("BASEFORM") or "").lower() == word for a in analyses):
            # A word that is a base form itself ("kuin", "minä", "sinä") is read as that
            # word: its rarer readings as a form of another ("kuu", "mikä", "se") are noise.
            return ()
        for a in analyses:
            if a.get("CLASS") in _NAME_CLASSES:
                continue  # "auton" is a car's, not a form of the surname "Autto"
            base = (a.get("BASEFORM") or "").lower()
            if base and base != word and base not in out:
                out.append(base)
                if len(out) >= _MAX_FORMS:
                    break
        return tuple(out)

    _STATE["fi"] = base_forms
    return base_forms
