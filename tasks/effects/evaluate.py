"""Evaluating the measures of a quarter: every measure implemented at least one full quarter
earlier gets its effect estimated on its KPI and stored, and its verdict written to the register.

The quarterly step of the effects stage (:func:`tasks.effects.step.evaluate_effects`
wraps it): KPI observations come from :mod:`tasks.measures.kpi`, the statistics from
:mod:`tasks.effects.estimators`, the register writes from :mod:`tasks.measures.register`.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlmodel import Session, col, select

from cxloop.config import AppConfig
from cxloop.quarters import Quarter
from models.tables import EffectEvaluation, Feedback, Measure
from tasks.effects.estimators import estimate_kpi_effect
from tasks.effects.results import SyntheticControl
from tasks.measures.kpi import client_type_for_theme, kpi_observations, parse_metric
from tasks.measures.register import SYSTEM_USER, change_status, update_fields
from tasks.measures.rollout import start_quarters

# Default aims when a measure's target cannot be derived (lower is better for shares of complaints).
_DEFAULT_TARGET = {"neg_share": -5.0, "item": 5.0, "ray": 5.0}


def target_change_for(measure: Measure, config: AppConfig | None) -> float:
    """The change the measure aims for: as recorded, else target - baseline, else the playbook's,
    else a default by KPI kind."""
    if measure.kpi_target_change is not None:
        return float(measure.kpi_target_change)
    if (
        measure.kpi_target is not None
        and measure.kpi_baseline is not None
        and measure.kpi_target != measure.kpi_baseline
    ):
        return float(measure.kpi_target - measure.kpi_baseline)
    if config is not None:
        templates = config.playbook.measures.get(measure.theme, [])
        for t in templates:
            if t.kpi.metric == measure.kpi_metric:
                return float(t.kpi.target_change)
    return _DEFAULT_TARGET[parse_metric(measure.kpi_metric)[0]]


def measure_offices(measure: Measure, config: AppConfig | None) -> set[str]:
    offices = {o for o in measure.offices.split(",") if o}
    if not offices and config is not None:
        offices = {o.office_code for o in config.offices if o.region_code == measure.region_code}
    return offices


def office_starts_of(measure: Measure, offices: set[str]) -> dict[str, Quarter]:
    """Each office of the scope with the quarter it started in (its own, else the implementation quarter)."""
    assert measure.implemented_on is not None  # only implemented measures are evaluated or contaminate
    return start_quarters(",".join(sorted(offices)), measure.office_starts, Quarter.of(measure.implemented_on))


def _synthetic_columns(sc: SyntheticControl | None) -> dict[str, Any]:
    """The stored summary of a synthetic-control cross-check (rounded like the estimate)."""
    if sc is None:
        return {}
    donors = ", ".join(f"{d.unit} {d.weight:.2f}" for d in sc.weights[:5] if d.weight >= 0.005)
    return {
        "synthetic_estimate": round(sc.estimate, 4),
        "synthetic_pre_rmspe": round(sc.pre_rmspe, 4),
        "synthetic_p_value": None if sc.p_value is None else round(sc.p_value, 6),
        "synthetic_donors": donors,
        "synthetic_note": sc.note,
    }


def evaluate_due_measures(
    session: Session, quarter: str, config: AppConfig, region: str | None = None
) -> list[EffectEvaluation]:
    """Evaluate every implemented measure that has a full quarter after it by ``quarter``.

    For measures with status implemented / evaluated / closed and
    ``Quarter.of(implemented_on) < quarter``, estimate the effect using every
    quarter up to ``quarter`` present in the data; replace the measure's
    evaluation for ``quarter`` (reruns overwrite), write the verdict to the
    measure and move ``implemented`` to ``evaluated`` at the quarter's cycle date.
    ``region``: only the measures with at least one office in that region (a measure's
    offices are its scope, or its region's offices when it lists none); the comparison
    offices still come from everywhere, so the evaluation is the one the whole quarter gives.
    Out: the evaluations, sorted by measure code.
    """
    q = Quarter.parse(quarter)
    at = datetime.combine(q.cycle_date, time(6))
    thresholds = config.thresholds.effects
    measures = [
        m
        for m in session.exec(
            select(Measure)
            .where(
                col(Measure.status).in_(("implemented", "evaluated", "closed")),
                col(Measure.implemented_on).is_not(None),
            )
            .order_by(col(Measure.code))
        )
        if m.implemented_on is not None and Quarter.of(m.implemented_on) < q
    ]
    if region is not None:
        in_region = {o.office_code for o in config.offices if o.region_code == region}
        measures = [m for m in measures if measure_offices(m, config) & in_region]
    if not measures:
        return []
    data_quarters = sorted(
        {
            str(x)
            for x in session.exec(select(Feedback.quarter).distinct())
            if Quarter.parse(str(x)).index() <= q.index()
        },
        key=lambda s: Quarter.parse(s).index(),
    )
    # Offices already reached by a measure on the same KPI (by this cycle) are no comparison.
    treated_by_metric: dict[str, list[tuple[str, set[str]]]] = {}
    for m in session.exec(select(Measure).where(col(Measure.implemented_on).is_not(None))):
        if m.status in ("rejected", "cancelled") or m.implemented_on is None or Quarter.of(m.implemented_on) > q:
            continue
        started = {o for o, s in office_starts_of(m, measure_offices(m, config)).items() if s <= q}
        treated_by_metric.setdefault(m.kpi_metric, []).append((m.code, started))

    evaluations: list[EffectEvaluation] = []
    for m in measures:
        assert m.id is not None and m.implemented_on is not None  # read from the database, selected with a date
        impl_q = Quarter.of(m.implemented_on)
        offices = measure_offices(m, config)
        contaminated = (
            set().union(*(o for code, o in treated_by_metric.get(m.kpi_metric, []) if code != m.code)) - offices
        )
        starts = office_starts_of(m, offices)
        client_type = client_type_for_theme(m.theme, config)
        start: str | dict[str, str]
        if len(set(starts.values())) <= 1:
            # The implementation quarter is partly before and partly after: left out.
            quarters = [s for s in data_quarters if Quarter.parse(s) != impl_q]
            obs = kpi_observations(session, m.kpi_metric, quarters, client_type=client_type)
            start = str(impl_q.next())
        else:
            # A rollout office by office: each office's own start quarter is left out for that office.
            obs = kpi_observations(session, m.kpi_metric, data_quarters, client_type=client_type)
            own_start = obs["office_code"].map({o: str(s) for o, s in starts.items()})
            obs = obs[own_start.isna() | (obs["quarter"] != own_start)]
            start = {o: str(s.next()) for o, s in starts.items()}
        obs = obs[~obs["office_code"].isin(contaminated)]
        result = estimate_kpi_effect(
            obs,
            offices,
            start,
            target_change_for(m, config),
            alpha=thresholds.alpha,
            min_units_per_arm=thresholds.min_units_per_arm,
        )
        assert result.verdict is not None  # estimate_kpi_effect always has a target change
        fresh = EffectEvaluation(
            measure_id=m.id,
            quarter=str(q),
            kpi_metric=m.kpi_metric,
            method=result.method,
            estimate=result.estimate,
            ci_low=result.ci_low,
            ci_high=result.ci_high,
            p_value=result.p_value,
            n_treated_units=result.n_treated,
            n_control_units=result.n_control,
            n_obs=result.n_obs,
            mde=result.mde,
            verdict=result.verdict,
            note=result.note,
            **_synthetic_columns(result.synthetic),
        )
        # A rerun replaces the quarter's evaluation in place: same row, same id.
        evaluation = session.exec(
            select(EffectEvaluation).where(
                col(EffectEvaluation.measure_id) == m.id, col(EffectEvaluation.quarter) == str(q)
            )
        ).first()
        if evaluation is None:
            evaluation = fresh
        else:
            for name in EffectEvaluation.model_fields.keys() - {"id"}:
                setattr(evaluation, name, getattr(fresh, name))
        session.add(evaluation)
        update_fields(
            session, m, {"effect_verdict": result.verdict}, SYSTEM_USER, at, comment=f"effect evaluated in {q}"
        )
        if m.status == "implemented":
            change_status(
                session, m, "evaluated", SYSTEM_USER, at, comment=f"effect evaluated in {q}: {result.verdict}"
            )
        evaluations.append(evaluation)
    session.flush()
    return evaluations  # measures were walked in code order
