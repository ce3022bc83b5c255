"""KPI observations of measures: a measure's KPI (``item:X``, ``ray:R`` or
``neg_share:theme``, see the playbook) read from the feedback in the database.

Proposals take their baseline and target from here; the effects stage reads the
same observations to estimate a measure's effect (:mod:`tasks.effects.evaluate`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, func, literal
from sqlmodel import Session, col, select

from cxloop.config import AppConfig
from cxloop.domain import EMPLOYER_STAGES, RAY_ITEMS
from cxloop.quarters import Quarter
from models.answers import derived_from_answers
from models.db import driver_marks, driver_rows
from models.store import frame_from_rows, query_frame
from models.tables import Feedback


def parse_metric(kpi_metric: str) -> tuple[str, str]:
    """``(kind, argument)`` of a KPI metric such as ``ray:effort``; ValueError for anything else."""
    kind, _, arg = kpi_metric.partition(":")
    if kind == "item" and any(arg in items for items in RAY_ITEMS.values()):
        return kind, arg
    if kind == "ray" and arg in RAY_ITEMS:
        return kind, arg
    if kind == "neg_share" and arg:
        return kind, arg
    raise ValueError(f"KPI metric {kpi_metric!r} must be item:<F1..C4>, ray:<ray> or neg_share:<theme>")


def kpi_observations(
    session: Session,
    kpi_metric: str,
    quarters: list[str],
    client_type: str = "citizen",
    offices: Iterable[str] | None = None,
) -> pd.DataFrame:
    """KPI observations from the database, sorted by office, quarter.

    Out: columns office_code, quarter, value (0-100), weight.
    * ``item:X`` — one row per star-survey respondent of ``client_type``
      answering X: (answer - 1) / 4 x 100, weight 1;
    * ``ray:R`` — one row per respondent with at least one answered item of
      the ray: the mean of the answered item scores, weight 1;
    * ``neg_share:theme`` — one row per office and quarter: the share (%) of
      feedback texts (any channel and client type) whose negative themes
      include the theme, weight = the number of texts.
    Feedback without an office cannot be placed in a comparison and is left out.
    """
    kind, arg = parse_metric(kpi_metric)
    quarters = sorted({str(Quarter.parse(q)) for q in quarters})
    office_list = sorted(set(offices)) if offices is not None else None
    empty = pd.DataFrame(
        {
            "office_code": pd.Series(dtype=str),
            "quarter": pd.Series(dtype=str),
            "value": pd.Series(dtype=float),
            "weight": pd.Series(dtype=float),
        }
    )
    if not quarters or (office_list is not None and not office_list):
        return empty
    placed = [col(Feedback.office_code).is_not(None)]  # and, when given, in the offices
    if office_list is not None:
        placed.append(col(Feedback.office_code).in_(office_list))

    if kind == "neg_share":
        # Delimit both sides so 'staff' never matches 'staff_attitude'.
        hit = (literal(",") + func.coalesce(col(Feedback.negative_themes), "") + literal(",")).like(f"%,{arg},%")
        stmt = (
            select(
                col(Feedback.office_code),
                col(Feedback.quarter),
                func.count().label("texts"),
                func.sum(case((hit, 1), else_=0)).label("negative"),
            )
            .where(
                and_(
                    col(Feedback.quarter).in_(quarters),
                    *placed,
                    col(Feedback.text).is_not(None),
                    col(Feedback.text) != "",
                )
            )
            .group_by(col(Feedback.office_code), col(Feedback.quarter))
        )
        df = query_frame(session, stmt, ["office_code", "quarter", "texts", "negative"])
        if df.empty:
            return empty
        df["value"] = df["negative"].astype(float) / df["texts"].astype(float) * 100.0
        df["weight"] = df["texts"].astype(float)
        out = df[["office_code", "quarter", "value", "weight"]]
    else:
        items = [arg] if kind == "item" else list(RAY_ITEMS[arg])
        # Quarters whose answers the cycle holds are looked up; the others are queried.
        held = {q: _held_observations(session, q, client_type, items, office_list) for q in quarters}
        parts = [frame for frame in held.values() if frame is not None and not frame.empty]
        queried = [q for q, frame in held.items() if frame is None]
        if queried:
            df = _queried_answers(session, queried, client_type, items, office_list)
            if not df.empty:
                df["value"] = respondent_scores(df[items])
                df["weight"] = 1.0
                parts.append(df.loc[df["value"].notna(), ["office_code", "quarter", "value", "weight"]])
        if not parts:
            return empty
        if not queried and len(parts) == 1:
            # One held quarter: its rows are already by office, then respondent (the held
            # frame's office ranges, taken in office order), which is what the sort gives.
            return parts[0]
        # Each quarter comes whole from one side, its respondents in id order: the stable sort
        # below gives the order of one query over all the quarters.
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    out = out.astype({"office_code": str, "quarter": str, "value": float, "weight": float})
    return out.sort_values(["office_code", "quarter"], kind="mergesort").reset_index(drop=True)


def _queried_answers(
    session: Session, quarters: list[str], client_type: str, items: list[str], offices: list[str] | None
) -> pd.DataFrame:
    """office_code, quarter and ``items`` of the star-survey respondents of ``client_type``
    with an office (in ``offices`` when given) in ``quarters``, by office, quarter and
    respondent. Through the driver's own cursor, like :func:`models.answers.load_answers`:
    SQLAlchemy's row objects cost more than the query for an effect panel's ~500,000
    earlier respondents; the frame is built as :func:`models.store.query_frame` builds it."""
    session.flush()
    conn = session.connection()
    quote = conn.dialect.identifier_preparer.quote
    params: list[str] = [*quarters, "star_survey", client_type, *(offices or [])]
    marks = iter(driver_marks(conn, len(params)))
    where = (
        f"f.quarter IN ({', '.join(next(marks) for _ in quarters)}) AND f.office_code IS NOT NULL "
        f"AND f.channel = {next(marks)} AND f.client_type = {next(marks)}"
    )
    if offices is not None:
        where += f" AND f.office_code IN ({', '.join(next(marks) for _ in offices)})"
    sql = (
        f"SELECT f.office_code, f.quarter, {', '.join(f's.{quote(i)}' for i in items)} "
        f"FROM feedback AS f JOIN survey_answer AS s ON s.feedback_id = f.id "
        f"WHERE {where} ORDER BY f.office_code, f.quarter, f.id"
    )
    return frame_from_rows(driver_rows(conn, sql, params), ["office_code", "quarter", *items])


def respondent_scores(answers: pd.DataFrame) -> pd.Series:
    """Per respondent (row), the mean of the answered items as 0-100: (answer - 1) / 4 x 100;
    NaN when none of them is answered."""
    scores = answers.apply(pd.to_numeric, errors="coerce")
    # Only 1-5 is an answer; anything else was "don't know" or noise that validation let through.
    scores = scores.where((scores >= 1) & (scores <= 5))
    return ((scores - 1.0) / 4.0 * 100.0).mean(axis=1, skipna=True)


class _Held(NamedTuple):
    frame: pd.DataFrame
    offices: dict[str, tuple[int, int]]  # office -> its rows [start, end)


def _respondent_values(answers: pd.DataFrame, quarter: str, client_type: str, items: list[str]) -> _Held:
    """Per respondent of ``client_type`` with an office, the KPI value as the SQL path of
    :func:`kpi_observations` computes it, ordered by office (then respondent, as read), and
    each office's rows as a range: the same rows, order and floats as that path."""
    kept = (answers["client_type"] == client_type) & answers["office_code"].notna()
    rows = answers.loc[kept, ["office_code", *items]]
    frame = pd.DataFrame({"office_code": rows["office_code"].astype(str), "quarter": quarter})
    frame["value"] = respondent_scores(rows[items])
    frame["weight"] = 1.0
    frame = frame.loc[frame["value"].notna()].sort_values("office_code", kind="mergesort").reset_index(drop=True)
    codes = frame["office_code"].to_numpy()
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.array([], dtype=int)
    ends = np.r_[starts[1:], len(codes)]
    return _Held(frame, {str(codes[a]): (int(a), int(b)) for a, b in zip(starts, ends, strict=True)})


def _held_observations(
    session: Session, quarter: str, client_type: str, items: list[str], offices: list[str] | None
) -> pd.DataFrame | None:
    """``item``/``ray`` observations of ``quarter`` from the answers the cycle's stages have
    read once (:func:`models.answers.read_answers_once`): a proposal's baseline then costs a
    look-up instead of a query (254 of them for a national quarter), and the effects' panel
    queries only the earlier quarters. None when that quarter's answers are not held: the
    caller queries the database."""
    held = derived_from_answers(
        session,
        quarter,
        ("kpi_values", client_type, *items),
        lambda answers: _respondent_values(answers, quarter, client_type, items),
    )
    if held is None:
        return None
    if offices is None:
        return held.frame.copy()
    ranges = [held.offices[o] for o in offices if o in held.offices]
    positions = np.concatenate([np.arange(a, b) for a, b in ranges]) if ranges else np.array([], dtype=int)
    return held.frame.take(positions).reset_index(drop=True)


# --------------------------------------------------------------------------- baselines and targets


def client_type_for_theme(theme: str, config: AppConfig | None) -> str:
    """Employer-only themes (an employer journey stage) are measured on employers' answers."""
    if config is not None and theme in config.themes and config.themes[theme].stage in EMPLOYER_STAGES:
        return "employer"
    return "citizen"


def kpi_baseline(session: Session, kpi_metric: str, quarter: str, offices: list[str], client_type: str) -> float | None:
    """The KPI over ``offices`` in ``quarter`` (None when the data has none)."""
    obs = kpi_observations(session, kpi_metric, [quarter], client_type=client_type, offices=offices)
    if obs.empty or float(obs["weight"].sum()) <= 0:
        return None
    return round(float((obs["value"] * obs["weight"]).sum() / obs["weight"].sum()), 2)


def kpi_target_for(baseline: float | None, change: float) -> float | None:
    """The KPI target ``change`` away from ``baseline`` (None without a baseline)."""
    if baseline is None:
        return None
    # KPIs are 0-100 scales; a target outside them cannot be reached.
    return round(min(100.0, max(0.0, baseline + change)), 2)
