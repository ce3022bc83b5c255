"""Training the learned sentiment model (:mod:`tasks.text.model`) and writing its model card.

:func:`train` takes rated texts, labels them from the ratings, and per language with at
least ``settings.min_texts`` labelled texts keeps a held-out share of each class out of
fitting (chosen by a hash of the text, so the same text is always on the same side and
duplicates never straddle the split), fits on the rest, and measures the model **and the
rules** on the same held-out texts: 3-class accuracy (``|s| < 0.1`` neutral), negative vs
not (``s < 0``) and the 3-class macro-F1. With ``settings.refit`` the saved model is then
fitted again on all the language's texts when it has fewer than ``settings.refit_below``
(the card says which): there the held-out fifth is worth having in the model. Above it
the learning curve is flat (a national quarter's 50,000 Russian texts: fitting on 64 % or
80 % of them gives the same held-out figures within half a point), a refit would double
the fit time (~5 s of 15), and the saved model is exactly the one its figures describe.
The card (a JSON-able dict) also holds the counts per class, the top features for and
against, the settings, and a version id that is a digest of the training data and the
settings.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np

from cxloop.domain import LANGUAGES
from tasks.text.model import (
    NEUTRAL_BAND,
    LanguageModel,
    ModelSettings,
    Prepared,
    SentimentModel,
    fit_classifier,
    fit_vectorisers,
    prepare,
    rating_label,
)

__all__ = [
    "CLASS_NAMES",
    "FORMAT",
    "TrainingError",
    "TrainingSet",
    "figures",
    "fit",
    "train",
    "training_set",
    "version_id",
]

FORMAT = "cxloop-sentiment-model/1"
CLASS_NAMES = {-1: "negative", 0: "neutral", 1: "positive"}
TOP_K = 15


class TrainingError(ValueError):
    """Nothing in the data to train on."""


def _cls(s: float) -> int:
    return 0 if abs(s) < NEUTRAL_BAND else (1 if s > 0 else -1)


def figures(labels: Sequence[int], scores: Sequence[float]) -> dict[str, float]:
    """3-class accuracy, negative vs not (``s < 0``) and 3-class macro-F1 of ``scores``
    (sentiments in [-1, 1]) against ``labels`` (-1/0/1); macro-F1 over the classes present
    in the labels or the predictions."""
    y = list(labels)
    p = [_cls(float(s)) for s in scores]
    n = len(y)
    if not n:
        return {"n": 0, "accuracy_3class": 0.0, "negative_vs_not": 0.0, "macro_f1": 0.0}
    f1s = []
    for c in sorted(set(y) | set(p)):
        tp = sum(a == c and b == c for a, b in zip(y, p, strict=True))
        fp = sum(a != c and b == c for a, b in zip(y, p, strict=True))
        fn = sum(a == c and b != c for a, b in zip(y, p, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {
        "n": n,
        "accuracy_3class": round(sum(a == b for a, b in zip(y, p, strict=True)) / n, 4),
        "negative_vs_not": round(sum((a == -1) == (float(s) < 0) for a, s in zip(y, scores, strict=True)) / n, 4),
        "macro_f1": round(sum(f1s) / len(f1s), 4),
    }


def version_id(rows: Sequence[tuple[Any, ...]], settings: ModelSettings) -> str:
    """A digest of the labelled training data as the model sees it (per text: language,
    label, text, the rules' score and the negation-marked stems; order does not matter)
    and the settings: the same data, rules and settings give the same id, and a change of
    the rules that changes what the model learns from gives another."""
    h = hashlib.sha256(FORMAT.encode())
    h.update(json.dumps(settings.as_dict(), sort_keys=True).encode())
    for row in sorted(tuple(str(v) for v in r) for r in rows):
        h.update(("\x1e" + "\x1f".join(row)).encode())
    return h.hexdigest()[:16]


def _held_out(texts: Sequence[str], labels: Sequence[int], share: float) -> np.ndarray:
    """A mask of the held-out texts: per class, the ``share`` whose text hashes lowest."""
    mask = np.zeros(len(texts), dtype=bool)
    if share <= 0:
        return mask
    by_class: dict[int, list[tuple[bytes, int]]] = {}
    for k, (text, label) in enumerate(zip(texts, labels, strict=True)):
        by_class.setdefault(label, []).append((hashlib.sha256(text.encode("utf-8")).digest(), k))
    for rows in by_class.values():
        rows.sort()
        take = int(round(len(rows) * share))
        if len(rows) - take < 2:  # keep at least two of a class to fit on
            take = max(0, len(rows) - 2)
        cut = {rows[i][0] for i in range(take)}  # whole groups of equal texts
        for digest, k in rows:
            if digest in cut:
                mask[k] = True
    return mask


def _top(lm: LanguageModel, k: int = TOP_K) -> dict[str, Any]:
    names = lm.feature_names()
    w = lm.weights()
    order = np.argsort(-w, kind="stable")

    def pick(prefix: str, idx: Any) -> list[list[Any]]:
        return [[names[j], round(float(w[j]), 4)] for j in idx if names[j].startswith(prefix)][:k]

    return {
        "words_for": pick("w:", [j for j in order if w[j] > 0]),
        "words_against": pick("w:", [j for j in order[::-1] if w[j] < 0]),
        "chars_for": pick("c:", [j for j in order if w[j] > 0])[:5],
        "chars_against": pick("c:", [j for j in order[::-1] if w[j] < 0])[:5],
        "lexicon": {names[j]: round(float(w[j]), 4) for j in range(len(names)) if names[j].startswith("lexicon:")},
    }


def _counts(labels: Sequence[int]) -> dict[str, int]:
    c = Counter(labels)
    return {CLASS_NAMES[k]: int(c.get(k, 0)) for k in (-1, 0, 1)}


def _result(future: Future | None) -> Any:
    return None if future is None else future.result()


@dataclass(frozen=True)
class _LanguageJob:
    """One language's part of :func:`fit` between its vectorisers and its classifiers."""

    model: LanguageModel
    x: Any  # the feature matrix of the language's texts
    y: np.ndarray
    lexicon: np.ndarray
    train: np.ndarray  # positions fitted on to measure
    held: np.ndarray  # positions held out

    @property
    def measurable(self) -> bool:
        return bool(len(self.held)) and len(set(self.y[self.train].tolist())) >= 2

    def refitted(self, settings: ModelSettings) -> bool:
        """Whether the saved classifier is fitted again on all texts after measuring."""
        return not self.measurable or (settings.refit and len(self.y) < settings.refit_below)


@dataclass(frozen=True)
class TrainingSet:
    """Rated texts as the model sees them, before any fitting: the usable texts, their
    labels, their prepared features (:func:`tasks.text.model.prepare`) and the version id
    the model fitted on them will carry (:func:`version_id`)."""

    texts: list[str]
    labels: list[int]
    prepared: Prepared
    rows: list[tuple[Any, ...]]
    settings: ModelSettings

    @cached_property
    def version(self) -> str:
        return version_id(self.rows, self.settings)


def training_set(
    texts: Sequence[Any],
    ratings: Sequence[Any],
    scales: Sequence[Any] | None = None,
    languages: Sequence[Any] | None = None,
    settings: ModelSettings | None = None,
) -> TrainingSet:
    """Label rated texts from their ratings (one rating, and optionally a scale and a
    language, per text) and prepare their features; texts without a readable rating or
    without letters are left out. :class:`TrainingError` when no text is usable."""
    settings = settings or ModelSettings()
    scales = list(scales) if scales is not None else [None] * len(texts)
    given = [lang if isinstance(lang, str) and lang in LANGUAGES else None for lang in languages or [None] * len(texts)]
    keep = [
        k
        for k, (text, rating, scale) in enumerate(zip(texts, ratings, scales, strict=True))
        if isinstance(text, str) and text.strip() and rating_label(rating, scale) is not None
    ]
    kept_texts = [str(texts[k]) for k in keep]
    labels_all = [int(rating_label(ratings[k], scales[k]) or 0) for k in keep]
    p = prepare(kept_texts, languages=[given[k] for k in keep])
    rows = [
        (lang, y, t, f"{lex:.6f}", w)
        for lang, y, t, lex, w in zip(p.languages, labels_all, kept_texts, p.lexicon.tolist(), p.words, strict=True)
        if lang
    ]
    if not rows:
        raise TrainingError("no rated text with letters and a readable rating to train on")
    return TrainingSet(kept_texts, labels_all, p, rows, settings)


def train(
    texts: Sequence[Any],
    ratings: Sequence[Any],
    scales: Sequence[Any] | None = None,
    languages: Sequence[Any] | None = None,
    settings: ModelSettings | None = None,
    *,
    created_at: str | None = None,
) -> SentimentModel:
    """Fit the model on rated texts (:func:`training_set`, then :func:`fit`)."""
    return fit(training_set(texts, ratings, scales, languages, settings), created_at=created_at)


def fit(data: TrainingSet, *, created_at: str | None = None) -> SentimentModel:
    """Fit the model on a :class:`TrainingSet` and describe it in its card. A language with
    fewer than ``settings.min_texts`` labelled texts is not modelled (the card lists it
    under ``skipped``)."""
    settings, kept_texts, labels_all, p, rows = data.settings, data.texts, data.labels, data.prepared, data.rows
    card: dict[str, Any] = {
        "format": FORMAT,
        "version": data.version,
        "created_at": created_at or datetime.now(UTC).replace(microsecond=0).isoformat(),
        "labels": "rating 1-2 negative, 3 neutral, 4-5 positive (10-point: <=4, 5-7, >=8)",
        "sentiment": "P(positive) - P(negative); |s| < 0.1 reads neutral, s < 0 negative",
        "settings": settings.as_dict(),
        "languages": {},
        "skipped": {},
    }
    # First every language's vectorisers and split (Python, one core), then all the
    # classifier fits side by side in threads (SGD runs without the GIL): a language's fit
    # on the texts not held out and its refit on all of them are independent, and three
    # calibration folds on two cores leave one idle for a third of each fit on its own.
    jobs: dict[str, _LanguageJob] = {}
    for lang in sorted({r[0] for r in rows}):
        idx = [k for k, code in enumerate(p.languages) if code == lang]
        y = [labels_all[k] for k in idx]
        if len(idx) < settings.min_texts or len(set(y)) < 2:
            card["skipped"][lang] = {"texts": len(idx), "counts": _counts(y), "min_texts": settings.min_texts}
            continue
        words = [p.words[k] for k in idx]
        chars = [p.chars[k] for k in idx]
        lex = p.lexicon[idx]
        lm, x = fit_vectorisers(words, chars, lex, settings)
        mask = _held_out([kept_texts[k] for k in idx], y, settings.held_out)
        jobs[lang] = _LanguageJob(lm, x, np.asarray(y), lex, np.flatnonzero(~mask), np.flatnonzero(mask))
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        measured = {
            lang: pool.submit(fit_classifier, job.x[job.train], job.y[job.train].tolist(), settings)
            for lang, job in jobs.items()
            if job.measurable
        }
        final = {
            lang: pool.submit(fit_classifier, job.x, job.y.tolist(), settings)
            for lang, job in jobs.items()
            if job.refitted(settings)
        }
        classifiers = {lang: (_result(measured.get(lang)), _result(final.get(lang))) for lang in jobs}
    fitted: dict[str, LanguageModel] = {}
    for lang, job in jobs.items():
        lm, y_arr, ho = job.model, job.y, job.held
        on_train, on_all = classifiers[lang]
        held: dict[str, Any] = {}
        if on_train is not None:
            lm.classifier = on_train
            held = {
                "model": figures(y_arr[ho].tolist(), lm.sentiment_of(job.x[ho]).tolist()),
                "rules": figures(y_arr[ho].tolist(), job.lexicon[ho].tolist()),
            }
        lm.classifier = on_all if on_all is not None else on_train
        fitted[lang] = lm
        card["languages"][lang] = {
            "texts": len(y_arr),
            "counts": _counts(y_arr.tolist()),
            "fitted_on": "all texts (refitted after measuring)" if job.refitted(settings) else "the texts not held out",
            "vocabulary_from": "all texts (no labels)",
            "held_out": {"texts": int(len(ho)), "counts": _counts(y_arr[ho].tolist()), **held},
            "top_features": _top(lm),
        }
    return SentimentModel(fitted, card)
