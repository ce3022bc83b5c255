"""Stage 7 of the loop: measure the effect of corrective measures implemented earlier.

A measure's KPI (``item:X``, ``ray:R`` or ``neg_share:theme``, see the
playbook) is compared between the units (offices) that got the measure and the
units that did not, before and after the implementation. This docstring is the
one documented source of the methods and the verdict rules; the README and the
report only summarise it.

Two entry points share one core:

* :func:`estimate_effect` — the analysts' API on any long panel::

      estimate_effect(panel, unit="office_code", period="quarter", outcome="value",
                      treated_units={"52-01", "52-02"}, start_period="2026Q1",
                      weights="n", target_change=+10)

  ``start_period`` is one period for all treated units, or a mapping
  unit -> first treated period for a staggered rollout. Periods are quarter
  labels (``2026Q1``; ``pandas.Period`` quarters are read as their label) or
  integers, never a mix of the two (``ValueError``); the start periods must be
  of the same kind. ``weights`` names a column of cell sizes (frequency
  weights, e.g. respondents behind a share). Rows with a missing outcome or a
  zero weight are dropped; several rows per unit and period are allowed (e.g.
  one per respondent) and are pooled into a cell (weighted mean, summed
  weight). ``n_obs`` counts the observations (rows, or the sum of the
  weights) that entered the estimate.
  Intervals are 95 %, at least ``min_units_per_arm`` = 2 units per arm.
* :func:`evaluate_measures` — the quarterly step: for every measure implemented
  at least one full quarter before the cycle's quarter, read its KPI from the
  database (:func:`kpi_observations`) and store the estimate.

Which method (``EffectResult.method``)
    The periods of a treated unit from its start on are "after", those before
    are "before". A unit whose start lies after the panel's last period is
    untreated in every period seen and serves as a comparison unit (the note
    says so). A treated unit needs data both before and after its start to
    enter a difference-in-differences.

    1. One start period (or a mapping with one distinct start among the usable
       treated units), at least ``min_units_per_arm`` treated and comparison
       units with data before and after: ``difference_in_differences``.
    2. Two or more distinct start periods: ``staggered_did``
       (Callaway & Sant'Anna), when at least one group-time effect has enough
       units on both sides.
    3. Otherwise, on the treated units alone: ``interrupted_time_series`` with
       at least 3 periods before and 1 from the start on; else
       ``before_after``; with no data before or none after, ``none``
       (inconclusive). The note names the reason for the fallback.

*Difference-in-differences* (two-way fixed effects)
    Observations are pooled into unit x period cells and fitted by weighted
    least squares ``y ~ treated_post + C(unit) + C(period)`` with the cell's
    weight (the same point estimate and the same cluster scores as OLS on the
    individual rows, at a fraction of the cost). The unit effects are absorbed
    by weighted within-unit demeaning (Frisch-Waugh-Lovell), so 2,000 offices
    cost no 2,000 dummy columns. Standard errors are clustered by unit with the
    CR1 factor ``G/(G-1) * (N-1)/(N-K)``, where G = units, N = observations
    (sum of the weights) and K = G + number of period effects + 1 (the
    parameters of the dummy-variable fit) — exactly statsmodels'
    ``cov_type="cluster"`` default on the row-level OLS. Intervals and p-values
    use t with G - 1 degrees of freedom, which is honest with the handful of
    offices a region has (in simulations with ten offices the 95 % interval
    still misses a true null about 8 % of the time, the known small-sample
    optimism of cluster-robust errors).

*Staggered rollout* (``staggered_did``, Callaway & Sant'Anna 2021)
    One two-way fixed-effects fit is biased when units start in different
    periods and the effect changes with time since the start: already-treated
    units then serve as controls and their growing effect is subtracted. Here
    units are grouped by their first treated period g and every post period
    t >= g gets its own 2x2 difference-in-differences::

        ATT(g, t) = mean_g(Y_t - Y_b) - mean_C(Y_t - Y_b)

    with base period b = the last period of the panel before g (g - 1 when
    present) and units observed in both b and t. Comparison units C are the
    never-treated units (untreated in every period of the panel) when there are
    at least ``min_units_per_arm`` of them; otherwise the not-yet-treated ones
    (units whose start is after t, never-treated included), and the note says
    so. A group-time effect with fewer than ``min_units_per_arm`` units on
    either side is left out (its within-group variance cannot be estimated) and
    the note counts those left out. Means over units are weighted by the unit's
    mean cell weight (every unit counts once when there are no weights). The
    overall effect is the "simple" aggregation: the average of the post-period
    ATT(g, t), each weighted by the size of its group (the sum of its units'
    weights; the number of units without weights). Its standard error comes
    from the influence functions, summed per unit (so a unit's repeated use
    across periods is accounted for): the per-arm deviations from the arm mean
    with an n/(n-1) factor per arm (a single ATT(g, t) then has exactly the
    unequal-variance two-sample standard error of the changes), plus the
    estimation of the group-size weights. Intervals use t with Welch-Satterthwaite
    degrees of freedom over the strata (each cohort, the never-treated units),
    at most units - 1: a cohort of three offices estimates its share of the
    variance with two degrees of freedom. (With t on units - 1 the 95 %
    interval covered the truth 93 % of the time in the benchmark's panels,
    which have cohorts of 2-30 offices; with these degrees of freedom 95 %.)
    ``EffectResult.group_time`` lists every ATT(g, t) with its standard error.

*Interrupted time series* (``interrupted_time_series``)
    With no usable comparison, the treated units' weighted means per period of
    event time e = period - start (one series; for a staggered rollout each
    unit is aligned on its own start) are fitted by the segmented regression
    ``y ~ e + post + e_since_start`` (``post`` = e >= 0, ``e_since_start`` =
    e for e >= 0 else 0, left out with a single post period). The estimate is
    ``post``: the level change at the start over the pre-period trend
    extrapolated, so a trend already under way is not taken for the measure's
    effect. The standard error is the larger of the classical OLS one and
    Newey-West's (Bartlett kernel, floor(4 (n/100)^(2/9)) lags, small-sample
    factor n/(n-k): statsmodels' ``cov_type="HAC"`` with
    ``use_correction=True``), with t on n - k degrees of freedom. Newey-West
    alone is far too optimistic on series this short: in simulations with 6 to
    30 periods and independent errors its 95 % interval covered the true level
    change only 77-85 % of the time, the classical one 94-96 %; with AR(1)
    errors (rho 0.5) both fall short (about 87 % with 12 periods), the larger
    of the two somewhat less. It needs 3 periods before and 1 after; like any
    before/after design it cannot tell the measure from anything else that
    changed at the same time (a national campaign) and the note says so.

*Before/after* (``before_after``)
    The treated units' observations after are compared with those before by
    Welch's t-test (weights give a Kish effective sample size, so office-quarter
    shares count as one observation each); same caveat as above.

The pipeline leaves out the quarter the measure was implemented in (partly
before, partly after): "after" starts with the next full quarter, and the
comparison offices are all offices outside the measure's scope except those
where another measure on the same KPI has been implemented. The register holds
one ``implemented_on`` per measure, so the pipeline always has a single start;
a staggered rollout is analysed through :func:`estimate_effect` with a mapping.

Verdict (``target_change`` is the change the working group aimed for; its sign
says which way is better; without a target the public API gives ``verdict=None``)
    * the confidence interval excludes 0 and the estimate has the sign of
      ``target_change`` -> ``effective``;
    * the interval excludes 0 with the opposite sign -> ``worsened``;
    * the interval includes 0 and the minimum detectable effect
      (MDE ~= 2.8 x SE: 80 % power at 5 % two-sided) is at most
      ``|target_change|`` -> ``no_effect`` (the study could have seen the
      targeted change and did not);
    * otherwise -> ``inconclusive`` (too little data or power), also when there
      are no treated units, no data before or no data after.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, time
from typing import Union

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy import and_, case, delete, func, literal
from sqlmodel import Session, select

from cxloop.config import AppConfig
from cxloop.domain import RAY_ITEMS
from cxloop.quarters import Quarter
from models.tables import EffectEvaluation, Feedback, Measure, SurveyAnswer
from tasks.measures.register import SYSTEM_USER, change_status, client_type_for_theme, update_fields

MDE_FACTOR = 2.8
METHOD_DID = "difference_in_differences"
METHOD_STAGGERED = "staggered_did"
METHOD_ITS = "interrupted_time_series"
METHOD_BEFORE_AFTER = "before_after"
METHOD_NONE = "none"
VERDICTS = ("effective", "no_effect", "worsened", "inconclusive")
ALPHA = 0.05  # the public API reports 95 % intervals
MIN_UNITS_PER_ARM = 2
ITS_MIN_PRE = 3
ITS_MIN_POST = 1
CONTROL_NEVER = "never_treated"
CONTROL_NOT_YET = "not_yet_treated"
# Default aims when a measure's target cannot be derived (lower is better for shares of complaints).
_DEFAULT_TARGET = {"neg_share": -5.0, "item": 5.0, "ray": 5.0}

PeriodLike = Union[str, int, Quarter, pd.Period]


# --------------------------------------------------------------------------- KPI observations


def _parse_metric(kpi_metric: str) -> tuple[str, str]:
    kind, _, arg = kpi_metric.partition(":")
    if kind == "item" and any(arg in items for items in RAY_ITEMS.values()):
        return kind, arg
    if kind == "ray" and arg in RAY_ITEMS:
        return kind, arg
    if kind == "neg_share" and arg:
        return kind, arg
    raise ValueError(f"KPI metric {kpi_metric!r} must be item:<F1..C4>, ray:<ray> or neg_share:<theme>")


def kpi_observations(
    session: Session,
    kpi_metric: str,
    quarters: list[str],
    client_type: str = "citizen",
    offices: Iterable[str] | None = None,
) -> pd.DataFrame:
    """KPI observations from the database, sorted by office, quarter.

    Out: columns office_code, quarter, value (0-100), weight.
    * ``item:X`` — one row per star-survey respondent of ``client_type``
      answering X: (answer - 1) / 4 x 100, weight 1;
    * ``ray:R`` — one row per respondent with at least one answered item of
      the ray: the mean of the answered item scores, weight 1;
    * ``neg_share:theme`` — one row per office and quarter: the share (%) of
      feedback texts (any channel and client type) whose negative themes
      include the theme, weight = the number of texts.
    Feedback without an office cannot be placed in a comparison and is left out.
    """
    kind, arg = _parse_metric(kpi_metric)
    quarters = sorted({str(Quarter.parse(q)) for q in quarters})
    office_list = sorted(set(offices)) if offices is not None else None
    empty = pd.DataFrame({"office_code": pd.Series(dtype=str), "quarter": pd.Series(dtype=str),
                          "value": pd.Series(dtype=float), "weight": pd.Series(dtype=float)})
    if not quarters or (office_list is not None and not office_list):
        return empty
    conditions = [Feedback.quarter.in_(quarters), Feedback.office_code.is_not(None)]
    if office_list is not None:
        conditions.append(Feedback.office_code.in_(office_list))

    if kind == "neg_share":
        # Delimit both sides so 'staff' never matches 'staff_attitude'.
        hit = (literal(",") + func.coalesce(Feedback.negative_themes, "") + literal(",")).like(f"%,{arg},%")
        stmt = (
            select(
                Feedback.office_code, Feedback.quarter,
                func.count().label("texts"),
                func.sum(case((hit, 1), else_=0)).label("negative"),
            )
            .where(and_(*conditions, Feedback.text.is_not(None), Feedback.text != ""))
            .group_by(Feedback.office_code, Feedback.quarter)
        )
        rows = session.exec(stmt).all()  # type: ignore[call-overload]
        if not rows:
            return empty
        df = pd.DataFrame(rows, columns=["office_code", "quarter", "texts", "negative"])
        df["value"] = df["negative"].astype(float) / df["texts"].astype(float) * 100.0
        df["weight"] = df["texts"].astype(float)
        out = df[["office_code", "quarter", "value", "weight"]]
    else:
        items = [arg] if kind == "item" else list(RAY_ITEMS[arg])
        stmt = (
            select(Feedback.office_code, Feedback.quarter, *[getattr(SurveyAnswer, i) for i in items])
            .join(SurveyAnswer, SurveyAnswer.feedback_id == Feedback.id)
            .where(and_(*conditions, Feedback.channel == "star_survey", Feedback.client_type == client_type))
            .order_by(Feedback.office_code, Feedback.quarter, Feedback.id)
        )
        rows = session.exec(stmt).all()  # type: ignore[call-overload]
        if not rows:
            return empty
        df = pd.DataFrame(rows, columns=["office_code", "quarter", *items])
        answers = df[items].apply(pd.to_numeric, errors="coerce")
        # Only 1-5 is an answer; anything else was "don't know" or noise that validation let through.
        answers = answers.where((answers >= 1) & (answers <= 5))
        df["value"] = ((answers - 1.0) / 4.0 * 100.0).mean(axis=1, skipna=True)
        df["weight"] = 1.0
        out = df.loc[df["value"].notna(), ["office_code", "quarter", "value", "weight"]]
    out = out.astype({"office_code": str, "quarter": str, "value": float, "weight": float})
    return out.sort_values(["office_code", "quarter"], kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class GroupTimeEffect:
    """One ATT(g, t) of the staggered estimator: the units first treated in ``group``, in ``period``."""

    group: str | int
    period: str | int
    base_period: str | int
    estimate: float
    se: float
    n_treated: int
    n_control: int


@dataclass(frozen=True)
class EffectResult:
    """An effect estimate with the sample behind it (see the module docstring).

    ``estimate``/``ci_low``/``ci_high``/``se``/``mde`` are in the outcome's units;
    ``n_treated``/``n_control`` count units, ``n_obs`` observations (rows or the
    sum of the weights) that entered the estimate; ``verdict`` is None when no
    target was given; ``group_time`` is filled by the staggered estimator.
    """

    method: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n_treated: int
    n_control: int
    n_obs: int
    verdict: str | None
    note: str
    mde: float | None
    se: float | None = None
    group_time: tuple[GroupTimeEffect, ...] = ()

    @property
    def n_treated_units(self) -> int:
        """The name the register table uses (``EffectEvaluation.n_treated_units``)."""
        return self.n_treated

    @property
    def n_control_units(self) -> int:
        """The name the register table uses (``EffectEvaluation.n_control_units``)."""
        return self.n_control

    def as_dict(self) -> dict:
        return asdict(self)


def verdict_for(ci_low: float | None, ci_high: float | None, mde: float | None, target_change: float) -> str:
    """The verdict rules of the module docstring."""
    if ci_low is None or ci_high is None or not (math.isfinite(ci_low) and math.isfinite(ci_high)):
        return "inconclusive"
    excludes_zero = ci_low > 0 or ci_high < 0
    if excludes_zero:
        direction = 1.0 if ci_low > 0 else -1.0
        if target_change == 0:
            return "inconclusive"
        return "effective" if direction * target_change > 0 else "worsened"
    if mde is not None and math.isfinite(mde) and mde <= abs(target_change):
        return "no_effect"
    return "inconclusive"


# --------------------------------------------------------------------------- periods


def _period_kind(value: object) -> str:
    """``quarter`` or ``integer`` for one period label; ValueError for anything else."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"period {value!r} is neither a quarter label like 2026Q1 nor an integer")
    if isinstance(value, Quarter):
        return "quarter"
    if isinstance(value, (str, pd.Period)):
        try:
            Quarter.parse(str(value))
        except ValueError:
            raise ValueError(f"period {value!r} is neither a quarter label like 2026Q1 nor an integer") from None
        return "quarter"
    if isinstance(value, (int, np.integer)):
        return "integer"
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError("a period is missing")
        if float(value).is_integer():
            return "integer"
    raise ValueError(f"period {value!r} is neither a quarter label like 2026Q1 nor an integer")


def _period_index(value: object, kind: str) -> int:
    if kind == "quarter":
        return Quarter.parse(str(value)).index()
    return int(value)  # type: ignore[call-overload]


def _period_label(index: int, kind: str) -> str | int:
    if kind == "quarter":
        return str(Quarter(index // 4, index % 4 + 1))
    return int(index)


def _periods_of(column: pd.Series, name: str) -> tuple[np.ndarray, str]:
    """Running integer periods of a column of quarter labels or integers, and which of the two it holds."""
    if column.isna().any():
        raise ValueError(f"period column {name!r} has missing values")
    uniques = pd.unique(column.astype(object))
    kinds = {_period_kind(v) for v in uniques}
    if len(kinds) > 1:
        raise ValueError(f"period column {name!r} mixes quarter labels and integers; use one kind")
    kind = kinds.pop() if kinds else "integer"
    mapping = {v: _period_index(v, kind) for v in uniques}
    return column.astype(object).map(mapping).to_numpy(dtype=np.int64), kind


# --------------------------------------------------------------------------- the core


@dataclass(frozen=True)
class _Nouns:
    """How notes name units and periods: offices and quarters in the pipeline, units and periods for analysts."""

    unit: str = "unit"
    units: str = "units"
    period: str = "period"
    periods: str = "periods"
    treated: str = "the treated units"


_PUBLIC_NOUNS = _Nouns()
_OFFICE_NOUNS = _Nouns("office", "offices", "quarter", "quarters", "the measure's offices")


@dataclass
class _Fit:
    estimate: float
    se: float
    df: float
    method: str
    n_treated: int
    n_control: int
    n_obs: float
    note: str
    group_time: tuple[GroupTimeEffect, ...] = ()


def _none(note: str, n_treated: int = 0, n_control: int = 0, n_obs: float = 0.0) -> _Fit:
    return _Fit(float("nan"), float("nan"), float("nan"), METHOD_NONE, n_treated, n_control, n_obs, note)


def _cells(rows: pd.DataFrame) -> pd.DataFrame:
    """Unit x period cells (integer codes ``u``, ``t``): weighted mean ``value`` and summed ``weight``."""
    df = rows[["u", "t"]].copy()
    df["wv"] = rows["value"].to_numpy() * rows["weight"].to_numpy()
    df["weight"] = rows["weight"].to_numpy()
    cells = df.groupby(["u", "t"], sort=True, as_index=False)[["wv", "weight"]].sum()
    cells["value"] = cells["wv"] / cells["weight"]
    return cells.drop(columns="wv")


def _by_unit(codes: np.ndarray, n: int, values: np.ndarray) -> np.ndarray:
    """Column sums of ``values`` (n_rows x k) within each unit code: (n x k)."""
    return np.stack([np.bincount(codes, weights=values[:, j], minlength=n) for j in range(values.shape[1])], axis=1)


def _twfe_did(u: np.ndarray, t: np.ndarray, y: np.ndarray, w: np.ndarray, d: np.ndarray) -> tuple[float, float, int]:
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
    n = len(y)
    x = np.zeros((n, n_periods))
    x[:, 0] = d
    later = tc > 0
    x[np.flatnonzero(later), tc[later]] = 1.0  # period effects, the first period as reference
    z = np.column_stack([y, x])
    unit_w = np.bincount(uc, weights=w, minlength=n_units)
    z = z - (_by_unit(uc, n_units, z * w[:, None]) / unit_w[:, None])[uc]
    yd, xd = z[:, 0], z[:, 1:]
    xtwx = xd.T @ (xd * w[:, None])
    rank = int(np.linalg.matrix_rank(xtwx))
    if rank == int(np.linalg.matrix_rank(xtwx[1:, 1:])):
        raise ValueError("the treatment indicator is collinear with the unit and period effects")
    bread = np.linalg.pinv(xtwx)
    beta = bread @ (xd.T @ (w * yd))
    resid = yd - xd @ beta
    scores = _by_unit(uc, n_units, xd * (w * resid)[:, None])
    cov = bread @ (scores.T @ scores) @ bread
    n_obs = float(w.sum())
    k = n_units + rank  # intercept + (G - 1) unit dummies + the demeaned regressors
    factor = n_units / (n_units - 1) * (n_obs - 1) / max(n_obs - k, 1.0)
    return float(beta[0]), float(math.sqrt(max(cov[0, 0], 0.0) * factor)), n_units - 1


def _newey_west_lags(n: int) -> int:
    return int(math.floor(4 * (n / 100.0) ** (2.0 / 9.0)))


def _its_fit(e: np.ndarray, y: np.ndarray) -> tuple[float, float, int, int, str]:
    """Segmented OLS ``y ~ e + post + e_since_start`` on one series in time order.

    Out: the ``post`` coefficient (level change at e = 0), its standard error,
    the residual degrees of freedom n - k, the Newey-West lags L, and which
    standard error was the larger: the classical OLS one or Newey-West's
    (Bartlett weights 1 - j/(L+1), j <= L, small-sample factor n/(n-k)).
    """
    post = (e >= 0).astype(float)
    since = np.where(e >= 0, e, 0).astype(float)
    cols = [np.ones_like(post), e.astype(float), post]
    if np.any(since != 0):
        cols.append(since)
    x = np.column_stack(cols)
    n, k = x.shape
    if n <= k:
        raise ValueError("too few periods for a segmented regression")
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ (x.T @ y)
    resid = y - x @ beta
    classical = float(resid @ resid) / (n - k) * bread[2, 2]
    scores = x * resid[:, None]
    lags = min(_newey_west_lags(n), n - 1)
    meat = scores.T @ scores
    for j in range(1, lags + 1):
        gamma = scores[j:].T @ scores[:-j]
        meat += (1 - j / (lags + 1)) * (gamma + gamma.T)
    newey_west = float((bread @ meat @ bread)[2, 2]) * n / (n - k)
    var, which = (newey_west, "Newey-West") if newey_west > classical else (classical, "classical OLS")
    return float(beta[2]), math.sqrt(max(var, 0.0)), n - k, lags, which


def _weighted_moments(values: np.ndarray, weights: np.ndarray) -> tuple[float, float, float]:
    """Weighted mean, (reliability-weighted) variance and Kish effective size."""
    w = weights.astype(float)
    mean = float(np.sum(w * values) / np.sum(w))
    n_eff = float(np.sum(w) ** 2 / np.sum(w**2))
    v1, v2 = np.sum(w), np.sum(w**2)
    var = float(np.sum(w * (values - mean) ** 2) / (v1 - v2 / v1)) if v1 - v2 / v1 > 0 else float("nan")
    return mean, var, n_eff


def _welch(pre: pd.DataFrame, post: pd.DataFrame) -> tuple[float, float, float]:
    """Difference of weighted means after - before, its SE and Welch-Satterthwaite degrees of freedom."""
    m0, v0, n0 = _weighted_moments(pre["value"].to_numpy(float), pre["weight"].to_numpy(float))
    m1, v1, n1 = _weighted_moments(post["value"].to_numpy(float), post["weight"].to_numpy(float))
    est = m1 - m0
    a, b = v0 / n0, v1 / n1
    se = math.sqrt(a + b) if math.isfinite(a + b) else float("nan")
    if not math.isfinite(se) or se == 0 or n0 <= 1 or n1 <= 1:
        return est, float("nan"), float("nan")
    df = (a + b) ** 2 / (a**2 / (n0 - 1) + b**2 / (n1 - 1))
    return est, se, float(df)


def _fallback(rows: pd.DataFrame, cells: pd.DataFrame, reason: str, nouns: _Nouns, fmt) -> _Fit:
    """Interrupted time series, else before/after, on the treated units alone (``e`` = event time)."""
    caveat = (f"changes common to all {nouns.units} at the same time (a national campaign, the season) "
              f"are not separated from the measure's effect")
    n_t = int(rows["u"].nunique())
    n_obs = float(rows["weight"].sum())
    series = cells.assign(wv=cells["value"] * cells["weight"]).groupby("e", sort=True)[["wv", "weight"]].sum()
    e = series.index.to_numpy(dtype=np.int64)
    n_pre, n_post = int((e < 0).sum()), int((e >= 0).sum())
    if n_pre >= ITS_MIN_PRE and n_post >= ITS_MIN_POST:
        y = (series["wv"] / series["weight"]).to_numpy(float)
        est, se, df, lags, which = _its_fit(e, y)
        note = (f"interrupted time series on the treated {nouns.units}' {nouns.period} means: segmented regression "
                f"y ~ time + post + time_since_start, level change at the start, SE the larger of classical OLS "
                f"and Newey-West ({lags} lag(s)): {which}, t with {df} df; {n_pre} {nouns.periods} before, "
                f"{n_post} from the start; {reason}; {caveat}")
        return _Fit(est, se, df, METHOD_ITS, n_t, 0, n_obs, note)
    pre, post = rows[rows["e"] < 0], rows[rows["e"] >= 0]
    est, se, df = _welch(pre, post)
    note = (f"before/after in {nouns.treated} (Welch): {reason}; only {n_pre} {nouns.period}(s) before "
            f"(an interrupted time series needs {ITS_MIN_PRE}); {caveat}")
    return _Fit(est, se, df, METHOD_BEFORE_AFTER, n_t, 0, n_obs, note)


def _staggered(cells: pd.DataFrame, group: np.ndarray, usable: np.ndarray, n_units: int, min_units: int,
               nouns: _Nouns, fmt) -> _Fit | str:
    """Callaway & Sant'Anna ATT(g, t), simple aggregation, influence-function SE.

    ``group[u]`` is unit u's first treated period (inf: untreated in the panel),
    ``usable[u]`` whether it may sit in a treated arm (data before and after its
    start). Out: the fit, or the reason it could not be made.
    """
    periods = np.sort(cells["t"].unique())
    col = {p: i for i, p in enumerate(periods)}
    y = np.full((n_units, len(periods)), np.nan)
    wt = np.zeros((n_units, len(periods)))
    tc = cells["t"].map(col).to_numpy()
    uc = cells["u"].to_numpy()
    y[uc, tc] = cells["value"].to_numpy()
    wt[uc, tc] = cells["weight"].to_numpy()
    seen = ~np.isnan(y)
    n_seen = seen.sum(axis=1)
    omega = np.divide(wt.sum(axis=1), n_seen, out=np.zeros(n_units), where=n_seen > 0)  # unit weight

    never = np.isinf(group) & (n_seen > 0)
    control_group = CONTROL_NEVER if never.sum() >= min_units else CONTROL_NOT_YET
    starts = sorted({float(g) for g in group[usable]})
    used = np.zeros_like(seen)
    treated_in = {g: np.zeros(n_units, bool) for g in starts}
    control_any = np.zeros(n_units, bool)
    atts: list[float] = []
    infl: list[np.ndarray] = []  # per unit, summing to the estimate's deviation
    labels: list[tuple[float, int, int, int, int]] = []
    skipped = 0
    for g in starts:
        before = np.flatnonzero(periods < g)
        if not len(before):
            continue
        b = int(before[-1])
        for j in np.flatnonzero(periods >= g):
            both = seen[:, b] & seen[:, j]
            tr = np.flatnonzero(both & usable & (group == g))
            ctl = np.flatnonzero(both & (never if control_group == CONTROL_NEVER else (group > periods[j])))
            if len(tr) < min_units or len(ctl) < min_units:
                skipped += 1
                continue
            change = y[:, j] - y[:, b]
            phi = np.zeros(n_units)
            means = []
            for arm, sign in ((tr, 1.0), (ctl, -1.0)):
                share = omega[arm] / omega[arm].sum()
                m = float(share @ change[arm])
                phi[arm] += sign * share * (change[arm] - m) * math.sqrt(len(arm) / (len(arm) - 1))
                means.append(m)
            atts.append(means[0] - means[1])
            infl.append(phi)
            labels.append((g, int(periods[j]), int(periods[b]), len(tr), len(ctl)))
            used[tr, j] = used[tr, b] = used[ctl, j] = used[ctl, b] = True
            treated_in[g][tr] = True
            control_any[ctl] = True
    if not atts:
        return (f"no group-time effect had {min_units} treated and {min_units} comparison "
                f"{nouns.units} observed in its base {nouns.period} and in a {nouns.period} after the start")

    analysed = used.any(axis=1)
    n_a = int(analysed.sum())
    om = np.where(analysed, omega / omega[analysed].mean(), 0.0)
    member = {g: treated_in[g] & analysed for g in starts}
    pg = {g: float(om[member[g]].sum()) / n_a for g in starts}
    cell_groups = [lab[0] for lab in labels]
    total = sum(pg[g] for g in cell_groups)
    weights = np.array([pg[g] / total for g in cell_groups])
    att = np.array(atts)
    estimate = float(weights @ att)
    # Influence of the estimated group shares on the weights (Callaway & Sant'Anna's "wif").
    dpg = {g: np.where(analysed, om * member[g] - pg[g], 0.0) / n_a for g in starts}
    dtotal = sum(dpg[g] for g in cell_groups)
    phi = sum(wk * f for wk, f in zip(weights, infl))
    phi = phi + sum(a * (dpg[g] / total - pg[g] * dtotal / total**2) for a, g in zip(att, cell_groups))
    se = float(math.sqrt(np.sum(phi**2)))
    # Welch-Satterthwaite degrees of freedom over the strata (each cohort, the never-treated): a cohort of
    # three offices estimates its share of the variance with two degrees of freedom, not with N - 1.
    parts = [(float(np.sum(phi[analysed & (group == g)] ** 2)), int(np.sum(analysed & (group == g))))
             for g in np.unique(group[analysed])]
    denominator = sum(v**2 / max(n - 1, 1) for v, n in parts)
    df = min(float(n_a - 1), se**4 / denominator) if denominator > 0 else float(n_a - 1)
    group_time = tuple(
        GroupTimeEffect(fmt(int(g)), fmt(t), fmt(b), float(a), float(math.sqrt(np.sum(f**2))), nt, nc)
        for (g, t, b, nt, nc), a, f in zip(labels, atts, infl)
    )
    n_t = int(np.sum([member[g].sum() for g in starts]))
    n_c = int(control_any.sum())
    sizes = ", ".join(f"{fmt(int(g))} ({int(member[g].sum())})" for g in starts if member[g].any())
    comparison = (f"{n_c} never-treated {nouns.units}" if control_group == CONTROL_NEVER else
                  f"{n_c} not-yet-treated {nouns.units} (fewer than {min_units} never-treated)")
    note = (f"staggered difference-in-differences (Callaway & Sant'Anna): {len(atts)} group-time effects, "
            f"each a 2x2 DiD against the {nouns.period} before the group's start; groups by first treated "
            f"{nouns.period}: {sizes}; comparison: {comparison}; simple aggregation weighted "
            f"by group size; SE from influence functions by {nouns.unit}, t with {df:.1f} df (Welch-Satterthwaite)")
    if skipped:
        note += (f"; {skipped} group-time effect(s) left out for fewer than {min_units} {nouns.units} on a side")
    return _Fit(estimate, se, df, METHOD_STAGGERED, n_t, n_c, float(wt[used].sum()), note, group_time)


def _core(rows: pd.DataFrame, units: np.ndarray, starts: dict[int, int], kind: str, min_units: int,
          nouns: _Nouns) -> _Fit:
    """Choose and run the estimator. ``rows``: u (unit code), t (period), value, weight; ``starts``: code -> start."""
    fmt = lambda p: _period_label(p, kind)  # noqa: E731
    if rows.empty:
        return _none("no observations" if nouns is _PUBLIC_NOUNS else "no KPI observations")
    distinct = sorted(set(starts.values()))
    start_text = fmt(distinct[0]) if len(distinct) == 1 else f"their start {nouns.periods}"
    last = int(rows["t"].max())
    is_treated = rows["u"].isin(list(starts)).to_numpy(bool)
    treated_rows = rows[is_treated]
    n_c_all = int(rows.loc[~is_treated, "u"].nunique())
    n_total = float(rows["weight"].sum())
    if treated_rows.empty:
        return _none(f"no observations in {nouns.treated}", 0, n_c_all, n_total)
    start_of = treated_rows["u"].map(starts).to_numpy(np.int64)
    e = treated_rows["t"].to_numpy(np.int64) - start_of
    n_t_all = int(treated_rows["u"].nunique())
    if not (e >= 0).any():
        return _none(f"no data from {start_text} on in {nouns.treated}", n_t_all, n_c_all, n_total)
    if (e >= 0).all():
        return _none(f"no data before {start_text} in {nouns.treated}", n_t_all, n_c_all, n_total)

    notes = []
    later = {c for c, s in starts.items() if s > last}
    if later:  # untreated in every period seen: comparison units
        starts = {c: s for c, s in starts.items() if c not in later}
        notes.append(f"{len(later)} treated {nouns.unit}(s) starting after the last {nouns.period} counted as "
                     f"comparison")
    rows = rows.assign(treated=rows["u"].isin(list(starts)))
    rows["e"] = rows["t"] - rows["u"].map(starts).fillna(0).astype(np.int64)
    cells = _cells(rows)
    cells["treated"] = cells["u"].isin(list(starts))
    cells["e"] = cells["t"] - cells["u"].map(starts).fillna(0).astype(np.int64)
    tr_cells = cells[cells["treated"]]
    span = tr_cells.groupby("u")["e"].agg(["min", "max"])
    usable_codes = set(span.index[(span["min"] < 0) & (span["max"] >= 0)])
    left_out = n_t_all - len(later & set(treated_rows["u"])) - len(usable_codes)
    if left_out:
        notes.append(f"{left_out} treated {nouns.unit}(s) without data both before and after the start left out "
                     f"of the comparison")
    usable_starts = sorted({starts[c] for c in usable_codes})

    def finish(fit: _Fit) -> _Fit:
        if notes:
            fit.note = "; ".join([fit.note, *notes])
        return fit

    def fallback(reason: str) -> _Fit:
        return finish(_fallback(rows[rows["treated"]], tr_cells, reason, nouns, fmt))

    if len(usable_starts) >= 2:
        group = np.full(len(units), np.inf)
        for c, s in starts.items():
            group[c] = s
        usable = np.zeros(len(units), bool)
        usable[list(usable_codes)] = True
        fit = _staggered(cells, group, usable, len(units), min_units, nouns, fmt)
        if isinstance(fit, str):
            return fallback(f"staggered rollout, but {fit}")
        return finish(fit)

    s = usable_starts[0] if usable_starts else distinct[0]
    ctl_cells = cells[~cells["treated"]]
    ctl_span = ctl_cells.groupby("u")["t"].agg(["min", "max"])
    control_codes = set(ctl_span.index[(ctl_span["min"] < s) & (ctl_span["max"] >= s)])
    if len(usable_codes) >= min_units and len(control_codes) >= min_units:
        panel = cells[cells["u"].isin(usable_codes | control_codes)]
        d = (panel["treated"] & (panel["e"] >= 0)).to_numpy(float)
        try:
            est, se, df = _twfe_did(panel["u"].to_numpy(), panel["t"].to_numpy(), panel["value"].to_numpy(float),
                                    panel["weight"].to_numpy(float), d)
        except (ValueError, np.linalg.LinAlgError) as exc:  # pragma: no cover - degenerate panels
            return finish(_none(f"difference-in-differences could not be fitted: {exc}", len(usable_codes),
                                len(control_codes), n_total))
        note = (f"difference-in-differences, {nouns.unit} and {nouns.period} fixed effects, SE clustered by "
                f"{nouns.unit}; {len(usable_codes)} treated vs {len(control_codes)} comparison {nouns.units}, "
                f"{panel['t'].nunique()} {nouns.periods}")
        return finish(_Fit(est, se, df, METHOD_DID, len(usable_codes), len(control_codes),
                           float(panel["weight"].sum()), note))
    reason = (f"only {len(control_codes)} comparison {nouns.unit}(s) with data before and after, {min_units} "
              f"needed for difference-in-differences")
    if not control_codes:
        reason = (f"no comparison {nouns.units} with data before and after ({min_units} needed for "
                  f"difference-in-differences)")
    if len(usable_codes) < min_units:
        reason += f"; only {len(usable_codes)} treated {nouns.unit}(s) observed before and after"
    return fallback(reason)


def _prepare(panel: pd.DataFrame, unit: str, period: str, outcome: str, weights: str | None,
             treated_units: Iterable[Hashable], start_period) -> tuple[pd.DataFrame, np.ndarray, dict[int, int], str]:
    """Validate the inputs; rows with integer unit codes, running periods, and the treated codes' start periods."""
    for role, name in (("unit", unit), ("period", period), ("outcome", outcome), ("weights", weights)):
        if name is not None and name not in panel.columns:
            raise ValueError(f"{role} column {name!r} is not in the panel (columns: {list(panel.columns)})")
    if panel[unit].isna().any():
        raise ValueError(f"unit column {unit!r} has missing values")
    t, kind = _periods_of(panel[period], period)
    value = pd.to_numeric(panel[outcome], errors="raise").to_numpy(float)
    if weights is None:
        w = np.ones(len(panel))
    else:
        w = pd.to_numeric(panel[weights], errors="raise").to_numpy(float)
        if np.any(w < 0) or np.any(np.isinf(w)):
            raise ValueError(f"weights column {weights!r} must be finite and not negative")
    keep = ~np.isnan(value) & ~np.isnan(w) & (w > 0)
    codes, labels = pd.factorize(panel[unit], sort=True)
    rows = pd.DataFrame({"u": codes[keep], "t": t[keep], "value": value[keep], "weight": w[keep]})
    labels = np.asarray(labels, dtype=object)

    treated = list(dict.fromkeys(treated_units)) if not isinstance(treated_units, (str, bytes)) else [treated_units]
    if isinstance(start_period, Mapping):
        missing = [u for u in treated if u not in start_period]
        extra = [u for u in start_period if u not in set(treated)]
        if missing or extra:
            raise ValueError(f"start_period must give a start for exactly the treated units: "
                             f"{len(missing)} treated unit(s) without a start, {len(extra)} start(s) for units "
                             f"not listed as treated")
        start_of = dict(start_period)
    else:
        start_of = {u: start_period for u in treated}
    if start_of:
        kinds = {_period_kind(s) for s in start_of.values()}
        if len(panel) == 0:
            kind = sorted(kinds)[0]  # nothing to compare with; the result will be "no observations"
        elif kinds != {kind}:
            raise ValueError(f"start period(s) are {' and '.join(sorted(kinds))} but the panel's periods are {kind}s")
    position = {lab: i for i, lab in enumerate(labels)}
    starts = {position[u]: _period_index(s, kind) for u, s in start_of.items() if u in position}
    return rows, labels, starts, kind


def _result(fit: _Fit, target_change: float | None, alpha: float) -> EffectResult:
    est, se, df = fit.estimate, fit.se, fit.df
    finite = all(math.isfinite(v) for v in (est, se, df)) and se > 0
    if finite:
        q = float(stats.t.ppf(1 - alpha / 2, df))
        low, high = est - q * se, est + q * se
        p = float(2 * stats.t.sf(abs(est) / se, df))
    else:
        low = high = p = float("nan")
    mde = MDE_FACTOR * se if math.isfinite(se) and fit.method != METHOD_NONE else None
    note = fit.note
    if mde is not None:
        note += f"; MDE {mde:.3g}" + (f" vs target {target_change:+g}" if target_change is not None else "")
    verdict = None
    if target_change is not None:
        verdict = verdict_for(low if finite else None, high if finite else None, mde, float(target_change))
    return EffectResult(
        method=fit.method,
        estimate=est if math.isfinite(est) else None,
        ci_low=low if finite else None,
        ci_high=high if finite else None,
        p_value=p if finite else None,
        n_treated=fit.n_treated,
        n_control=fit.n_control,
        n_obs=int(round(fit.n_obs)),
        verdict=verdict,
        note=note,
        mde=mde,
        se=se if math.isfinite(se) else None,
        group_time=fit.group_time,
    )


def estimate_effect(
    panel: pd.DataFrame,
    *,
    unit: str,
    period: str,
    outcome: str,
    treated_units: Iterable[Hashable],
    start_period: PeriodLike | Mapping[Hashable, PeriodLike],
    weights: str | None = None,
    target_change: float | None = None,
) -> EffectResult:
    """Estimate the effect of a measure on ``outcome`` (methods and verdicts: the module docstring).

    In: a long DataFrame with one row per unit and period (or several, e.g.
    one per respondent, pooled into cells); the names of its unit, period and
    outcome columns; the treated units; their first treated period — one
    value for all, or a mapping unit -> period for a staggered rollout;
    optionally a column of cell sizes used as weights and the targeted change
    (its sign says which way is better) for a verdict.

    Out: an :class:`EffectResult` with ``method``, ``estimate``, the 95 %
    interval ``ci_low``/``ci_high``, ``p_value``, ``se``, ``mde``,
    ``n_treated``/``n_control`` units, ``n_obs``, ``note`` and ``verdict``
    (None without ``target_change``). Raises ``ValueError`` for a missing
    column, missing or mixed period labels (quarters and integers), start
    periods of the other kind, or a start mapping that does not match
    ``treated_units``.
    """
    rows, labels, starts, kind = _prepare(panel, unit, period, outcome, weights, treated_units, start_period)
    fit = _core(rows, labels, starts, kind, MIN_UNITS_PER_ARM, _PUBLIC_NOUNS)
    return _result(fit, target_change, ALPHA)


def _estimate_kpi_effect(
    obs: pd.DataFrame,
    treated_offices: set[str],
    start_quarter: str,
    target_change: float,
    alpha: float = 0.05,
    min_units_per_arm: int = 2,
) -> EffectResult:
    """The pipeline's call of the core: KPI observations (office_code, quarter, value[, weight]) of
    :func:`kpi_observations`, the offices in the measure's scope and the first quarter counted as
    "after"; the result is rounded for storage (4 decimals, p-value 6)."""
    obs = obs.astype({"office_code": str, "quarter": str})
    weights = "weight" if "weight" in obs.columns else None
    rows, labels, starts, kind = _prepare(obs, "office_code", "quarter", "value", weights,
                                          {str(o) for o in treated_offices}, str(Quarter.parse(start_quarter)))
    fit = _core(rows, labels, starts, kind, min_units_per_arm, _OFFICE_NOUNS)
    r = _result(fit, target_change, alpha)

    def rd(x: float | None, digits: int = 4) -> float | None:
        return None if x is None else float(round(x, digits))

    return replace(r, estimate=rd(r.estimate), ci_low=rd(r.ci_low), ci_high=rd(r.ci_high),
                   p_value=rd(r.p_value, 6), mde=rd(r.mde), se=rd(r.se))


# --------------------------------------------------------------------------- the quarterly step


def target_change_for(measure: Measure, config: AppConfig | None) -> float:
    """The change the measure aims for: as recorded, else target - baseline, else the playbook's, else a default by KPI kind."""
    if measure.kpi_target_change is not None:
        return float(measure.kpi_target_change)
    if measure.kpi_target is not None and measure.kpi_baseline is not None and measure.kpi_target != measure.kpi_baseline:
        return float(measure.kpi_target - measure.kpi_baseline)
    if config is not None:
        templates = config.playbook.measures.get(measure.theme, [])
        for t in templates:
            if t.kpi.metric == measure.kpi_metric:
                return float(t.kpi.target_change)
    return _DEFAULT_TARGET[_parse_metric(measure.kpi_metric)[0]]


def _measure_offices(measure: Measure, config: AppConfig | None) -> set[str]:
    offices = {o for o in measure.offices.split(",") if o}
    if not offices and config is not None:
        offices = {o.office_code for o in config.offices if o.region_code == measure.region_code}
    return offices


def evaluate_measures(session: Session, quarter: str, config: AppConfig) -> list[EffectEvaluation]:
    """Evaluate every implemented measure that has a full quarter after it by ``quarter``.

    For measures with status implemented / evaluated / closed and
    ``Quarter.of(implemented_on) < quarter``, estimate the effect using every
    quarter up to ``quarter`` present in the data; replace the measure's
    evaluation for ``quarter`` (reruns overwrite), write the verdict to the
    measure and move ``implemented`` to ``evaluated`` at the quarter's cycle date.
    Out: the evaluations, sorted by measure code.
    """
    q = Quarter.parse(quarter)
    at = datetime.combine(q.cycle_date, time(6))
    thresholds = config.thresholds.effects
    measures = [
        m
        for m in session.exec(
            select(Measure)
            .where(Measure.status.in_(("implemented", "evaluated", "closed")), Measure.implemented_on.is_not(None))
            .order_by(Measure.code)
        )
        if Quarter.of(m.implemented_on) < q  # type: ignore[arg-type]
    ]
    if not measures:
        return []
    data_quarters = sorted(
        {str(x) for x in session.exec(select(Feedback.quarter).distinct())
         if Quarter.parse(str(x)).index() <= q.index()},
        key=lambda s: Quarter.parse(s).index(),
    )
    # Offices already reached by a measure on the same KPI (by this cycle) are no comparison.
    treated_by_metric: dict[str, list[tuple[str, set[str]]]] = {}
    for m in session.exec(select(Measure).where(Measure.implemented_on.is_not(None))):
        if m.status in ("rejected", "cancelled") or Quarter.of(m.implemented_on) > q:  # type: ignore[arg-type]
            continue
        treated_by_metric.setdefault(m.kpi_metric, []).append((m.code, _measure_offices(m, config)))

    evaluations: list[EffectEvaluation] = []
    for m in measures:
        impl_q = Quarter.of(m.implemented_on)  # type: ignore[arg-type]
        offices = _measure_offices(m, config)
        contaminated = set().union(*(o for code, o in treated_by_metric.get(m.kpi_metric, []) if code != m.code)) - offices
        # The implementation quarter is partly before and partly after: left out.
        quarters = [s for s in data_quarters if Quarter.parse(s) != impl_q]
        obs = kpi_observations(session, m.kpi_metric, quarters, client_type=client_type_for_theme(m.theme, config))
        obs = obs[~obs["office_code"].isin(contaminated)]
        result = _estimate_kpi_effect(
            obs, offices, str(impl_q.next()), target_change_for(m, config),
            alpha=thresholds.alpha, min_units_per_arm=thresholds.min_units_per_arm,
        )
        session.exec(delete(EffectEvaluation).where(EffectEvaluation.measure_id == m.id,  # type: ignore[call-overload]
                                                    EffectEvaluation.quarter == str(q)))
        evaluation = EffectEvaluation(
            measure_id=m.id, quarter=str(q), kpi_metric=m.kpi_metric, method=result.method,
            estimate=result.estimate, ci_low=result.ci_low, ci_high=result.ci_high, p_value=result.p_value,
            n_treated_units=result.n_treated, n_control_units=result.n_control, n_obs=result.n_obs,
            mde=result.mde, verdict=result.verdict, note=result.note,
        )
        session.add(evaluation)
        update_fields(session, m, {"effect_verdict": result.verdict}, SYSTEM_USER, at, comment=f"effect evaluated in {q}")
        if m.status == "implemented":
            change_status(session, m, "evaluated", SYSTEM_USER, at, comment=f"effect evaluated in {q}: {result.verdict}")
        evaluations.append(evaluation)
    session.flush()
    return evaluations  # measures were walked in code order
