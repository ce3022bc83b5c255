"""What rated feedback teaches the text analytics: weak supervision from ratings.

:func:`learn_polarity` fits the :class:`tasks.text.polarity.StemPolarity` of rated texts
(log-odds with an informative Dirichlet prior, :func:`log_odds`), :func:`suggest_terms`
lists candidate theme keywords; ``python -m tasks.text.learn <sqlite or csv>`` prints both
for the analyst, nothing is applied silently (method: ``tasks/text/README.md``).
"""

from __future__ import annotations

import argparse
import math
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cxloop.config import AppConfig
from cxloop.domain import LANGUAGES
from tasks.text.analyser import analyse, rating_polarity
from tasks.text.language import detect_language
from tasks.text.lexicon import lexicon_set
from tasks.text.normalise import TOKEN_RE, normalise
from tasks.text.polarity import NEGATED, FeatureStats, Featuriser, StemPolarity, featuriser
from tasks.validate.redaction import redact

__all__ = [
    "TermSuggestion",
    "format_polarity",
    "format_suggestions",
    "learn_polarity",
    "log_odds",
    "main",
    "read_rated",
    "suggest_terms",
]

_ORIGINAL_TOKEN = re.compile(r"[^\W\d_]+|[.!?;…]+|\n")


def log_odds(
    first: Counter[str], second: Counter[str], background: Counter[str], prior: float = 1.0
) -> dict[str, FeatureStats]:
    """Monroe et al. (2008) log-odds ratio with an informative Dirichlet prior, per feature.

    ``first`` and ``second`` count, per feature, the texts of each class that contain it;
    ``background`` the texts of the whole corpus (the prior's shape). The prior gives each
    feature α_w = ``prior`` · V · p_w pseudo-counts (p_w its background share, V the
    number of features), so the average feature gets ``prior``. Returns, for every feature
    of ``first`` or ``second``, δ_w (positive: more typical of ``first``) and z_w.
    """
    vocab = set(first) | set(second)
    bg_total = sum(background.values())
    if not vocab or bg_total == 0:
        return {}
    v = len(background)
    a0 = prior * v
    n1 = sum(first.values())
    n2 = sum(second.values())
    out: dict[str, FeatureStats] = {}
    for w in sorted(vocab):
        aw = a0 * background.get(w, 0) / bg_total
        if aw <= 0:
            aw = prior  # a feature missing from the background still gets the average prior
        y1 = first.get(w, 0)
        y2 = second.get(w, 0)
        d = math.log((y1 + aw) / (n1 + a0 - y1 - aw)) - math.log((y2 + aw) / (n2 + a0 - y2 - aw))
        var = 1.0 / (y1 + aw) + 1.0 / (y2 + aw)
        out[w] = FeatureStats(y1, y2, d, d / math.sqrt(var))
    return out


# ------------------------------------------------------------------------ corpus


@dataclass
class _Doc:
    text: str  # redacted
    language: str
    polarity: int
    feats: list[tuple[str, str]]  # (feature, surface token), in order


def _names(texts: Iterable[str]) -> set[str]:
    """Lower-case words capitalised inside a sentence in most of their uses (names)."""
    cap: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for text in texts:
        start = True
        for tok in _ORIGINAL_TOKEN.findall(text):
            if not tok[0].isalpha():
                start = True
                continue
            low = tok.lower().replace("ё", "е")
            seen[low] += 1
            if not start and tok[0].isupper() and not tok.isupper():
                cap[low] += 1
            start = False
    return {w for w, c in cap.items() if c * 2 > seen[w]}


def _corpus(
    texts: Sequence[Any], ratings: Sequence[Any], scales: Sequence[Any] | None, featurise: Featuriser
) -> tuple[list[_Doc], set[str]]:
    docs: list[_Doc] = []
    clean: list[str] = []
    scales = list(scales) if scales is not None else [None] * len(texts)
    for text, rating, scale in zip(texts, ratings, scales, strict=True):
        if not isinstance(text, str) or not text.strip():
            continue
        text = redact(text) or ""
        language = detect_language(text)
        if language is None:
            continue
        clean.append(text)
        tokens = TOKEN_RE.findall(normalise(text))
        docs.append(_Doc(text, language, rating_polarity(rating, scale), featurise(language, tokens)))
    return docs, _names(clean)


def learn_polarity(
    texts: Sequence[Any],
    ratings: Sequence[Any],
    scales: Sequence[Any] | None = None,
    config: AppConfig | None = None,
    *,
    min_df: int = 5,
    z_min: float = 1.96,
    prior: float = 1.0,
    weight: float = 0.5,
    sentiment_path: Path | str | None = None,
) -> StemPolarity:
    """Learn :class:`StemPolarity` from rated texts (ratings 1-5 or 0/1-10, ``scales`` 5/10).

    Texts are redacted first; a text counts once per feature. Middle ratings (3 of 5,
    5-7 of 10) and unrated texts only shape the prior. Names (see :func:`_names`) never
    become features.
    """
    if len(texts) != len(ratings) or (scales is not None and len(scales) != len(texts)):
        raise ValueError("texts, ratings and scales must have the same length")
    featurise = featuriser(config, sentiment_path)
    docs, names = _corpus(list(texts), list(ratings), scales, featurise)
    stats: dict[str, dict[str, FeatureStats]] = {}
    examples: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        high: Counter[str] = Counter()
        low: Counter[str] = Counter()
        background: Counter[str] = Counter()
        forms: dict[str, Counter[str]] = {}
        for d in docs:
            if d.language != lang:
                continue
            feats = {f for f, tok in d.feats if tok not in names}
            background.update(feats)
            if d.polarity > 0:
                high.update(feats)
            elif d.polarity < 0:
                low.update(feats)
            for f, tok in d.feats:
                forms.setdefault(f, Counter())[tok] += 1
        kept = {
            f: s
            for f, s in log_odds(high, low, background, prior).items()
            if s.first + s.second >= min_df and abs(s.z) >= z_min
        }
        stats[lang] = kept
        examples[lang] = {f: min(forms[f].items(), key=lambda kv: (-kv[1], kv[0]))[0] for f in kept}
    return StemPolarity(
        stats,
        examples,
        featurise.negators,
        featurise.scope,
        weight,
        {"min_df": float(min_df), "z_min": z_min, "prior": prior, "texts": float(len(docs))},
    )


@dataclass(frozen=True)
class TermSuggestion:
    """A stem typical of a theme's low-rated texts that the theme's lexicon does not match.

    ``theme`` is ``None`` for stems typical of low-rated texts that match no theme.
    ``in_theme`` counts the low-rated texts of the theme with the stem, ``elsewhere`` the
    other rated texts of the language with it; ``delta`` and ``z`` are the log-odds and
    its z-score (:func:`log_odds`).
    """

    language: str
    theme: str | None
    stem: str
    example: str
    in_theme: int
    elsewhere: int
    delta: float
    z: float


def suggest_terms(
    texts: Sequence[Any],
    ratings: Sequence[Any],
    scales: Sequence[Any] | None = None,
    config: AppConfig | None = None,
    *,
    min_df: int = 5,
    z_min: float = 3.0,
    top: int = 10,
    prior: float = 1.0,
    sentiment_path: Path | str | None = None,
) -> list[TermSuggestion]:
    """Candidate keywords per theme and language from rated texts (see ``tasks/text/README.md``).

    For each theme with at least ``min_df`` low-rated texts in a language: stems of those
    texts against all other rated texts of the language, by log-odds z (≥ ``z_min``, in
    at least ``min_df`` of the theme's low-rated texts), leaving out stems the theme's
    lexicon already matches, negated features, negators and names; at most ``top`` per
    theme, ranked by δ (how much more typical of the theme's complaints the stem is). The
    same for low-rated texts with no theme (``theme=None``), leaving out stems any theme
    matches. Sorted by language, theme, then δ descending.
    """
    if len(texts) != len(ratings) or (scales is not None and len(scales) != len(texts)):
        raise ValueError("texts, ratings and scales must have the same length")
    featurise = featuriser(config, sentiment_path)
    analyser = lexicon_set(config, sentiment_path)
    docs, names = _corpus(list(texts), list(ratings), scales, featurise)
    themes_of = [r.themes for r in analyse([d.text for d in docs], config, sentiment_path=sentiment_path)]
    out: list[TermSuggestion] = []
    for lang in LANGUAGES:
        lex = analyser.lexicons[lang]
        idx = [i for i, d in enumerate(docs) if d.language == lang]
        plain: dict[int, set[str]] = {}
        forms: dict[str, Counter[str]] = {}
        for i in idx:
            feats = set()
            for f, tok in docs[i].feats:
                if f.startswith(NEGATED) or tok in names:
                    continue
                feats.add(f)
                forms.setdefault(f, Counter())[tok] += 1
            plain[i] = feats
        background: Counter[str] = Counter()
        for i in idx:
            background.update(plain[i])
        groups: dict[str | None, list[int]] = {}
        for i in idx:
            if docs[i].polarity < 0:
                if themes_of[i]:
                    for t in themes_of[i]:
                        groups.setdefault(t, []).append(i)
                else:
                    groups.setdefault(None, []).append(i)
        for theme in sorted(groups, key=lambda t: (t is None, t or "")):
            members = groups[theme]
            if len(members) < min_df:
                continue
            inside: Counter[str] = Counter()
            for i in members:
                inside.update(plain[i])
            member_set = set(members)
            rest: Counter[str] = Counter()
            for i in idx:
                if i not in member_set:
                    rest.update(plain[i])
            cands = []
            for f, s in log_odds(inside, rest, background, prior).items():
                if s.first < min_df or s.z < z_min:
                    continue
                example = min(forms[f].items(), key=lambda kv: (-kv[1], kv[0]))[0]
                info = lex.token(example)
                # Themes whose keywords already contain the word, alone or in a phrase.
                named = {t for t, _ in info[4]} | {t for eid in info[0] for t in lex.phrase_themes.get(eid, ())}
                if info[1] or (theme is None and named) or (theme is not None and theme in named):
                    continue
                cands.append(
                    TermSuggestion(lang, theme, f, example, s.first, s.second, round(s.delta, 3), round(s.z, 3))
                )
            # Significant (z) first, then the largest effect (delta): a word found only in
            # these texts ranks above a common word that is merely a little more frequent.
            cands.sort(key=lambda c: (-c.delta, c.stem))
            out.extend(cands[:top])
    return out


# ------------------------------------------------------------------- read / print

_TEXT_COLUMNS = ("text", "comment", "комментарий", "текст", "kommentti")
_RATING_COLUMNS = ("rating", "оценка", "arvio")


def read_rated(path: Path | str) -> pd.DataFrame:
    """Rated texts (columns ``text``, ``rating``, ``scale``) from the application database
    (SQLite file, table ``feedback``) or a CSV with a text and a rating column."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    if path.suffix.lower() in (".db", ".sqlite", ".sqlite3"):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            frame = pd.read_sql_query(
                "SELECT text, rating, scale FROM feedback WHERE text IS NOT NULL AND rating IS NOT NULL ORDER BY id",
                conn,
            )
        return frame
    raw = pd.read_csv(path, dtype=str, encoding="utf-8-sig", sep=None, engine="python")
    cols = {c.strip().lower(): c for c in raw.columns}
    text_col = next((cols[c] for c in _TEXT_COLUMNS if c in cols), None)
    rating_col = next((cols[c] for c in _RATING_COLUMNS if c in cols), None)
    if text_col is None or rating_col is None:
        raise ValueError(
            f"{path}: needs a text column ({', '.join(_TEXT_COLUMNS)}) and a rating column "
            f"({', '.join(_RATING_COLUMNS)})"
        )
    frame = pd.DataFrame(
        {
            "text": raw[text_col],
            "rating": pd.to_numeric(
                raw[rating_col].str.extract(r"(\d+(?:[.,]\d+)?)")[0].str.replace(",", "."), errors="coerce"
            ),
            "scale": pd.to_numeric(raw[cols["scale"]], errors="coerce") if "scale" in cols else None,
        }
    )
    return frame[frame["text"].notna() & frame["rating"].notna()].reset_index(drop=True)


def format_polarity(polarity: StemPolarity, k: int = 10) -> str:
    """The features leaning most to low and to high ratings, per language."""
    out = []
    for lang in sorted(polarity.stats):
        feats = polarity.stats[lang]
        if not feats:
            continue
        low, high = polarity.top(lang, k)
        out.append(f"[{lang}] {len(feats)} features kept")
        for title, items in (("low ratings", low), ("high ratings", high)):
            out.append(f"  leaning to {title}:")
            for f, s in items:
                ex = polarity.examples.get(lang, {}).get(f, "")
                shown = (NEGATED if f.startswith(NEGATED) else "") + ex
                out.append(
                    f"    {f:<22} {shown:<24} delta {s.delta:+.2f}  z {s.z:+.1f}  (high {s.first}, low {s.second})"
                )
    return "\n".join(out) if out else "no feature passed the thresholds"


def format_suggestions(suggestions: Sequence[TermSuggestion]) -> str:
    """Candidate keywords grouped by language and theme, for the analyst to review."""
    if not suggestions:
        return "no candidate keywords (too few low-rated texts per theme, or nothing stands out)"
    out = []
    key = None
    for s in suggestions:
        if (s.language, s.theme) != key:
            key = (s.language, s.theme)
            out.append(f"[{s.language}] {s.theme or '(low-rated texts with no theme)'}")
        out.append(
            f"    {s.example:<24} stem {s.stem:<18} delta {s.delta:+5.2f}  z {s.z:5.1f}   "
            f"{s.in_theme} low-rated texts here, {s.elsewhere} elsewhere"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tasks.text.learn PATH``: print learned polarity and candidate keywords."""
    parser = argparse.ArgumentParser(prog="python -m tasks.text.learn", description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="SQLite database (table feedback) or CSV with text and rating columns")
    parser.add_argument("--min-df", type=int, default=5, help="minimum texts per feature (default 5)")
    parser.add_argument("--top", type=int, default=10, help="features / candidates shown per group (default 10)")
    parser.add_argument(
        "--write-polarity",
        type=Path,
        default=None,
        help="also write the learned polarity as YAML (to review, then pass to analyse_frame)",
    )
    args = parser.parse_args(argv)
    frame = read_rated(args.path)
    texts = frame["text"].tolist()
    ratings = frame["rating"].tolist()
    scales = frame["scale"].tolist() if "scale" in frame and frame["scale"].notna().any() else None
    polarity = learn_polarity(texts, ratings, scales, min_df=args.min_df)
    counts = Counter(
        (detect_language(redact(t) or ""), rating_polarity(r, s))
        for t, r, s in zip(texts, ratings, scales or [None] * len(texts), strict=True)
    )
    print(f"{args.path}: {len(texts)} rated texts")
    for lang in LANGUAGES:
        print(f"  {lang}: low {counts[(lang, -1)]}, middle {counts[(lang, 0)]}, high {counts[(lang, 1)]}")
    print()
    print("Stem polarity (log-odds with an informative Dirichlet prior, high vs low ratings):")
    print(format_polarity(polarity, args.top))
    print()
    print("Candidate keywords (review; add to config/themes/<language>.yaml by hand if they fit):")
    print(format_suggestions(suggest_terms(texts, ratings, scales, min_df=args.min_df, top=args.top)))
    if args.write_polarity is not None:
        polarity.to_yaml(args.write_polarity)
        print(f"\nlearned polarity written to {args.write_polarity}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
