"""Clustering for the emerging topics of the text stage (:mod:`tasks.text.topics`).

k-means on TF-IDF rows with k chosen by the cosine silhouette, seeds of topics from
the clusters' anchor words, the assignment of texts to topics, and the small vector
helpers these share (see ``tasks/text/README.md``, emerging topics, steps 3-4).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans

__all__ = ["ANCHOR_SHARE", "assign", "centre", "distinct_rows", "row_share", "seed_topics", "silhouette"]

# Parameters of the method (see ``tasks/text/README.md``).
_K_SAMPLE = 2_000  # distinct texts k is chosen on
_N_INIT = 2  # k-means restarts per k on that sample
_CORE_SIMILARITY = 0.25  # a text less similar than this to every topic centre is noise
ANCHOR_SHARE = 0.5  # an anchor / a topic's main word is in at least this share of its rows


def _normalised(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def silhouette(S: np.ndarray, labels: np.ndarray, k: int) -> float:
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
        score = silhouette(S, km.labels_, k)
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


def row_share(B: sparse.csr_matrix, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per feature, the weighted share of ``rows`` that contain it."""
    total = float(weights[rows].sum())
    return np.asarray(B[rows].T @ weights[rows], dtype=np.float64).ravel() / max(total, 1e-12)


def centre(X: sparse.csr_matrix, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    c = np.asarray(X[rows].T @ weights[rows], dtype=np.float64).ravel()
    return _normalised(c)


def seed_topics(
    X: sparse.csr_matrix,
    weights: np.ndarray,
    B: sparse.csr_matrix,
    rows: np.ndarray,
    unigram: np.ndarray,
    share_all: np.ndarray,
    min_rows: int,
    max_k: int,
    seed: int,
) -> dict[int, np.ndarray]:
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
        anchors = np.flatnonzero((row_share(B, members, weights) >= ANCHOR_SHARE) & unigram)
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


def assign(X: sparse.csr_matrix, B: sparse.csr_matrix, mains: list[int], centres: np.ndarray) -> np.ndarray:
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


def distinct_rows(D: sparse.csr_matrix) -> tuple[np.ndarray, list[int]]:
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
