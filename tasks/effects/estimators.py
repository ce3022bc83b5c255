"""Effect estimators: how much a measure moved its KPI, and whether that was its aim.

A measure's KPI (``item:X``, ``ray:R`` or ``neg_share:theme``, see the
playbook) is compared between the units (offices) that got the measure and the
units that did not, before and after the implementation. This docstring is the
one documented source of the methods and the verdict rules; the README and the
report only summarise it. The methods are fitted in :mod:`tasks.effects.fits` on
the panel :mod:`tasks.effects.panel` prepares; results are :mod:`tasks.effects.results`.

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
  Intervals are 95 %; clustered errors need at least ``min_units_per_arm`` = 2
  units per arm, placebo inference (one treated unit) at least 19 comparison units.
  ``EffectResult.synthetic`` holds the synthetic-control cross-check of a
  single treated unit.
* :func:`tasks.effects.evaluate.evaluate_due_measures` — the quarterly step: for
  every measure implemented at least one full quarter before the cycle's quarter,
  read its KPI from the database (:func:`tasks.measures.kpi.kpi_observations`) and
  store the estimate (through :func:`estimate_kpi_effect`).
* And before a pilot, :func:`tasks.effects.power.plan_power` — the minimum
  detectable effect of the planned design on a KPI's history, and how many
  offices or quarters after the start its aim would need (simulated placebo
  pilots; its docstring says how and why).

Which method (``EffectResult.method``)
    The periods of a treated unit from its start on are "after", those before
    are "before". A unit whose start lies after the panel's last period is
    untreated in every period seen and serves as a comparison unit (the note
    says so). A treated unit needs data both before and after its start to
    enter a difference-in-differences.

    1. One start period (or a mapping with one distinct start among the usable
       treated units), at least ``min_units_per_arm`` treated and comparison
       units with data before and after: ``difference_in_differences`` with
       standard errors clustered by unit.
    1b. One start period, at least one but fewer than ``min_units_per_arm``
       treated units (a pilot in one office) and at least ``1/alpha - 1``
       comparison units (19 at 95 %): ``difference_in_differences``, the same
       fit, with placebo inference (below). With fewer comparison units no
       honest 95 % interval exists and rule 3 applies (the note says so).
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

*A pilot in one unit: placebo inference* (``difference_in_differences``, rule 1b)
    With one treated office the clustered standard error is not valid: that
    office's score for the treatment indicator is exactly zero (the indicator
    fits its own post-period deviation), so its noise — the main source of
    error — never enters the sandwich and the interval is far too narrow (in
    simulations with 1 treated and 24 comparison units the 95 % clustered
    interval missed a true null about 70 % of the time, the placebo interval
    below about 4 %; MacKinnon & Webb 2017 show the same, less extremely, for
    two or three treated clusters). The
    point estimate stays the two-way fixed-effects one; its uncertainty comes
    from placebos (randomisation inference over the comparison units, in the
    spirit of Conley & Taber 2011 and of Abadie et al.'s placebos in space):
    the same fit is repeated on the comparison units alone with the treated
    label moved to each of them in turn — for k treated units to every set of k
    comparison units, or to 2,000 sets drawn with a fixed seed when there are
    more — with the same start period; these placebo estimates had no effect to
    find, so their spread is the spread of the estimate under no effect. Each
    refit is exact (the same weighted within-unit demeaning; by
    Frisch-Waugh-Lovell all placebos cost one demeaning and a few sums per
    unit, :mod:`tasks.effects.placebo`). With B placebo estimates:

    * p-value = (1 + number of placebos with |estimate| >= |real estimate|) / (B + 1);
    * interval = estimate +/- c, where c is the r-th largest |placebo estimate|,
      r = floor(alpha (B + 1)): every effect the same test would not reject, so
      0 lies outside it exactly when p <= alpha, and it covers the truth with
      probability >= 1 - alpha when the treated unit's noise is exchangeable
      with the comparison units'. A two-sided 95 % interval needs B + 1 >= 20,
      hence 19 comparison units (with 26, as in the organ donations example,
      the smallest attainable p-value is 1/27 and c is the largest placebo);
    * ``se`` = root mean square of the placebo estimates (their spread around
      the null of no effect), ``mde`` = c + 0.84 se: the effect the test would
      detect with 80 % power if the noise were normal with that spread (the
      normal-theory 2.8 se is 1.96 se + 0.84 se; here the placebo critical value
      takes the place of 1.96 se). The verdict rules are unchanged.

    The assumption is that the treated unit is no noisier than a typical
    comparison unit: an office with far fewer respondents than the others has a
    noisier KPI than its placebos, and its interval is then too narrow (Ferman &
    Pinto 2019); the note names the number of placebos and c.

*Synthetic control* (``EffectResult.synthetic``, Abadie, Diamond & Hainmueller 2010)
    A cross-check beside the main estimate whenever exactly one unit is treated,
    it has at least 3 periods before its start and 1 after, and at least 2
    comparison units are observed in every period it was (donors missing one of
    those periods are left out; of more than 50 donors the 50 closest before the
    start are kept, which also keeps dissimilar units from being interpolated).
    The synthetic twin is a weighted mean of the donors' cell means with weights
    w >= 0 summing to 1 that minimise the squared pre-period gap plus a tiny
    penalty 0.00001 x sum_j d_j w_j^2, d_j = donor j's own squared pre-period
    distance from the treated unit (both terms relative to the mean d_j): with
    more donors than pre periods many combinations fit equally well, and the
    penalty picks the one that spreads the weight over donors resembling the
    treated unit (in the spirit of Abadie & L'Hour 2021's penalised synthetic
    control, whose penalty is linear in w). It is solved exactly as non-negative
    least squares (deterministic). The effect (``estimate``) is the mean gap
    treated - synthetic over the periods after the start; ``pre_rmspe`` (root
    mean squared pre-period gap) says how well the twin fits — an effect no
    larger than the pre-period gap means nothing; ``path`` lists both series in
    every period, ``weights`` the largest donor weights. ``p_value`` ranks the
    treated unit's ratio post/pre RMSPE among the same ratios of every donor
    given a twin made of the other donors (Abadie et al. 2010): at least
    1/(donors + 1). Unlike the difference-in-differences it does not assume
    parallel trends, only that a twin that tracked the unit before would have
    kept tracking it; with as few pre periods as donors or fewer the fit is an
    interpolation (near exact whatever the truth) and the RMSPE ratios are
    fragile — the note says so — so it stays beside, not instead of, the main
    estimate.

*Staggered rollout* (``staggered_did``, Callaway & Sant'Anna 2021)
    One two-way fixed-effects fit is biased when units start in different
    periods and the effect changes with time since the start: already-treated
    units then serve as controls and their growing effect is subtracted. Here
    units are grouped by their first treated period g and every post period
    t >= g gets its own 2x2 difference-in-differences::

        ATT(g, t) = mean_g(Y_t - Y_b) - mean_C(Y_t - Y_b)

    with base period b = the last period before g in which at least
    ``min_units_per_arm`` of the group's units are observed (g - 1 in a full
    panel; earlier when the group's own start period was left out, as the
    pipeline does for a rollout office by office) and units observed in both b
    and t. Comparison units C are the
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
where another measure on the same KPI has been implemented. ``alpha`` and
``min_units_per_arm`` come from ``thresholds.effects``: a measure in one office
gets placebo inference when at least 1/alpha - 1 comparison offices remain. The
register holds ``implemented_on`` per measure and, for a rollout office by office,
the quarter each office started in (``Measure.office_starts``,
:mod:`tasks.measures.rollout`). When the offices' starts differ, each office's own
start quarter is left out and "after" starts with its next quarter: the staggered
estimator runs with a mapping.

Verdict (``target_change`` is the change the working group aimed for; its sign
says which way is better; without a target the public API gives ``verdict=None``)
    * the confidence interval excludes 0 and the estimate has the sign of
      ``target_change`` -> ``effective``;
    * the interval excludes 0 with the opposite sign -> ``worsened``;
    * the interval includes 0 and the minimum detectable effect
      (MDE ~= 2.8 x SE: 80 % power at 5 % two-sided; with placebo inference
      c + 0.84 SE, see above) is at most
      ``|target_change|`` -> ``no_effect`` (the study could have seen the
      targeted change and did not);
    * otherwise -> ``inconclusive`` (too little data or power), also when there
      are no treated units, no data before or no data after.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import replace

import pandas as pd
from scipy import stats

from cxloop.quarters import Quarter
from tasks.effects.fits import fit_effect
from tasks.effects.panel import PeriodLike, prepare_panel
from tasks.effects.results import METHOD_NONE, OFFICE_NOUNS, PUBLIC_NOUNS, EffectResult, Fit, verdict_for

MDE_FACTOR = 2.8
ALPHA = 0.05  # the public API reports 95 % intervals
MIN_UNITS_PER_ARM = 2


def _result(fit: Fit, target_change: float | None, alpha: float) -> EffectResult:
    est, se, df = fit.estimate, fit.se, fit.df
    mde = MDE_FACTOR * se if math.isfinite(se) and fit.method != METHOD_NONE else None
    if fit.interval is not None and fit.p_value is not None:  # placebo inference: no t distribution
        low, high = fit.interval
        p = fit.p_value
        finite = all(math.isfinite(v) for v in (est, low, high, p))
        mde = fit.mde
    elif all(math.isfinite(v) for v in (est, se, df)) and se > 0:
        finite = True
        q = float(stats.t.ppf(1 - alpha / 2, df))
        low, high = est - q * se, est + q * se
        p = float(2 * stats.t.sf(abs(est) / se, df))
    else:
        finite = False
        low = high = p = float("nan")
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
        synthetic=fit.synthetic,
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
    ``n_treated``/``n_control`` units, ``n_obs``, ``note``, ``verdict``
    (None without ``target_change``) and, for a single treated unit, the
    synthetic-control cross-check ``synthetic`` (else None). Raises ``ValueError`` for a missing
    column, missing or mixed period labels (quarters and integers), start
    periods of the other kind, or a start mapping that does not match
    ``treated_units``.
    """
    rows, labels, starts, kind = prepare_panel(panel, unit, period, outcome, weights, treated_units, start_period)
    fit = fit_effect(rows, labels, starts, kind, MIN_UNITS_PER_ARM, PUBLIC_NOUNS, ALPHA)
    return _result(fit, target_change, ALPHA)


def estimate_kpi_effect(
    obs: pd.DataFrame,
    treated_offices: set[str],
    start_quarter: str | Mapping[str, str],
    target_change: float,
    alpha: float = 0.05,
    min_units_per_arm: int = 2,
) -> EffectResult:
    """The pipeline's call of the core: KPI observations (office_code, quarter, value[, weight]) of
    :func:`tasks.measures.kpi.kpi_observations`, the offices in the measure's scope and the first
    quarter counted as "after" (one for all, or office -> quarter for a rollout office by office);
    ``alpha`` and ``min_units_per_arm`` from ``thresholds.effects``; the result is rounded for
    storage (4 decimals, p-value 6; ``synthetic`` is left as computed)."""
    obs = obs.astype({"office_code": str, "quarter": str})
    weights = "weight" if "weight" in obs.columns else None
    start: str | dict[str, str] = (
        str(Quarter.parse(start_quarter))
        if isinstance(start_quarter, str)
        else {str(o): str(Quarter.parse(q)) for o, q in start_quarter.items()}
    )
    rows, labels, starts, kind = prepare_panel(
        obs,
        "office_code",
        "quarter",
        "value",
        weights,
        {str(o) for o in treated_offices},
        start,
    )
    fit = fit_effect(rows, labels, starts, kind, min_units_per_arm, OFFICE_NOUNS, alpha)
    r = _result(fit, target_change, alpha)

    def rd(x: float | None, digits: int = 4) -> float | None:
        return None if x is None else float(round(x, digits))

    return replace(
        r,
        estimate=rd(r.estimate),
        ci_low=rd(r.ci_low),
        ci_high=rd(r.ci_high),
        p_value=rd(r.p_value, 6),
        mde=rd(r.mde),
        se=rd(r.se),
    )
