"""Two-way fixed-effects difference-in-differences on unit x period cells: the weighted
within-unit demeaning both the clustered fit (:mod:`tasks.effects.fits`) and the placebo
refits (:mod:`tasks.effects.placebo`) build on.

In: integer unit and period codes per cell, the cell means and weights. The method and
its standard errors are documented in :mod:`tasks.effects.estimators`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def by_unit(codes: np.ndarray, n: int, values: np.ndarray) -> np.ndarray:
    """Column sums of ``values`` (n_rows x k) within each unit code: (n x k)."""
    return np.stack([np.bincount(codes, weights=values[:, j], minlength=n) for j in range(values.shape[1])], axis=1)


def within_demean(codes: np.ndarray, n: int, w: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``z`` (n_rows x k) minus its weighted mean within each unit code (absorbs the unit effects)."""
    unit_w = np.bincount(codes, weights=w, minlength=n)
    return z - (by_unit(codes, n, z * w[:, None]) / unit_w[:, None])[codes]


def period_dummies(tc: np.ndarray, n_periods: int) -> np.ndarray:
    """Indicator columns of periods 1 .. n_periods - 1 (period 0 is the reference)."""
    x = np.zeros((len(tc), n_periods - 1))
    later = tc > 0
    x[np.flatnonzero(later), tc[later] - 1] = 1.0
    return x


def twfe_did(u: np.ndarray, t: np.ndarray, y: np.ndarray, w: np.ndarray, d: np.ndarray) -> tuple[float, float, int]:
    """WLS ``y ~ d + C(u) + C(t)`` with weights ``w``: the ``d`` coefficient, its CR1 cluster SE (by ``u``), G - 1.

    The unit effects are absorbed by weighted within-unit demeaning; by
    Frisch-Waugh-Lovell the ``d`` coefficient, the residuals and the rows of
    the bread that matter equal those of the dummy-variable fit, so the
    sandwich is the dummy-variable fit's. The CR1 factor counts N as the sum
    of the weights (the observations behind the cells) and K as the
    dummy-variable fit's parameters.
    """
    uc = pd.factorize(u, sort=True)[0]
    tc = pd.factorize(t, sort=True)[0]
    n_units, n_periods = int(uc.max()) + 1, int(tc.max()) + 1
    if n_units < 2:
        raise ValueError("fewer than two units")
    z = within_demean(uc, n_units, w, np.column_stack([y, d, period_dummies(tc, n_periods)]))
    yd, xd = z[:, 0], z[:, 1:]
    xtwx = xd.T @ (xd * w[:, None])
    rank = int(np.linalg.matrix_rank(xtwx))
    if rank == int(np.linalg.matrix_rank(xtwx[1:, 1:])):
        raise ValueError("the treatment indicator is collinear with the unit and period effects")
    bread = np.linalg.pinv(xtwx)
    beta = bread @ (xd.T @ (w * yd))
    resid = yd - xd @ beta
    scores = by_unit(uc, n_units, xd * (w * resid)[:, None])
    cov = bread @ (scores.T @ scores) @ bread
    n_obs = float(w.sum())
    k = n_units + rank  # intercept + (G - 1) unit dummies + the demeaned regressors
    factor = n_units / (n_units - 1) * (n_obs - 1) / max(n_obs - k, 1.0)
    return float(beta[0]), float(math.sqrt(max(cov[0, 0], 0.0) * factor)), n_units - 1
