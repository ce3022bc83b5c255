"""Theme and sentiment lexicons of the text stage, compiled per language from the configuration.

The theme keywords of ``config/themes/`` and the sentiment lexicon of
``config/sentiment.yaml`` become one :class:`Lexicon` per language, which knows the
facts of every token (keyword ids, negator, intensifier, contrast word …) once;
:func:`lexicon_set` builds and caches them for :mod:`tasks.text.analyser`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import snowballstemmer
import yaml

from cxloop.config import AppConfig, ConfigError, keyword_problem
from cxloop.domain import LANGUAGES
from cxloop.paths import DEFAULT_CONFIG_DIR
from tasks.text.normalise import BARRIERS, STEMMER_NAMES, normalise
from tasks.text.sentiment_morph import finnish_base_forms
from tasks.text.sentiment_vader import vader_entries

__all__ = [
    "BAR",
    "BUT",
    "CONCESSIVE",
    "END",
    "QEND",
    "Lexicon",
    "LexiconSet",
    "TokenInfo",
    "lexicon_set",
    "load_sentiment_lexicon",
]

_DEFAULT_SENTIMENT = DEFAULT_CONFIG_DIR / "sentiment.yaml"

# Per distinct token: (element ids, is negator, intensifier factor, kind (0 a plain
# word, else BUT, CONCESSIVE or punctuation), themes it names as a single word
# ((theme, strong), ...), the element ids that start a phrase, whether the clause
# scorer needs to look at the token at all, sentiment categories as a single word).
TokenInfo = tuple[
    frozenset[int], bool, float, int, tuple[tuple[str, bool], ...], tuple[int, ...], bool, tuple[str, ...]
]
_NO_IDS: frozenset[int] = frozenset()
_KIND_RANK = {"exact": 0, "stem": 1, "prefix": 2, "sub": 3}
_REPEATS = re.compile(r"(.)\1+")  # ")))))" is "))"
_PUNCTUATION = frozenset(".!?;…\n,:—–()")
# Contrast kinds of word tokens, then the kinds of punctuation tokens.
BUT, CONCESSIVE, END, QEND, BAR = 1, 2, 3, 4, 5


@dataclass
class Lexicon:
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
    resolvers: tuple[str, ...]  # prefixes of "solve" words that undo the complaint after them
    resolver_words: frozenset[str]  # the same, whole words
    emoticons: dict[str, str]  # canonical emoticon or emoji -> sentiment category
    exclaim: float  # weight factor of a clause ended by "!!" or more
    summary_weight: float  # weight factor of a clause with a summary ("в целом", "overall")
    minor_weight: float  # weight factor of a clause with a minor-drawback marker ("единственный минус")
    contrast: frozenset[str]
    concessive: frozenset[str]
    coordinators: frozenset[str]  # "и", "and", "tai": a negation reaches the next entry across them
    double_negations: dict[str, tuple[tuple[str, ...], ...]]  # first token -> phrases whose negators cancel
    past_markers: dict[str, tuple[tuple[str, ...], ...]]  # "used to", "раньше было": how it was
    past_markers_with_now: dict[str, tuple[tuple[str, ...], ...]]  # "раньше", "ennen": ... if a now marker follows
    now_markers: dict[str, tuple[tuple[str, ...], ...]]  # "теперь", "now", "nyt"
    past_not_after: frozenset[str]  # "am used to" (accustomed) is no "used to"
    schedule_words: frozenset[str]  # "in", "ensi": the time after them is ahead, not waited
    ago_words: frozenset[str]  # "ago", "назад", "sitten": ... unless one of these follows it
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
    element_rank: dict[int, tuple[int, int]] = field(
        default_factory=dict
    )  # most specific first: =exact, stem, prefix*, *sub*
    phrase_first: frozenset[int] = frozenset()
    post_by_first: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    token_cache: dict[str, TokenInfo] = field(default_factory=dict)
    resolver_tokens: set[str] = field(default_factory=set)
    base_forms: Callable[[str], tuple[str, ...]] | None = None  # Finnish: Voikko base forms

    def __post_init__(self) -> None:
        self.phrase_first = frozenset(first for first, _ in self.multi)
        by_first: dict[str, list[tuple[str, ...]]] = {}
        for phrase in self.post_negations:
            by_first.setdefault(phrase[0], []).append(phrase)
        # Longer phrases first: "не было" before "не".
        self.post_by_first = {k: tuple(sorted(v, key=len, reverse=True)) for k, v in by_first.items()}

    def _ids(self, word: str) -> list[int]:
        """Element ids of one written word: its stem, the word itself, its prefixes, substrings."""
        ids: list[int] = []
        ids.extend(self.stem_index.get(self.stemmer.stemWord(word), ()))
        ids.extend(self.exact_index.get(word, ()))
        n = len(word)
        for length in self.prefix_lengths:
            if length > n:
                break
            ids.extend(self.prefix_index.get(word[:length], ()))
        for sub, eid in self.substrings:
            if sub in word:
                ids.append(eid)
        return ids

    # A token's facts never change, so they are computed once per distinct token.
    def token(self, tok: str) -> TokenInfo:
        info = self.token_cache.get(tok)
        if info is not None:
            return info
        if not tok[0].isalpha():
            emo = self.emoticons.get(_REPEATS.sub(r"\1\1", tok))
            if emo is not None:  # ":)", "))", "👍": a sentiment entry of its own
                info = (_NO_IDS, False, 1.0, 0, (), (), True, (emo,))
            elif tok[0] in _PUNCTUATION:
                kind = BAR if tok in BARRIERS else QEND if "?" in tok else END
                # "!!" and more: the clause it ends says what it says more strongly.
                factor = self.exclaim if "!!" in tok and kind == END else 1.0
                info = (_NO_IDS, False, factor, kind, (), (), True, ())
            else:  # an emoji without a listed sentiment
                info = (_NO_IDS, False, 1.0, 0, (), (), False, ())
            self.token_cache[tok] = info
            return info
        ids = self._ids(tok)
        if self.base_forms is not None:
            # Finnish: the word's base forms match too ("tylyn" → "tyly", "odotin" → "odottaa").
            for base in self.base_forms(tok):
                ids.extend(self._ids(base))
        uniq = sorted(set(ids))
        payloads = tuple(p for eid in uniq for p in self.single.get(eid, ()))
        kind = 1 if tok in self.contrast else 2 if tok in self.concessive else 0
        negator = tok in self.negators
        if tok in self.resolver_words or (self.resolvers and tok.startswith(self.resolvers)):
            negator = True  # a resolver undoes a complaint ("решили проблему") like a negator
            self.resolver_tokens.add(tok)
        factor = self.intensifiers.get(tok, 1.0)
        starts = tuple(eid for eid in uniq if eid in self.phrase_first)
        hits = [(p[1], p[2], eid) for eid in uniq for p in self.single.get(eid, ()) if p[0] == "t"]
        if len({h[0] for h in hits}) > 1:
            # One word, keywords of several themes: a keyword written inside a longer
            # keyword of another theme gives way to it ("*puhelinjono*", a phone queue, is
            # contact_reachability, not also the waiting_time of "*jono*").
            text = self.element_text
            hits = [
                h
                for h in hits
                if not any(
                    o[0] != h[0] and len(text[o[2]]) > len(text[h[2]]) and text[h[2]] in text[o[2]] for o in hits
                )
            ]
        themes = tuple((t, strong) for t, strong, _ in hits)
        # Sentiment entries of one word: the most specific one first, so that it wins the
        # overlap ("=vasta", "only just", is not the "vasta*" of "vastata", to answer).
        rank = self.element_rank
        cats = tuple(
            c
            for _, _, c in sorted(
                (rank[eid], k, p[1]) for k, eid in enumerate(uniq) for p in self.single.get(eid, ()) if p[0] == "s"
            )
        )
        info = (
            frozenset(uniq) if uniq else _NO_IDS,
            negator,
            factor,
            kind,
            themes,
            starts,
            bool(payloads or starts or negator or factor != 1.0 or kind),
            cats,
        )
        if len(self.token_cache) < 2_000_000:
            self.token_cache[tok] = info
        return info


def _by_first(phrases: list[str]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Phrases as token tuples by their first token, longest first."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for phrase in phrases:
        parts = tuple(normalise(phrase).split())
        if parts:
            out.setdefault(parts[0], []).append(parts)
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in out.items()}


class _LexiconBuilder:
    def __init__(self, language: str) -> None:
        self.language = language
        self.stemmer = snowballstemmer.stemmer(STEMMER_NAMES[language])
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

    def build(self, sentiment: dict[str, Any]) -> Lexicon:
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

        def words(key: str) -> frozenset[str]:
            return frozenset(normalise(w).strip() for w in sentiment.get(key, []) or [])

        scoring = sentiment["_scoring"]
        resolvers = [normalise(w).strip().lstrip("=") for w in sentiment.get("resolvers") or []]
        void = _by_first(sentiment.get("void_negators") or [])
        return Lexicon(
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
            resolvers=tuple(w[:-1] for w in resolvers if w.endswith("*")),
            resolver_words=frozenset(w for w in resolvers if not w.endswith("*")),
            emoticons=dict(sentiment.get("_emoticons") or {}),
            exclaim=float(scoring["exclaim"]),
            summary_weight=float(scoring["summary_weight"]),
            minor_weight=float(scoring["minor_weight"]),
            contrast=words("contrast"),
            concessive=words("concessive"),
            coordinators=words("coordinators"),
            double_negations=_by_first(sentiment.get("double_negations") or []),
            past_markers=_by_first(sentiment.get("past_markers") or []),
            past_markers_with_now=_by_first(sentiment.get("past_markers_with_now") or []),
            now_markers=_by_first(sentiment.get("now_markers") or []),
            past_not_after=words("past_not_after"),
            schedule_words=words("schedule_words"),
            ago_words=words("ago_words"),
            weights=dict(scoring["weights"]),
            negated=dict(scoring["negated"]),
            contrast_weight=float(scoring["contrast_weight"]),
            concessive_weight=float(scoring["concessive_weight"]),
            question_positive=float(scoring["question_positive"]),
            question_implicit=float(scoring["question_implicit"]),
            void_negation=float(scoring["void_negation"]),
            theme_negation=float(scoring["theme_negation"]),
            scope=int(scoring["negation_scope"]),
            void_negators=void,
            element_text={eid: value for (_, value), eid in self.elements.items()},
            element_rank={eid: (_KIND_RANK[kind], -len(value)) for (kind, value), eid in self.elements.items()},
            base_forms=finnish_base_forms() if self.language == "fi" else None,
        )


_SENTIMENT_CATEGORIES = (
    "positive",
    "negative",
    "mild_positive",
    "mild_negative",
    "thanks",
    "implicit",
    "expected",
    "neutral",
    "concede",
    "summary",
    "minor",
)
_VADER_LIMITS = ("positive", "mild_positive", "mild_negative", "negative")
_CATEGORY_DEFAULTS = {  # (weight, weight when negated)
    "positive": (1.0, -0.8),
    "negative": (-1.0, 0.5),
    "mild_positive": (0.5, -0.4),
    "mild_negative": (-0.5, 0.25),
    "thanks": (1.0, 0.0),
    "concede": (0.0, 0.0),
    "summary": (0.0, 0.0),
    "minor": (0.0, 0.0),
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
            "exclaim": float(scoring.get("exclaim", 1.0)),
            "summary_weight": float(scoring.get("summary_weight", 1.0)),
            "minor_weight": float(scoring.get("minor_weight", 1.0)),
        }
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: scoring: every weight must be a number ({exc})") from exc
    emoticons: dict[str, str] = {}  # the same for every language
    for category, entries in (data.get("emoticons") or {}).items():
        if category not in _CATEGORY_DEFAULTS or not isinstance(entries, list):
            raise ConfigError(f"{path}: emoticons.{category}: a list under a sentiment category")
        for e in entries:
            emoticons[_REPEATS.sub(r"\1\1", normalise(str(e)).strip())] = category
    for lang in LANGUAGES:
        spec = data["languages"].get(lang)
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: languages.{lang} missing")
        keys = (
            *_SENTIMENT_CATEGORIES,
            "negators",
            "contrast",
            "concessive",
            "coordinators",
            "double_negations",
            "past_markers",
            "past_markers_with_now",
            "now_markers",
            "past_not_after",
            "schedule_words",
            "ago_words",
            "post_negations",
            "void_negators",
        )
        for key in (*keys, "resolvers"):
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
        vader = spec.get("vader")
        if vader is not None and not (
            isinstance(vader, dict) and all(isinstance(vader.get(c), (int, float)) for c in _VADER_LIMITS)
        ):
            raise ConfigError(f"{path}: languages.{lang}.vader needs numbers for {', '.join(_VADER_LIMITS)}")
        spec["_scoring"] = checked
        spec["_emoticons"] = emoticons
    return data


@dataclass
class LexiconSet:
    """The compiled lexicons of one configuration, one per language, and the memo of the
    analyses made with them (text → :class:`tasks.text.analyser.TextAnalysis`)."""

    lexicons: dict[str, Lexicon]
    memo: dict[str, Any] = field(default_factory=dict)


_LEXICON_CACHE: dict[tuple[Any, ...], LexiconSet] = {}


def lexicon_set(config: AppConfig | None, sentiment_path: Path | str | None = None) -> LexiconSet:
    """The lexicons of ``config``'s themes and of the sentiment lexicon, compiled once per
    configuration (default: :func:`cxloop.config.get_config`, and ``sentiment.yaml`` in the
    configured folder, else the repository's ``config/sentiment.yaml``)."""
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
            (
                tid,
                tuple((lang, tuple(kws)) for lang, kws in sorted(t.keywords.items())),
                tuple((lang, tuple(kws)) for lang, kws in sorted(t.weak_keywords.items())),
            )
            for tid, t in sorted(config.themes.items())
        ),
        str(sentiment_path.resolve()),
        sentiment_path.stat().st_mtime if sentiment_path.exists() else None,
    )
    cached = _LEXICON_CACHE.get(key)
    if cached is not None:
        return cached
    sentiment = load_sentiment_lexicon(sentiment_path)
    out: dict[str, Lexicon] = {}
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
        if spec.get("vader"):
            lex = out[lang]

            def covered(word: str, lex: Lexicon = lex) -> bool:
                info = lex.token(word)
                return bool(info[7] or info[1] or info[2] != 1.0 or info[3])

            for category, entries in vader_entries(spec["vader"], covered).items():
                for entry in entries:
                    builder.add(entry, ("s", category), f"vader_lexicon.txt ({category})")
            out[lang] = builder.build(spec)
    if len(_LEXICON_CACHE) > 8:
        _LEXICON_CACHE.clear()
    _LEXICON_CACHE[key] = LexiconSet(out)
    return _LEXICON_CACHE[key]
