"""Emerging topics: negative feedback that matches no theme, clustered into candidate new themes.

The theme lexicons (``config/themes/``) only find what someone already thought of.
Complaints about something new (a closed car park, a broken Wi-Fi, a new rule) land in
the feedback table with a negative sentiment and an empty ``themes`` column, and no pain
point ever shows them. This module groups those texts and shows each group to the analyst
with its top terms and three (redacted) example texts, as a *candidate* new theme: the
analyst decides whether it becomes a theme with its own keywords.

Method (:func:`emerging_topics`):

1. **Candidates** (:func:`candidate_mask`): rows with a text, an empty ``themes`` column
   and either ``sentiment < 0`` or a low rating: ``rating <= 2`` on the 1-5 scale,
   ``rating <= 4`` on the 0/1-10 scale (``scale`` is the top of the scale; without it a
   rating above 5 can only be on the 10-point scale), the same cut as the text stage uses.
   Their count is the denominator of ``share_negative_unthemed``.
2. **Representation**, per language (the ``language`` column, else
   :func:`tasks.text.analyser.detect_language`): :func:`tasks.text.analyser.normalise` (lower case, ё→е),
   then everything that looks like personal data or an identifier is dropped *before*
   tokenising: redaction placeholders (``[PHONE]``), e-mail addresses, links and any
   whitespace-separated chunk holding a digit. Tokens are runs of letters (a hyphenated
   word is one token: "Wi-Fi" → "wifi"); tokens shorter than three letters and the words
   of the small per-language stop lists below (function words, generic evaluations such
   as "ужасно"/"terrible"/"huono" that say *how bad* but not *what*, and domain words that
   every text shares such as "центр занятости") are dropped; the rest are Snowball stems.
   TF-IDF over stem unigrams and bigrams (sublinear tf, l2-normalised rows, a term must
   occur in at least two distinct texts, so a one-off word such as a surname never
   becomes a feature).
3. **Clustering**, each language separately: stems of different languages never share
   a feature, and each language gets its own number of clusters. Texts with the same
   TF-IDF vector (differing only in stop words, digits, punctuation or words no other
   text uses) are one point, weighted by their number of rows. k-means (scikit-learn;
   rows are l2-normalised, so it is close to cosine k-means) with k chosen by the
   cosine silhouette over k = 2 … K on a fixed random sample of at most 2,000 points
   (ties → the smaller k), K = max(``max_topics``, 8): asking for fewer topics must not
   make the clustering coarser. The chosen solution's centres seed one k-means run on
   all the points. Every random choice uses ``seed``.
4. **From clusters to topics** (the *coherence criterion*). k-means puts every text
   somewhere, splits one topic by its wordings and lumps a small topic in with noise, so
   its clusters are only seeds:

   * a cluster's *anchors* are the words (unigram stems) found in at least half of its
     rows; a cluster without an anchor is a bag of unrelated complaints and is dropped.
     Its *main word* is the anchor most common among all the language's candidates (of
     "парковк", "закр", "ремонт", all in every text of a cluster: "парковк");
   * clusters with the same main word are one topic ("парковку закрыли на ремонт" and
     "до парковки далеко идти" are both about "парковк"); its seeds are their rows that
     hold the main word, and there must be at least *m* of them, where *m* is
     ``min_cluster`` or 0.5 % of the language's candidates if that is more (among
     tens of thousands of texts, a handful sharing a word is chance);
   * assignment: a text holding a topic's main word belongs to that topic (to the
     nearest one, by cosine to the mean of the seeds, when it holds several); any other
     text joins the nearest topic if its cosine similarity is at least 0.25 (the same
     complaint in other words); the rest is noise;
   * the texts no topic took are clustered again (a small topic hidden in a noise
     cluster surfaces once the big topics are out) until a round finds no new main
     word (at most K rounds); a topic found again grows;
   * after the final assignment a topic is kept when it holds at least *m* feedback
     rows and its most widespread word is in at least half of them and in at least *m*
     of them.
5. **Description**: ``top_terms`` are up to eight features ranked by ``p·log(1 + p/q)``
   (``p`` the share of the topic's rows holding the feature, ``q`` its share among all
   the language's candidates: common in the topic and rare elsewhere first, so the main
   word comes first), found in
   at least two rows of the topic; a word is shown once, alone or in a pair;
   each stem is shown as its most frequent surface word among the candidates.
   ``examples`` are three texts with distinct stems closest to the topic's centre,
   passed through :func:`tasks.validate.redaction.redact` *before* being cut to about 200
   characters (a cut could otherwise split a phone number so that redaction no longer
   sees it). ``offices``/``regions`` are counted over the topic's rows.

Known limits: a word counts only if two *different* texts use it, so many copies of one
identical text make no topic on their own; Snowball's Finnish stemmer does not undo
consonant gradation ("pysäköinti" / "pysäköinnin" give two stems) nor split compounds
("pysäköintipaikka"), so such forms join a topic only through their other words. Every
topic is a candidate for a human to judge, never a theme by itself.

Topics are ordered by size (descending), then top terms, then language, and at most
``max_topics`` are returned over all languages. The same frame gives the same topics;
rows are put into a canonical order first, so the order of the input rows does not
matter either.

:func:`topics_markdown` renders the topics for a Prefect markdown artifact (Russian by
default, English on request), saying that the examples are redacted.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import snowballstemmer
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from threadpoolctl import threadpool_limits

from tasks.validate.redaction import redact
from tasks.text.analyser import detect_language, normalise

__all__ = ["EmergingTopic", "candidate_mask", "emerging_topics", "topics_markdown"]

_STEMMERS = {"ru": "russian", "fi": "finnish", "en": "english"}

# Parameters of the method (see the module docstring).
_MIN_K_RANGE = 8  # k-means tries k = 2 … max(max_topics, this), also when fewer topics are asked for
_K_SAMPLE = 2_000  # distinct texts k is chosen on
_N_INIT = 2  # k-means restarts per k on that sample
_CORE_SIMILARITY = 0.25  # a text less similar than this to every topic centre is noise
_ANCHOR_SHARE = 0.5  # an anchor / a topic's main word is in at least this share of its rows
_MIN_SHARE = 0.005  # a topic holds at least this share of its language's candidates (and min_cluster rows)
_MAX_TERMS = 8
_EXAMPLES = 3
_EXAMPLE_CHARS = 200

# --------------------------------------------------------------------------- stop lists
# Function words, generic evaluations and words every employment-service text shares.
# Compared with the normalised surface token (lower case, ё→е, hyphens removed).
_STOP: dict[str, frozenset[str]] = {
    "ru": frozenset(
        """
        и а но да или либо то что чтобы как так же ли бы не ни нет нету уже еще вот вон
        это этот эта эти этого этой этим этих этому тот та те того той тем тех том тому
        все весь вся всех всем всего всеми всю всей сам сама сами само самый
        я мы ты вы он она оно они меня мне мной нас нам нами тебя тебе вас вам вами его ее
        ему ей им их ним ней нем них нему себя себе собой мой моя мое мои моего моей
        моих мою наш наша наше наши нашего нашей ваш ваша ваше ваши свой своя свое свои
        своего своей своих свою кто кого кому чем чего чему где куда когда почему зачем какой
        какая какое какие каких каким который которая которое которые которых
        для без при про под над через после перед около между из изза изпод от до по на
        во со ко об обо за у о в с к
        был была было были быть буду будет будут будем есть является
        очень тоже также только даже просто вообще совсем снова опять всегда никогда
        сейчас теперь тогда потом здесь там тут когдато ктото чтото както гдето
        можно нельзя надо нужно было бы хотя если раз два
        плохо плохой плохая плохое плохие ужасно ужасный ужасная ужасное ужасные кошмар
        отвратительно отвратительный безобразие недоволен недовольна недовольны жаль увы
        хорошо спасибо пожалуйста здравствуйте добрый день сколько можно примите меры разберитесь
        центр центра центре центром занятости цзн кадровый кадрового кадровом
        служба службы службе отзыв отзывы
        """.split()
    ),
    "fi": frozenset(
        """
        ja tai mutta sekä että kun jos niin kuin koska vaan vain myös jo vielä enää nyt sitten
        ei en et emme ette eivät eikä ole oli olen olin ollut olla ovat olisi on
        minä mä minun minulle minua minulla minulta sinä sinun hän hänen hänelle se sen sitä
        siitä siihen sillä ne niiden niitä me meidän meille te teidän he heidän heille
        tämä tämän tätä tässä tästä tuo tuon mikä mitä miksi miten missä mistä mihin kuka
        joka jonka jota jossa josta johon mikään mitään kukaan kaikki kaiken aina koskaan
        kanssa ilman kautta mukaan jälkeen ennen yli alle taas ollenkaan yhtään todella tosi
        takia vuoksi asti saakka luona koko voi voin voisi saa sain saanut pitää pitäisi täytyy
        erittäin liian paljon vähän hyvin huono huonoa huonosti surkea surkeaa kamala kamalaa
        kiitos hei moi korjatkaa
        toimisto toimiston toimistossa toimistoon tetoimisto tetoimiston tetoimistossa
        työvoimatoimisto työvoimatoimiston palvelu palvelun palvelussa palvelua
        """.split()
    ),
    "en": frozenset(
        """
        the and but or nor yet so for not no nor any all some none every each this that these
        those there here what which who whom whose when where why how than then too very just
        only also even still again ever never always really quite
        was were are is be been being am has have had having do does did doing done will would
        shall should can could may might must get got gets getting
        you your yours they them their theirs she her hers him his its our ours we me my mine
        itself myself yourself ourselves themselves
        from with without into onto upon about above below under over after before between
        through during against out off again further once
        bad poor terrible awful horrible worst worse disappointed disappointing useless
        please thanks thank hello fix sort
        office centre center employment jobcentre service services staff
        """.split()
    ),
}

# Every language's text is filtered with all three lists: a short text's language is
# sometimes misread ("... bad" taken for Finnish), and the lists hardly collide (the
# Russian one is Cyrillic; the Finnish and English words are not words of the other).
_STOP_ANY = frozenset().union(*_STOP.values())

# Anything that can carry personal data or an identifier: a placeholder left by
# redaction, an e-mail, a link, a chunk holding a digit (phones, codes, dates, ids).
_PERSONAL_CHUNK = re.compile(r"\[[a-z_]+\]|\S*(?:@|://|www\.|\d)\S*")
_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_SPACES = re.compile(r"\s+")


@dataclass
class EmergingTopic:
    """One candidate new theme.

    ``language`` is "ru", "fi" or "en"; ``size`` the number of feedback rows assigned to
    the topic (see the module docstring); ``top_terms`` up to eight readable words (or
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
    """Which rows are negative feedback that matched no theme (see the module docstring).

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


# --------------------------------------------------------------------------- text → stems


class _Stemmer:
    """Tokens → stems for one language, memoised by token (texts repeat the same words)."""

    def __init__(self, language: str) -> None:
        self.stop = _STOP_ANY
        self._stemmer = snowballstemmer.stemmer(_STEMMERS[language])
        self._memo: dict[str, str] = {}
        self.surface: dict[str, Counter[str]] = {}  # stem -> surface token counts

    def stems(self, text: str, weight: int = 1) -> list[str]:
        cleaned = _PERSONAL_CHUNK.sub(" ", normalise(text))
        out: list[str] = []
        for raw in _TOKEN.findall(cleaned):
            tok = raw.replace("-", "")
            if len(tok) < 3 or tok in self.stop:
                continue
            stem = self._memo.get(tok)
            if stem is None:
                stem = self._stemmer.stemWord(tok)
                self._memo[tok] = stem
            out.append(stem)
            self.surface.setdefault(stem, Counter())[tok] += weight
        return out

    def readable(self, stem: str) -> str:
        counts = self.surface.get(stem)
        if not counts:
            return stem
        # Most frequent surface form; ties → the shortest, then alphabetical.
        return min(counts.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0]


# --------------------------------------------------------------------------- clustering


def _normalised(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def _silhouette(S: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Mean silhouette with cosine distance, from ``S``, the cosine similarities of the rows.

    The same value as ``sklearn.metrics.silhouette_score(X, labels, metric="cosine")``
    (a test checks it) but from one similarity matrix shared by every k: the mean
    distance of each row to each cluster is one matrix product. A row alone in its
    cluster scores 0, as in scikit-learn.
    """
    n = len(labels)
    onehot = np.zeros((n, k), dtype=np.float64)
    onehot[np.arange(n), labels] = 1.0
    counts = onehot.sum(axis=0)
    sums = S @ onehot  # similarity of each row to each cluster, summed
    own_n = counts[labels]
    own_sum = sums[np.arange(n), labels]
    a = (own_n - own_sum) / np.maximum(own_n - 1, 1)  # self (distance 0) left out
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_dist = 1.0 - sums / counts
    mean_dist[:, counts == 0] = np.inf
    mean_dist[np.arange(n), labels] = np.inf
    b = mean_dist.min(axis=1)
    denom = np.maximum(a, b)
    s = np.where((own_n > 1) & (denom > 0), (b - a) / np.where(denom > 0, denom, 1.0), 0.0)
    return float(s.mean())


def _choose_k(X: sparse.csr_matrix, weights: np.ndarray, max_k: int, seed: int) -> tuple[int, np.ndarray | None]:
    """k with the best cosine silhouette on a fixed sample, and that solution's centres."""
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=_K_SAMPLE, replace=False)) if n > _K_SAMPLE else np.arange(n)
    Xs, ws = X[sample], weights[sample]
    S = np.asarray((Xs @ Xs.T).todense(), dtype=np.float64)
    np.fill_diagonal(S, 1.0)  # rows are unit vectors
    np.clip(S, 0.0, 1.0, out=S)
    best: tuple[float, int, np.ndarray | None] = (-np.inf, 1, None)
    for k in range(2, min(max_k, len(sample) - 1) + 1):
        km = KMeans(n_clusters=k, n_init=_N_INIT, max_iter=100, random_state=seed).fit(Xs, sample_weight=ws)
        if len(np.unique(km.labels_)) < 2:
            continue
        score = _silhouette(S, km.labels_, k)
        if score > best[0] + 1e-9:  # ties keep the smaller k
            best = (score, k, km.cluster_centers_)
    return best[1], best[2]


def _kmeans_labels(X: sparse.csr_matrix, weights: np.ndarray, max_k: int, seed: int) -> np.ndarray:
    """k-means label per row, k chosen by the silhouette (one cluster when too few rows)."""
    n = X.shape[0]
    k, centres = _choose_k(X, weights, max_k, seed) if n >= 3 and max_k >= 2 else (1, None)
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    km = KMeans(n_clusters=k, init=centres, n_init=1, max_iter=100, random_state=seed).fit(X, sample_weight=weights)
    return km.labels_.astype(np.int64)


def _row_share(B: sparse.csr_matrix, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per feature, the weighted share of ``rows`` that contain it."""
    total = float(weights[rows].sum())
    return np.asarray(B[rows].T @ weights[rows], dtype=np.float64).ravel() / max(total, 1e-12)


def _centre(X: sparse.csr_matrix, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    c = np.asarray(X[rows].T @ weights[rows], dtype=np.float64).ravel()
    return _normalised(c)


def _top_terms(share: np.ndarray, share_all: np.ndarray, rows: np.ndarray, features: np.ndarray,
               stemmer: _Stemmer) -> list[str]:
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
    clean = _SPACES.sub(" ", redact(text) or "").strip()
    if len(clean) <= _EXAMPLE_CHARS:
        return clean
    cut = clean[: _EXAMPLE_CHARS - 1]
    space = cut.rfind(" ")
    if space > _EXAMPLE_CHARS // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def _seed_topics(X: sparse.csr_matrix, weights: np.ndarray, B: sparse.csr_matrix, rows: np.ndarray,
                 unigram: np.ndarray, share_all: np.ndarray, min_rows: int, max_k: int,
                 seed: int) -> dict[int, np.ndarray]:
    """One round: k-means on ``rows``; the topics it suggests, as main word → seed points.

    A cluster's *anchors* are the words (unigrams) in at least half of its rows; a
    cluster without one is a bag of unrelated complaints. Its *main word* is the anchor
    most common among all the candidates (of "парковк", "закр", "ремонт", all in every
    text of a cluster, "парковк"). Clusters with the same main word are one topic
    (k-means splits a topic by its wordings); its seeds are those clusters' points that
    contain the main word, and there must be ``min_rows`` rows of them.
    """
    labels = _kmeans_labels(X[rows], weights[rows], max_k, seed)
    seeds: dict[int, list[np.ndarray]] = {}
    for lab in range(int(labels.max()) + 1):
        members = rows[labels == lab]
        if not members.size:
            continue
        anchors = np.flatnonzero((_row_share(B, members, weights) >= _ANCHOR_SHARE) & unigram)
        if not anchors.size:
            continue
        main = int(min(anchors, key=lambda f: (-share_all[f], f)))
        seeds.setdefault(main, []).append(members[np.asarray(B[members][:, main].todense()).ravel() > 0])
    out: dict[int, np.ndarray] = {}
    for main, parts in sorted(seeds.items()):
        points = np.unique(np.concatenate(parts))
        if weights[points].sum() >= min_rows:
            out[main] = points
    return out


def _assign(X: sparse.csr_matrix, B: sparse.csr_matrix, mains: list[int], centres: np.ndarray) -> np.ndarray:
    """Topic index per point, -1 for noise.

    A point holding the main word of one or more topics joins the nearest (cosine) of
    those; any other point joins the nearest topic centre if its similarity is at least
    ``_CORE_SIMILARITY`` (a text about the same thing in other words).
    """
    sims = np.asarray(X @ centres.T)
    has_main = np.asarray(B[:, mains].todense()) > 0
    nearest = sims.argmax(axis=1)
    close = sims[np.arange(len(nearest)), nearest] >= _CORE_SIMILARITY
    by_main = np.where(has_main, sims, -np.inf).argmax(axis=1)
    return np.where(has_main.any(axis=1), by_main, np.where(close, nearest, -1))


def _distinct_rows(D: sparse.csr_matrix) -> tuple[np.ndarray, list[int]]:
    """Point id per row of ``D`` (identical rows share one; -1 for an empty row) and the
    first row of each point."""
    D.sort_indices()
    point_of_row = np.full(D.shape[0], -1, dtype=np.int64)
    first: list[int] = []
    seen: dict[tuple[bytes, bytes], int] = {}
    indptr, indices, data = D.indptr, D.indices, D.data
    for r in range(D.shape[0]):
        lo, hi = indptr[r], indptr[r + 1]
        if lo == hi:
            continue
        key = (indices[lo:hi].tobytes(), data[lo:hi].tobytes())
        p = seen.get(key)
        if p is None:
            p = seen[key] = len(first)
            first.append(r)
        point_of_row[r] = p
    return point_of_row, first


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
    stemmer = _Stemmer(language)
    texts = cands["text"].tolist()
    # rows -> distinct texts (the vectoriser's documents, so that ``min_df`` counts
    # distinct texts) -> distinct vectors (the points).
    text_of_row, unique_texts = pd.factorize(cands["text"], sort=False)
    counts = np.bincount(text_of_row, minlength=len(unique_texts))
    docs = [" ".join(stemmer.stems(t, int(c))) for t, c in zip(unique_texts, counts)]
    vectorizer = TfidfVectorizer(
        analyzer="word", token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2),
        min_df=2, sublinear_tf=True, norm="l2", dtype=np.float32,
    )
    try:
        D = vectorizer.fit_transform(docs).tocsr()
    except ValueError:  # no term occurs in two distinct texts
        return []
    point_of_text, first_text = _distinct_rows(D)
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
        found = _seed_topics(X, w, B, remaining, unigram, share_all, min_rows, max_k, seed)
        new = [main for main in found if main not in topics]
        for main, points in found.items():  # a topic found again grows
            topics[main] = np.union1d(topics[main], points) if main in topics else points
        if not new:
            break
        mains = list(topics)
        assigned = _assign(X[remaining], B[remaining], mains, np.vstack([_centre(X, topics[m], w) for m in mains]))
        remaining = remaining[assigned < 0]
    if not topics:
        return []
    # Final assignment of every point to the topics of all rounds.
    mains = list(topics)
    assigned = _assign(X, B, mains, np.vstack([_centre(X, topics[m], w) for m in mains]))

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
        share = _row_share(B, core, w)
        widest = float((share * unigram).max())
        if widest < _ANCHOR_SHARE or widest * size < min_rows - 1e-9:
            continue
        terms = _top_terms(share, share_all, share * size, features, stemmer)
        if not terms:
            continue
        closeness = np.asarray(X[core] @ _centre(X, core, w)).ravel()
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
    """Candidate new themes in a quarter's feedback frame (method: the module docstring).

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
        lang = cands["language"].where(cands["language"].isin(list(_STEMMERS)), None)
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
    for language in sorted(set(cands["_lang"].dropna()) & set(_STEMMERS)):
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
            topics.append(EmergingTopic(
                language=language, size=d.size, top_terms=d.top_terms, examples=d.examples,
                offices=int(offices), regions=regions, share_negative_unthemed=round(d.size / total, 6),
            ))
    topics.sort(key=lambda t: (-t.size, t.top_terms, t.language))
    return topics[:max_topics]


# --------------------------------------------------------------------------- markdown

_LABELS = {
    "ru": {
        "title": "Кандидаты в новые темы",
        "intro": ("Негативные отзывы, не подошедшие ни к одной теме, сгруппированы автоматически по общим словам. "
                  "Это кандидаты: решение о новой теме и её ключевых словах принимает аналитик."),
        "redacted": ("Примеры приведены после удаления персональных данных: телефоны, e-mail, имена и другие "
                     "идентификаторы заменены метками вида [PHONE], [EMAIL], [NAME]."),
        "none": ("Кандидатов в новые темы нет: все негативные отзывы отнесены к существующим темам "
                 "или не образуют групп."),
        "cols": ("№", "Язык", "Отзывов", "Доля негатива без темы", "Ключевые слова", "Офисов", "Регионы"),
        "examples": "Примеры (обезличены)",
        "lang": {"ru": "рус.", "fi": "фин.", "en": "англ."},
    },
    "en": {
        "title": "Candidate new themes",
        "intro": ("Negative feedback that matched no theme, grouped automatically by shared words. "
                  "These are candidates: the analyst decides whether one becomes a theme and with which keywords."),
        "redacted": ("Examples are redacted: phone numbers, e-mail addresses, names and other identifiers are "
                     "replaced by placeholders such as [PHONE], [EMAIL], [NAME]."),
        "none": "No candidate new themes: all negative feedback matched an existing theme or formed no group.",
        "cols": ("#", "Language", "Texts", "Share of unthemed negative", "Top terms", "Offices", "Regions"),
        "examples": "Examples (redacted)",
        "lang": {"ru": "Russian", "fi": "Finnish", "en": "English"},
    },
}

_MD_SPECIAL = re.compile(r"([\\`*_<>|~])")


def _md(text: object) -> str:
    """One line of plain text safe inside a table cell or a quote (no markup, no HTML, no links)."""
    s = _SPACES.sub(" ", str(text)).strip()
    s = _MD_SPECIAL.sub(r"\\\1", s).replace("](", "]\\(")
    return "\\" + s if s.startswith(("#", "-", "+", "=")) else s


def topics_markdown(topics: list[EmergingTopic], *, lang: str = "ru") -> str:
    """A markdown block "Candidate new themes" for a Prefect artifact.

    A table (language, size, share of negative unthemed feedback, top terms, offices,
    regions), then each topic's examples as quotes, with a note that they are redacted.
    ``lang``: "ru" (default) or "en". Examples are passed through ``redact`` again, so
    even a hand-built topic cannot put personal data into the artifact.
    """
    if lang not in _LABELS:
        raise ValueError(f"lang must be one of {sorted(_LABELS)}, not {lang!r}")
    lab = _LABELS[lang]
    lines = [f"## {lab['title']}", ""]
    if not topics:
        return "\n".join([*lines, lab["none"], ""])
    lines += [lab["intro"], "", f"*{lab['redacted']}*", ""]
    cols = lab["cols"]
    lines += ["| " + " | ".join(cols) + " |", "|---:|---|---:|---:|---|---:|---|"]
    for n, t in enumerate(topics, 1):
        share = f"{100 * t.share_negative_unthemed:.1f} %"
        if lang == "ru":
            share = share.replace(".", ",")  # decimal comma, as in the reports
        lines.append(
            f"| {n} | {lab['lang'].get(t.language, _md(t.language))} | {t.size} | {share} | "
            f"{_md(', '.join(t.top_terms))} | {t.offices} | {_md(', '.join(t.regions)) or '—'} |"
        )
    for n, t in enumerate(topics, 1):
        lines += ["", f"**{n}. {_md(', '.join(t.top_terms[:3]))}** — {lab['examples']}:", ""]
        for ex in t.examples:
            lines += [f"> {_md(redact(ex) or '')}", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":  # pragma: no cover - throughput check: python -m tasks.text.topics [n]
    import random
    import sys
    import time

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    rng = random.Random(7)
    # Planted subjects (first clause names it, a second clause varies) and noise made of
    # pseudo-words from a vocabulary that grows with n, so that noise stays noise.
    planted = {
        "ru": (["парковка всегда забита", "возле здания нет парковки", "парковку закрыли на ремонт",
                "на парковке нет мест", "до парковки далеко идти"],
               ["машину оставить негде", "опоздал на приём", "получил штраф", "кружил полчаса", "дворы заставлены"]),
        "fi": (["pysäköinti on aina täynnä", "pysäköintiä ei ole asiakkaille", "pysäköinti on maksullista"],
               ["myöhästyin tapaamisesta", "sain sakon", "autolle ei löytynyt paikkaa"]),
        "en": (["the wifi does not work", "no wifi in the waiting area", "nobody knows the wifi password"],
               ["could not check my email", "had to come back the next day", "my phone had no signal"]),
    }
    syllables = {"ru": "ба ве ги до ку ла ме ни по ру са те фи хо цу ча ша ю кра сто мли зве про гру".split(),
                 "fi": "ka ve ri to su la me ni po ru sa te fi ho ju ta lo mi ne pa ko ä ö".split(),
                 "en": "ka ve ri to su la me ni po ru sa te fi ho ju ta lo mi ne pa ko th sh".split()}
    vocab = {lang: sorted({"".join(rng.choice(syl) for _ in range(rng.randint(3, 5))) for _ in range(size)})
             for (lang, syl), size in zip(syllables.items(), (12_000, 4_000, 4_000))}
    rows = []
    for i in range(n):
        lang = rng.choices(["ru", "fi", "en"], weights=[6, 2, 2])[0]
        if rng.random() < 0.4:
            first, more = planted[lang]
            text = rng.choice(first) + (", " + rng.choice(more) if rng.random() < 0.7 else "") + f" ({i % 97})"
        else:
            text = " ".join(rng.sample(vocab[lang], 5))
        office = rng.choice(["52-01", "52-02", "66-01", "77-01"])
        rows.append({"id": i, "office_code": office, "region_code": office[:2], "text": text, "language": lang,
                     "sentiment": -0.5, "themes": "", "rating": None, "scale": None})
    frame = pd.DataFrame(rows)
    emerging_topics(frame.head(2_000))  # imports and first-call set-up outside the clock
    t0 = time.perf_counter()
    found = emerging_topics(frame)
    dt = time.perf_counter() - t0
    print(f"{n:,} candidate texts ({frame['text'].nunique():,} distinct) in {dt:.2f} s: {n / dt:,.0f} texts/s; "
          f"{len(found)} topics")
    for t in found:
        print(f"  {t.language} {t.size:>7,} {t.share_negative_unthemed:6.1%}  {', '.join(t.top_terms)}")
