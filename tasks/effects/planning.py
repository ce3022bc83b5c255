"""Power check of a measure before it starts: could its evaluation see the change it aims for?

:func:`plan_measure` reads the measure's KPI history from the database (every office that
could serve as comparison, in every quarter stored up to ``until``), leaves out offices
another started measure on the same KPI reaches (as the evaluation does), and asks
:func:`tasks.effects.power.plan_power` for the minimum detectable effect of the planned
design: the measure's offices, ``post_quarters`` quarters after the start, its aimed
change. ``cxloop measures plan CODE`` and the working group's proposal review form show it,
so a pilot too small to show anything is flagged before it starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from cxloop.config import AppConfig
from cxloop.quarters import Quarter
from models.tables import Feedback, Measure
from tasks.effects.evaluate import measure_offices, office_starts_of, target_change_for
from tasks.effects.power import PowerPlan, plan_power
from tasks.measures.kpi import client_type_for_theme, kpi_observations

#: Quarters after the start a plan assumes when nobody says: the evaluation's first two readings.
DEFAULT_POST_QUARTERS = 2


@dataclass(frozen=True)
class MeasurePlan:
    """A measure's power check: the plan and the history it was made from."""

    code: str
    kpi_metric: str
    offices: tuple[str, ...]
    history_quarters: tuple[str, ...]
    left_out_offices: tuple[str, ...]  # reached by another measure on the same KPI
    plan: PowerPlan

    def verdict(self) -> str:
        """One line for a person: enough, or what it would take."""
        p = self.plan
        if p.mde is None:
            reason = p.note.split(";")[0].removeprefix("no MDE: ")
            return f"no power check possible: {reason}"
        aim = f"{abs(p.target_change):g}"
        if p.enough:
            return f"enough: MDE {p.mde:.1f} ≤ aimed change {aim}"
        needs = []
        if p.needed_offices is not None:
            needs.append(f"{p.needed_offices} offices")
        if p.needed_quarters is not None and p.needed_quarters > p.post_quarters:
            needs.append(f"{p.needed_quarters} quarters after the start")
        need = " or ".join(needs) if needs else "more offices and quarters than the history can show"
        return f"too small: MDE {p.mde:.1f} > aimed change {aim}; it would need {need}"

    def as_dict(self) -> dict:
        p = self.plan
        return {
            "code": self.code,
            "kpi_metric": self.kpi_metric,
            "offices": list(self.offices),
            "history_quarters": list(self.history_quarters),
            "left_out_offices": list(self.left_out_offices),
            "target_change": p.target_change,
            "post_quarters": p.post_quarters,
            "mde": p.mde,
            "se": p.se,
            "enough": p.enough,
            "needed_offices": p.needed_offices,
            "needed_quarters": p.needed_quarters,
            "inference": p.inference,
            "n_comparison": p.n_comparison,
            "note": p.note,
            "verdict": self.verdict(),
        }


def plan_measure(
    session: Session,
    measure: Measure,
    config: AppConfig,
    post_quarters: int = DEFAULT_POST_QUARTERS,
    until: Quarter | None = None,
) -> MeasurePlan:
    """The power check of ``measure`` on the KPI history stored up to ``until`` (default: all), and
    never after the quarter before its implementation (its own effect is no noise to plan with)."""
    quarters = sorted(
        (str(q) for q in session.exec(select(Feedback.quarter).distinct())),
        key=lambda s: Quarter.parse(s).index(),
    )
    if measure.implemented_on is not None:
        # Power *before* the pilot: a measure already started is planned on its history before the start.
        before_start = Quarter.of(measure.implemented_on).prev()
        until = before_start if until is None else min(until, before_start)
    if until is not None:
        quarters = [q for q in quarters if Quarter.parse(q) <= until]
    offices = measure_offices(measure, config)
    others = session.exec(
        select(Measure).where(
            col(Measure.kpi_metric) == measure.kpi_metric,
            col(Measure.implemented_on).is_not(None),
            col(Measure.code) != measure.code,
            col(Measure.status).not_in(("rejected", "cancelled")),
        )
    )
    reached: set[str] = set()
    for other in others:
        reached |= set(office_starts_of(other, measure_offices(other, config)))
    left_out = sorted(reached - offices)
    history = kpi_observations(
        session, measure.kpi_metric, quarters, client_type=client_type_for_theme(measure.theme, config)
    )
    history = history[~history["office_code"].isin(left_out)]
    thresholds = config.thresholds.effects
    plan = plan_power(
        history,
        sorted(offices),
        post_quarters,
        target_change_for(measure, config),
        alpha=thresholds.alpha,
        min_units_per_arm=thresholds.min_units_per_arm,
    )
    return MeasurePlan(
        code=measure.code,
        kpi_metric=measure.kpi_metric,
        offices=tuple(sorted(offices)),
        history_quarters=tuple(quarters),
        left_out_offices=tuple(left_out),
        plan=plan,
    )
