"""What an effect estimate says: the method names, :class:`EffectResult` and the verdict rule.

The vocabulary every other module of the effects stage shares; the methods and the
verdict rules are documented in :mod:`tasks.effects.estimators`.
"""

from __future__ import annotations

import math
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
