"""Synthetic control (Abadie, Diamond & Hainmueller 2010) for a pilot in a single unit: the
cross-check beside the difference-in-differences.

The treated unit's path before the start is reproduced by a weighted average of
comparison units (non-negative weights summing to 1); after the start the gap between
the unit and its synthetic twin is the effect. The rules (when it runs, the penalty, the
donor pool, the placebo p-value) are documented in :mod:`tasks.effects.estimators`.

In: unit x period cells (integer codes ``u``, ``t``, ``value``) of the treated unit and
its comparison units; out: :class:`tasks.effects.results.SyntheticControl`, or the reason
none could be built.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import optimize

from tasks.effects.results import DonorWeight, SyntheticControl, SyntheticPoint

SYNTH_MIN_PRE = 3  # periods before the start the pre-period fit needs
SYNTH_MIN_DONORS = 2
SYNTH_MAX_DONORS = 50  # the donor pool: at most the 50 comparison units closest before the start
SYNTH_PENALTY = 1e-5  # weight of the distance-weighted penalty: only breaks ties between equally good fits
TOP_DONORS = 10
MIN_REPORTED_WEIGHT = 0.001


def synthetic_weights(x1: np.ndarray, x0: np.ndarray, penalty: float = SYNTH_PENALTY) -> np.ndarray:
    """Weights ``w >= 0``, ``sum(w) = 1`` minimising ``|x1 - x0 w|^2 + penalty * sum_j d_j w_j^2``.

    In: the treated unit's pre-period values ``x1`` (T0) and the donors' ``x0`` (T0 x J);
    ``d_j = |x1 - x0_j|^2`` is donor j's own squared distance from the treated unit. With
    more donors than pre periods many combinations fit equally well; the small penalty
    makes the weights unique and, among the good fits, spreads the weight over donors
    close to the treated unit. Both terms are divided by the mean d_j, so the weights do
    not depend on the outcome's units. Solved exactly (and deterministically) as
    non-negative least squares (Lawson-Hanson, :func:`scipy.optimize.nnls`): the penalty
    as J rows ``sqrt(penalty d_j) w_j``, the sum as one heavily weighted row; the weights
    are then rescaled to sum to exactly 1.
    """
    n_donors = x0.shape[1]
    if n_donors == 1:
        return np.ones(1)
    dist = ((x0 - x1[:, None]) ** 2).sum(axis=0)
    scale = float(dist.mean()) or 1.0
    heavy = 1e4
    a = np.vstack([x0 / math.sqrt(scale), np.diag(np.sqrt(penalty * dist / scale)), np.full((1, n_donors), heavy)])
    b = np.concatenate([x1 / math.sqrt(scale), np.zeros(n_donors), [heavy]])
    w, _ = optimize.nnls(a, b)
    return w / w.sum()


def _plain(label: object) -> object:
    """A unit label as a plain Python value (numpy integers from an integer column become int)."""
    return label.item() if isinstance(label, np.generic) else label


def _rmspe(gap: np.ndarray) -> float:
    return float(np.sqrt(np.mean(gap**2)))


def _fit_one(y1: np.ndarray, y0: np.ndarray, pre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights and the synthetic path for one treated series ``y1`` (T) from donors ``y0`` (T x J)."""
    w = synthetic_weights(y1[pre], y0[pre])
    return w, y0 @ w


def synthetic_control(
    cells: pd.DataFrame,
    treated: int,
    donors: Sequence[int],
    start: int,
    labels: np.ndarray,
    fmt: Callable[[int], str | int],
    unit_noun: str = "unit",
) -> SyntheticControl | str:
    """The synthetic control of unit code ``treated`` from the comparison units ``donors``, effect from ``start``.

    In: cells with integer codes ``u``, ``t`` and ``value``; ``labels[u]`` names a unit, ``fmt(t)`` a
    period. The periods are those the treated unit was observed in; donors missing any of them are
    left out; at most :data:`SYNTH_MAX_DONORS` donors, the closest before the start. Out: the result,
    or a sentence saying why there is none (too few periods before the start or donors).
    """
    own = cells[cells["u"] == treated].sort_values("t")
    periods = own["t"].to_numpy()
    pre = periods < start
    if pre.sum() < SYNTH_MIN_PRE or pre.all():
        return (
            f"synthetic control needs {SYNTH_MIN_PRE} periods before the start and one after ({int(pre.sum())} before)"
        )
    wide = cells[cells["u"].isin(list(donors)) & cells["t"].isin(periods)].pivot(index="t", columns="u", values="value")
    wide = wide.reindex(periods).dropna(axis=1)
    n_left_out = len(set(donors)) - wide.shape[1]
    if wide.shape[1] < SYNTH_MIN_DONORS:
        return f"synthetic control: it needs {SYNTH_MIN_DONORS} comparison {unit_noun}s observed in every period"
    y1 = own["value"].to_numpy(float)
    y0 = wide.to_numpy(float)
    codes = wide.columns.to_numpy()
    distance = ((y0[pre] - y1[pre, None]) ** 2).mean(axis=0)
    pool = np.sort(np.argsort(distance, kind="stable")[:SYNTH_MAX_DONORS])
    y0, codes = y0[:, pool], codes[pool]

    w, synth = _fit_one(y1, y0, pre)
    gap = y1 - synth
    pre_rmspe, post_rmspe = _rmspe(gap[pre]), _rmspe(gap[~pre])
    tiny = 1e-12 * (float(np.abs(y0).mean()) or 1.0)
    ratio = post_rmspe / max(pre_rmspe, tiny)
    placebo_ratios = []
    for j in range(len(codes)):  # each donor as the treated unit, the other donors as its pool
        others = np.delete(np.arange(len(codes)), j)
        _, s = _fit_one(y0[:, j], y0[:, others], pre)
        g = y0[:, j] - s
        placebo_ratios.append(_rmspe(g[~pre]) / max(_rmspe(g[pre]), tiny))
    n_placebos = len(placebo_ratios)
    p_value = (1 + int(np.sum(np.array(placebo_ratios) >= ratio))) / (n_placebos + 1) if n_placebos >= 2 else None

    order = np.argsort(-w, kind="stable")
    top = tuple(
        DonorWeight(_plain(labels[codes[i]]), float(w[i])) for i in order[:TOP_DONORS] if w[i] >= MIN_REPORTED_WEIGHT
    )
    path = tuple(
        SyntheticPoint(fmt(int(p)), float(a), float(b), bool(not before))
        for p, a, b, before in zip(periods, y1, synth, pre, strict=True)
    )
    n_pre = int(pre.sum())
    note = (
        f"synthetic control: {len(codes)} comparison {unit_noun}s in the donor pool, fitted on {n_pre} periods "
        f"before the start; effect = mean gap over {int((~pre).sum())} period(s) after; pre-period RMSPE "
        f"{pre_rmspe:.3g}"
    )
    if p_value is not None:
        note += f"; placebo p-value {p_value:.3g} (rank of the post/pre RMSPE ratio among {n_placebos} placebos)"
    if len(codes) >= n_pre:
        note += (
            f"; with {len(codes)} donors for {n_pre} pre-period values the fit interpolates (a near-exact pre-period "
            f"fit says little) and the RMSPE ratios are fragile"
        )
    if n_left_out:
        note += f"; {n_left_out} comparison {unit_noun}(s) with missing periods left out"
    if len(pool) < len(distance):
        note += f"; the {len(pool)} closest of {len(distance)} kept"
    return SyntheticControl(
        unit=_plain(labels[treated]),
        estimate=float(gap[~pre].mean()),
        pre_rmspe=pre_rmspe,
        post_rmspe=post_rmspe,
        p_value=p_value,
        n_placebos=n_placebos,
        n_donors=len(codes),
        weights=top,
        path=path,
        note=note,
    )
