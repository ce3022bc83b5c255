"""Learned sentiment model: a linear model per language, trained on rated feedback texts.

Labels come from the ratings (:func:`rating_label`: 1-2 negative, 3 neutral, 4-5 positive on
the 5-point scale; ≤4 / 5-7 / ≥8 on the 10-point one). Per language with at least
``min_texts`` rated texts, the features of a text are

* TF-IDF of word stems and stem bigrams, a stem in a negator's scope marked ``¬``
  (:class:`tasks.text.polarity.Featuriser`, the negators of ``sentiment.yaml``);
* TF-IDF of character 2-5-grams inside words (spelling variants, unknown inflections);
* the rules' own sentiment (:func:`tasks.text.analyser.analyse`): the size of its positive
  part, the size of its negative part and whether it is exactly 0;

and the classifier a linear SVM fitted by averaged SGD (``ModelSettings.classifier``: also
liblinear's SVM or a logistic regression), calibrated by sigmoid on a fixed
3-fold cross-validation (:class:`sklearn.calibration.CalibratedClassifierCV`). A text's
sentiment is ``P(positive) − P(negative)`` in [-1, 1], so that ``|s| < 0.1`` reads neutral
and ``s < 0`` negative, like the rules' score. Languages with fewer rated texts keep the
rules' score. Every random choice has a fixed seed: the same data give the same model.

:func:`train` fits and measures the model (held-out figures in the model card,
:func:`tasks.text.model_train.train`); :func:`apply_model` puts its sentiment into the rules'
:class:`~tasks.text.analyser.TextAnalysis` objects; :meth:`SentimentModel.explain` says
which words of a text pushed it which way. Saving, loading and the active model:
:mod:`tasks.text.model_store`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp

from tasks.text.analyser import TextAnalysis, analyse, rating_polarity
from tasks.text.language import detect_normalised
from tasks.text.normalise import TOKEN_RE, normalise
from tasks.text.polarity import Featuriser, featuriser

__all__ = [
    "MIN_TEXTS",
    "NEUTRAL_BAND",
    "LanguageModel",
    "ModelSettings",
    "Prepared",
    "SentimentModel",
    "apply_model",
    "char_tfidf",
    "fit_classifier",
    "fit_language",
    "fit_vectorisers",
    "prepare",
    "rating_label",
]

MIN_TEXTS = 500  # rated texts a language needs to be modelled
NEUTRAL_BAND = 0.1  # |s| below this reads neutral (tools.text_eval.NEUTRAL_BAND)
CLASSES = (-1, 0, 1)


@dataclass(frozen=True)
class ModelSettings:
    """What a training run is given besides the data; part of the model's version id."""

    min_texts: int = MIN_TEXTS
    held_out: float = 0.2  # share of each class kept out of fitting to measure the model
    classifier: str = "sgd"  # "sgd": linear SVM by averaged SGD; "svm": by liblinear; "logreg": logistic
    alpha: float = 1e-4  # regularisation of "sgd"
    tol: float = 1e-3  # "sgd" stops once 5 epochs in a row improve its training loss by less than this
    c: float = 1.0  # inverse regularisation strength of "svm" and "logreg"
    lexicon_weight: float = 1.0  # scale of the rules' score columns against the TF-IDF rows
    word_max_features: int = 50_000
    char_max_features: int = 100_000
    min_df: int = 2
    calibration_folds: int = 3
    seed: int = 20240601
    refit: bool = True  # the saved model is refitted on all texts after measuring ...
    refit_below: int = 20_000  # ... in a language with fewer labelled texts than this

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rating_label(rating: Any, scale: Any = None) -> int | None:
    """-1 / 0 / +1 for a low / middle / high rating, ``None`` for a missing or unreadable one.

    The cut is :func:`tasks.text.analyser.rating_polarity`'s: a middle rating (3 of 5,
    5-7 of 10) is the neutral class.
    """
    try:
        r = float(rating)
    except (TypeError, ValueError):
        return None
    if math.isnan(r) or math.isinf(r):
        return None
    return rating_polarity(r, scale)


@dataclass
class Prepared:
    """Texts read once for the model: language, negation-marked stem string, normalised
    text and the rules' sentiment, in input order."""

    languages: list[str | None]
    words: list[str]
    chars: list[str]
    lexicon: np.ndarray  # the rules' sentiment per text


_FEATURISERS: dict[int, Featuriser] = {}


def _featuriser() -> Featuriser:
    # one per process: the negators of the configured sentiment lexicon
    f = _FEATURISERS.get(0)
    if f is None:
        f = _FEATURISERS[0] = featuriser(None)
    return f


def prepare(
    texts: Sequence[str],
    rules: Sequence[TextAnalysis] | None = None,
    languages: Sequence[str | None] | None = None,
) -> Prepared:
    """Read ``texts`` for the model; ``rules`` are their analyses by the rules when already
    made (else they are made here), ``languages`` a language per text to use instead of
    the detected one (``None`` entries are detected)."""
    if rules is None:
        # Rated texts repeat (16,414 distinct among a national quarter's 53,877): each
        # distinct text is analysed once; the analysis is a function of the text alone.
        distinct = list(dict.fromkeys(t for t in texts if isinstance(t, str)))
        by_text = dict(zip(distinct, analyse(distinct), strict=True))
        rules = [by_text[t] if isinstance(t, str) else TextAnalysis(language=None) for t in texts]
    feat = _featuriser()
    langs: list[str | None] = []
    words: list[str] = []
    chars: list[str] = []
    made: dict[tuple[str, str | None, str | None], tuple[str | None, str, str]] = {}
    for k, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            langs.append(None)
            words.append("")
            chars.append("")
            continue
        given = languages[k] if languages is not None else None
        key = (text, given, rules[k].language)
        features = made.get(key)
        if features is None:
            features = made[key] = _features(feat, text, given, rules[k].language)
        langs.append(features[0])
        words.append(features[1])
        chars.append(features[2])
    lexicon = np.array([float(r.sentiment or 0.0) for r in rules], dtype=np.float64)
    return Prepared(langs, words, chars, lexicon)


def _features(feat: Featuriser, text: str, given: str | None, ruled: str | None) -> tuple[str | None, str, str]:
    """One text's language (``given``, else the rules', else detected), its negation-marked
    stems and its words of letters, as :func:`prepare` lists them."""
    norm = normalise(text)
    tokens = TOKEN_RE.findall(norm)
    lang = given or ruled or detect_normalised(norm, tokens)
    if lang is None:
        return None, "", ""
    return lang, " ".join(f for f, _ in feat(lang, tokens)), " ".join(t for t in tokens if t[0].isalpha())


def _lexicon_columns(scores: np.ndarray, weight: float) -> sp.csr_matrix:
    cols = np.column_stack([np.maximum(scores, 0.0), np.maximum(-scores, 0.0), (scores == 0.0).astype(np.float64)])
    return sp.csr_matrix(cols * weight)


@dataclass
class LanguageModel:
    """The fitted parts of one language: two vectorisers and the calibrated classifier."""

    word: Any  # TfidfVectorizer over the negation-marked stems (1-2-grams)
    char: Any  # TfidfVectorizer over character 2-5-grams inside words (char_ngrams)
    classifier: Any  # CalibratedClassifierCV(LogisticRegression)
    lexicon_weight: float

    def matrix(self, words: Sequence[str], chars: Sequence[str], lexicon: np.ndarray) -> sp.csr_matrix:
        return sp.hstack(
            [self.word.transform(words), char_tfidf(self.char, chars), _lexicon_columns(lexicon, self.lexicon_weight)],
            format="csr",
        )

    def sentiment(self, words: Sequence[str], chars: Sequence[str], lexicon: np.ndarray) -> np.ndarray:
        """P(positive) − P(negative) per text (a missing class has probability 0)."""
        if not len(words):
            return np.zeros(0)
        return self.sentiment_of(self.matrix(words, chars, lexicon))

    def sentiment_of(self, x: sp.csr_matrix) -> np.ndarray:
        """:meth:`sentiment` of rows already made by :meth:`matrix`."""
        proba = self.classifier.predict_proba(x)
        classes = list(self.classifier.classes_)
        pos = proba[:, classes.index(1)] if 1 in classes else 0.0
        neg = proba[:, classes.index(-1)] if -1 in classes else 0.0
        return np.clip(np.asarray(pos - neg, dtype=np.float64), -1.0, 1.0)

    def feature_names(self) -> list[str]:
        return (
            [f"w:{n}" for n in self.word.get_feature_names_out()]
            + [f"c:{n}" for n in self.char.get_feature_names_out()]
            + ["lexicon:positive", "lexicon:negative", "lexicon:zero"]
        )

    def weights(self) -> np.ndarray:
        """Per feature, how much it pushes towards positive rather than negative: the
        difference of the two classes' coefficients, averaged over the calibration folds."""
        rows = []
        for cal in self.classifier.calibrated_classifiers_:
            est = cal.estimator
            coef = est.coef_
            classes = list(est.classes_)
            if coef.shape[0] == 1:  # binary: the coefficients favour classes[1], the higher label
                w = coef[0]
            else:
                pos = coef[classes.index(1)] if 1 in classes else 0.0
                neg = coef[classes.index(-1)] if -1 in classes else 0.0
                w = pos - neg
            rows.append(np.asarray(w, dtype=np.float64))
        return np.mean(rows, axis=0)


CHAR_NGRAMS = (2, 5)


@lru_cache(maxsize=1 << 16)
def _word_char_ngrams(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    grams: list[str] = []
    for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1):
        grams.extend(padded[k : k + n] for k in range(max(1, len(padded) - n + 1)))
        if len(padded) <= n:  # a short word is counted once, at its full length
            break
    return tuple(grams)


def char_ngrams(doc: str) -> list[str]:
    """scikit-learn's ``char_wb`` analyser with ``ngram_range=(2, 5)`` (each word padded
    with a space, its 2- to 5-grams), the same features in the same order, but each
    distinct word's n-grams made once and kept (feedback repeats its words: 4.0 instead of
    7.1 s to fit on a national quarter's 60,072 texts). A module-level function, so that
    a saved model finds it again."""
    out: list[str] = []
    for word in doc.split():
        out.extend(_word_char_ngrams(word))
    return out


def char_tfidf(vectoriser: Any, docs: Sequence[str]) -> sp.csr_matrix:
    """``vectoriser.transform(docs)`` of a fitted character vectoriser (``analyzer=char_ngrams``),
    the same matrix to the bit, ~4× faster: each distinct word's n-grams are looked up in the
    vocabulary once and the counts summed in one sparse step, where scikit-learn looks up
    every n-gram of every text (5.9 s for a national quarter's 57,000 Russian texts). Then
    the vectoriser's own weighting, in its order: sublinear tf, idf, row norm."""
    from sklearn.preprocessing import normalize

    vocabulary = vectoriser.vocabulary_
    if not len(docs):
        return sp.csr_matrix((0, len(vocabulary)), dtype=np.float64)
    known: dict[str, np.ndarray] = {}
    parts: list[np.ndarray] = []
    lengths = np.zeros(len(docs), dtype=np.int64)
    for k, doc in enumerate(docs):
        n = 0
        for word in doc.split():
            cols = known.get(word)
            if cols is None:
                grams = _word_char_ngrams(word)
                cols = known[word] = np.fromiter((vocabulary[g] for g in grams if g in vocabulary), dtype=np.int32)
            parts.append(cols)
            n += len(cols)
        lengths[k] = n
    cols = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    rows = np.repeat(np.arange(len(docs), dtype=np.int32), lengths)
    shape = (len(docs), len(vocabulary))
    x = sp.coo_matrix((np.ones(len(cols), dtype=np.float64), (rows, cols)), shape=shape).tocsr()
    x.sum_duplicates()  # canonical: sorted column indices, repeated n-grams counted together
    if vectoriser.sublinear_tf:
        np.log(x.data, x.data)
        x.data += 1.0
    x.data *= vectoriser.idf_[x.indices]
    if vectoriser.norm is not None:
        x = normalize(x, norm=vectoriser.norm, copy=False)
    return x


def fit_vectorisers(
    words: Sequence[str], chars: Sequence[str], lexicon: np.ndarray, settings: ModelSettings
) -> tuple[LanguageModel, sp.csr_matrix]:
    """One language's model with its word and character TF-IDF vectorisers fitted (no labels
    used; the classifier still ``None``), and the feature matrix of the texts, in one pass."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    min_df = settings.min_df if len(words) >= 10 * settings.min_df else 1
    word = TfidfVectorizer(
        token_pattern=r"\S+",
        lowercase=False,
        ngram_range=(1, 2),
        min_df=min_df,
        sublinear_tf=True,
        max_features=settings.word_max_features,
        dtype=np.float64,
    )
    char = TfidfVectorizer(
        analyzer=char_ngrams,
        lowercase=False,
        min_df=min_df,
        sublinear_tf=True,
        max_features=settings.char_max_features,
        dtype=np.float64,
    )
    x_word = word.fit_transform(words)
    x_char = char.fit_transform(chars)
    model = LanguageModel(word, char, None, settings.lexicon_weight)
    return model, sp.hstack([x_word, x_char, _lexicon_columns(lexicon, settings.lexicon_weight)], format="csr")


def fit_classifier(x: sp.csr_matrix, labels: Sequence[int], settings: ModelSettings) -> Any:
    """The calibrated linear classifier on a feature matrix (deterministic: fixed seeds)."""
    from joblib import parallel_config
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    y = np.asarray(labels)
    smallest = int(np.min(np.unique(y, return_counts=True)[1]))
    folds = max(2, min(settings.calibration_folds, smallest))
    base: Any
    if settings.classifier == "logreg":
        base = LogisticRegression(C=settings.c, max_iter=2000, class_weight="balanced", random_state=settings.seed)
    elif settings.classifier == "svm":
        base = LinearSVC(C=settings.c, dual=True, max_iter=2000, class_weight="balanced", random_state=settings.seed)
    else:
        base = SGDClassifier(
            loss="hinge",
            alpha=settings.alpha,
            max_iter=50,
            tol=settings.tol,
            class_weight="balanced",
            average=True,
            random_state=settings.seed,
        )
    # The calibration folds are fitted side by side in threads: SGD's epochs run without the
    # GIL, each fold has its own seed, so the result does not depend on the thread count.
    threads = max(1, min(folds, os.cpu_count() or 1))
    classifier = CalibratedClassifierCV(
        base, method="sigmoid", cv=StratifiedKFold(folds, shuffle=True, random_state=settings.seed), n_jobs=threads
    )
    with warnings.catch_warnings(), parallel_config(backend="threading"):
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        classifier.fit(x, y)
    classifier.n_jobs = None  # a saved model says nothing of the machine that fitted it
    return classifier


def fit_language(
    words: Sequence[str], chars: Sequence[str], lexicon: np.ndarray, labels: Sequence[int], settings: ModelSettings
) -> LanguageModel:
    """Fit one language's vectorisers and calibrated classifier (deterministic)."""
    model, x = fit_vectorisers(words, chars, lexicon, settings)
    model.classifier = fit_classifier(x, labels, settings)
    return model


@dataclass
class SentimentModel:
    """The fitted languages and the card that describes them (:func:`tasks.text.model_train.train`)."""

    languages: dict[str, LanguageModel]
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.card.get("version", ""))

    def apply(self, analyses: Sequence[TextAnalysis], texts: Sequence[str]) -> list[TextAnalysis]:
        """:func:`apply_model` with this model (``model=`` of :func:`tasks.text.analyser.analyse`)."""
        return apply_model(analyses, texts, self)

    def sentiments(
        self,
        texts: Sequence[str],
        rules: Sequence[TextAnalysis] | None = None,
        prepared: Prepared | None = None,
    ) -> list[float | None]:
        """The model's sentiment per text, ``None`` where its language is not modelled."""
        p = prepared or prepare(texts, rules)
        out: list[float | None] = [None] * len(p.words)
        for lang, lm in self.languages.items():
            idx = [k for k, code in enumerate(p.languages) if code == lang]
            if not idx:
                continue
            s = lm.sentiment([p.words[k] for k in idx], [p.chars[k] for k in idx], p.lexicon[idx])
            for k, v in zip(idx, s.tolist(), strict=True):
                out[k] = round(float(v), 6)
        return out

    def explain(self, text: str, k: int = 5) -> dict[str, Any]:
        """Why the model scores ``text`` as it does: its sentiment, and the ``k`` features of
        the text pushing most towards positive (``for``) and negative (``against``), each with
        its contribution (feature value × weight). ``w:`` features are stems (``¬`` negated,
        two for a bigram), ``c:`` character n-grams, ``lexicon:`` the rules' score."""
        p = prepare([text])
        lang = p.languages[0]
        lm = self.languages.get(lang or "")
        if lm is None:
            return {"language": lang, "modelled": False, "sentiment": float(p.lexicon[0]), "for": [], "against": []}
        x = lm.matrix(p.words, p.chars, p.lexicon).tocoo()
        names = lm.feature_names()
        w = lm.weights()
        contrib = sorted(
            ((names[j], round(float(v * w[j]), 4)) for j, v in zip(x.col.tolist(), x.data.tolist(), strict=True)),
            key=lambda nv: (-nv[1], nv[0]),
        )
        return {
            "language": lang,
            "modelled": True,
            "sentiment": round(float(lm.sentiment(p.words, p.chars, p.lexicon)[0]), 6),
            "for": [list(c) for c in contrib if c[1] > 0][:k],
            "against": [list(c) for c in reversed(contrib) if c[1] < 0][:k],
        }


def _sign(x: float) -> int:
    return 0 if abs(x) < NEUTRAL_BAND else (1 if x > 0 else -1)


def apply_model(
    analyses: Sequence[TextAnalysis], texts: Sequence[str], model: SentimentModel | None
) -> list[TextAnalysis]:
    """The rules' analyses of ``texts`` with the model's sentiment where the language is modelled.

    New objects are returned (the inputs are left alone); languages and themes stay the rules'.
    Per theme, for a text the model scores:

    * a theme whose own rule score is 0 takes the model's sentiment;
    * when all the themes' rule scores lean one way and the model clearly (|s| ≥ 0.1) says
      the other, the rules misread the text: every theme takes the model's sentiment;
    * themes whose rule scores disagree with each other (praise of one, complaint about
      another: "вежливые сотрудники, но сайт не работает") keep them, as does a theme
      when the model reads the text as neutral.
    """
    if model is None or not model.languages:
        return list(analyses)
    scores = model.sentiments(texts, analyses)
    out: list[TextAnalysis] = []
    for a, s in zip(analyses, scores, strict=True):
        if s is None:
            out.append(a)
            continue
        signs = {1 if v > 0 else -1 for v in a.theme_sentiment.values() if v != 0.0}
        flip = len(signs) == 1 and _sign(s) != 0 and signs != {_sign(s)}
        themes = {t: (s if v == 0.0 or flip else v) for t, v in a.theme_sentiment.items()}
        out.append(replace(a, sentiment=s, themes=set(a.themes), theme_sentiment=themes))
    return out
