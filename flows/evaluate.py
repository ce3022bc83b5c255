"""Stage 7 of the loop on demand: measure the effect of corrective measures (flow ``evaluate-measures``).

The quarterly cycle evaluates measures as one of its steps; this flow runs that
step alone, e.g. after a measure's implementation date was corrected in the register
or a late survey file was ingested, without writing and e-mailing the reports again.
It calls the same stage as the cycle (:func:`tasks.effects.step.evaluate_effects`, i.e.
:func:`tasks.effects.estimators.evaluate_measures`): every measure implemented, evaluated or
closed at least one full quarter before ``quarter`` is estimated on its playbook KPI
with difference-in-differences against offices without the measure (staggered
Callaway & Sant'Anna, interrupted time series or before/after when the data call
for it; the method says which), the quarter's evaluation of the measure is replaced
(reruns overwrite) and an ``implemented`` measure moves to ``evaluated`` at the
quarter's logical cycle date, so a rerun gives the same register.

The run publishes a table artifact ``cx-effects-<quarter>``: per measure code the
KPI, method, estimate with its 95 % interval, p-value, numbers of treated and
comparison offices, minimum detectable effect and verdict (``effective``,
``worsened``, ``no_effect``, ``inconclusive``).

From Python (no server needed)::

    from flows.evaluate import evaluate_measures
    evaluate_measures(quarter="2026Q3")
"""

from __future__ import annotations

import math
from typing import Any, SupportsFloat

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from cxloop.config import get_config
from cxloop.quarters import Quarter
from cxloop.settings import get_settings
from flows.inputs import as_is
from flows.params import QuarterText
from models.db import upgrade
from tasks.collect.step import sync_registry as sync_office_registry
from tasks.effects import step as effects_step

_task: dict[str, Any] = dict(cache_policy=NO_CACHE, persist_result=False)

migrate_database = task(name="migrate-database", **_task)(upgrade)
sync_registry = task(name="sync-office-registry", **_task)(sync_office_registry)
evaluate_effects = task(name="evaluate-effects", **_task)(effects_step.evaluate_effects)

TABLE_COLUMNS = (
    "measure",
    "kpi",
    "method",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "treated_offices",
    "comparison_offices",
    "observations",
    "mde",
    "verdict",
    "synthetic_estimate",
    "synthetic_pre_fit",
)


def _number(value: SupportsFloat | None, digits: int) -> float | None:
    """Rounded for display; a missing estimate (None or NaN) stays empty, never ``NaN``."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else round(number, digits)


def evaluation_rows(evaluations: list[dict]) -> list[dict]:
    """One table row per evaluated measure (keys :data:`TABLE_COLUMNS`), sorted by measure code.

    ``evaluations`` are the dicts :func:`tasks.effects.step.evaluate_effects` returns
    (``EffectEvaluation`` fields plus ``measure_code``). Estimates and intervals are in
    KPI points (0-100 scale), rounded to 0.1; the p-value to 0.0001."""
    rows = []
    for e in sorted(evaluations, key=lambda e: e["measure_code"]):
        rows.append(
            {
                "measure": e["measure_code"],
                "kpi": e["kpi_metric"],
                "method": e["method"],
                "estimate": _number(e["estimate"], 1),
                "ci_low": _number(e["ci_low"], 1),
                "ci_high": _number(e["ci_high"], 1),
                "p_value": _number(e["p_value"], 4),
                "treated_offices": e["n_treated_units"],
                "comparison_offices": e["n_control_units"],
                "observations": _number(e["n_obs"], 0),
                "mde": _number(e["mde"], 1),
                "verdict": e["verdict"],
                # A single-office pilot's synthetic-control cross-check and its fit before the start.
                "synthetic_estimate": _number(e.get("synthetic_estimate"), 1),
                "synthetic_pre_fit": _number(e.get("synthetic_pre_rmspe"), 1),
            }
        )
    return rows


@flow(name="evaluate-measures")
def evaluate_measures(quarter: QuarterText) -> dict:
    """Evaluate the effect of every measure implemented at least one full quarter before ``quarter``.

    Args:
        quarter: the quarter whose data close the "after" period, ``YYYYQn``.

    Returns ``{"quarter", "evaluations"}`` with one row per measure (see
    :func:`evaluation_rows`); the same rows are the run's table artifact
    ``cx-effects-<quarter>``.
    """
    logger = get_run_logger()
    q = str(Quarter.parse(quarter))
    settings = get_settings()
    settings.ensure_dirs()
    config = get_config(settings.config_dir)
    migrate_database()
    sync_registry(as_is(config))
    rows = evaluation_rows(evaluate_effects(q, as_is(config)))
    key = f"cx-effects-{q.lower()}"
    if rows:
        create_table_artifact(
            key=key,
            table=rows,
            description=f"Effect of corrective measures, {q}: estimate and 95 % interval in KPI points",
        )
    else:
        create_markdown_artifact(
            key=key,
            markdown=f"# Effect of corrective measures, {q}\n\n"
            f"No measure was implemented at least one full quarter before {q}: nothing to evaluate.",
            description=f"Effect of corrective measures, {q}",
        )
    for r in rows:
        logger.info(
            "%s (%s): %s, %s [%s; %s]", r["measure"], r["kpi"], r["verdict"], r["estimate"], r["ci_low"], r["ci_high"]
        )
    logger.info("evaluate-measures %s: %d measure(s) evaluated", q, len(rows))
    return {"quarter": q, "evaluations": rows}


if __name__ == "__main__":
    import sys

    print(evaluate_measures(quarter=sys.argv[1] if len(sys.argv) > 1 else str(Quarter.last_complete())))
