"""The insight stage's steps: each opens a short-lived session, reads what it needs,
calls the pure functions of :mod:`tasks.insight` and writes its results in one
transaction. Flows wrap these in Prefect tasks; a notebook can call them directly."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd

from cxloop.config import AppConfig
from cxloop.quarters import Quarter
from models import answers as answers_store
from models import store
from models.db import session_scope
from tasks.insight.drivers import drivers_for_quarter
from tasks.insight.index import add_change, quarter_index
from tasks.insight.painpoints import prioritise_pain_points

#: What the star index and the pain points derive from a whole quarter's answers alone
#: (:func:`models.answers.derived_from_answers`); made ahead where the answers are read
#: ahead (:func:`answers_derivations`).
STAR_INDEX = ("star_index",)
DRIVERS = ("key_drivers",)


def quarter_drivers(answers: pd.DataFrame) -> pd.DataFrame | None:
    """The quarter's key drivers, None without answers."""
    return drivers_for_quarter(answers) if not answers.empty else None


def answers_derivations(config: AppConfig) -> dict[tuple, Callable[[pd.DataFrame], Any]]:
    """``key -> make`` of what :func:`measure_star` and :func:`detect_pain_points` derive from
    the whole quarter's answers, for :func:`models.answers.read_quarter_answers` to make
    where it reads them (the same functions as the stages', so the same values)."""
    return {STAR_INDEX: partial(quarter_index, thresholds=config.thresholds.star), DRIVERS: quarter_drivers}


def _in_region(frame: pd.DataFrame, region: str) -> pd.DataFrame:
    """A region's own office and region rows of a per-unit result (the country row left out)."""
    if frame.empty:
        return frame
    keep = (frame["region_code"] == region) & frame["level"].isin(["office", "region"])
    return frame[keep].reset_index(drop=True)


def measure_star(quarter: str, config: AppConfig, region: str | None = None) -> pd.DataFrame:
    """The star index of the quarter per office, region and country, with the change since the previous quarter.

    ``region``: only that region's offices and the region itself, from its own respondents
    (each unit's value depends on its respondents only); the other rows stay as stored."""
    with session_scope() as session:
        answers = answers_store.load_answers(session, quarter, region=region)
        if answers.empty:
            store.replace_index_results(session, quarter, pd.DataFrame(), region=region)
            return pd.DataFrame()
        index = answers_derivations(config)[STAR_INDEX]
        if region is not None:
            current = _in_region(index(answers), region)
        else:  # as read once in the cycle (or made ahead), else from the answers just read
            current = answers_store.derived_from_answers(session, quarter, STAR_INDEX, index)
            if current is None:
                current = index(answers)
        previous = store.load_index(session, str(Quarter.parse(quarter).prev()))
        if not previous.empty:
            previous = previous.assign(se=store.index_se(previous))
        result = add_change(current, previous)
        store.replace_index_results(session, quarter, result, region=region)
        return result


def detect_pain_points(quarter: str, config: AppConfig, region: str | None = None) -> pd.DataFrame:
    """Pain points of the quarter at office, region and country level (:mod:`tasks.insight.painpoints`).

    Reads the quarter's and the ``history_quarters`` earlier quarters' texts as counted
    groups (no text leaves the database), the star index, the key drivers of the
    quarter's survey answers, and the measures open / closed at the cycle time; replaces
    the quarter's pain points. A rerun gives the same rows."""
    q = Quarter.parse(quarter)
    history_quarters = [str(q.shift(-i)) for i in range(1, config.thresholds.pain_points.history_quarters + 1)]
    with session_scope() as session:
        groups = store.load_text_groups(session, str(q), history_quarters, region=region)
        current = groups[groups["quarter"] == str(q)]
        history = groups[groups["quarter"] != str(q)]
        answers = answers_store.load_answers(session, str(q))
        drivers = answers_store.derived_from_answers(session, str(q), DRIVERS, quarter_drivers)
        if drivers is None:  # outside read_answers_once, or no answers
            drivers = quarter_drivers(answers)
        result = prioritise_pain_points(
            current,
            config,
            store.load_index(session, str(q)),
            quarter=str(q),
            history=history,
            drivers=drivers,
            open_measures=store.open_measures(session, q.cycle_time),
            closed_measures=store.closed_measure_scopes(session, q.cycle_time),
        )
        if region is not None:
            result = _in_region(result, region)
        store.replace_pain_points(session, str(q), result, region=region)
        return result
