"""Emerging topics: negative feedback that matches no theme, clustered into candidate new themes.

:func:`candidate_mask` picks the negative texts no theme matched; :func:`emerging_topics`
clusters them per language (stems: :mod:`tasks.text.topic_stems`, clustering:
:mod:`tasks.text.topic_clusters`) into :class:`EmergingTopic` candidates with top terms
and redacted examples, for the analyst to judge (method: ``tasks/text/README.md``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from threadpoolctl import threadpool_limits

from tasks.text.language import detect_language
from tasks.text.normalise import STEMMER_NAMES
from tasks.text.topic_clusters import ANCHOR_SHARE, assign, centre, distinct_rows, row_share, seed_topics
from tasks.text.topic_stems import TopicStemmer
from tasks.validate.redaction import redact

__all__ = ["SPACES_RE", "EmergingTopic", "candidate_mask", "emerging_topics"]

# Parameters of the method (see ``tasks/text/README.md``).
_MIN_K_RANGE = 8  # k-means tries k = 2 … max(max_topics, this), also when fewer topics are asked for
_MIN_SHARE = 0.005  # a topic holds at least this share of its language's candidates (and min_cluster rows)
_MAX_TERMS = 8
_EXAMPLES = 3
_EXAMPLE_CHARS = 200
SPACES_RE = re.compile(r"\s+")  # collapsed to one space in examples and markdown cells


@dataclass
class EmergingTopic:
    """One candidate new theme.

    ``language`` is "ru", "fi" or "en"; ``size`` the number of feedback rows assigned to
    the topic (see ``tasks/text/README.md``); ``top_terms`` up to eight readable words (or
    word pairs), the main word first;
    ``examples`` up to three redacted texts closest to the topic's centre, at most ~200
    characters each; ``offices`` the number of distinct offices the rows come from;
    ``regions`` their region codes, sorted; ``share_negative_unthemed`` the topic's share
    of all negative texts that matched no theme (``size`` / candidates).
    """

    language: str
    size: int
    top_terms: list[str]
    examples: list[str]
    offices: int
    regions: list[str]
    share_negative_unthemed: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "size": self.size,
            "top_terms": list(self.top_terms),
            "examples": list(self.examples),
            "offices": self.offices,
            "regions": list(self.regions),
            "share_negative_unthemed": self.share_negative_unthemed,
        }


# --------------------------------------------------------------------------- candidates


def _is_empty_themes(value: Any) -> bool:
    """No theme: "" (the stored form), None, NaN, pd.NA or an empty collection."""
    if isinstance(value, str):
        return not value.strip(" ,\t\n")
    if isinstance(value, (list, tuple, set, frozenset)):
        return len(value) == 0
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _low_rating(rating: pd.Series, scale: pd.Series) -> pd.Series:
    """``rating <= 2`` on a 1-5 scale, ``<= 4`` on a 0/1-10 scale; unknown → False."""
    r = pd.to_numeric(rating, errors="coerce")
    top = pd.to_numeric(scale, errors="coerce")
    # Without a scale a rating above 5 can only be on the 10-point scale.
    top = top.where(top.notna(), np.where(r > 5, 10, 5))
    cut = np.where(top >= 10, 4.0, 2.0)
    return (r.notna() & (r <= cut)).astype(bool)


def candidate_mask(feedback: pd.DataFrame) -> pd.Series:
    """Which rows are negative feedback that matched no theme (see ``tasks/text/README.md``).

    Needs ``text`` and ``themes``; ``sentiment``, ``rating`` and ``scale`` are used when
    present. Returns a boolean Series on ``feedback``'s index.
    """
    index = feedback.index
    text = feedback["text"] if "text" in feedback else pd.Series(None, index=index, dtype=object)
    has_text = text.map(lambda v: isinstance(v, str) and bool(v.strip())).astype(bool)
    themes = feedback["themes"] if "themes" in feedback else pd.Series("", index=index, dtype=object)
    unthemed = themes.map(_is_empty_themes).astype(bool)
    negative = pd.Series(False, index=index)
    if "sentiment" in feedback:
        negative |= (pd.to_numeric(feedback["sentiment"], errors="coerce") < 0).fillna(False).astype(bool)
    if "rating" in feedback:
        scale = feedback["scale"] if "scale" in feedback else pd.Series(np.nan, index=index)
        negative |= _low_rating(feedback["rating"], scale)
    return has_text & unthemed & negative


def candidate_filter() -> list[Any]:
    """SQL conditions on ``Feedback`` that every row :func:`candidate_mask` keeps meets: a
    text, no theme once spaces, commas, tabs and newlines are taken out, and a negative
    sentiment or a rating (low or not: :func:`candidate_mask` decides). The quarter's
    topics then read these rows instead of the whole quarter."""
    from sqlalchemy import func, or_
    from sqlmodel import col

    from models.tables import Feedback

    themes: Any = func.coalesce(col(Feedback.themes), "")
    for separator in (" ", ",", "\t", "\n"):
        themes = func.replace(themes, separator, "")
    return [
        col(Feedback.text).is_not(None),
        themes == "",
        or_(col(Feedback.sentiment) < 0, col(Feedback.rating).is_not(None)),
    ]


# --------------------------------------------------------------------------- description


def _top_terms(
    share: np.ndarray, share_all: np.ndarray, rows: np.ndarray, features: np.ndarray, stemmer: TopicStemmer
) -> list[str]:
    """Up to eight readable terms that tell the topic apart.

    A feature's score is ``p * log(1 + p / q)``: ``p`` the share of the topic's rows that
    contain it, ``q`` the share of all the language's candidate rows. Common in the topic
    and rare elsewhere ranks first (the word every topic text uses comes first); a word
    as common everywhere scores ``p * log 2``, so when the topic is all there is, terms
    rank by how common they are in it. A feature must be in at least two of the topic's
    rows (``rows``: rows per feature); every feature is also in two or more distinct
    texts of the language (the vectoriser's ``min_df``).
    """
    ok = (share > 0) & (rows >= 2 - 1e-9) & (share_all > 0)
    score = np.zeros_like(share)
    score[ok] = share[ok] * np.log1p(share[ok] / share_all[ok])
    order = sorted(np.flatnonzero(ok), key=lambda i: (-round(float(score[i]), 9), features[i]))
    chosen: list[tuple[str, ...]] = []
    covered: set[str] = set()
    for i in order:
        stems = tuple(features[i].split(" "))
        if any(st in covered for st in stems) or len(set(stems)) < len(stems):
            continue  # a word already shown, alone or in a pair
        chosen.append(stems)
        covered.update(stems)
        if len(chosen) >= _MAX_TERMS:
            break
    terms: list[str] = []
    for stems in chosen:
        term = " ".join(stemmer.readable(s) for s in stems)
        if term not in terms:
            terms.append(term)
    return terms


def _example(text: str) -> str:
    """Redact, collapse white space, then cut to ~200 characters at a word boundary."""
    clean = SPACES_RE.sub(" ", redact(text) or "").strip()
    if len(clean) <= _EXAMPLE_CHARS:
        return clean
    cut = clean[: _EXAMPLE_CHARS - 1]
    space = cut.rfind(" ")
    if space > _EXAMPLE_CHARS // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


# --------------------------------------------------------------------------- topics


@dataclass
class _Draft:
    size: int
    top_terms: list[str]
    examples: list[str]
    rows: np.ndarray  # positions in the language's candidate frame


def _language_topics(cands: pd.DataFrame, language: str, min_cluster: int, max_topics: int, seed: int) -> list[_Draft]:
    """Topics of one language's candidates (``cands`` in canonical order)."""
    # Among tens of thousands of texts a handful sharing a word is chance: a topic also
    # needs a small share of the language's candidates.
    min_rows = max(min_cluster, math.ceil(_MIN_SHARE * len(cands)))
    stemmer = TopicStemmer(language)
    texts = cands["text"].tolist()
    # rows -> distinct texts (the vectoriser's documents, so that ``min_df`` counts
    # distinct texts) -> distinct vectors (the points).
    text_of_row, unique_texts = pd.factorize(cands["text"], sort=False)
    counts = np.bincount(text_of_row, minlength=len(unique_texts))
    docs = [" ".join(stemmer.stems(t, int(c))) for t, c in zip(unique_texts, counts, strict=True)]
    vectorizer = TfidfVectorizer(
        analyzer="word",
        token_pattern=r"\S+",
        lowercase=False,
        ngram_range=(1, 2),
        min_df=2,
        sublinear_tf=True,
        norm="l2",
        dtype=np.float32,
    )
    try:
        D = vectorizer.fit_transform(docs).tocsr()
    except ValueError:  # no term occurs in two distinct texts
        return []
    point_of_text, first_text = distinct_rows(D)
    if not first_text:
        return []
    point_of_row = point_of_text[text_of_row]  # -1: no shared term, never in a topic
    X = D[first_text]
    w = np.bincount(point_of_row[point_of_row >= 0], minlength=len(first_text)).astype(np.float64)
    if w.sum() < min_rows:
        return []
    features = vectorizer.get_feature_names_out()
    unigram = np.array([" " not in f for f in features])
    B = X.copy()
    B.data[:] = 1  # presence
    share_all = np.asarray(B.T @ w, dtype=np.float64).ravel() / len(cands)

    # Rounds of k-means on the points no topic has taken yet: a small topic hidden in a
    # cluster of noise in one round is found in the next one, once the big topics are out.
    topics: dict[int, np.ndarray] = {}  # main word -> seed points
    remaining = np.arange(X.shape[0])
    max_k = max(max_topics, _MIN_K_RANGE)
    for _round in range(max_k):
        if w[remaining].sum() < min_rows:
            break
        found = seed_topics(X, w, B, remaining, unigram, share_all, min_rows, max_k, seed)
        new = [main for main in found if main not in topics]
        for main, points in found.items():  # a topic found again grows
            topics[main] = np.union1d(topics[main], points) if main in topics else points
        if not new:
            break
        mains = list(topics)
        assigned = assign(X[remaining], B[remaining], mains, np.vstack([centre(X, topics[m], w) for m in mains]))
        remaining = remaining[assigned < 0]
    if not topics:
        return []
    # Final assignment of every point to the topics of all rounds.
    mains = list(topics)
    assigned = assign(X, B, mains, np.vstack([centre(X, topics[m], w) for m in mains]))

    first_row = np.full(len(first_text), -1, dtype=np.int64)
    points, where = np.unique(point_of_row, return_index=True)  # first row (canonical order) per point
    first_row[points[points >= 0]] = where[points >= 0]
    drafts: list[_Draft] = []
    for t in range(len(topics)):
        core = np.flatnonzero(assigned == t)
        size = int(w[core].sum())
        if size < min_rows:
            continue
        # Coherence: the topic's most widespread word is in at least half of its rows and
        # in at least ``min_rows`` of them.
        share = row_share(B, core, w)
        widest = float((share * unigram).max())
        if widest < ANCHOR_SHARE or widest * size < min_rows - 1e-9:
            continue
        terms = _top_terms(share, share_all, share * size, features, stemmer)
        if not terms:
            continue
        closeness = np.asarray(X[core] @ centre(X, core, w)).ravel()
        order = sorted(range(len(core)), key=lambda i: (-round(float(closeness[i]), 6), texts[first_row[core[i]]]))
        examples: list[str] = []
        for i in order:
            example = _example(texts[first_row[core[i]]])
            if example not in examples:  # texts that differ only after the cut look alike
                examples.append(example)
            if len(examples) == _EXAMPLES:
                break
        drafts.append(_Draft(size, terms, examples, np.flatnonzero(np.isin(point_of_row, core))))
    return drafts


def emerging_topics(
    feedback: pd.DataFrame, *, min_cluster: int = 5, max_topics: int = 8, seed: int = 0
) -> list[EmergingTopic]:
    """Candidate new themes in a quarter's feedback frame (method: ``tasks/text/README.md``).

    ``feedback`` has the columns of :func:`models.store.load_feedback` (``text`` and
    ``themes`` are required; ``sentiment``, ``rating``, ``scale``, ``language``,
    ``office_code``, ``region_code`` and ``id`` are used when present). ``min_cluster``
    is the least number of feedback rows a topic needs, ``max_topics`` the number of
    topics returned (the largest; k-means tries up to max(max_topics, 8) clusters per
    language whatever it is), ``seed`` fixes every random choice.
    Returns ``[]`` when there are too few candidates.
    """
    if min_cluster < 1:
        raise ValueError("min_cluster must be at least 1")
    if max_topics < 1:
        raise ValueError("max_topics must be at least 1")
    if feedback is None or len(feedback) == 0 or "text" not in feedback or "themes" not in feedback:
        return []
    cands = feedback.loc[candidate_mask(feedback)].copy()
    total = len(cands)
    if total < min_cluster:
        return []
    if "language" in cands:
        lang = cands["language"].where(cands["language"].isin(list(STEMMER_NAMES)), None)
    else:
        lang = pd.Series(None, index=cands.index, dtype=object)
    missing = lang.isna()
    if missing.any():
        lang.loc[missing] = cands.loc[missing, "text"].map(detect_language)
    cands["_lang"] = lang
    # Canonical order: the result does not depend on the order of the input rows.
    cands["_id"] = cands["id"].astype(str) if "id" in cands else ""
    cands = cands.sort_values(["_lang", "text", "_id"], kind="mergesort", na_position="last").reset_index(drop=True)
    topics: list[EmergingTopic] = []
    for language in sorted(set(cands["_lang"].dropna()) & set(STEMMER_NAMES)):
        part = cands[cands["_lang"] == language].reset_index(drop=True)
        if len(part) < min_cluster:
            continue
        # The k-means fits are many and small: starting threads costs more than it saves
        # (results do not depend on the number of threads).
        with threadpool_limits(limits=1):
            drafts = _language_topics(part, language, min_cluster, max_topics, seed)
        for d in drafts:
            rows = part.iloc[d.rows]
            offices = rows["office_code"].dropna().astype(str).nunique() if "office_code" in rows else 0
            regions = sorted({str(r) for r in rows["region_code"].dropna()}) if "region_code" in rows else []
            topics.append(
                EmergingTopic(
                    language=language,
                    size=d.size,
                    top_terms=d.top_terms,
                    examples=d.examples,
                    offices=int(offices),
                    regions=regions,
                    share_negative_unthemed=round(d.size / total, 6),
                )
            )
    topics.sort(key=lambda t: (-t.size, t.top_terms, t.language))
    return topics[:max_topics]
