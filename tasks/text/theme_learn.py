"""Analysts teach themes, part 3: per-theme classifiers on the gold labels, used only
where they beat the rules.

For each theme, :func:`train_theme_model` fits a logistic regression on the labelled
texts (table ``text_label``, :mod:`tasks.text.review_io`) with three groups of
features: word uni- and bigrams and character 2-5-grams within words (TF-IDF,
sublinear), plus the rules' decision for that theme (1 if
:func:`tasks.text.analyser.analyse` names it) as one more column. The rules are thus a
feature the model can lean on and correct, not something it must learn from scratch.

Whether a theme's classifier is *used* is decided on the same labels: stratified
K-fold cross-validation gives out-of-fold predictions for every labelled text, whose
F1 against the analyst's labels is compared with the F1 of the rules' decisions on the
same texts. A theme is *learned* only if it has at least ``min_positives`` positive
labels (and at least ``folds`` negative ones) and its model's F1 exceeds the rules'
by more than ``min_gain``; otherwise the rules stand for that theme and no model is
kept. The learned themes' models are then refitted on all the labels.

The artefact (:func:`save_theme_model`, :func:`load_theme_model`) is a folder with
``themes.joblib`` (the learned themes' pipelines) and ``card.json`` (per theme: n,
positives, rules F1, model F1, used yes/no; the settings; the scikit-learn version;
the joblib file's sha256, checked on load). Everything is deterministic: fixed fold
seed, a deterministic solver, sorted themes, no timestamps.
:func:`apply_theme_model` replaces, for the learned themes only, the rules' decision
on :class:`tasks.text.analyser.TextAnalysis` objects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxloop.files import file_sha256
from tasks.text.analyser import TextAnalysis

__all__ = [
    "ThemeModel",
    "apply_theme_model",
    "gold_labels",
    "load_theme_model",
    "save_theme_model",
    "theme_probabilities",
    "train_from_gold",
    "train_from_store",
    "train_theme_model",
]

CARD_FILE = "card.json"
MODEL_FILE = "themes.joblib"
FORMAT = 1


@dataclass
class ThemeModel:
    """Learned themes' pipelines and the card saying, per theme, why it is (not) used."""

    pipelines: dict[str, Any] = field(default_factory=dict)  # theme id -> fitted sklearn Pipeline
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def learned(self) -> list[str]:
        return sorted(self.pipelines)

    def apply(self, analyses: Sequence[TextAnalysis], texts: Sequence[str]) -> list[TextAnalysis]:
        """:func:`apply_theme_model` with this model (``theme_model=`` of :func:`tasks.text.analyser.analyse`)."""
        return apply_theme_model(analyses, texts, self)


def _pipeline(seed: int) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    features = ColumnTransformer(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True), "text"),
            (
                "chars",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True),
                "text",
            ),
            ("rules", "passthrough", ["rule"]),
        ]
    )
    model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000, solver="liblinear", random_state=seed)
    return Pipeline([("features", features), ("model", model)])


def _frame(texts: Sequence[str], rule: Sequence[int] | np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"text": [t if isinstance(t, str) else "" for t in texts], "rule": np.asarray(rule, dtype=float)}
    )


def _f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    tp = int(np.sum(truth & predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    return 0.0 if tp == 0 else round(2 * tp / (2 * tp + fp + fn), 4)


def train_theme_model(
    texts: Sequence[str],
    rule_themes: Sequence[set[str] | frozenset[str]],
    gold_themes: Sequence[set[str] | frozenset[str]],
    themes: Sequence[str],
    *,
    folds: int = 5,
    min_positives: int = 15,
    min_gain: float = 0.0,
    seed: int = 0,
) -> ThemeModel:
    """Train and judge one classifier per theme of ``themes`` (see the module docstring).

    ``texts`` are the labelled (redacted) texts, ``rule_themes`` the rules' themes of
    each (:func:`tasks.text.analyser.analyse`), ``gold_themes`` the analyst's.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    n = len(texts)
    if not (len(rule_themes) == len(gold_themes) == n):
        raise ValueError("texts, rule_themes and gold_themes must have the same length")
    if folds < 2:
        raise ValueError(f"at least 2 folds are needed, not {folds}")
    model = ThemeModel()
    per_theme: dict[str, dict[str, Any]] = {}
    for theme in sorted(themes):
        truth = np.array([theme in g for g in gold_themes], dtype=bool)
        rule = np.array([theme in r for r in rule_themes], dtype=bool)
        positives = int(truth.sum())
        entry: dict[str, Any] = {
            "n": n,
            "positives": positives,
            "rules_f1": _f1(truth, rule),
            "model_f1": None,
            "used": False,
            "why": "",
        }
        per_theme[theme] = entry
        if positives < min_positives:
            entry["why"] = f"fewer than {min_positives} positive labels"
            continue
        if n - positives < folds:
            entry["why"] = f"fewer than {folds} negative labels"
            continue
        X = _frame(texts, rule.astype(int))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        predicted = cross_val_predict(_pipeline(seed), X, truth.astype(int), cv=splitter).astype(bool)
        entry["model_f1"] = _f1(truth, predicted)
        if entry["model_f1"] > entry["rules_f1"] + min_gain:
            entry["used"] = True
            entry["why"] = "model F1 beats the rules'"
            model.pipelines[theme] = _pipeline(seed).fit(X, truth.astype(int))
        else:
            entry["why"] = "the rules are at least as good"
    import sklearn

    model.card = {
        "format": FORMAT,
        "kind": "theme classifiers (logistic regression: word 1-2-grams, char 2-5-grams, rules' hit)",
        "labelled_texts": n,
        "settings": {"folds": folds, "min_positives": min_positives, "min_gain": min_gain, "seed": seed},
        "sklearn": sklearn.__version__,
        "learned": model.learned,
        "themes": per_theme,
    }
    return model


def theme_probabilities(
    analyses: Sequence[TextAnalysis], texts: Sequence[str], model: ThemeModel
) -> list[dict[str, float]]:
    """Per text, the probability of each learned theme (empty for a text without language)."""
    out: list[dict[str, float]] = [{} for _ in texts]
    rows = [i for i, a in enumerate(analyses) if a.language is not None]
    if not rows or not model.pipelines:
        return out
    for theme, pipeline in sorted(model.pipelines.items()):
        X = _frame([texts[i] for i in rows], [int(theme in analyses[i].themes) for i in rows])
        for i, p in zip(rows, pipeline.predict_proba(X)[:, 1], strict=True):
            out[i][theme] = round(float(p), 6)
    return out


def apply_theme_model(analyses: Sequence[TextAnalysis], texts: Sequence[str], model: ThemeModel) -> list[TextAnalysis]:
    """The analyses with the learned themes decided by their classifiers.

    For a learned theme, a text the model says mentions it gets the theme (with the
    text's sentiment as the theme's sentiment, if the rules had not named it), and a
    text the model says does not loses it. Other themes, and texts without a language,
    keep the rules' reading. The input objects are not changed (the analyser memoises
    them): changed texts get new :class:`TextAnalysis` objects.
    """
    if len(analyses) != len(texts):
        raise ValueError("analyses and texts must have the same length")
    probabilities = theme_probabilities(analyses, texts, model)
    out: list[TextAnalysis] = []
    for analysis, probs in zip(analyses, probabilities, strict=True):
        themes = set(analysis.themes)
        sentiments = dict(analysis.theme_sentiment)
        for theme, p in probs.items():
            if p >= 0.5 and theme not in themes:
                themes.add(theme)
                sentiments[theme] = analysis.sentiment
            elif p < 0.5 and theme in themes:
                themes.discard(theme)
                sentiments.pop(theme, None)
        if themes == analysis.themes:
            out.append(analysis)
        else:
            out.append(replace(analysis, themes=themes, theme_sentiment=dict(sorted(sentiments.items()))))
    return out


def save_theme_model(model: ThemeModel, folder: Path | str) -> Path:
    """Write ``themes.joblib`` and ``card.json`` into ``folder`` (created if needed)."""
    import joblib

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(dict(sorted(model.pipelines.items())), folder / MODEL_FILE, compress=3)
    card = dict(model.card, model_sha256=file_sha256(folder / MODEL_FILE))
    (folder / CARD_FILE).write_text(
        json.dumps(card, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    model.card = card
    return folder


def load_theme_model(folder: Path | str) -> ThemeModel:
    """The model :func:`save_theme_model` wrote. Raises ``ValueError`` for a folder
    without the two files, another format, or a joblib file that is not the one the
    card names (joblib runs code when loading: load only folders you trained)."""
    import joblib

    folder = Path(folder)
    card_path, model_path = folder / CARD_FILE, folder / MODEL_FILE
    if not card_path.is_file() or not model_path.is_file():
        raise ValueError(f"{folder}: not a theme model folder (needs {CARD_FILE} and {MODEL_FILE})")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{card_path}: unreadable card ({exc})") from None
    if card.get("format") != FORMAT:
        raise ValueError(f"{card_path}: format {card.get('format')!r}, expected {FORMAT}")
    if card.get("model_sha256") != file_sha256(model_path):
        raise ValueError(f"{model_path}: not the file the card was written with (sha256 differs)")
    pipelines = joblib.load(model_path)
    if sorted(pipelines) != sorted(card.get("learned", [])):
        raise ValueError(f"{folder}: the card's learned themes differ from the saved models")
    return ThemeModel(pipelines=dict(pipelines), card=card)


def gold_labels(session: Any) -> pd.DataFrame:
    """The stored gold labels with their texts: ``feedback_id``, ``text``, ``themes``
    (a set of theme ids), ``sentiment``, ordered by feedback id."""
    from sqlmodel import select

    from models.tables import Feedback, TextLabel

    rows = session.exec(
        select(TextLabel.feedback_id, Feedback.text, TextLabel.themes, TextLabel.sentiment)
        .join(Feedback, Feedback.id == TextLabel.feedback_id)  # type: ignore[arg-type]
        .order_by(TextLabel.feedback_id)  # type: ignore[arg-type]
    ).all()
    return pd.DataFrame(
        {
            "feedback_id": [int(r[0]) for r in rows],
            "text": [r[1] or "" for r in rows],
            "themes": [frozenset(t for t in (r[2] or "").split(",") if t) for r in rows],
            "sentiment": [r[3] for r in rows],
        }
    )


def train_from_store(session: Any, config: Any, **settings: Any) -> ThemeModel:
    """:func:`train_theme_model` on every stored gold label, with the rules' themes
    read again by the current configuration (``config``: a :class:`cxloop.config.AppConfig`)."""
    return train_from_gold(gold_labels(session), config, **settings)


def train_from_gold(gold: pd.DataFrame, config: Any, **settings: Any) -> ThemeModel:
    """:func:`train_theme_model` on the labels of :func:`gold_labels`, the rules' themes read
    by ``config``."""
    from tasks.text.analyser import analyse

    texts = gold["text"].tolist()
    rules = [a.themes for a in analyse(texts, config)]
    return train_theme_model(texts, rules, gold["themes"].tolist(), list(config.themes), **settings)
