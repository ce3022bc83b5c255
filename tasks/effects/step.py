"""The effects stage's step: evaluate the effect of every measure implemented long enough ago."""

from __future__ import annotations

from cxloop.config import AppConfig
from models.db import session_scope
from models.tables import Measure


def evaluate_effects(quarter: str, config: AppConfig, region: str | None = None) -> list[dict]:
    """Evaluate the quarter's due measures (:func:`tasks.effects.evaluate.evaluate_due_measures`);
    one dict per evaluation. ``region``: only the measures with an office in that region."""
    from tasks.effects.evaluate import evaluate_due_measures

    with session_scope() as session:
        evaluations = evaluate_due_measures(session, quarter, config, region=region)
        codes: dict[int, str] = {}
        for e in evaluations:
            measure = session.get(Measure, e.measure_id)
            assert measure is not None  # the measure the evaluation was just written for
            codes[e.measure_id] = measure.code
        return [{**e.model_dump(exclude={"id"}), "measure_code": codes[e.measure_id]} for e in evaluations]
