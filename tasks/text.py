"""Text analytics: stage 4 of the loop (*detect* pain points) — language, themes, sentiment.

Each feedback text is read the same way whatever its channel:

1. **Language** (:func:`detect_language`): Cyrillic means Russian; Finnish is told from
   English by ä/ö/å, frequent Finnish words and typical endings.
2. **Normalisation**: lower case, ё→е, ``n't``→``not``; tokens are runs of letters;
   sentence punctuation and contrast words ("но", "однако", "а", "but", "however",
   "mutta", "kuitenkin" …) cut the text into clauses, so that "staff were friendly but
   the portal kept crashing" gives a positive clause about staff and a negative one
   about the portal.
3. **Themes**: the keyword lexicons of ``config/themes.yaml`` are matched on Snowball
   stems per language (syntax at the top of that file): a plain word matches every
   inflection, ``word*`` is a prefix, ``*word*`` a substring (Finnish compounds), and a
   phrase of several words matches consecutive tokens; ``=word`` matches that exact word
   only (when its stem would collide with another word: "=работает" vs "работа").
4. **Sentiment**: the lexicon of ``config/sentiment.yaml`` gives clause scores —
   positive and negative words, "expected service" words that are near neutral alone but
   a complaint when negated ("не дозвониться", "no reminder", "ei toimi"), negators
   with a short scope (also after the word: "очереди не было", "jonoa ei ollut"),
   intensifiers. A clause score is squashed into [-1, 1]; the text's sentiment adds its
   clauses (the clause after a contrast word weighs more); each theme takes the
   sentiment of the clauses that mention it.

The result per text is a :class:`TextAnalysis`; :func:`analyse_frame` turns a column of
texts (plus optional ratings) into the ``language``, ``sentiment``, ``themes`` and
``negative_themes`` columns of the feedback table. Analyses are memoised by text and
stems by token, because real exports repeat the same short texts many times.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import snowballstemmer
import yaml

from cxloop.config import LANGUAGES, AppConfig, ConfigError

__all__ = [
    "TextAnalysis",
    "analyse",
    "analyse_frame",
    "detect_language",
    "load_sentiment_lexicon",
    "normalise",
]

# Per distinct token: (element ids, is negator, intensifier factor, is contrast word,
# single-word lexicon payloads).
_TokenInfo = tuple[frozenset[int], bool, float, bool, tuple[tuple[str, Any], ...]]

_STEMMER_NAMES = {"ru": "russian", "fi": "finnish", "en": "english"}
_DEFAULT_SENTIMENT = Path(__file__).resolve().parents[1] / "config" / "sentiment.yaml"
_CACHE_LIMIT = 500_000  # memoised analyses per lexicon before the memo is reset


@dataclass
class TextAnalysis:
    """What one feedback text says.

    ``language`` is an ISO 639-1 code (ru/fi/en), ``None`` for a text without letters;
    ``sentiment`` is in [-1, 1] (below 0 = negative, 0 = no evidence either way);
    ``theme_sentiment`` holds, per mentioned theme, the sentiment of the clauses that
    mention it.
    """

    language: str | None
    themes: set[str] = field(default_factory=set)
    sentiment: float = 0.0
    theme_sentiment: dict[str, float] = field(default_factory=dict)

    @property
    def negative_themes(self) -> set[str]:
        return {t for t, s in self.theme_sentiment.items() if s < 0}


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
    "koko ajan sain pääsin".split()
)
_EN_WORDS = frozenset(
    "the a an and or but is are was were be been being have has had do does did not no nobody "
    "never i my me we our you your he she it its they them this that these those what which who "
    "when where why how to of in on at for with from by about after before very too so can could "
    "would should will there here get got any all just only still again always".split()
)
_FI_ENDINGS = ("ssa", "ssä", "sta", "stä", "lla", "llä", "lta", "ltä", "lle", "ksi", "nen", "isen", "kaan", "kään", "ko", "kö")
_FI_CLUSTERS = re.compile(r"(aa|ee|ii|oo|uu|yy|ää|öö|kk|tt|pp|nn|uo|yö|^j[aeiouy])")
_EN_SHAPES = re.compile(r"(th|sh|ch|w|c|q|x|z|f|b|ing$|ed$|ly$|tion)")


def detect_language(text: str | None) -> str | None:
    """ISO 639-1 code of ``text``: "ru", "fi" or "en"; ``None`` if it has no letters.

    Deliberately simple: Cyrillic wins if it is at least as frequent as Latin script;
    otherwise Finnish and English are scored by function words, ä/ö/å and word shapes
    (Finnish vowel/consonant doubling and case endings, English "th"/"w"/"-ing").
    """
    if not isinstance(text, str) or not text.strip():
        return None
    if _LATIN.search(text) is None:
        return "ru" if _CYRILLIC.search(text) else None
    cyr = len(_CYRILLIC.findall(text))
    lat = len(_LATIN.findall(text))
    if cyr == 0 and lat == 0:
        return None
    if cyr >= lat:
        return "ru"
    words = [w for w in _WORD.findall(text.lower()) if _LATIN.match(w)]
    fi = en = 0.0
    for w in words:
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
    return "fi" if fi > en else "en"


# ------------------------------------------------------------------- normalisation

_TOKEN = re.compile(r"[^\W\d_]+|[.!?;…]+|\n|,")
_NT = re.compile(r"n[’']t\b")


def normalise(text: str) -> str:
    """Lower case, ё→е, and English "n't" spelled out so that it works as a negator."""
    return _NT.sub(" not", text.lower().replace("ё", "е"))


# ------------------------------------------------------------------------ lexicons

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
    single: dict[int, list[tuple[str, Any]]]
    multi: dict[tuple[int, int], list[tuple[tuple[int, ...], tuple[str, Any]]]]
    negators: frozenset[str]
    post_negations: tuple[tuple[str, ...], ...]
    intensifiers: dict[str, float]
    contrast: frozenset[str]
    weights: dict[str, float]
    negated: dict[str, float]
    contrast_weight: float
    scope: int
    token_cache: dict[str, _TokenInfo] = field(default_factory=dict)

    # A token's facts never change, so they are computed once per distinct token.
    def token(self, tok: str) -> _TokenInfo:
        info = self.token_cache.get(tok)
        if info is not None:
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
        payloads = tuple(p for eid in sorted(set(ids)) for p in self.single.get(eid, ()))
        info = (frozenset(ids), tok in self.negators, self.intensifiers.get(tok, 1.0), tok in self.contrast, payloads)
        if len(self.token_cache) < 2_000_000:
            self.token_cache[tok] = info
        return info


class _LexiconBuilder:
    def __init__(self, language: str) -> None:
        self.language = language
        self.stemmer = snowballstemmer.stemmer(_STEMMER_NAMES[language])
        self.elements: dict[tuple[str, str], int] = {}
        self.single: dict[int, list[tuple[str, Any]]] = {}
        self.multi: dict[tuple[int, int], list[tuple[tuple[int, ...], tuple[str, Any]]]] = {}

    def _element(self, word: str, where: str) -> int:
        word = normalise(word).strip()
        if not word or not _WORD.fullmatch(word.strip("*=")):
            raise ConfigError(f"{where}: keyword part {word!r} must be letters, with an optional '*' at the end or both ends or '=' in front")
        if word.startswith("="):
            key = ("exact", word[1:])
        elif word.startswith("*") and word.endswith("*") and len(word) > 2:
            key = ("sub", word.strip("*"))
        elif word.endswith("*"):
            key = ("prefix", word[:-1])
        elif "*" in word:
            raise ConfigError(f"{where}: '*' is allowed only at the end (prefix) or at both ends (substring): {word!r}")
        else:
            key = ("stem", self.stemmer.stemWord(word))
        return self.elements.setdefault(key, len(self.elements))

    def add(self, phrase: str, payload: tuple[str, Any], where: str) -> None:
        if not isinstance(phrase, str):
            # YAML reads bare no/yes/on/off as booleans: the fix is to quote them.
            raise ConfigError(f"{where}: keyword {phrase!r} is not text (quote it)")
        # Hyphenated words are tokenised as separate words, so they are matched as phrases.
        parts = [p for p in re.split(r"[\s\-]+", str(phrase).strip()) if p]
        if not parts:
            raise ConfigError(f"{where}: empty keyword")
        ids = tuple(self._element(p, where) for p in parts)
        if len(ids) == 1:
            self.single.setdefault(ids[0], []).append(payload)
        else:
            self.multi.setdefault((ids[0], ids[1]), []).append((ids[2:], payload))

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
            negators=words("negators"),
            post_negations=tuple(
                tuple(normalise(p).split()) for p in (sentiment.get("post_negations") or []) if str(p).strip()
            ),
            intensifiers={normalise(k).strip(): float(v) for k, v in (sentiment.get("intensifiers") or {}).items()},
            contrast=words("contrast"),
            weights=dict(sentiment["_weights"]),
            negated=dict(sentiment["_negated"]),
            contrast_weight=float(sentiment["_contrast_weight"]),
            scope=int(sentiment["_scope"]),
        )


_SENTIMENT_CATEGORIES = ("positive", "negative", "expected")


def load_sentiment_lexicon(path: Path | str | None = None) -> dict[str, Any]:
    """Read and check ``sentiment.yaml`` (default: the repository's ``config/sentiment.yaml``)."""
    path = Path(path) if path is not None else _DEFAULT_SENTIMENT
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or "languages" not in data:
        raise ConfigError(f"{path}: top-level key 'languages' missing")
    scoring = data.get("scoring") or {}
    weights = {c: float((scoring.get("weights") or {}).get(c, d)) for c, d in zip(_SENTIMENT_CATEGORIES, (1.0, -1.0, 0.0))}
    negated = {c: float((scoring.get("negated") or {}).get(c, d)) for c, d in zip(_SENTIMENT_CATEGORIES, (-0.8, 0.5, -1.0))}
    for lang in LANGUAGES:
        spec = data["languages"].get(lang)
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: languages.{lang} missing")
        for key in (*_SENTIMENT_CATEGORIES, "negators", "contrast", "post_negations"):
            entries = spec.get(key) or []
            if not isinstance(entries, list):
                raise ConfigError(f"{path}: languages.{lang}.{key} must be a list")
            bad = [e for e in entries if not isinstance(e, str)]
            if bad:
                # YAML reads bare no/yes/on/off as booleans: the fix is to quote them.
                raise ConfigError(f"{path}: languages.{lang}.{key}: entries {bad!r} are not text (quote them)")
        if not isinstance(spec.get("intensifiers", {}), dict):
            raise ConfigError(f"{path}: languages.{lang}.intensifiers must be a mapping word: factor")
        spec["_weights"], spec["_negated"] = weights, negated
        spec["_contrast_weight"] = float(scoring.get("contrast_weight", 1.5))
        spec["_scope"] = int(scoring.get("negation_scope", 3))
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
        tuple((tid, tuple((lang, tuple(kws)) for lang, kws in sorted(t.keywords.items()))) for tid, t in sorted(config.themes.items())),
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
                builder.add(kw, ("theme", tid), f"themes.yaml: {tid}.keywords.{lang}")
        spec = sentiment["languages"][lang]
        for category in _SENTIMENT_CATEGORIES:
            for entry in spec.get(category, []) or []:
                builder.add(entry, ("sent", category), f"{sentiment_path.name}: languages.{lang}.{category}")
        out[lang] = builder.build(spec)
    if len(_LEXICON_CACHE) > 8:
        _LEXICON_CACHE.clear()
    _LEXICON_CACHE[key] = _Analyser(out)
    return _LEXICON_CACHE[key]


# ------------------------------------------------------------------------ analysis

def _squash(x: float) -> float:
    # x / (|x| + 1): one clear word gives ±0.5, more evidence approaches ±1 without reaching it.
    return x / (abs(x) + 1.0)


def _clause_score(lex: _Lexicon, toks: list[str], infos: list[_TokenInfo]) -> tuple[set[str], float]:
    """Themes mentioned in one clause and the clause's raw (unsquashed) sentiment."""
    themes: set[str] = set()
    matches: list[tuple[int, int, str]] = []  # (start, end, category) of sentiment entries
    n = len(toks)
    multi = lex.multi
    for i in range(n):
        ids = infos[i][0]
        if not ids:
            continue
        for kind, value in infos[i][4]:
            if kind == "theme":
                themes.add(value)
            else:
                matches.append((i, i + 1, value))
        if i + 1 < n and multi:
            # Phrases are indexed by their first two elements, so a position only looks
            # at phrases whose first two words are actually here.
            nxt = infos[i + 1][0]
            for eid in ids:
                for eid2 in nxt:
                    for rest, (kind, value) in multi.get((eid, eid2), ()):
                        end = i + 2 + len(rest)
                        if end <= n and all(rest[k] in infos[i + 2 + k][0] for k in range(len(rest))):
                            if kind == "theme":
                                themes.add(value)
                            else:
                                matches.append((i, end, value))
    if not matches:
        return themes, 0.0
    # Longest match wins where sentiment entries overlap ("одни и те же" over "те").
    matches.sort(key=lambda m: (m[0], m[0] - m[1]))
    hits: list[list[Any]] = []  # [start, end, category, negated]
    last_end = -1
    for start, end, cat in matches:
        if start >= last_end:
            hits.append([start, end, cat, False])
            last_end = end
    # Negation: a negator flips the first sentiment entry within its scope after it
    # ("не хамили", "ei ollut jonoa", "nobody answers"); a post-negation phrase right
    # after an entry flips that entry instead ("очереди не было", "jonoa ei ollut").
    # Commas bound both directions: "очереди не было, специалист вежливая".
    scope = lex.scope
    commas = [i for i, t in enumerate(toks) if t == ","]
    for i in range(n):
        if not infos[i][1]:
            continue
        before = None
        for phrase in lex.post_negations:
            if tuple(toks[i : i + len(phrase)]) == phrase:
                for h in reversed(hits):
                    if i - 2 <= h[1] <= i and not any(h[1] <= c < i for c in commas):
                        before = h
                    if h[1] <= i:
                        break
                break
        if before is not None:
            before[3] = True
            continue
        for h in hits:
            if i < h[0] <= i + scope and not any(i < c < h[0] for c in commas):
                h[3] = True  # several negators on one entry ("никто не напомнил") negate it once
                break
    raw = 0.0
    for start, _end, cat, negated in hits:
        value = lex.negated[cat] if negated else lex.weights[cat]
        factor = 1.0
        for j in (start - 1, start - 2):
            if j >= 0 and infos[j][2] != 1.0:
                factor = infos[j][2]
                break
        raw += value * factor
    return themes, raw


@dataclass
class _Analyser:
    lexicons: dict[str, _Lexicon]
    memo: dict[str, TextAnalysis] = field(default_factory=dict)


_COMMA: _TokenInfo = (frozenset(), False, 1.0, False, ())


def _analyse_one(analyser: _Analyser, text: str) -> TextAnalysis:
    memo = analyser.memo.get(text)
    if memo is not None:
        return memo
    language = detect_language(text)
    if language is None:
        return TextAnalysis(language=None)
    lex = analyser.lexicons[language]
    tokens = _TOKEN.findall(normalise(text))
    clauses: list[tuple[list[str], list[_TokenInfo], bool]] = []
    cur_t: list[str] = []
    cur_i: list[_TokenInfo] = []
    after_contrast = False
    for tok in tokens:
        if tok == ",":
            # Commas stay in the clause as barriers for phrases and negation scope.
            if cur_t:
                cur_t.append(tok)
                cur_i.append(_COMMA)
            continue
        if not tok[0].isalpha():
            if cur_t:
                clauses.append((cur_t, cur_i, after_contrast))
            cur_t, cur_i, after_contrast = [], [], False
            continue
        info = lex.token(tok)
        if info[3]:
            if cur_t:
                clauses.append((cur_t, cur_i, after_contrast))
            cur_t, cur_i, after_contrast = [], [], True
            continue
        cur_t.append(tok)
        cur_i.append(info)
    if cur_t:
        clauses.append((cur_t, cur_i, after_contrast))
    total = 0.0
    theme_raw: dict[str, float] = {}
    for toks, infos, contrasted in clauses:
        themes, raw = _clause_score(lex, toks, infos)
        total += raw * (lex.contrast_weight if contrasted else 1.0)
        for t in themes:
            theme_raw[t] = theme_raw.get(t, 0.0) + raw
    result = TextAnalysis(
        language=language,
        themes=set(theme_raw),
        sentiment=round(_squash(total), 6),
        theme_sentiment={t: round(_squash(v), 6) for t, v in sorted(theme_raw.items())},
    )
    if len(analyser.memo) >= _CACHE_LIMIT:
        analyser.memo.clear()
    analyser.memo[text] = result
    return result


def analyse(
    texts: Sequence[str] | Iterable[str],
    config: AppConfig | None = None,
    *,
    sentiment_path: Path | str | None = None,
) -> list[TextAnalysis]:
    """Analyse each text, in order. Empty or missing texts give ``TextAnalysis(None)``.

    ``config`` supplies the theme lexicons (default: :func:`cxloop.config.get_config`);
    ``sentiment_path`` the sentiment lexicon (default: ``sentiment.yaml`` in the
    configured folder, else the repository's ``config/sentiment.yaml``).
    """
    analyser = _analyser(config, sentiment_path)
    out: list[TextAnalysis] = []
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            out.append(TextAnalysis(language=None))
        else:
            out.append(_analyse_one(analyser, text))
    return out


def _rating_polarity(rating: Any, scale: Any) -> int:
    """-1 for a low rating, +1 for a high one, 0 otherwise or when unknown.

    Low is ≤2 on 1–5 and ≤4 on 0–10; high is ≥4 and ≥8. Without a scale, a rating above 5
    can only be on 0–10.
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


def analyse_frame(
    texts: pd.Series,
    ratings: pd.Series | None = None,
    scales: pd.Series | None = None,
    config: AppConfig | None = None,
    *,
    sentiment_path: Path | str | None = None,
) -> pd.DataFrame:
    """Columns ``language``, ``sentiment``, ``themes``, ``negative_themes`` for a text column.

    In: ``texts`` (redacted free text, any index), optionally ``ratings`` and ``scales``
    (5 or 10, the top of the rating scale) aligned on the same index.
    Out: a frame with the same index. ``language`` is ``None`` and ``sentiment`` NaN for
    an empty text; ``themes`` and ``negative_themes`` are sorted comma-separated ids
    ("" if none). A theme is negative when the clauses mentioning it are; when their
    wording is neutral, a low rating makes it negative (a high one keeps it positive).
    """
    index = texts.index
    values = texts.astype("object").where(texts.notna(), None)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = analyse(list(uniques), config, sentiment_path=sentiment_path)
    n_unique = len(results)
    lang_u = [r.language for r in results]
    sent_u = [float("nan") if r.language is None else r.sentiment for r in results]
    themes_u = [",".join(sorted(r.themes)) for r in results]
    neg_u = [",".join(sorted(r.negative_themes)) for r in results]
    neutral_u = [sorted(t for t, s in r.theme_sentiment.items() if s == 0.0) for r in results]
    # code -1 (missing text) maps to the extra slot at the end of each list.
    lang_u.append(None)
    sent_u.append(float("nan"))
    themes_u.append("")
    neg_u.append("")
    neutral_u.append([])
    idx = [c if c >= 0 else n_unique for c in codes]
    language = [lang_u[i] for i in idx]
    sentiment = [sent_u[i] for i in idx]
    themes = [themes_u[i] for i in idx]
    negative = [neg_u[i] for i in idx]
    if ratings is not None:
        rating_values = ratings.reindex(index).tolist()
        scale_values = scales.reindex(index).tolist() if scales is not None else [None] * len(index)
        for row, i in enumerate(idx):
            neutral = neutral_u[i]
            if neutral and _rating_polarity(rating_values[row], scale_values[row]) < 0:
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


if __name__ == "__main__":  # pragma: no cover - throughput check: python -m tasks.text [n]
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
