"""Reads and writes of quarter-scoped results, shared by the stages.

Quarter results (star index, pain points) are replaced wholesale inside the
caller's transaction, so a rerun of a quarter leaves exactly one set of results,
and a run that fails half way leaves the previous set in place.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlmodel import Session

from cxloop.config import ITEMS
from models.tables import Feedback, IndexResult, Measure, MeasureHistory, Office, PainPoint, SurveyAnswer

INDEX_COLUMNS = [
    "quarter", "level", "unit_code", "region_code", "client_type", "friendliness", "usefulness", "effort",
    "personalisation", "comfort", "index", "ci_low", "ci_high", "n", "stars", "sufficient_sample",
    "change", "change_p_value",
]


def _none_for_nan(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    sub = frame[columns].astype(object)
    return sub.where(pd.notna(sub), None).to_dict("records")


def load_answers(session: Session, quarter: str) -> pd.DataFrame:
    """Star-survey respondents of a quarter: office_code, region_code, client_type, F1..C4."""
    cols = [Feedback.office_code, Feedback.region_code, Feedback.client_type] + [getattr(SurveyAnswer, i) for i in ITEMS]
    stmt = select(*cols).join(SurveyAnswer, SurveyAnswer.feedback_id == Feedback.id).where(Feedback.quarter == quarter)
    rows = session.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=["office_code", "region_code", "client_type", *ITEMS])
    frame[list(ITEMS)] = frame[list(ITEMS)].astype("float64")
    return frame


def load_feedback(session: Session, quarter: str) -> pd.DataFrame:
    cols = ["id", "channel", "office_code", "region_code", "client_type", "journey_stage", "rating", "scale",
            "text", "language", "sentiment", "themes", "negative_themes"]
    stmt = select(*[getattr(Feedback, c) for c in cols]).where(Feedback.quarter == quarter).order_by(Feedback.id)
    return pd.DataFrame(session.execute(stmt).all(), columns=cols)


def load_index(session: Session, quarter: str) -> pd.DataFrame:
    stmt = select(IndexResult).where(IndexResult.quarter == quarter)
    rows = [r.model_dump() for r in session.execute(stmt).scalars()]
    return pd.DataFrame(rows, columns=["id", *INDEX_COLUMNS]) if rows else pd.DataFrame(columns=["id", *INDEX_COLUMNS])


def index_se(frame: pd.DataFrame) -> pd.Series:
    """Standard error recovered from a stored 95% interval (for change tests)."""
    return (frame["ci_high"] - frame["ci_low"]) / (2 * 1.959963984540054)


def replace_index_results(session: Session, quarter: str, frame: pd.DataFrame) -> int:
    session.execute(delete(IndexResult).where(IndexResult.quarter == quarter))
    if frame.empty:
        return 0
    data = frame.assign(quarter=quarter)
    for col in INDEX_COLUMNS:
        if col not in data:
            data[col] = None
    records = _none_for_nan(data, INDEX_COLUMNS)
    for r in records:
        r["n"] = int(r["n"] or 0)
        r["stars"] = int(r["stars"]) if r["stars"] is not None else None
        r["sufficient_sample"] = bool(r["sufficient_sample"])
        for k in ("friendliness", "usefulness", "effort", "personalisation", "comfort", "index", "ci_low", "ci_high", "change", "change_p_value"):
            if r[k] is not None:
                r[k] = round(float(r[k]), 6)
    session.execute(insert(IndexResult.__table__), records)
    return len(records)


def load_pain_points(session: Session, quarter: str) -> pd.DataFrame:
    stmt = select(PainPoint).where(PainPoint.quarter == quarter).order_by(PainPoint.region_code, PainPoint.rank)
    rows = [r.model_dump() for r in session.execute(stmt).scalars()]
    return pd.DataFrame(rows)


def replace_pain_points(session: Session, quarter: str, frame: pd.DataFrame) -> int:
    session.execute(delete(PainPoint).where(PainPoint.quarter == quarter))
    if frame.empty:
        return 0
    data = frame.assign(quarter=quarter)
    cols = ["quarter", "region_code", "theme", "journey_stage", "mentions", "negative_mentions", "texts_total",
            "negative_share", "ray", "ray_score", "trend", "priority", "rank", "recurring"]
    records = _none_for_nan(data, cols)
    for r in records:
        for k in ("mentions", "negative_mentions", "texts_total", "rank"):
            r[k] = int(r[k])
        for k in ("negative_share", "ray_score", "trend", "priority"):
            if r[k] is not None:
                r[k] = round(float(r[k]), 6)
        r["recurring"] = bool(r["recurring"])
    session.execute(insert(PainPoint.__table__), records)
    return len(records)


def closed_measure_scopes(session: Session, before: datetime) -> set[tuple[str, str]]:
    """(region_code, theme) of measures that were evaluated or closed before ``before``
    (the quarter's cycle time) and still are: a pain point there is recurring.

    Judged on the history, not the current status alone, so a measure evaluated later
    in the same cycle does not change the quarter's pain points on a rerun. A measure
    whose scope is several regions counts for each region of its offices."""
    stmt = (
        select(Measure.region_code, Measure.theme, Measure.offices)
        .join(MeasureHistory, MeasureHistory.measure_id == Measure.id)
        .where(Measure.status.in_(["evaluated", "closed"]), MeasureHistory.field == "status",
               MeasureHistory.to_value.in_(["evaluated", "closed"]), MeasureHistory.at < before)
        .distinct()
    )
    office_region = dict(session.execute(select(Office.office_code, Office.region_code)).all())
    scopes: set[tuple[str, str]] = set()
    for region, theme, offices in session.execute(stmt).all():
        regions = {office_region[o] for o in (offices or "").split(",") if o in office_region}
        if region != "ALL":
            regions.add(region)
        scopes |= {(r, theme) for r in regions} | {("ALL", theme)}
    return scopes
