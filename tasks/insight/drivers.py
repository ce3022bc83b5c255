"""Key-driver analysis: how much each ray of the star drives overall satisfaction.

The survey's optional ``overall`` question (1-10) is the outcome; the five ray
scores of the star (0-100, ``tasks.insight.index.respondent_rays``) are the drivers.
For each group (``by`` x client type, plus ``client_type == "all"`` pooling
citizens and employers) the ordinary least-squares fit

    overall ~ 1 + friendliness + usefulness + effort + personalisation + comfort

is decomposed into the part of its R² each ray accounts for.

Method
    *Shapley decomposition of R²* (also known as LMG, Lindeman-Merenda-Gold,
    or "dominance analysis"): a ray's share is its increase in R² when it is
    added to a model, averaged over all 5! orders in which the rays can enter,
    equivalently over the 2⁵ = 32 subsets S of the other rays with weight
    |S|! (p - |S| - 1)! / p!::

        shapley_r2[j] = Σ_{S ⊆ N∖{j}} w(|S|) · (R²(S ∪ {j}) − R²(S)),   R²(∅) = 0.

    The shares add up exactly to the full model's R² and none is negative
    (adding a regressor never lowers R²), so ``importance = shapley_r2 / r2``
    are shares of the explained variance summing to 1 within a group; unlike
    standardised coefficients they stay meaningful when rays are correlated,
    which they always are (one visit shapes every answer).

    The 32 subset R²s come from one pass over the data: per group, the
    covariance matrix of (rays, outcome) is accumulated (two-pass, centred, so
    a constant column gives an exact zero), turned into a correlation matrix R,
    and for a subset S, R²(S) = r_Sy' R_SS⁻¹ r_Sy — the R² of the OLS fit with
    an intercept on the rays in S. The solves run batched over all groups at
    once (31 batched 1x1...5x5 solves in total), so thousands of offices cost
    about as much as reading the answers.

    *Johnson's relative weights* (Johnson 2000) are added as a cross-check
    (``relative_weight``): the rays are replaced by their closest orthogonal
    counterparts Z (Λ = R_xx^½), the outcome is regressed on Z (β = Λ⁻¹ r_xy),
    and ray j gets Σ_k Λ_jk² β_k². They also add up to R² and usually agree
    with the Shapley values to a point or two of R²; a large disagreement
    means strong collinearity and an importance to read with care.

Which respondents
    The regression uses the respondents of the group who answered the outcome
    *and* have all five rays (a ray exists when at least one of its four items
    was answered, as in the index). Respondents missing a ray are dropped, not
    mean-imputed: imputing the group mean gives the imputed ray no variance for
    those respondents, which shrinks its covariance with the outcome and so its
    importance, by an amount that depends on how often that ray is missing; with
    four items per ray a whole ray is rarely missing, so dropping costs little
    and biases nothing. ``n`` is the number of respondents in the regression.

    ``performance`` is the group's mean ray value (0-100) over *all* its
    respondents with that ray, answered the outcome or not — the same number the
    star shows for a per-type group. For ``client_type == "all"`` it is the
    pooled mean over the group's citizens and employers (weighted by
    respondents, not the composite index's mean of the two types), and the
    regression is one pooled fit, not an average of the two decompositions.

Groups left out (no rows, never an error)
    * fewer than ``min_n`` respondents in the regression (and never fewer than
      p + 2 = 7, below which R² is not defined usefully);
    * fewer than ``min_distinct`` distinct outcome values: a (nearly) constant
      or two-valued answer is not something a linear fit can decompose. The
      default is 5 rather than 10 because the outcome is a 1-10 scale: asking
      for all ten values would drop well-run offices where nobody answers 1 or 2;
    * a singular design: a ray or the outcome without variance, or rays
      collinear (smallest eigenvalue of the rays' correlation matrix below
      1e-9), or an R² of (numerically) zero, where shares are undefined.

Quadrants (importance-versus-performance)
    Relative to the group: a ray is of *high importance* when its importance is
    at least the mean importance of the five rays (exactly 1/5, since the shares
    sum to 1), of *high performance* when its performance is at least the mean
    performance of the five rays. ``fix_first`` = high importance, low
    performance; ``keep_up`` = high, high; ``low_priority`` = low, low;
    ``possible_overkill`` = low importance, high performance.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import factorial

import numpy as np
import pandas as pd

from cxloop.domain import CLIENT_TYPES, COUNTRY_CODE, RAYS
from tasks.insight.index import respondent_rays

P = len(RAYS)
#: The outcome must take at least this many distinct values in a group.
MIN_DISTINCT_OUTCOME = 5
#: Smallest eigenvalue of the rays' correlation matrix below this = singular design.
SINGULAR_EIGENVALUE = 1e-9
#: R² at or below this leaves importance shares undefined.
MIN_R2 = 1e-12

QUADRANTS = ("fix_first", "keep_up", "low_priority", "possible_overkill")
CLIENT_TYPE_ORDER = {"citizen": 0, "employer": 1, "all": 2}
RESULT_COLUMNS = [
    "client_type",
    "ray",
    "importance",
    "shapley_r2",
    "relative_weight",
    "r2",
    "performance",
    "n",
    "quadrant",
]

# Subsets of the P rays as bit masks 0..2^P-1; bit j set = ray j in the model.
_MASKS = range(1, 2**P)
_MASK_INDEX = {m: [j for j in range(P) if m >> j & 1] for m in _MASKS}
#: Shapley weight of a subset of size s not containing the ray: s!(p-s-1)!/p!.
_SHAPLEY_WEIGHT = [factorial(s) * factorial(P - s - 1) / factorial(P) for s in range(P)]


def quadrant(importance: float, performance: float, centre_importance: float, centre_performance: float) -> str:
    """The importance-versus-performance quadrant of one ray (at the centre counts as high)."""
    high_importance = importance >= centre_importance
    high_performance = performance >= centre_performance
    if high_importance:
        return "keep_up" if high_performance else "fix_first"
    return "possible_overkill" if high_performance else "low_priority"


def subset_r2(corr: np.ndarray) -> dict[int, np.ndarray]:
    """R² of the OLS fit (with intercept) on every non-empty subset of the rays.

    ``corr``: (G, P+1, P+1) correlation matrices of (rays..., outcome), one per group.
    Returns bit mask -> (G,) R²; bit j set means ray j is in the model.
    """
    rxx = corr[:, :P, :P]
    rxy = corr[:, :P, P]
    out: dict[int, np.ndarray] = {}
    for mask, idx in _MASK_INDEX.items():
        r_s = rxy[:, idx]
        solution = np.linalg.solve(rxx[:, idx][:, :, idx], r_s[..., None])[..., 0]
        out[mask] = np.einsum("gi,gi->g", r_s, solution)
    return out


def shapley_from_subsets(r2: dict[int, np.ndarray]) -> np.ndarray:
    """(G, P) Shapley values from the subset R²s (``subset_r2``); rows sum to the full R²."""
    some = next(iter(r2.values()))
    phi = np.zeros((some.shape[0], P))
    for j in range(P):
        bit = 1 << j
        for mask in range(2**P):
            if mask & bit:
                continue
            without = r2[mask] if mask else 0.0
            phi[:, j] += _SHAPLEY_WEIGHT[mask.bit_count()] * (r2[mask | bit] - without)
    return phi


def relative_weights(corr: np.ndarray) -> np.ndarray:
    """(G, P) Johnson's raw relative weights (sum to the full R²) from (G, P+1, P+1) correlations."""
    rxx = corr[:, :P, :P]
    rxy = corr[:, :P, P]
    values, vectors = np.linalg.eigh(rxx)
    root = np.einsum("gik,gk,gjk->gij", vectors, np.sqrt(np.clip(values, 0.0, None)), vectors)
    beta = np.linalg.solve(root, rxy[..., None])[..., 0]
    return np.einsum("gjk,gk->gj", root**2, beta**2)


def _group_codes(keys: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Dense group codes in sorted key order, and the key values of each code."""
    codes = keys.groupby(list(keys.columns), sort=True, dropna=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    return codes, keys.iloc[first].reset_index(drop=True)


def _decompose(keys: pd.DataFrame, rays: np.ndarray, y: np.ndarray, *, min_n: int, min_distinct: int) -> pd.DataFrame:
    """Key drivers for every group of ``keys`` (one column per key); rows = ray x group."""
    codes, groups = _group_codes(keys)
    n_groups = len(groups)
    # Performance: each ray's mean over the group's respondents with that ray.
    present = ~np.isnan(rays)
    filled = np.where(present, rays, 0.0)
    performance = np.empty((n_groups, P))
    for j in range(P):
        count = np.bincount(codes, weights=present[:, j], minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            performance[:, j] = np.bincount(codes, weights=filled[:, j], minlength=n_groups) / count

    # Regression sample: the outcome and all five rays present.
    use = ~np.isnan(y) & present.all(axis=1)
    g = codes[use]
    data = np.column_stack([rays[use], y[use]])
    n = np.bincount(g, minlength=n_groups)
    # (float64 even when no respondent qualifies: bincount of empty weights returns integers)
    means = np.stack([np.bincount(g, weights=data[:, k], minlength=n_groups) for k in range(P + 1)], axis=1).astype(
        "float64"
    )
    means /= np.maximum(n, 1)[:, None]
    centred = data - means[g]
    sscp = np.empty((n_groups, P + 1, P + 1))
    for i in range(P + 1):
        for k in range(i, P + 1):
            sscp[:, i, k] = sscp[:, k, i] = np.bincount(g, weights=centred[:, i] * centred[:, k], minlength=n_groups)
    distinct = np.bincount(pd.DataFrame({"g": g, "y": y[use]}).drop_duplicates()["g"].to_numpy(), minlength=n_groups)

    # Which groups can be decomposed (see the module docstring). A variance below 1e-12 of the
    # column's squared mean is rounding noise of a constant column, not information.
    variance = np.diagonal(sscp, axis1=1, axis2=2) / np.maximum(n - 1, 1)[:, None]
    scale = np.maximum(1.0, means**2)
    ok = (n >= max(min_n, P + 2)) & (distinct >= min_distinct) & (variance > 1e-12 * scale).all(axis=1)
    idx = np.flatnonzero(ok)
    sd = np.sqrt(np.diagonal(sscp[idx], axis1=1, axis2=2))
    corr = sscp[idx] / (sd[:, :, None] * sd[:, None, :])
    if len(idx):
        min_eigen = np.linalg.eigvalsh(corr[:, :P, :P])[:, 0]
        keep = min_eigen > SINGULAR_EIGENVALUE
        idx, corr = idx[keep], corr[keep]
    if len(idx):
        r2_subsets = subset_r2(corr)
        r2 = r2_subsets[2**P - 1]
        keep = r2 > MIN_R2
        idx, corr, r2 = idx[keep], corr[keep], r2[keep]
        r2_subsets = {m: v[keep] for m, v in r2_subsets.items()}
    if not len(idx):
        return pd.DataFrame(columns=[*keys.columns, *RESULT_COLUMNS[1:]])
    shapley = shapley_from_subsets(r2_subsets)
    weights = relative_weights(corr)

    perf = performance[idx]
    centre_perf = perf.mean(axis=1)
    importance = shapley / r2[:, None]
    quadrants = [
        quadrant(importance[i, j], perf[i, j], 1.0 / P, centre_perf[i]) for i in range(len(idx)) for j in range(P)
    ]
    out = groups.iloc[np.repeat(idx, P)].reset_index(drop=True)
    out["ray"] = np.tile(np.array(RAYS, dtype=object), len(idx))
    out["importance"] = importance.ravel()
    out["shapley_r2"] = shapley.ravel()
    out["relative_weight"] = weights.ravel()
    out["r2"] = np.repeat(r2, P)
    out["performance"] = perf.ravel()
    out["n"] = np.repeat(n[idx], P).astype("int64")
    out["quadrant"] = quadrants
    return out


def key_drivers(
    answers: pd.DataFrame,
    by: Sequence[str] = (),
    outcome: str = "overall",
    min_n: int = 30,
    *,
    min_distinct: int = MIN_DISTINCT_OUTCOME,
) -> pd.DataFrame:
    """Shapley decomposition of the R² of ``outcome`` over the five rays, per group.

    In: one row per respondent with ``client_type`` (citizen/employer; other
    values are ignored), items F1..C4 (1-5 or missing), the ``outcome`` column
    (missing = not answered) and the ``by`` columns.
    Out: one row per group x client type (citizen, employer, all) x ray, in that
    order, rays in star order, with ``[*by, client_type, ray, importance,
    shapley_r2, relative_weight, r2, performance, n, quadrant]``. Groups that
    cannot be decomposed (too few respondents, too few distinct outcome values,
    singular design) have no rows; see the module docstring for every rule.
    """
    if outcome not in answers.columns:
        raise KeyError(f"outcome column {outcome!r} not in answers")
    return _drivers(*_prepare(answers, outcome), by=list(by), min_n=min_n, min_distinct=min_distinct)


def drivers_for_quarter(
    answers: pd.DataFrame, *, outcome: str = "overall", min_n: int = 30, min_distinct: int = MIN_DISTINCT_OUTCOME
) -> pd.DataFrame:
    """Key drivers of one quarter for the pipeline: every region, then the country.

    In: the quarter's star-survey answers with ``region_code``, ``client_type``,
    items F1..C4 and ``outcome``. Out: the ``key_drivers`` columns with
    ``by=("region_code",)``; the country rows carry ``region_code == "ALL"``.
    Answers without the (optional) outcome column give an empty frame.
    """
    columns = ["region_code", *RESULT_COLUMNS]
    if outcome not in answers.columns:
        return pd.DataFrame(columns=columns)
    prepared = _prepare(answers, outcome)  # the ray scores once for both levels
    region = _drivers(*prepared, by=["region_code"], min_n=min_n, min_distinct=min_distinct)
    country = _drivers(*prepared, by=[], min_n=min_n, min_distinct=min_distinct).assign(region_code=COUNTRY_CODE)
    parts = [p[columns] for p in (region, country) if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _prepare(answers: pd.DataFrame, outcome: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Citizen and employer rows, their ray scores (N, 5) and the outcome (N,), NaN = not answered."""
    data = answers[answers["client_type"].isin(CLIENT_TYPES)]
    rays = respondent_rays(data).to_numpy(dtype="float64")
    y = pd.to_numeric(data[outcome], errors="coerce").to_numpy(dtype="float64", na_value=np.nan, copy=True)
    y[~np.isfinite(y)] = np.nan
    return data, rays, y


def _drivers(
    data: pd.DataFrame, rays: np.ndarray, y: np.ndarray, *, by: list[str], min_n: int, min_distinct: int
) -> pd.DataFrame:
    """``key_drivers`` on prepared data: per client type, then pooled, in the documented order."""
    columns = [*by, *RESULT_COLUMNS]
    if data.empty:
        return pd.DataFrame(columns=columns)
    keys = data[by + ["client_type"]].reset_index(drop=True)
    per_type = _decompose(keys, rays, y, min_n=min_n, min_distinct=min_distinct)
    pooled_keys = data[by].reset_index(drop=True).assign(client_type="all")
    pooled = _decompose(pooled_keys, rays, y, min_n=min_n, min_distinct=min_distinct)
    parts = [p for p in (per_type, pooled) if not p.empty]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    ray_order = {r: i for i, r in enumerate(RAYS)}
    out = out.sort_values(
        [*by, "client_type", "ray"],
        key=lambda s: (
            s.map(CLIENT_TYPE_ORDER) if s.name == "client_type" else (s.map(ray_order) if s.name == "ray" else s)
        ),
        kind="mergesort",
        na_position="last",
    ).reset_index(drop=True)
    out["n"] = out["n"].astype("int64")
    return out[columns]
