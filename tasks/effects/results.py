"""What an effect estimate says: the method names, :class:`EffectResult` (with the
synthetic-control cross-check, :class:`SyntheticControl`) and the verdict rule; and the
estimators' internal :class:`Fit` and the :class:`Nouns` their notes use.

The vocabulary every other module of the effects stage shares; the methods and the
verdict rules are documented in :mod:`tasks.effects.estimators`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import asdict, dataclass

METHOD_DID = "difference_in_differences"
METHOD_STAGGERED = "staggered_did"
METHOD_ITS = "interrupted_time_series"
METHOD_BEFORE_AFTER = "before_after"
METHOD_NONE = "none"
VERDICTS = ("effective", "no_effect", "worsened", "inconclusive")


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
class DonorWeight:
    """A comparison unit's weight in a synthetic control."""

    unit: Hashable
    weight: float


@dataclass(frozen=True)
class SyntheticPoint:
    """One period of a synthetic control: the treated unit's value, its synthetic twin's, and
    whether the period is after the start."""

    period: str | int
    treated: float
    synthetic: float
    after: bool


@dataclass(frozen=True)
class SyntheticControl:
    """The synthetic-control cross-check of a single-unit pilot (see :mod:`tasks.effects.estimators`).

    ``estimate`` is the mean gap treated - synthetic after the start (outcome units);
    ``pre_rmspe``/``post_rmspe`` the root mean squared gap before/after; ``p_value`` the
    placebo rank of the post/pre RMSPE ratio among ``n_placebos`` donors (None with fewer
    than two); ``weights`` the largest donor weights, largest first; ``path`` every period.
    """

    unit: Hashable
    estimate: float
    pre_rmspe: float
    post_rmspe: float
    p_value: float | None
    n_placebos: int
    n_donors: int
    weights: tuple[DonorWeight, ...]
    path: tuple[SyntheticPoint, ...]
    note: str


@dataclass(frozen=True)
class EffectResult:
    """An effect estimate with the sample behind it (see the module docstring).

    ``estimate``/``ci_low``/``ci_high``/``se``/``mde`` are in the outcome's units;
    ``n_treated``/``n_control`` count units, ``n_obs`` observations (rows or the
    sum of the weights) that entered the estimate; ``verdict`` is None when no
    target was given; ``group_time`` is filled by the staggered estimator;
    ``synthetic`` holds the synthetic-control cross-check of a single-unit pilot.
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
    synthetic: SyntheticControl | None = None

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


@dataclass(frozen=True)
class Nouns:
    """How notes name units and periods: offices and quarters in the pipeline, units and periods for analysts."""

    unit: str = "unit"
    units: str = "units"
    period: str = "period"
    periods: str = "periods"
    treated: str = "the treated units"


PUBLIC_NOUNS = Nouns()
OFFICE_NOUNS = Nouns("office", "offices", "quarter", "quarters", "the measure's offices")


@dataclass
class Fit:
    """One method's estimate, standard error and degrees of freedom, with the sample behind it.

    ``interval``, ``p_value`` and ``mde`` are set by placebo inference, which has no t
    distribution (``df`` NaN); otherwise they follow from ``se`` and ``df``.
    """

    estimate: float
    se: float
    df: float
    method: str
    n_treated: int
    n_control: int
    n_obs: float
    note: str
    group_time: tuple[GroupTimeEffect, ...] = ()
    interval: tuple[float, float] | None = None
    p_value: float | None = None
    mde: float | None = None
    synthetic: SyntheticControl | None = None


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
