"""Text analytics, for loop step 4 (*detect* pain points) — language, themes, sentiment.

:func:`analyse` reads each feedback text (language, clauses, themes, sentiment; the
method is described in ``tasks/text/README.md``) into a :class:`TextAnalysis`;
:func:`analyse_frame` turns a column of texts (plus optional ratings and a learned
fallback, :mod:`tasks.text.polarity`) into the columns of the feedback table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from cxloop.config import AppConfig
from cxloop.domain import LANGUAGES
from tasks.text.clauses import score_clause, split_clauses
from tasks.text.language import detect_normalised
from tasks.text.lexicon import END, Lexicon, LexiconSet, lexicon_set
from tasks.text.normalise import TOKEN_RE, normalise
from tasks.text.theme_rules import (
    CHANNEL_THEMES,
    ScoredClause,
    blank_idioms,
    channel_needs_failure,
    compile_idioms,
    drop_unsupported_weak,
)

__all__ = [
    "LearnedReading",
    "SentimentFallback",
    "TextAnalysis",
    "analyse",
    "analyse_frame",
    "rating_polarity",
]

_IDIOMS = {lang: compile_idioms(lang) for lang in LANGUAGES}
_CACHE_LIMIT = 200_000  # memoised analyses per lexicon before the memo is reset
_MEMO_MAX_CHARS = 80  # only short texts repeat often enough to be worth memoising


@dataclass
class TextAnalysis:
    """What one feedback text says.

    ``language`` is an ISO 639-1 code (ru/fi/en), ``None`` for a text without letters;
    ``sentiment`` is in [-1, 1] (below 0 = negative, 0 = no evidence either way);
    ``theme_sentiment`` holds, per mentioned theme, the sentiment of what the text says
    about it (see ``tasks/text/README.md``).
    """

    language: str | None
    themes: set[str] = field(default_factory=set)
    sentiment: float = 0.0
    theme_sentiment: dict[str, float] = field(default_factory=dict)

    @property
    def negative_themes(self) -> set[str]:
        return {t for t, s in self.theme_sentiment.items() if s < 0}


class SentimentFallback(Protocol):
    """A second opinion on texts the lexicon finds no sentiment in (see :mod:`tasks.text.polarity`).

    ``score`` gets the language and the tokens of the normalised text (words, and the
    punctuation marks that end clauses) and returns a sentiment in [-1, 1] (0 = no opinion).
    """

    def score(self, language: str, tokens: Sequence[str]) -> float: ...


class LearnedReading(Protocol):
    """A learned model that rereads the rules' analyses: the sentiment model
    (:class:`tasks.text.model.SentimentModel`) or the analysts' theme model
    (:class:`tasks.text.theme_learn.ThemeModel`). ``apply`` gets the analyses and their
    texts, in order, and returns new analyses (the inputs are memoised: never changed)."""

    def apply(self, analyses: Sequence[TextAnalysis], texts: Sequence[str]) -> list[TextAnalysis]: ...


def _reread(
    analyses: list[TextAnalysis], texts: Sequence[Any], model: LearnedReading | None, theme_model: LearnedReading | None
) -> list[TextAnalysis]:
    """The rules' analyses reread by the sentiment model, then by the theme model (a theme the
    theme model adds takes the text's sentiment, so the sentiment comes first). Texts
    without letters are left out of both."""
    if model is None and theme_model is None:
        return analyses
    idx = [k for k, a in enumerate(analyses) if a.language is not None]
    picked = [analyses[k] for k in idx]
    words = [str(texts[k]) for k in idx]
    for learned in (model, theme_model):
        if learned is not None and picked:
            picked = learned.apply(picked, words)
    out = list(analyses)
    for k, a in zip(idx, picked, strict=True):
        out[k] = a
    return out


def _squash(x: float) -> float:
    # x / (|x| + 1): one clear word gives ±0.5, more evidence approaches ±1 without reaching it.
    return x / (abs(x) + 1.0)


# A text's opening sentence of at most this many tokens is its headline ("Отличный банк.").
_HEADLINE_MAX = 5


def _is_headline(infos: list[Any], first: int, end: int, n: int) -> bool:
    """Whether the clause ``[first, end)`` is a short sentence of its own that opens a longer
    text: a review's verdict ("Отличный банк.", "Great app!", "Ужасное обслуживание.") before
    the details that follow it."""
    return first == 0 and end - first <= _HEADLINE_MAX and end + 1 < n and infos[end][3] == END


# A sentence of at most this many words that only praises, right after a sentence whose
# sentiment is below -_IRONY_AFTER, is irony: "Ждала два часа у кабинета. Браво."
_VERDICT_MAX_WORDS = 2
_IRONY_AFTER = 0.5


def _bare_verdict(lex: Lexicon, tokens: list[str], first: int, end: int) -> bool:
    """Whether ``tokens[first:end]`` is a verdict of at most two words and no "now" marker
    ("Браво.", "Brilliant organisation.", "Hienoa työtä."; not "Теперь отлично.")."""
    words = [t for t in tokens[first:end] if t[0].isalpha()]
    return len(words) <= _VERDICT_MAX_WORDS and not any(w in lex.now_markers for w in words)


def _analyse_one(analyser: LexiconSet, text: str, fallback: SentimentFallback | None = None) -> TextAnalysis:
    memo = analyser.memo.get(text) if fallback is None else None
    if memo is not None:
        return memo
    norm = normalise(text)
    tokens = TOKEN_RE.findall(norm)
    language = detect_normalised(norm, tokens)
    if language is None:
        return TextAnalysis(language=None)
    lex = analyser.lexicons[language]
    get = lex.token_cache.get
    token = lex.token
    infos = [get(t) or token(t) for t in tokens]
    idioms = _IDIOMS.get(language)
    if idioms and not idioms.keys().isdisjoint(tokens):
        blank_idioms(idioms, tokens, infos)
    marks = [i for i, f in enumerate(infos) if f[6]]
    total = 0.0
    theme_raw: dict[str, float] = {}
    scored: list[tuple[dict[str, float], float]] = []
    results: list[ScoredClause] = []
    thanks_total = 0.0
    weak_concession = False
    unsupported = False
    n_tok = len(tokens)
    headline = 0.0
    summed_up = False
    by_sentence: dict[int, float] = {}
    clauses_in: dict[int, int] = {}
    verdicts: list[tuple[int, float, int]] = []  # (sentence, its part of total, index in results)
    complaints: list[tuple[int, float, int]] = []  # the same, of the clauses that complain
    for first, end, weight, question, cm, ng, bs, sentence, concessive in split_clauses(lex, infos, marks, n_tok):
        per_theme, raw, named, thanks, factor, solves = score_clause(
            lex, tokens, infos, first, end, question, cm, ng, bs
        )
        clauses_in[sentence] = clauses_in.get(sentence, 0) + 1
        if solves and raw >= 0.0 and complaints:
            # "Была проблема с выплатой, но всё решили", "Пособие не приходило. Вчера всё
            # исправили, спасибо": a resolver that undid nothing in its clause undoes the
            # complaints told before it in its sentence, or in the sentence before.
            # The sentence before counts only when this one praises too ("Вчера всё решили,
            # спасибо"): "Hoidettiin vaan rutiinina" (processed as routine) solves nothing.
            back = clauses_in[sentence] == 1 and raw > 0.0
            for s, part, k in complaints:
                if s == sentence or (back and s == sentence - 1):
                    total -= part
                    by_sentence[s] -= part
                    results[k] = (dict.fromkeys(results[k][0], 0.0), 0.0, *results[k][2:])
                    if s == 0 and headline < 0:
                        headline = 0.0  # the opening verdict was the problem, now solved
            complaints.clear()
        if raw:
            # The text's score: every clause with sentiment (the theme rules below never drop
            # one); a summary ("в целом", "overall") is the verdict, a drawback called the
            # only or a minor one ("единственный минус", "the only downside") weighs less.
            w = weight * factor
            total += raw * w
            by_sentence[sentence] = by_sentence.get(sentence, 0.0) + raw * w
            if raw < 0:
                complaints.append((sentence, raw * w, len(results)))
            bare = raw > 0 and w == 1.0 and not per_theme and not thanks and not question and sentence
            if bare and _bare_verdict(lex, tokens, first, end):
                verdicts.append((sentence, raw * w, len(results)))
            if factor == 1.0 and _is_headline(infos, first, end, n_tok):
                # A short opening sentence is the verdict too, unless the text sums up itself.
                headline = raw * w * (lex.summary_weight - 1.0)
            elif factor == lex.summary_weight:
                summed_up = True
            thanks_total += thanks * w
        elif not per_theme:
            continue
        if len(named) < len(per_theme):
            if not ng and not question and CHANNEL_THEMES.intersection(per_theme):
                per_theme = channel_needs_failure(per_theme, named)
                if not per_theme and raw == 0.0:
                    continue
            unsupported = unsupported or (raw == 0.0 and not question)
        results.append((per_theme, raw, weight, named, sentence, concessive))
        weak_concession = weak_concession or (concessive and len(named) < len(per_theme))
    for sentence, part, k in verdicts:
        if clauses_in[sentence] == 1 and by_sentence.get(sentence - 1, 0.0) < -_IRONY_AFTER:
            # "Ждала два часа. Браво.", "Nobody answered. Brilliant.": praise that only
            # follows a complaint is irony; it neither offsets the complaint nor counts.
            total -= part
            results[k] = (results[k][0], 0.0, *results[k][2:])
    if unsupported:
        results = drop_unsupported_weak(results)
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
    if headline and not summed_up:
        total += headline
    if thanks_total > 0.0 and total < thanks_total:
        # Thanks that sign off a complaint told elsewhere ("…третий месяц жду. Спасибо.")
        # are politeness: they do not offset the complaint.
        total -= thanks_total
    for per_theme, raw, _, _, _, _ in results:
        scored.append((per_theme, raw))
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
    model: LearnedReading | None = None,
    theme_model: LearnedReading | None = None,
) -> list[TextAnalysis]:
    """Analyse each text, in order. Empty or missing texts give ``TextAnalysis(None)``.

    ``config`` supplies the theme lexicons (default: :func:`cxloop.config.get_config`);
    ``sentiment_path`` the sentiment lexicon (default: ``sentiment.yaml`` in the
    configured folder, else the repository's ``config/sentiment.yaml``). ``fallback``
    (e.g. a :class:`tasks.text.polarity.StemPolarity`) scores the texts in which the lexicon
    finds no sentiment at all; their neutral themes take its score too. ``model`` (the
    learned sentiment model, :mod:`tasks.text.model`) and ``theme_model`` (themes learned
    from analysts' labels, :mod:`tasks.text.theme_learn`) reread the rules' analyses;
    without them the rules alone decide.
    """
    texts = list(texts)
    return _reread(list(_iter_analyse(texts, config, sentiment_path, fallback)), texts, model, theme_model)


def _iter_analyse(
    texts: Iterable[Any],
    config: AppConfig | None,
    sentiment_path: Path | str | None,
    fallback: SentimentFallback | None,
) -> Iterable[TextAnalysis]:
    analyser = lexicon_set(config, sentiment_path)
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


_NO_THEMES: list[str] = []


def analyse_frame(
    texts: pd.Series,
    ratings: pd.Series | None = None,
    scales: pd.Series | None = None,
    config: AppConfig | None = None,
    *,
    sentiment_path: Path | str | None = None,
    fallback: SentimentFallback | None = None,
    model: LearnedReading | None = None,
    theme_model: LearnedReading | None = None,
) -> pd.DataFrame:
    """Columns ``language``, ``sentiment``, ``themes``, ``negative_themes`` for a text column.

    In: ``texts`` (redacted free text, any index), optionally ``ratings`` and ``scales``
    (5 or 10, the top of the rating scale) aligned on the same index, a learned
    ``fallback`` for texts without lexicon sentiment and the learned ``model`` and
    ``theme_model`` (see :func:`analyse`).
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
    analyses: Iterable[TextAnalysis] = _iter_analyse(uniques, config, sentiment_path, fallback)
    if model is not None or theme_model is not None:
        analyses = _reread(list(analyses), list(uniques), model, theme_model)
    for r in analyses:
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
