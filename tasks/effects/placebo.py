"""Placebo (permutation) inference for a difference-in-differences with one or a few treated units.

With one treated office the clustered standard error of the two-way fixed-effects fit is
not valid (one treated cluster: its score is estimated from itself). Instead the same
fit is repeated with the treated label moved to the comparison units — each comparison
unit in turn (sets of k units when k are treated), the real treated units left out —
and the spread of these placebo estimates, which had no effect to find, tells how far
the real estimate could be off by chance (Conley & Taber 2011; Abadie, Diamond &
Hainmueller 2010's placebos in space). The rules are documented in
:mod:`tasks.effects.estimators`; :func:`tasks.effects.power.plan_power` reuses the
refits on the KPI history.

In: unit x period cells (unit and period codes, mean, weight) and which cells are
"after"; out: the placebo estimates and :class:`PlaceboInference`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from tasks.effects.twfe import period_dummies, within_demean

MAX_PLACEBOS = 2000  # more placebo assignments than this: a fixed-seed random sample of them
PLACEBO_SEED = 0
POWER_Z = float(stats.norm.ppf(0.80))  # 0.84: the MDE adds it (x se) to the critical value for 80 % power


def min_placebos(alpha: float) -> int:
    """The fewest placebo estimates that allow a two-sided ``1 - alpha`` interval: 1/alpha - 1 (19 at 5 %).

    The real estimate is one of B + 1 exchangeable draws; the smallest attainable p-value is 1/(B + 1),
    so a 5 % test (and a 95 % interval) needs B + 1 >= 20.
    """
    return max(math.ceil(1.0 / alpha - 1e-9) - 1, 1)


def placebo_sets(units: np.ndarray, k: int, max_sets: int = MAX_PLACEBOS, seed: int = PLACEBO_SEED) -> np.ndarray:
    """Placebo treated sets of ``k`` of ``units``: all combinations when at most ``max_sets``, else a
    fixed-seed random sample of ``max_sets`` of them (rows may repeat, which keeps the p-value valid).
    Out: an (n_sets x k) array of units."""
    units = np.asarray(units)
    if math.comb(len(units), k) <= max_sets:
        return np.array(list(itertools.combinations(units, k)), dtype=units.dtype).reshape(-1, k)
    rng = np.random.default_rng(seed)
    if k == 1:
        return np.sort(rng.choice(units, max_sets, replace=False))[:, None]
    return np.sort(np.stack([rng.choice(units, k, replace=False) for _ in range(max_sets)]), axis=1)


def placebo_estimates(
    u: np.ndarray, t: np.ndarray, y: np.ndarray, w: np.ndarray, post: np.ndarray, sets: np.ndarray
) -> np.ndarray:
    """The two-way fixed-effects DiD estimate for each placebo treated set, on the same cells.

    In: per cell its unit ``u``, period ``t``, mean ``y``, weight ``w`` and whether it is
    "after" (``post``); ``sets`` (n_sets x k) of units of ``u``. Out: one estimate per set —
    exactly :func:`tasks.effects.twfe.twfe_did` with ``d = post & (u in set)``, NaN where
    ``d`` is collinear with the fixed effects.

    By Frisch-Waugh-Lovell the estimate is ``d~' W r / (d~' W d~ - a' M^-1 a)``, with ``d~``
    the within-unit demeaned indicator, ``r`` the residual of ``y`` on both fixed effects,
    ``M`` the demeaned period dummies' cross-product and ``a = P' W d~``. Every term is a
    sum over the set's units, so all placebos cost one demeaning and a few sums per unit
    (no refit per placebo).
    """
    uc, units = pd.factorize(u, sort=True)
    tc = pd.factorize(t, sort=True)[0]
    n_units, n_periods = len(units), int(tc.max()) + 1
    z = within_demean(uc, n_units, w, np.column_stack([y, post.astype(float), period_dummies(tc, n_periods)]))
    yd, dd, pdm = z[:, 0], z[:, 1], z[:, 2:]
    m_inv = np.linalg.pinv(pdm.T @ (pdm * w[:, None]))
    resid = yd - pdm @ (m_inv @ (pdm.T @ (w * yd)))
    b = np.bincount(uc, weights=w * dd * dd, minlength=n_units)
    c = np.bincount(uc, weights=w * dd * resid, minlength=n_units)
    a = np.zeros((n_units, n_periods - 1))
    later = tc > 0
    np.add.at(a, (uc[later], tc[later] - 1), (w * dd)[later])  # P' W d~ of each unit's own indicator
    codes = np.searchsorted(np.asarray(units), sets)
    sa = a[codes].sum(axis=1)
    num = c[codes].sum(axis=1)
    den = b[codes].sum(axis=1) - np.einsum("ij,jk,ik->i", sa, m_inv, sa)
    scale = b[codes].sum(axis=1)
    ok = den > 1e-10 * np.maximum(scale, 1e-300)
    return np.where(ok, num / np.where(ok, den, 1.0), np.nan)


@dataclass(frozen=True)
class PlaceboInference:
    """The interval, p-value, se and MDE of an estimate from its placebo distribution.

    ``critical`` is the ``rank``-th largest absolute placebo estimate (rank = floor(alpha (B + 1)));
    the interval is ``estimate +/- critical``; ``se`` the root mean square of the placebo estimates
    (their spread around the null of no effect); ``mde = critical + 0.84 se``.
    """

    estimate: float
    n_placebos: int
    rank: int
    critical: float
    ci_low: float
    ci_high: float
    p_value: float
    se: float
    mde: float


def placebo_inference(estimate: float, placebos: np.ndarray, alpha: float) -> PlaceboInference:
    """Test inversion with exchangeable placebo estimates (non-finite ones left out).

    The p-value is the share of the B + 1 estimates (the placebos and the real one) at least as
    large in absolute value as the real one: ``(1 + #{|placebo| >= |estimate|}) / (B + 1)``; the
    interval holds every effect the same test would not reject, so 0 lies outside it exactly when
    the p-value is at most ``alpha``. Raises ``ValueError`` with fewer than :func:`min_placebos`.
    """
    finite = np.asarray(placebos, float)
    finite = finite[np.isfinite(finite)]
    n = len(finite)
    rank = math.floor(alpha * (n + 1) + 1e-9)
    if rank < 1:
        raise ValueError(
            f"{n} placebo estimate(s) cannot give a {1 - alpha:.0%} interval ({min_placebos(alpha)} needed)"
        )
    size = np.sort(np.abs(finite))[::-1]
    critical = float(size[rank - 1])
    p_value = (1 + int(np.sum(size >= abs(estimate)))) / (n + 1)
    se = float(math.sqrt(np.mean(finite**2)))
    return PlaceboInference(
        estimate=estimate,
        n_placebos=n,
        rank=rank,
        critical=critical,
        ci_low=estimate - critical,
        ci_high=estimate + critical,
        p_value=p_value,
        se=se,
        mde=critical + POWER_Z * se,
    )
