"""What is being done about it: the register of measures and their measured effects.

The report's register section (measures grouped as new, awaiting a decision, approved
and in progress, implemented, overdue and evaluated: ``register_group``) and effects
section (the effect evaluations with their forest chart), read from the database for one
scope; ``tasks.reports.context`` puts them in the context.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from cxloop.config import AppConfig
from cxloop.domain import NATIONAL
from cxloop.i18n import format_date, gettext
from cxloop.quarters import Quarter
from models.tables import EffectEvaluation, Measure
from tasks.measures.status import is_overdue
from tasks.reports.charts import forest_svg, svg_data_uri
from tasks.reports.strings import fmt_num, kpi_parts

EVALUATED_STATUSES = frozenset({"evaluated", "closed"})


def theme_labels(config: AppConfig, lang: str) -> dict[str, str]:
    """Theme id -> its label in ``lang`` (the id where the theme has none)."""
    return {tid: theme.labels.get(lang, tid) for tid, theme in config.themes.items()}


def _measure_row(m: Measure, config: AppConfig, t: dict[str, Any], lang: str, overdue: bool) -> dict[str, Any]:
    theme = config.themes.get(m.theme)
    return {
        "code": m.code,
        "title": m.title,
        "theme_label": theme.labels.get(lang, m.theme) if theme else m.theme,
        "region_code": m.region_code,
        "offices": m.offices,
        "owner": m.owner,
        "status": m.status,
        "status_label": t["statuses"].get(m.status, m.status.replace("_", " ")),
        "due_date": format_date(m.due_date, lang, "short"),
        "kpi": m.kpi_metric,
        "kpi_parts": kpi_parts(m.kpi_metric, lang, theme_labels(config, lang)),
        "kpi_baseline": fmt_num(m.kpi_baseline, lang),
        "kpi_target": fmt_num(m.kpi_target, lang),
        "verdict": m.effect_verdict,
        "verdict_label": t["verdicts"].get(m.effect_verdict, (m.effect_verdict or "—").replace("_", " ")),
        "overdue": overdue,
    }


def measure_in_scope(measure: Measure, scope: str, office_region: dict[str, str]) -> bool:
    """A measure belongs to a region's report when it is the region's or when any of
    its offices is in the region (a measure rolled out across regions shows in each)."""
    if scope == NATIONAL or measure.region_code == scope:
        return True
    return any(office_region.get(o) == scope for o in measure.offices.split(","))


#: The register's groups in the order the report shows them; each measure is in one at most.
REGISTER_GROUPS = ("new", "awaiting", "in_progress", "implemented", "overdue", "evaluated")


def register_group(measure: Measure, quarter: str, overdue: bool) -> str | None:
    """The register group a measure is shown in for ``quarter``, named by what its members are.

    Being overdue comes first (management must see it); then "new" (proposed this quarter,
    not rejected or cancelled); then by status: "awaiting" (proposed in an earlier
    quarter, no decision yet), "in_progress" (approved or in progress), "implemented"
    (implemented, effect not evaluated yet), "evaluated" (evaluated or closed, or any
    measure with a verdict). Rejected and cancelled measures are in no group (None).
    """
    status = measure.status
    if overdue:
        return "overdue"
    if measure.proposed_quarter == quarter and status not in ("rejected", "cancelled"):
        return "new"
    if status == "proposed":
        return "awaiting"
    if status in ("approved", "in_progress"):
        return "in_progress"
    if status == "implemented":
        return "implemented"
    if status in EVALUATED_STATUSES or measure.effect_verdict:
        return "evaluated"
    return None


def register_block(
    session: Session, quarter: Quarter, scope: str, config: AppConfig, t: dict[str, Any], lang: str
) -> dict[str, Any]:
    offices = {o.office_code: o.region_code for o in config.offices}
    measures = sorted(
        (m for m in session.exec(select(Measure)).all() if measure_in_scope(m, scope, offices)),
        key=lambda m: (m.region_code, m.code),
    )
    q = str(quarter)
    groups: dict[str, list[dict[str, Any]]] = {key: [] for key in REGISTER_GROUPS}
    for m in measures:
        # Measures proposed in a later quarter do not exist yet from this report's point of view.
        if Quarter.parse(m.proposed_quarter) > quarter:
            continue
        # One definition of "overdue" for the register, its export and the report.
        overdue = is_overdue(m, quarter.end)
        key = register_group(m, q, overdue)
        if key is not None:
            groups[key].append(_measure_row(m, config, t, lang, overdue))
    open_count = sum(len(groups[key]) for key in REGISTER_GROUPS if key != "evaluated")
    return {**groups, "open_count": open_count, "overdue_count": len(groups["overdue"])}


def _synthetic_text(ev: EffectEvaluation, lang: str, _: Any) -> str:
    """The synthetic-control cross-check of a one-office pilot, shown under its method; else ""."""
    if ev.synthetic_estimate is None or ev.synthetic_pre_rmspe is None:
        return ""
    return str(
        # TRANSLATORS: under the method of a one-office pilot's effect: the synthetic-control
        # estimate (%(estimate)s, e.g. "+3.1") and how closely it followed the office before the start.
        _(
            "synthetic control: %(estimate)s (fit before the start ±%(fit)s)",
            estimate=fmt_num(ev.synthetic_estimate, lang, digits=2, sign=True),
            fit=fmt_num(ev.synthetic_pre_rmspe, lang, digits=2),
        )
    )


def effects_block(
    session: Session, quarter: str, scope: str, config: AppConfig, t: dict[str, Any], lang: str
) -> dict[str, Any]:
    stmt = (
        select(EffectEvaluation, Measure)
        .join(Measure, col(Measure.id) == col(EffectEvaluation.measure_id))
        .where(EffectEvaluation.quarter == quarter)
    )
    offices = {o.office_code: o.region_code for o in config.offices}
    pairs = sorted(
        (p for p in session.exec(stmt).all() if measure_in_scope(p[1], scope, offices)),
        key=lambda p: (p[1].code, p[0].kpi_metric),
    )
    rows = []
    _ = gettext(lang)
    for ev, m in pairs:
        rows.append(
            {
                "code": m.code,
                "title": m.title,
                "kpi": ev.kpi_metric,
                "kpi_parts": kpi_parts(ev.kpi_metric, lang, theme_labels(config, lang)),
                "method": ev.method,
                "method_label": t["methods"].get(ev.method, ev.method.replace("_", " ")),
                "estimate": ev.estimate,
                "ci_low": ev.ci_low,
                "ci_high": ev.ci_high,
                "estimate_text": fmt_num(ev.estimate, lang, digits=2, sign=True),
                "ci_text": f"{fmt_num(ev.ci_low, lang, 2)}…{fmt_num(ev.ci_high, lang, 2)}",
                "units_text": f"{ev.n_treated_units} / {ev.n_control_units}",
                "n_obs": ev.n_obs,
                "verdict": ev.verdict,
                "verdict_label": t["verdicts"].get(ev.verdict, ev.verdict.replace("_", " ")),
                "lower_is_better": ev.kpi_metric.startswith("neg_share"),
                "synthetic_text": _synthetic_text(ev, lang, _),
            }
        )
    forest_rows = [(r["code"], r["estimate"], r["ci_low"], r["ci_high"]) for r in rows if r["estimate"] is not None]
    forest = (
        forest_svg(forest_rows, chart_id="forest", x_label=f"{t['estimate']} ({t['ci']})", lang=lang)
        if forest_rows
        else ""
    )
    return {"rows": rows, "forest_svg": forest, "forest_uri": svg_data_uri(forest)}
