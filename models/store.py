"""Reads and writes of quarter-scoped results, shared by the stages.

Quarter results (star index, pain points) are replaced wholesale inside the
caller's transaction, so a rerun of a quarter leaves exactly one set of results,
and a run that fails half way leaves the previous set in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, insert, select, text
from sqlmodel import Session, col

from models.tables import Feedback, IndexResult, Measure, MeasureHistory, Office, PainPoint

INDEX_COLUMNS = [
    "quarter",
    "level",
    "unit_code",
    "region_code",
    "client_type",
    "friendliness",
    "usefulness",
    "effort",
    "personalisation",
    "comfort",
    "index",
    "ci_low",
    "ci_high",
    "n",
    "stars",
    "sufficient_sample",
    "change",
    "change_p_value",
]


def _none_for_nan(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    sub = frame[columns].astype(object)
    return sub.where(pd.notna(sub), None).to_dict("records")


def frame_from_rows(rows: Sequence[Any], columns: list[str], float_columns: Iterable[str] = ()) -> pd.DataFrame:
    """A DataFrame from database rows, built column by column.

    ``pd.DataFrame(rows)`` on SQLAlchemy ``Row`` objects inspects every row as a
    possible mapping (for 400k respondents that is ~13 s of caught exceptions);
    transposing the plain tuples first takes well under a second.
    """
    data = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    floats = set(float_columns)
    return pd.DataFrame(
        {c: pd.Series(list(v), dtype="float64" if c in floats else None) for c, v in zip(columns, data, strict=True)},
        columns=columns,
    )


def query_frame(session: Session, stmt: Any, columns: list[str], float_columns: Iterable[str] = ()) -> pd.DataFrame:
    """The rows of a select of plain columns as a frame (:func:`frame_from_rows`), fetched on
    the session's connection, past the ORM's row loading (~3 s per million rows); pending
    changes are flushed first, as ``session.execute`` would, so the query sees them."""
    session.flush()
    return frame_from_rows(session.connection().execute(stmt).all(), columns, float_columns)


def load_feedback(session: Session, quarter: str, *where: Any) -> pd.DataFrame:
    """The quarter's feedback rows (``where``: further conditions on ``Feedback``), in id order."""
    cols = [
        "id",
        "channel",
        "office_code",
        "region_code",
        "client_type",
        "journey_stage",
        "rating",
        "scale",
        "text",
        "language",
        "sentiment",
        "themes",
        "negative_themes",
    ]
    stmt = (
        select(*[getattr(Feedback, c) for c in cols])
        .where(col(Feedback.quarter) == quarter, *where)
        .order_by(col(Feedback.id))
    )
    return query_frame(session, stmt, cols)


def load_index(session: Session, quarter: str) -> pd.DataFrame:
    stmt = select(IndexResult).where(col(IndexResult.quarter) == quarter)
    rows = [r.model_dump() for r in session.execute(stmt).scalars()]
    return pd.DataFrame(rows, columns=["id", *INDEX_COLUMNS]) if rows else pd.DataFrame(columns=["id", *INDEX_COLUMNS])


def index_se(frame: pd.DataFrame) -> pd.Series:
    """Standard error recovered from a stored 95% interval (for change tests)."""
    return (frame["ci_high"] - frame["ci_low"]) / (2 * 1.959963984540054)


def _region_rows(table: Any, region: str) -> Any:
    """A region's own rows of a quarter-result table: its offices and the region itself, never the country."""
    return (col(table.region_code) == region) & col(table.level).in_(("office", "region"))


def replace_index_results(session: Session, quarter: str, frame: pd.DataFrame, region: str | None = None) -> int:
    """Replace the quarter's index rows with ``frame``; with ``region`` only that region's
    office and region rows (the frame must hold only those), the other rows left as they are."""
    stmt = delete(IndexResult).where(col(IndexResult.quarter) == quarter)
    if region is not None:
        stmt = stmt.where(_region_rows(IndexResult, region))
    session.execute(stmt)
    if frame.empty:
        return 0
    data = frame.assign(quarter=quarter)
    for column in INDEX_COLUMNS:
        if column not in data:
            data[column] = None
    records = _none_for_nan(data, INDEX_COLUMNS)
    for r in records:
        r["n"] = int(r["n"] or 0)
        r["stars"] = int(r["stars"]) if r["stars"] is not None else None
        r["sufficient_sample"] = bool(r["sufficient_sample"])
        for k in (
            "friendliness",
            "usefulness",
            "effort",
            "personalisation",
            "comfort",
            "index",
            "ci_low",
            "ci_high",
            "change",
            "change_p_value",
        ):
            if r[k] is not None:
                r[k] = round(float(r[k]), 6)
    session.execute(insert(IndexResult.metadata.tables[IndexResult.__tablename__]), records)
    return len(records)


PAIN_POINT_STORED = [
    "quarter",
    "level",
    "unit_code",
    "region_code",
    "client_type",
    "theme",
    "journey_stage",
    "mentions",
    "negative_mentions",
    "texts_total",
    "negative_share",
    "mean_rating",
    "reach_offices",
    "offices_total",
    "reach_clients",
    "ray",
    "ray_score",
    "trend",
    "signal",
    "p_bar",
    "ucl",
    "lcl",
    "driver_importance",
    "covered_by",
    "component_reach",
    "component_severity",
    "component_trend",
    "component_driver",
    "component_coverage",
    "priority",
    "rank",
    "recurring",
]
_PAIN_INTS = ("mentions", "negative_mentions", "texts_total", "reach_offices", "offices_total", "reach_clients", "rank")
_PAIN_FLOATS = (
    "negative_share",
    "mean_rating",
    "ray_score",
    "trend",
    "p_bar",
    "ucl",
    "lcl",
    "driver_importance",
    "component_reach",
    "component_severity",
    "component_trend",
    "component_driver",
    "component_coverage",
    "priority",
)
_LEVEL_ORDER = {"country": 0, "region": 1, "office": 2}


def load_pain_points(session: Session, quarter: str) -> pd.DataFrame:
    """The quarter's pain points (``PAIN_POINT_STORED`` + id): country first, then regions,
    then offices, each by unit code and rank."""
    stmt = select(PainPoint).where(col(PainPoint.quarter) == quarter)
    rows = [r.model_dump() for r in session.execute(stmt).scalars()]
    frame = pd.DataFrame(rows, columns=["id", *PAIN_POINT_STORED])
    if frame.empty:
        return frame
    order = frame["level"].map(_LEVEL_ORDER).fillna(len(_LEVEL_ORDER))
    frame = frame.assign(_lvl=order).sort_values(["_lvl", "unit_code", "rank", "id"], kind="mergesort")
    frame = frame.drop(columns="_lvl").reset_index(drop=True)
    for column in ("signal", "covered_by"):  # optional text: None when empty, as tasks.insight.painpoints gives it
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def replace_pain_points(session: Session, quarter: str, frame: pd.DataFrame, region: str | None = None) -> int:
    """Replace the quarter's pain points with ``frame`` (``tasks.insight.painpoints.PAIN_POINT_COLUMNS``);
    with ``region`` only that region's office and region rows (the frame must hold only those).

    A frame from before the per-unit columns (region_code only) is stored as region
    rows (``ALL`` = country) with the columns' defaults."""
    stmt = delete(PainPoint).where(col(PainPoint.quarter) == quarter)
    if region is not None:
        stmt = stmt.where(_region_rows(PainPoint, region))
    session.execute(stmt)
    if frame.empty:
        return 0
    data = frame.assign(quarter=quarter)
    if "level" not in data:
        data["level"] = data["region_code"].map(lambda r: "country" if r == "ALL" else "region")
    if "unit_code" not in data:
        data["unit_code"] = data["region_code"]
    defaults = {"client_type": "citizen", "reach_offices": 0, "reach_clients": 0, "recurring": False}
    for column in PAIN_POINT_STORED:
        if column not in data:
            data[column] = defaults.get(column)
    for column in _PAIN_INTS:
        data[column] = data[column].fillna(0).astype("int64")
    for column in _PAIN_FLOATS:
        data[column] = pd.to_numeric(data[column], errors="coerce").astype("float64").round(6)
    data["recurring"] = data["recurring"].fillna(False).astype(bool)
    records = _none_for_nan(data, PAIN_POINT_STORED)
    session.execute(insert(PainPoint.metadata.tables[PainPoint.__tablename__]), records)
    return len(records)


def load_text_groups(
    session: Session, quarter: str, history: list[str] | tuple[str, ...] = (), region: str | None = None
) -> pd.DataFrame:
    """Feedback texts of ``quarter`` and of the ``history`` quarters, counted per identical
    (quarter, office, region, client type, journey stage, themes, negative themes):
    ``tasks.insight.painpoints.TEXT_GROUP_COLUMNS``.

    The lean input of pain-point detection: the database does the counting, no text
    leaves it. A text is a non-empty ``text``. ``rated`` / ``rating_sum`` count and add
    the ratings rescaled to 0-100 ((rating - 1) / (scale - 1) x 100), for ``quarter``
    only. History rows carry only their *negative* themes in ``themes`` (all the p-chart
    and the trend need), which makes far fewer distinct groups. Unknown office or stage
    is "".

    Speed (1,000,000 rows a quarter, 7 quarters, SQLite): the table is read in storage
    order (``NOT INDEXED``). Through the (quarter, office) index SQLite visits the rows
    office by office, i.e. in random page order, which was 15 times slower (26 s instead
    of 1.7 s just to visit 7 quarters); the grouping itself is what remains (~6 s).

    ``region``: only that region's texts (read through the region index).
    """
    from sqlalchemy import bindparam

    source = "feedback NOT INDEXED" if session.get_bind().dialect.name == "sqlite" and region is None else "feedback"
    in_region = "AND region_code = :region " if region is not None else ""
    rated = "quarter = :current AND rating IS NOT NULL AND scale > 1"
    stmt = text(
        f"SELECT quarter, COALESCE(office_code, ''), region_code, client_type, COALESCE(journey_stage, ''), "
        f"CASE WHEN quarter = :current THEN themes ELSE negative_themes END, negative_themes, COUNT(*), "
        f"COUNT(CASE WHEN {rated} THEN 1 END), "
        f"COALESCE(SUM(CASE WHEN {rated} THEN (rating - 1) * 100.0 / (scale - 1) END), 0.0) "
        f"FROM {source} WHERE quarter IN :quarters AND text IS NOT NULL AND text <> '' {in_region}"
        f"GROUP BY 1, 2, 3, 4, 5, 6, 7"
    ).bindparams(bindparam("quarters", expanding=True))
    quarters = sorted({quarter, *history})
    columns = [
        "quarter",
        "office_code",
        "region_code",
        "client_type",
        "journey_stage",
        "themes",
        "negative_themes",
        "texts",
        "rated",
        "rating_sum",
    ]
    params: dict[str, Any] = {"current": quarter, "quarters": quarters}
    if region is not None:
        params["region"] = region
    rows = session.execute(stmt, params).all()
    # Column-wise: a DataFrame built from a list of Row objects is several times slower.
    data = dict(zip(columns, zip(*rows, strict=True), strict=True)) if rows else dict.fromkeys(columns, ())
    frame = pd.DataFrame({c: pd.Series(data[c], dtype=object) for c in columns[:7]})
    frame["texts"] = pd.Series(data["texts"], dtype="int64")
    frame["rated"] = pd.Series(data["rated"], dtype="int64")
    frame["rating_sum"] = pd.Series(data["rating_sum"], dtype="float64")
    return frame


def open_measures(session: Session, before: datetime) -> pd.DataFrame:
    """Measures working on a pain point at ``before`` (the quarter's cycle time): those whose
    last status change before it was to approved, in_progress or implemented.

    Columns code, region_code, theme, offices, status (that status), by code. Judged on
    the history like ``closed_measure_scopes``, so a status changed later in the same
    cycle (an effect evaluation) does not change the quarter's pain points on a rerun;
    a merely proposed measure is not yet working on anything."""
    stmt = select(
        col(MeasureHistory.measure_id), col(MeasureHistory.at), col(MeasureHistory.id), col(MeasureHistory.to_value)
    ).where(col(MeasureHistory.field) == "status", col(MeasureHistory.at) < before)
    history = pd.DataFrame(session.execute(stmt).all(), columns=["measure_id", "at", "hid", "status"])
    columns = ["code", "region_code", "theme", "offices", "status"]
    if history.empty:
        return pd.DataFrame(columns=columns)
    last = history.sort_values(["measure_id", "at", "hid"], kind="mergesort").drop_duplicates("measure_id", keep="last")
    working = last[last["status"].isin(["approved", "in_progress", "implemented"])]
    if working.empty:
        return pd.DataFrame(columns=columns)
    ids = [int(i) for i in working["measure_id"]]
    rows = session.execute(
        select(
            col(Measure.id), col(Measure.code), col(Measure.region_code), col(Measure.theme), col(Measure.offices)
        ).where(col(Measure.id).in_(ids))
    ).all()
    measures = pd.DataFrame(rows, columns=["measure_id", "code", "region_code", "theme", "offices"])
    out = measures.merge(working[["measure_id", "status"]], on="measure_id")
    out["offices"] = out["offices"].fillna("")
    return out[columns].sort_values("code", kind="mergesort").reset_index(drop=True)


def closed_measure_scopes(session: Session, before: datetime) -> set[tuple[str, str]]:
    """(region_code, theme) of measures that were evaluated or closed before ``before``
    (the quarter's cycle time) and still are: a pain point there is recurring.

    Judged on the history, not the current status alone, so a measure evaluated later
    in the same cycle does not change the quarter's pain points on a rerun. A measure
    whose scope is several regions counts for each region of its offices."""
    stmt = (
        select(col(Measure.region_code), col(Measure.theme), col(Measure.offices))
        .join(MeasureHistory, col(MeasureHistory.measure_id) == col(Measure.id))
        .where(
            col(Measure.status).in_(["evaluated", "closed"]),
            col(MeasureHistory.field) == "status",
            col(MeasureHistory.to_value).in_(["evaluated", "closed"]),
            col(MeasureHistory.at) < before,
        )
        .distinct()
    )
    office_region = dict(session.execute(select(col(Office.office_code), col(Office.region_code))).all())
    scopes: set[tuple[str, str]] = set()
    for region, theme, offices in session.execute(stmt).all():
        regions = {office_region[o] for o in (offices or "").split(",") if o in office_region}
        if region != "ALL":
            regions.add(region)
        scopes |= {(r, theme) for r in regions} | {("ALL", theme)}
    return scopes
