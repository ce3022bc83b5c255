"""Text analytics: stage 4 of the loop (*detect* pain points) — language, themes, sentiment.

Each feedback text is read the same way whatever its channel:

1. **Language** (:func:`detect_language`): Cyrillic means Russian; Finnish is told from
   English by ä/ö/å, frequent Finnish words and typical endings.
2. **Normalisation** (:func:`normalise`): redaction placeholders (``[PHONE]`` …) dropped,
   lower case, ё→е, English contractions spelled out ("n't"→"not", "'ll"→"will" …).
   Tokens are runs of letters. Sentence punctuation and contrast words ("но", "однако",
   "but", "however", "mutta" …) cut the text into clauses; commas, colons and dashes stay
   inside a clause as barriers (a phrase or a negation does not reach across them).
3. **Themes**: the keyword lexicons of ``config/themes/`` (syntax in its README) are
   matched on Snowball stems per language: a plain word matches every inflection,
   ``word*`` is a prefix, ``*word*`` a substring (Finnish compounds), ``=word`` one exact
   word, and several words a phrase of consecutive tokens. Four rules keep incidental
   words from tagging a theme:

   * a match inside a longer match of another theme does not count ("waiting area" is
     ``office_comfort``, not also ``waiting_time``);
   * on one word, a keyword written inside a longer keyword of another theme gives way
     to it ("puhelinjonossa": ``*puhelinjono*``, a phone queue, is
     ``contact_reachability``; ``*jono*`` would make it ``waiting_time`` too);
   * a *weak* keyword counts only when no strong keyword of another theme is in the same
     clause ("no reply to my e-mail" is ``contact_reachability``, "reminders by e-mail"
     is only ``reminders_notifications``);
   * in a concessive clause, a weak keyword gives way to another theme's strong keyword
     anywhere in the sentence: "Напоминания не приходят, хотя телефон указан верно" is
     about reminders, the phone is background (after "но"/"but" it still counts).
4. **Sentiment**: the lexicon of ``config/sentiment.yaml`` scores each clause — positive
   and negative words; *implicit* cues, weaker, with which clients complain without a
   complaint word (elapsed time "три недели", "ten days", "kuusi viikkoa"; "до сих пор",
   "still", "vieläkään"; "опять", "again", "taas"), never negated and not counted in a
   question ("Сколько дней рассматривают заявление?" is no complaint); "expected
   service" words that are neutral alone but a complaint when negated ("не дозвониться",
   "no reminder", "ei toimi"); negators with a short scope, also after the word
   ("очереди не было", "jonoa ei ollut"); intensifiers (not amplifying under negation:
   "not very good" is milder than "not good"). A negation that negates no entry is a
   complaint too: a "nobody" word ("никто их не обновляет", "nobody ever picks up",
   "kukaan ei kertonut"; ``void_negators``) always, any other negator in a clause that
   names a theme ("пособие не начислили", "kurssi ei alkanut"; ``theme_negation``),
   unless it is part of an entry ("not always") or the clause is a question. Where entries
   of one word overlap, the most specific wins (``=word`` over a stem, a stem over a
   prefix). In a question, praise words do not count ("Поможете с трудоустройством?" is a
   request, not praise); complaints do ("Почему никто не отвечает?"). A clause after
   "но"/"but"/"mutta" weighs more, a concessive one ("хотя", "although", "vaikka") less.
5. **Sentiment per theme**: a theme takes the score of the clauses that mention it. When
   a clause mixes praise and complaint ("сотрудники вежливые и сайт не работает"), each
   scored word goes to the nearest theme mention instead (commas count as distance). A
   theme whose own clauses carry no sentiment takes that of a neighbouring clause that
   names no theme ("Записалась через портал. Ничего не работает.").

Scores are squashed into [-1, 1] by x / (|x| + 1): one clear word gives ±0.5, more
evidence approaches ±1. The result per text is a :class:`TextAnalysis`;
:func:`analyse_frame` turns a column of texts (plus optional ratings and a learned
fallback, :mod:`tasks.text.learn`) into the ``language``, ``sentiment``, ``themes`` and
``negative_themes`` columns of the feedback table. Short texts' analyses are memoised
(real exports repeat "Спасибо" many times) and each distinct token is looked up once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import snowballstemmer
import yaml

from cxloop.config import AppConfig, ConfigError, keyword_problem
from cxloop.domain import LANGUAGES

__all__ = [
    "SentimentFallback",
    "TextAnalysis",
    "analyse",
    "analyse_frame",
    "detect_language",
    "load_sentiment_lexicon",
    "normalise",
    "rating_polarity",
    "stemmer",
    "tokenise",
]

_STEMMER_NAMES = {"ru": "russian", "fi": "finnish", "en": "english"}
_DEFAULT_SENTIMENT = Path(__file__).resolve().parents[1] / "config" / "sentiment.yaml"
_CACHE_LIMIT = 200_000  # memoised analyses per lexicon before the memo is reset
_MEMO_MAX_CHARS = 80  # only short texts repeat often enough to be worth memoising


@dataclass
class TextAnalysis:
    """What one feedback text says.

    ``language`` is an ISO 639-1 code (ru/fi/en), ``None`` for a text without letters;
    ``sentiment`` is in [-1, 1] (below 0 = negative, 0 = no evidence either way);
    ``theme_sentiment`` holds, per mentioned theme, the sentiment of what the text says
    about it (see the module docstring).
    """

    language: str | None
    themes: set[str] = field(default_factory=set)
    sentiment: float = 0.0
    theme_sentiment: dict[str, float] = field(default_factory=dict)

    @property
    def negative_themes(self) -> set[str]:
        return {t for t, s in self.theme_sentiment.items() if s < 0}


class SentimentFallback(Protocol):
    """A second opinion on texts the lexicon finds no sentiment in (see :mod:`tasks.text.learn`).

    ``score`` gets the language and the tokens of the normalised text (words, and the
    punctuation marks that end clauses) and returns a sentiment in [-1, 1] (0 = no opinion).
    """

    def score(self, language: str, tokens: Sequence[str]) -> float: ...


# --------------------------------------------------------------------------- language

_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-zäöå]", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+")
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
_FI_ENDINGS = ("ssa", "ssä", "sta", "stä", "lla", "llä", "lta", "ltä", "lle", "ksi", "nen", "isen", "kaan", "kään", "ko", "kö",
               "itse")
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
    return _detect(norm, _WORD.findall(norm))


# ------------------------------------------------------------------- normalisation

# Word runs; sentence ends (. ! ? ; … and newlines); in-clause barriers (, : — – ( )).
_TOKEN = re.compile(r"[^\W\d_]+|[.!?;…]+|\n|[,:—–()]")
_BARRIERS = frozenset(",:—–()")
_PLACEHOLDER = re.compile(r"\[(?:PHONE|EMAIL|SNILS|INN|PASSPORT|CARD|ID|URL|NAME)\]")
_APOSTROPHE = re.compile(r"(?<=[a-z])[’'](?=[a-z])")
_CONTRACTIONS = (
    (re.compile(r"\b(can|won|shan)'t\b"), lambda m: {"can": "can", "won": "will", "shan": "shall"}[m.group(1)] + " not"),
    (re.compile(r"n't\b"), lambda m: " not"),
    (re.compile(r"'ll\b"), lambda m: " will"),
    (re.compile(r"'re\b"), lambda m: " are"),
    (re.compile(r"'ve\b"), lambda m: " have"),
    (re.compile(r"'m\b"), lambda m: " am"),
    (re.compile(r"'d\b"), lambda m: " would"),
    (re.compile(r"'s\b"), lambda m: ""),
)
_SPACED_HYPHEN = re.compile(r"(?<=\s)-+(?=\s)")


def normalise(text: str) -> str:
    """Lower case, ё→е, redaction placeholders removed, English contractions spelled out.

    "didn't" → "did not", "can't" → "can not", "they'll" → "they will", "it's" → "it"
    (a possessive or "is" carries nothing the lexicons use); a hyphen between spaces is
    a dash (a barrier), inside a word it separates two tokens ("смс-напоминание").
    """
    if "[" in text:
        text = _PLACEHOLDER.sub(" ", text)
    text = text.lower().replace("ё", "е")
    if "'" in text or "’" in text:
        text = _APOSTROPHE.sub("'", text)
        for pattern, repl in _CONTRACTIONS:
            text = pattern.sub(repl, text)
    if " -" in text:
        text = _SPACED_HYPHEN.sub("—", text)
    return text


def tokenise(text: str) -> list[str]:
    """The word tokens of a normalised text, in order (punctuation and barriers left out)."""
    return _WORD.findall(normalise(text))


_STEMMERS: dict[str, Any] = {}


def stemmer(language: str) -> Any:
    """The Snowball stemmer of a language (``stemWord(word)``, ``stemWords(words)``)."""
    st = _STEMMERS.get(language)
    if st is None:
        st = _STEMMERS[language] = snowballstemmer.stemmer(_STEMMER_NAMES[language])
    return st


# ------------------------------------------------------------------------ lexicons

# Per distinct token: (element ids, is negator, intensifier factor, kind (0 a plain
# word, else _BUT, _CONCESSIVE or punctuation), themes it names as a single word
# ((theme, strong), ...), the element ids that start a phrase, whether the clause
# scorer needs to look at the token at all, sentiment categories as a single word).
_TokenInfo = tuple[
    frozenset[int], bool, float, int, tuple[tuple[str, bool], ...], tuple[int, ...], bool, tuple[str, ...]
]
_NO_IDS: frozenset[int] = frozenset()
_NO_POSITIONS: list[int] = []
_NO_THEMES_SET: frozenset[str] = frozenset()
_KIND_RANK = {"exact": 0, "stem": 1, "prefix": 2, "sub": 3}
# Contrast kinds of word tokens, then the kinds of punctuation tokens.
_BUT, _CONCESSIVE, _END, _QEND, _BAR = 1, 2, 3, 4, 5


@dataclass
class _Lexicon:
    """Everything compiled for one language: keyword/lexicon matcher and word lists."""

    language: str
    stemmer: Any
    stem_index: dict[str, list[int]]
    exact_index: dict[str, list[int]]
    prefix_index: dict[str, list[int]]
    prefix_lengths: tuple[int, ...]
    substrings: list[tuple[str, int]]
    single: dict[int, list[tuple[Any, ...]]]
    multi: dict[tuple[int, int], list[tuple[tuple[int, ...], tuple[Any, ...]]]]
    phrase_themes: dict[int, frozenset[str]]  # element id -> themes with a phrase that uses it
    negators: frozenset[str]
    post_negations: tuple[tuple[str, ...], ...]
    void_negators: dict[str, tuple[tuple[str, ...], ...]]  # first token -> phrases, longest first
    intensifiers: dict[str, float]
    contrast: frozenset[str]
    concessive: frozenset[str]
    weights: dict[str, float]
    negated: dict[str, float]
    contrast_weight: float
    concessive_weight: float
    question_positive: float
    question_implicit: float
    void_negation: float
    theme_negation: float
    scope: int
    element_text: dict[int, str] = field(default_factory=dict)  # element id -> the written word, for specificity
    element_rank: dict[int, tuple[int, int]] = field(default_factory=dict)  # most specific first: =exact, stem, prefix*, *sub*
    phrase_first: frozenset[int] = frozenset()
    post_by_first: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    token_cache: dict[str, _TokenInfo] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.phrase_first = frozenset(first for first, _ in self.multi)
        by_first: dict[str, list[tuple[str, ...]]] = {}
        for phrase in self.post_negations:
            by_first.setdefault(phrase[0], []).append(phrase)
        # Longer phrases first: "не было" before "не".
        self.post_by_first = {k: tuple(sorted(v, key=len, reverse=True)) for k, v in by_first.items()}

    # A token's facts never change, so they are computed once per distinct token.
    def token(self, tok: str) -> _TokenInfo:
        info = self.token_cache.get(tok)
        if info is not None:
            return info
        if not tok[0].isalpha():
            kind = _BAR if tok in _BARRIERS else _QEND if "?" in tok else _END
            info = (_NO_IDS, False, 1.0, kind, (), (), True, ())
            self.token_cache[tok] = info
            return info
        ids: list[int] = []
        stem = self.stemmer.stemWord(tok)
        ids.extend(self.stem_index.get(stem, ()))
        ids.extend(self.exact_index.get(tok, ()))
        n = len(tok)
        for length in self.prefix_lengths:
            if length > n:
                break
            ids.extend(self.prefix_index.get(tok[:length], ()))
        for sub, eid in self.substrings:
            if sub in tok:
                ids.append(eid)
        uniq = sorted(set(ids))
        payloads = tuple(p for eid in uniq for p in self.single.get(eid, ()))
        kind = 1 if tok in self.contrast else 2 if tok in self.concessive else 0
        negator = tok in self.negators
        factor = self.intensifiers.get(tok, 1.0)
        starts = tuple(eid for eid in uniq if eid in self.phrase_first)
        hits = [(p[1], p[2], eid) for eid in uniq for p in self.single.get(eid, ()) if p[0] == "t"]
        if len({h[0] for h in hits}) > 1:
            # One word, keywords of several themes: a keyword written inside a longer
            # keyword of another theme gives way to it ("*puhelinjono*", a phone queue, is
            # contact_reachability, not also the waiting_time of "*jono*").
            text = self.element_text
            hits = [h for h in hits if not any(
                o[0] != h[0] and len(text[o[2]]) > len(text[h[2]]) and text[h[2]] in text[o[2]] for o in hits)]
        themes = tuple((t, strong) for t, strong, _ in hits)
        # Sentiment entries of one word: the most specific one first, so that it wins the
        # overlap ("=vasta", "only just", is not the "vasta*" of "vastata", to answer).
        rank = self.element_rank
        cats = tuple(c for _, _, c in sorted(
            (rank[eid], k, p[1]) for k, eid in enumerate(uniq) for p in self.single.get(eid, ()) if p[0] == "s"))
        info = (frozenset(uniq) if uniq else _NO_IDS, negator, factor, kind, themes, starts,
                bool(payloads or starts or negator or factor != 1.0 or kind), cats)
        if len(self.token_cache) < 2_000_000:
            self.token_cache[tok] = info
        return info


class _LexiconBuilder:
    def __init__(self, language: str) -> None:
        self.language = language
        self.stemmer = snowballstemmer.stemmer(_STEMMER_NAMES[language])
        self.elements: dict[tuple[str, str], int] = {}
        self.single: dict[int, list[tuple[Any, ...]]] = {}
        self.multi: dict[tuple[int, int], list[tuple[tuple[int, ...], tuple[Any, ...]]]] = {}
        self.phrase_themes: dict[int, set[str]] = {}

    def _element(self, word: str) -> int:
        word = normalise(word).strip()
        if word.startswith("="):
            key = ("exact", word[1:])
        elif word.startswith("*") and word.endswith("*"):
            key = ("sub", word.strip("*"))
        elif word.endswith("*"):
            key = ("prefix", word[:-1])
        else:
            key = ("stem", self.stemmer.stemWord(word))
        return self.elements.setdefault(key, len(self.elements))

    def add(self, phrase: str, payload: tuple[Any, ...], where: str) -> None:
        problem = keyword_problem(phrase)
        if problem:
            raise ConfigError(f"{where}: {problem}")
        # Hyphenated words are tokenised as separate words, so they are matched as phrases.
        parts = [p for p in re.split(r"[\s\-]+", phrase.strip()) if p]
        ids = tuple(self._element(p) for p in parts)
        if len(ids) == 1:
            self.single.setdefault(ids[0], []).append(payload)
        else:
            self.multi.setdefault((ids[0], ids[1]), []).append((ids[2:], payload))
            if payload[0] == "t":
                for eid in ids:
                    self.phrase_themes.setdefault(eid, set()).add(payload[1])

    def build(self, sentiment: dict[str, Any]) -> _Lexicon:
        stem_index: dict[str, list[int]] = {}
        exact_index: dict[str, list[int]] = {}
        prefix_index: dict[str, list[int]] = {}
        substrings: list[tuple[str, int]] = []
        for (kind, value), eid in self.elements.items():
            if kind == "stem":
                stem_index.setdefault(value, []).append(eid)
            elif kind == "exact":
                exact_index.setdefault(value, []).append(eid)
            elif kind == "prefix":
                prefix_index.setdefault(value, []).append(eid)
            else:
                substrings.append((value, eid))
        words = lambda key: frozenset(normalise(w).strip() for w in sentiment.get(key, []) or [])  # noqa: E731
        scoring = sentiment["_scoring"]
        void: dict[str, list[tuple[str, ...]]] = {}
        for phrase in sentiment.get("void_negators") or []:
            parts = tuple(normalise(phrase).split())
            if parts:
                void.setdefault(parts[0], []).append(parts)
        return _Lexicon(
            language=self.language,
            stemmer=self.stemmer,
            stem_index=stem_index,
            exact_index=exact_index,
            prefix_index=prefix_index,
            prefix_lengths=tuple(sorted({len(p) for p in prefix_index})),
            substrings=sorted(substrings),
            single=self.single,
            multi=self.multi,
            phrase_themes={eid: frozenset(ts) for eid, ts in self.phrase_themes.items()},
            negators=words("negators") | frozenset(void),
            post_negations=tuple(
                tuple(normalise(p).split()) for p in (sentiment.get("post_negations") or []) if str(p).strip()
            ),
            intensifiers={normalise(k).strip(): float(v) for k, v in (sentiment.get("intensifiers") or {}).items()},
            contrast=words("contrast"),
            concessive=words("concessive"),
            weights=dict(scoring["weights"]),
            negated=dict(scoring["negated"]),
            contrast_weight=float(scoring["contrast_weight"]),
            concessive_weight=float(scoring["concessive_weight"]),
            question_positive=float(scoring["question_positive"]),
            question_implicit=float(scoring["question_implicit"]),
            void_negation=float(scoring["void_negation"]),
            theme_negation=float(scoring["theme_negation"]),
            scope=int(scoring["negation_scope"]),
            void_negators={k: tuple(sorted(v, key=len, reverse=True)) for k, v in void.items()},
            element_text={eid: value for (_, value), eid in self.elements.items()},
            element_rank={eid: (_KIND_RANK[kind], -len(value)) for (kind, value), eid in self.elements.items()},
        )


_SENTIMENT_CATEGORIES = ("positive", "negative", "implicit", "expected", "neutral")
_CATEGORY_DEFAULTS = {  # (weight, weight when negated)
    "positive": (1.0, -0.8),
    "negative": (-1.0, 0.5),
    "implicit": (-0.5, 0.0),
    "expected": (0.0, -1.0),
    "neutral": (0.0, 0.0),
}


def load_sentiment_lexicon(path: Path | str | None = None) -> dict[str, Any]:
    """Read and check ``sentiment.yaml`` (default: the repository's ``config/sentiment.yaml``).

    Returns the parsed document; each ``languages.<lang>`` mapping gets a ``_scoring``
    entry with the checked ``scoring`` values (weights, negated weights, contrast and
    concessive weights, the weight of praise in a question, the negation scope).
    """
    path = Path(path) if path is not None else _DEFAULT_SENTIMENT
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("languages"), dict):
        raise ConfigError(f"{path}: top-level key 'languages' missing")
    scoring = data.get("scoring") or {}
    if not isinstance(scoring, dict):
        raise ConfigError(f"{path}: scoring must be a mapping")
    try:
        checked = {
            "weights": {c: float((scoring.get("weights") or {}).get(c, d[0])) for c, d in _CATEGORY_DEFAULTS.items()},
            "negated": {c: float((scoring.get("negated") or {}).get(c, d[1])) for c, d in _CATEGORY_DEFAULTS.items()},
            "contrast_weight": float(scoring.get("contrast_weight", 1.5)),
            "concessive_weight": float(scoring.get("concessive_weight", 0.6)),
            "question_positive": float(scoring.get("question_positive", 0.0)),
            "question_implicit": float(scoring.get("question_implicit", 0.0)),
            "void_negation": float(scoring.get("void_negation", -1.0)),
            "theme_negation": float(scoring.get("theme_negation", 0.0)),
            "negation_scope": int(scoring.get("negation_scope", 3)),
        }
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: scoring: every weight must be a number ({exc})") from exc
    for lang in LANGUAGES:
        spec = data["languages"].get(lang)
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: languages.{lang} missing")
        for key in (*_SENTIMENT_CATEGORIES, "negators", "contrast", "concessive", "post_negations", "void_negators"):
            entries = spec.get(key) or []
            if not isinstance(entries, list):
                raise ConfigError(f"{path}: languages.{lang}.{key} must be a list")
            bad = [e for e in entries if not isinstance(e, str)]
            if bad:
                # YAML reads bare no/yes/on/off as booleans: the fix is to quote them.
                raise ConfigError(f"{path}: languages.{lang}.{key}: entries {bad!r} are not text (quote them)")
        intensifiers = spec.get("intensifiers", {}) or {}
        if not isinstance(intensifiers, dict) or not all(isinstance(v, (int, float)) for v in intensifiers.values()):
            raise ConfigError(f"{path}: languages.{lang}.intensifiers must be a mapping word: factor")
        spec["_scoring"] = checked
    return data


_LEXICON_CACHE: dict[tuple[Any, ...], "_Analyser"] = {}


def _analyser(config: AppConfig | None, sentiment_path: Path | str | None = None) -> "_Analyser":
    if config is None:
        from cxloop.config import get_config

        config = get_config()
    if sentiment_path is None:
        from cxloop.settings import get_settings

        candidate = Path(get_settings().config_dir) / "sentiment.yaml"
        sentiment_path = candidate if candidate.exists() else _DEFAULT_SENTIMENT
    sentiment_path = Path(sentiment_path)
    key = (
        tuple(
            (tid, tuple((lang, tuple(kws)) for lang, kws in sorted(t.keywords.items())),
             tuple((lang, tuple(kws)) for lang, kws in sorted(t.weak_keywords.items())))
            for tid, t in sorted(config.themes.items())
        ),
        str(sentiment_path.resolve()),
        sentiment_path.stat().st_mtime if sentiment_path.exists() else None,
    )
    cached = _LEXICON_CACHE.get(key)
    if cached is not None:
        return cached
    sentiment = load_sentiment_lexicon(sentiment_path)
    out: dict[str, _Lexicon] = {}
    for lang in LANGUAGES:
        builder = _LexiconBuilder(lang)
        for tid, theme in sorted(config.themes.items()):
            for kw in theme.keywords.get(lang, []) or []:
                builder.add(kw, ("t", tid, True), f"config/themes ({lang}): keywords.{tid}")
            for kw in theme.weak_keywords.get(lang, []) or []:
                builder.add(kw, ("t", tid, False), f"config/themes ({lang}): weak.{tid}")
        spec = sentiment["languages"][lang]
        for category in _SENTIMENT_CATEGORIES:
            for entry in spec.get(category, []) or []:
                builder.add(entry, ("s", category), f"{sentiment_path}: languages.{lang}.{category}")
        out[lang] = builder.build(spec)
    if len(_LEXICON_CACHE) > 8:
        _LEXICON_CACHE.clear()
    _LEXICON_CACHE[key] = _Analyser(out)
    return _LEXICON_CACHE[key]


# ------------------------------------------------------------------------ analysis

def _squash(x: float) -> float:
    # x / (|x| + 1): one clear word gives ±0.5, more evidence approaches ±1 without reaching it.
    return x / (abs(x) + 1.0)


def _clause(
    lex: _Lexicon,
    toks: list[str],
    infos: list[_TokenInfo],
    first: int,
    n: int,
    question: bool,
    marks: list[int],
    negators: list[int],
    barriers: list[int],
) -> tuple[dict[str, float], float, Collection[str]]:
    """Themes of the clause ``toks[first:n]`` with their raw scores, its raw score, and
    the themes a strong keyword names in it (the others are named by weak keywords only).

    ``marks`` are the positions of its tokens with any lexicon fact, ``negators`` and
    ``barriers`` the positions of its negators and of commas/dashes.
    """
    multi = lex.multi
    theme_m: list[tuple[int, int, str, bool]] = []  # (start, end, theme, strong)
    sent_m: list[tuple[int, int, str]] = []  # (start, end, category)
    for i in marks:
        info = infos[i]
        for tid, strong in info[4]:
            theme_m.append((i, i + 1, tid, strong))
        for cat in info[7]:
            sent_m.append((i, i + 1, cat))
        if info[5] and i + 1 < n:
            # Phrases are indexed by their first two elements, so a position only looks
            # at phrases whose first two words are actually here.
            nxt = infos[i + 1][0]
            if not nxt:
                continue
            for eid in info[5]:
                for eid2 in nxt:
                    for rest, p in multi.get((eid, eid2), ()):
                        end = i + 2 + len(rest)
                        if rest:
                            if end > n:
                                continue
                            k = i + 2
                            for r in rest:
                                if r not in infos[k][0]:
                                    break
                                k += 1
                            else:
                                k = -1
                            if k != -1:
                                continue
                        if p[0] == "t":
                            theme_m.append((i, end, p[1], p[2]))
                        else:
                            sent_m.append((i, end, p[1]))
    # "Nobody" words (``void_negators``) that negate no entry are a complaint of their own.
    void_at = lex.void_negators
    voids = [i for i in negators if toks[i] in void_at] if void_at and negators else _NO_POSITIONS
    if not theme_m and not sent_m and not voids:
        return {}, 0.0, _NO_THEMES_SET
    # A negation that negates no entry in a clause that names a theme: "Пособие не
    # начислили", "Kurssi ei alkanut" (not in a question: "Вы не работаете в субботу?").
    theme_negation = lex.theme_negation if theme_m and negators and not question else 0.0

    # Themes: drop matches inside a longer match of another theme, then weak matches
    # when another theme is named by a strong keyword in the clause.
    themes = {m[2] for m in theme_m}
    if len(themes) > 1:
        spans = [(a, b, t) for a, b, t, _ in theme_m if b - a > 1]
        if spans:
            kept = []
            for m in theme_m:
                ms, me, mt = m[0], m[1], m[2]
                for a, b, t in spans:
                    if t != mt and a <= ms and me <= b and b - a > me - ms:
                        break
                else:
                    kept.append(m)
            theme_m = kept
        strong = {t for _, _, t, st in theme_m if st}
        if len(strong) > 1 or len(strong) < len(themes):
            theme_m = [m for m in theme_m if m[3] or not (strong - {m[2]})]
        themes = {m[2] for m in theme_m}
        named: Collection[str] = strong
    elif theme_m:
        named = themes if any(m[3] for m in theme_m) else _NO_THEMES_SET
    else:
        named = _NO_THEMES_SET

    if not sent_m and not voids and not theme_negation:
        return dict.fromkeys(themes, 0.0), 0.0, named
    # Longest match wins where sentiment entries overlap ("одни и те же" over "те").
    if len(sent_m) > 1:
        sent_m.sort(key=lambda m: (m[0], m[0] - m[1]))
    hits: list[list[Any]] = []  # [start, end, category, negated]
    last_end = -1
    for start, end, cat in sent_m:
        if start >= last_end:
            hits.append([start, end, cat, False])
            last_end = end
    # A word that is both an intensifier and a sentiment entry right before another
    # entry is an intensifier there ("hyvin vähän", "pretty bad"), not praise.
    if len(hits) > 1:
        drop = [k for k in range(len(hits) - 1)
                if infos[hits[k][0]][2] != 1.0 and hits[k][1] - hits[k][0] == 1 and hits[k + 1][0] == hits[k][1]]
        if drop:
            hits = [h for k, h in enumerate(hits) if k not in drop]
    # Negation: a negator flips the first sentiment entry within its scope after it
    # ("не хамили", "ei ollut jonoa", "nobody answers"); a post-negation phrase right
    # after an entry flips that entry instead ("очереди не было", "jonoa ei ollut").
    # Barriers (commas, dashes) bound both directions: "очереди не было, специалист вежливая".
    unattached: list[int] = []
    if negators:
        scope = lex.scope
        post = lex.post_by_first
        for i in negators:
            before = None
            for phrase in post.get(toks[i], ()):
                if tuple(toks[i : i + len(phrase)]) == phrase:
                    for h in reversed(hits):
                        if h[2] == "implicit":
                            continue  # "ответа до сих пор нет" negates the answer, not "до сих пор"
                        if i - 2 <= h[1] <= i and not (barriers and any(h[1] <= c < i for c in barriers)):
                            before = h
                        if h[1] <= i:
                            break
                    break
            if before is not None:
                before[3] = True
                continue
            for h in hits:
                if h[2] == "implicit":
                    continue  # "не публикуют уже неделю": elapsed time is not what is negated
                if i < h[0] <= i + scope and not (barriers and any(i < c < h[0] for c in barriers)):
                    h[3] = True  # several negators on one entry ("никто не напомнил") negate it once
                    break
            else:
                # A negator inside an entry ("not always", "без задержек") is that entry's.
                if (voids or theme_negation) and not any(h[0] <= i < h[1] for h in hits):
                    unattached.append(i)
    weights, negated_w = lex.weights, lex.negated
    values: list[tuple[int, int, float]] = []
    for start, end, cat, negated in hits:
        value = negated_w[cat] if negated else weights[cat]
        if value == 0.0:
            continue
        for j in (start - 1, start - 2):
            if j >= first and infos[j][2] != 1.0:
                factor = infos[j][2]
                # "not very helpful" is milder than "not helpful": under negation an
                # amplifier weakens the entry instead.
                value *= 1.0 / factor if negated and factor > 1.0 else factor
                break
        if question and (value > 0 or cat == "implicit"):
            # A request is not praise, and "how many days does it take?" is no complaint.
            value *= lex.question_positive if value > 0 else lex.question_implicit
            if value == 0.0:
                continue
        values.append((start, end, value))
    if unattached:
        # "никто их не обновляет", "nobody ever picks up", "kukaan ei kertonu": a "nobody"
        # that negates no entry still says that somebody did not do their job.
        other = -1
        for i in unattached:
            for phrase in void_at.get(toks[i], ()):
                if tuple(toks[i : i + len(phrase)]) == phrase:
                    values.append((i, i + len(phrase), lex.void_negation))
                    break
            else:
                other = i if other < 0 else other
        if theme_negation and other >= 0:
            values.append((other, other + 1, theme_negation))  # once per clause
    raw = sum([t[2] for t in values])
    if not themes:
        return {}, raw, named
    if not values or all(v > 0 for _, _, v in values) or all(v < 0 for _, _, v in values):
        return dict.fromkeys(themes, raw), raw, named
    # Praise and complaint in one clause: each scored entry goes to the nearest theme
    # mention (tokens in between, a barrier counting as three), ties to all of them.
    per_theme = dict.fromkeys(themes, 0.0)
    for hs, he, v in values:
        best: list[str] = []
        best_d = None
        for ts, te, tid, _ in theme_m:
            if ts < he and hs < te:
                d = -1
            else:
                lo, hi = (te, hs) if te <= hs else (he, ts)
                d = hi - lo + 3 * sum(1 for c in barriers if lo <= c < hi)
            if best_d is None or d < best_d:
                best, best_d = [tid], d
            elif d == best_d and tid not in best:
                best.append(tid)
        for tid in best:
            per_theme[tid] += v
    return per_theme, raw, named


@dataclass
class _Analyser:
    lexicons: dict[str, _Lexicon]
    memo: dict[str, TextAnalysis] = field(default_factory=dict)


# A clause: (first token, end, weight in the text's score, is a question, positions of
# tokens with lexicon facts, of negators, of barriers, number of its sentence, is a
# concession).
_Clause = tuple[int, int, float, bool, list[int], list[int], list[int], int, bool]


def _split_clauses(lex: _Lexicon, infos: list[_TokenInfo], marks: list[int], n: int) -> list[_Clause]:
    """Cut a text into clauses at sentence ends and contrast words (see the module docstring).

    Only the positions in ``marks`` (tokens with any lexicon fact, punctuation included)
    are visited; clauses without a single lexicon token are left out.
    """
    clauses: list[_Clause] = []
    first = 0
    weight = 1.0
    concessive = False
    sentence = 0
    cm: list[int] = []
    ng: list[int] = []
    bs: list[int] = []
    for i in marks:
        info = infos[i]
        kind = info[3]
        if not kind:
            cm.append(i)
            if info[1]:
                ng.append(i)
            continue
        if kind == _BAR and not (concessive and cm):
            bs.append(i)  # barriers stay in the clause as limits for phrases and negation
            continue
        if cm:
            clauses.append((first, i, weight, kind == _QEND, cm, ng, bs, sentence, concessive))
        cm, ng, bs = [], [], []
        first = i + 1
        if kind == _END or kind == _QEND:
            sentence += 1
        if kind == _BUT or kind == _BAR:
            # After "но"/"but", and after the comma that ends a concession ("Хотя
            # очереди не было, толку ноль"), comes the statement that counts.
            weight, concessive = lex.contrast_weight, False
        elif kind == _CONCESSIVE:
            weight, concessive = lex.concessive_weight, True
        else:
            weight, concessive = 1.0, False
    if cm:
        clauses.append((first, n, weight, False, cm, ng, bs, sentence, concessive))
    return clauses


def _detect(norm: str, tokens: list[str]) -> str | None:
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


def _analyse_one(analyser: _Analyser, text: str, fallback: SentimentFallback | None = None) -> TextAnalysis:
    memo = analyser.memo.get(text) if fallback is None else None
    if memo is not None:
        return memo
    norm = normalise(text)
    tokens = _TOKEN.findall(norm)
    language = _detect(norm, tokens)
    if language is None:
        return TextAnalysis(language=None)
    lex = analyser.lexicons[language]
    get = lex.token_cache.get
    token = lex.token
    infos = [get(t) or token(t) for t in tokens]
    marks = [i for i, f in enumerate(infos) if f[6]]
    total = 0.0
    theme_raw: dict[str, float] = {}
    scored: list[tuple[dict[str, float], float]] = []
    results = []
    weak_concession = False
    for first, end, weight, question, cm, ng, bs, sentence, concessive in _split_clauses(lex, infos, marks, len(tokens)):
        per_theme, raw, named = _clause(lex, tokens, infos, first, end, question, cm, ng, bs)
        if not per_theme and raw == 0.0:
            continue
        results.append((per_theme, raw, weight, named, sentence, concessive))
        weak_concession = weak_concession or (concessive and len(named) < len(per_theme))
    if weak_concession:
        # A weak keyword in a concession is background to the sentence's statement: it
        # gives way to another theme's strong keyword anywhere in the sentence
        # ("Напоминаний нет, хотя телефон указан верно" is not about getting through).
        strong_in: dict[int, set[str]] = {}
        for _, _, _, named, sentence, _ in results:
            strong_in.setdefault(sentence, set()).update(named)
        for k, (per_theme, raw, weight, named, sentence, concessive) in enumerate(results):
            if concessive and len(named) < len(per_theme):
                kept = {t: v for t, v in per_theme.items() if t in named or not (strong_in[sentence] - {t})}
                results[k] = (kept, raw, weight, named, sentence, concessive)
    for per_theme, raw, weight, _, _, _ in results:
        scored.append((per_theme, raw))
        total += raw * weight
        for t, v in per_theme.items():
            theme_raw[t] = theme_raw.get(t, 0.0) + v
    if theme_raw and len(scored) > 1:
        # A theme that got no sentiment of its own takes that of the nearest clause that
        # names no theme: "Записалась через портал. Ничего не работает."
        silent = {t for t, v in theme_raw.items() if v == 0.0}
        if silent:
            for k, (per_theme, raw) in enumerate(scored):
                if per_theme or raw == 0.0:
                    continue
                for j in sorted(range(len(scored)), key=lambda j: (abs(j - k), j)):
                    if scored[j][0]:
                        for t in scored[j][0]:
                            if t in silent:
                                theme_raw[t] += raw
                        break
    sentiment = _squash(total)
    if fallback is not None and not any(raw for _, raw in scored):
        sentiment = max(-1.0, min(1.0, float(fallback.score(language, tokens))))
        theme_sentiment = {t: round(_squash(v), 6) if v else round(sentiment, 6) for t, v in sorted(theme_raw.items())}
    else:
        theme_sentiment = {t: round(_squash(v), 6) for t, v in sorted(theme_raw.items())}
    result = TextAnalysis(
        language=language,
        themes=set(theme_raw),
        sentiment=round(sentiment, 6),
        theme_sentiment=theme_sentiment,
    )
    if fallback is None and len(text) <= _MEMO_MAX_CHARS:
        if len(analyser.memo) >= _CACHE_LIMIT:
            analyser.memo.clear()
        analyser.memo[text] = result
    return result


def analyse(
    texts: Sequence[str] | Iterable[str],
    config: AppConfig | None = None,
    *,
    sentiment_path: Path | str | None = None,
    fallback: SentimentFallback | None = None,
) -> list[TextAnalysis]:
    """Analyse each text, in order. Empty or missing texts give ``TextAnalysis(None)``.

    ``config`` supplies the theme lexicons (default: :func:`cxloop.config.get_config`);
    ``sentiment_path`` the sentiment lexicon (default: ``sentiment.yaml`` in the
    configured folder, else the repository's ``config/sentiment.yaml``). ``fallback``
    (e.g. a :class:`tasks.text.learn.StemPolarity`) scores the texts in which the lexicon
    finds no sentiment at all; their neutral themes take its score too.
    """
    return list(_iter_analyse(texts, config, sentiment_path, fallback))


def _iter_analyse(
    texts: Iterable[Any],
    config: AppConfig | None,
    sentiment_path: Path | str | None,
    fallback: SentimentFallback | None,
) -> Iterable[TextAnalysis]:
    analyser = _analyser(config, sentiment_path)
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            yield TextAnalysis(language=None)
        else:
            yield _analyse_one(analyser, text, fallback)


def rating_polarity(rating: Any, scale: Any = None) -> int:
    """-1 for a low rating, +1 for a high one, 0 otherwise or when unknown.

    Low is ≤2 on 1–5 and ≤4 on 0/1–10; high is ≥4 and ≥8. Without a scale, a rating
    above 5 can only be on the 10-point scale.
    """
    try:
        r = float(rating)
    except (TypeError, ValueError):
        return 0
    if math.isnan(r):
        return 0
    try:
        top = int(float(scale))
    except (TypeError, ValueError):
        top = 10 if r > 5 else 5
    if top >= 10:
        return -1 if r <= 4 else (1 if r >= 8 else 0)
    return -1 if r <= 2 else (1 if r >= 4 else 0)


_rating_polarity = rating_polarity  # the name the pipeline used before
_NO_THEMES: list[str] = []


def analyse_frame(
    texts: pd.Series,
    ratings: pd.Series | None = None,
    scales: pd.Series | None = None,
    config: AppConfig | None = None,
    *,
    sentiment_path: Path | str | None = None,
    fallback: SentimentFallback | None = None,
) -> pd.DataFrame:
    """Columns ``language``, ``sentiment``, ``themes``, ``negative_themes`` for a text column.

    In: ``texts`` (redacted free text, any index), optionally ``ratings`` and ``scales``
    (5 or 10, the top of the rating scale) aligned on the same index, and a learned
    ``fallback`` for texts without lexicon sentiment (see :func:`analyse`).
    Out: a frame with the same index. ``language`` is ``None`` and ``sentiment`` NaN for
    an empty text; ``themes`` and ``negative_themes`` are sorted comma-separated ids
    ("" if none). A theme is negative when what the text says about it is; when that is
    neutral, a low rating makes it negative (a high one keeps it positive). The
    ``sentiment`` column stays the text's own reading: the rating is a column of its own.
    """
    index = texts.index
    values = texts.astype("object").where(texts.notna(), None)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    # One pass over the distinct texts, keeping only the columns (not the analyses).
    lang_u: list[str | None] = []
    sent_u: list[float] = []
    themes_u: list[str] = []
    neg_u: list[str] = []
    neutral_u: list[list[str]] = []
    nan = float("nan")
    for r in _iter_analyse(uniques, config, sentiment_path, fallback):
        lang_u.append(r.language)
        sent_u.append(nan if r.language is None else r.sentiment)
        if r.theme_sentiment:
            themes_u.append(",".join(r.theme_sentiment))  # theme_sentiment is sorted by theme
            neg_u.append(",".join(t for t, v in r.theme_sentiment.items() if v < 0))
            neutral_u.append([t for t, v in r.theme_sentiment.items() if v == 0.0])
        else:
            themes_u.append("")
            neg_u.append("")
            neutral_u.append(_NO_THEMES)
    n_unique = len(lang_u)
    # code -1 (missing text) maps to the extra slot at the end of each list.
    lang_u.append(None)
    sent_u.append(float("nan"))
    themes_u.append("")
    neg_u.append("")
    neutral_u.append([])
    idx = codes.tolist()
    if (codes < 0).any():
        idx = [c if c >= 0 else n_unique for c in idx]
    language = [lang_u[i] for i in idx]
    sentiment = [sent_u[i] for i in idx]
    themes = [themes_u[i] for i in idx]
    negative = [neg_u[i] for i in idx]
    if ratings is not None:
        rating_values = ratings.reindex(index).tolist()
        scale_values = scales.reindex(index).tolist() if scales is not None else [None] * len(index)
        for row, i in enumerate(idx):
            neutral = neutral_u[i]
            if neutral and rating_polarity(rating_values[row], scale_values[row]) < 0:
                negative[row] = ",".join(sorted(set(filter(None, negative[row].split(","))) | set(neutral)))
    return pd.DataFrame(
        {
            "language": pd.Series(language, index=index, dtype="object"),
            "sentiment": pd.Series(sentiment, index=index, dtype="float64"),
            "themes": pd.Series(themes, index=index, dtype="object"),
            "negative_themes": pd.Series(negative, index=index, dtype="object"),
        },
        index=index,
    )


if __name__ == "__main__":  # pragma: no cover - throughput check: python -m tasks.text.analyser [n]
    import random
    import sys
    import time

    from cxloop.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "config")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    base = [
        "Не могу дозвониться до центра занятости уже неделю",
        "Никто не напомнил о встрече, пропустила перерегистрацию и сняли с учёта",
        "Непонятно, что делать дальше и когда со мной свяжутся",
        "Личный кабинет постоянно выдаёт ошибку, не могу загрузить документы",
        "Просидела в очереди два часа",
        "Сотрудница нагрубила",
        "Консультант дал неверную информацию о пособии",
        "Пособие задерживают второй месяц",
        "Предлагают вакансии, которые давно закрыты",
        "Требуют одни и те же справки каждый раз",
        "В здании нет пандуса",
        "Курсы переподготовки отличные",
        "Кандидаты не приходят на собеседования",
        "Ei muistutusta tapaamisesta",
        "En tiedä mitä seuraavaksi tapahtuu",
        "Verkkopalvelu ei toimi",
        "No reminder before the appointment",
        "Nobody answers the phone",
    ]
    rng = random.Random(7)
    # Unique texts: a base sentence plus a random tail so that the memo cannot help.
    tails = ["", " очень", " спасибо", " ужасно", " снова", " вообще", " today", " taas"]
    texts = pd.Series([f"{rng.choice(base)}{rng.choice(tails)} {i}" for i in range(n)])
    analyse_frame(texts.head(1000), config=cfg)  # build lexicons outside the clock
    t0 = time.perf_counter()
    analyse_frame(texts, config=cfg)
    dt = time.perf_counter() - t0
    print(f"{n} unique texts in {dt:.2f} s: {n / dt:,.0f} texts/s")
    repeated = pd.Series([rng.choice(base) for _ in range(n)])
    t0 = time.perf_counter()
    analyse_frame(repeated, config=cfg)
    dt = time.perf_counter() - t0
    print(f"{n} repeated texts in {dt:.2f} s: {n / dt:,.0f} texts/s")
