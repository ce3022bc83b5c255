"""A measure rolled out office by office (``Measure.office_starts``): the quarterly evaluation
uses the staggered estimator, leaves each office's own start quarter out, and recovers a
planted effect; a measure whose offices all start together is evaluated as before."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert
from sqlmodel import Session

from cxloop.config import AppConfig, load_config
from cxloop.quarters import Quarter
from models.db import dispose_engines, get_engine, upgrade
from models.tables import Feedback, Measure, SurveyAnswer
from tasks.effects.evaluate import evaluate_due_measures
from tasks.effects.results import METHOD_DID, METHOD_STAGGERED
from tasks.measures import register as reg

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
QUARTERS = ["2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3"]
EFFECT = 1.0  # answer points on P3: +25 on the 0-100 item scale


@pytest.fixture()
def db(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'rollout.db'}"
    upgrade(url)
    yield url
    dispose_engines()


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return load_config(CONFIG_DIR)


def _fill(url: str, config: AppConfig, starts: dict[str, str], per_cell: int = 30, seed: int = 5) -> None:
    """P3 answers per office and quarter; an office in ``starts`` gets the effect in its start
    quarter for half its respondents (partly before, partly after) and fully from the next one."""
    rng = np.random.default_rng(seed)
    feedback, answers = [], []
    fid = 0
    for office in config.offices:
        base = rng.normal(0, 0.3)
        for q in QUARTERS:
            start = starts.get(office.office_code)
            for r in range(per_cell):
                after = start is not None and (Quarter.parse(q) > Quarter.parse(start) or (q == start and r % 2 == 0))
                lift = EFFECT if after else 0.0
                fid += 1
                p3 = int(np.clip(round(3 + base + 0.1 * QUARTERS.index(q) + lift + rng.normal(0, 0.7)), 1, 5))
                feedback.append(
                    dict(
                        id=fid,
                        dedup_key=f"s{fid}",
                        channel="star_survey",
                        source_file="s.csv",
                        source_row=fid,
                        received_at=Quarter.parse(q).start,
                        quarter=q,
                        office_code=office.office_code,
                        region_code=office.region_code,
                        client_type="citizen",
                    )
                )
                answers.append(dict(feedback_id=fid, P3=p3))
    with Session(get_engine(url)) as s:
        s.execute(insert(Feedback), feedback)
        s.execute(insert(SurveyAnswer), answers)
        s.commit()


def _measure(s: Session, offices: list[str], implemented_on: date, office_starts: str = "") -> Measure:
    m = Measure(
        code="M-Q",
        title="Очередь",
        theme="reminders_notifications",
        type="process_optimisation",
        region_code="ALL",
        offices=",".join(offices),
        owner="РГ",
        status="proposed",
        proposed_quarter="2025Q3",
        kpi_metric="item:P3",
        kpi_target_change=10,
        codesign_date=date(2025, 8, 20),
        codesign_form="workshop",
        codesign_clients=8,
    )
    reg.create_measure(s, m, "t", datetime(2025, 8, 5), "")
    for step in ("approved", "in_progress"):
        reg.change_status(s, m, step, "t", datetime(2025, 9, 1))
    m.implemented_on = implemented_on
    reg.change_status(s, m, "implemented", "t", datetime.combine(implemented_on, time(12)))
    if office_starts:
        reg.update_fields(s, m, {"office_starts": office_starts}, "t", datetime(2025, 12, 1))
    return m


def test_rollout_office_by_office_is_evaluated_staggered_and_recovers_the_effect(db, config):
    wave1, wave2 = ["52-01", "66-01", "10-01"], ["52-02", "66-02", "10-02"]
    starts = dict.fromkeys(wave1, "2025Q4") | dict.fromkeys(wave2, "2026Q2")
    _fill(db, config, starts)
    with Session(get_engine(db), expire_on_commit=False) as s:
        _measure(s, wave1 + wave2, date(2025, 10, 15), ", ".join(f"{o} 2026Q2" for o in wave2))
        s.commit()
        (e,) = evaluate_due_measures(s, "2026Q3", config)
        s.commit()
    assert e.method == METHOD_STAGGERED
    assert e.n_treated_units == 6 and e.n_control_units == 9
    assert e.ci_low is not None and e.ci_high is not None and e.estimate is not None
    assert e.ci_low < 25.0 < e.ci_high and abs(e.estimate - 25.0) < 6
    assert e.verdict == "effective"
    # Each wave is compared from the quarter before its own start quarter (the start quarter left out).
    assert "2026Q1 (3)" in e.note and "2026Q3 (3)" in e.note


def test_leaving_the_start_quarter_in_would_bias_the_estimate(db, config):
    """The control: the same data read with one start for all (the register without office starts)
    counts the second wave's quarters before its start as 'after'."""
    wave1, wave2 = ["52-01", "66-01", "10-01"], ["52-02", "66-02", "10-02"]
    _fill(db, config, dict.fromkeys(wave1, "2025Q4") | dict.fromkeys(wave2, "2026Q2"))
    with Session(get_engine(db), expire_on_commit=False) as s:
        _measure(s, wave1 + wave2, date(2025, 10, 15))  # no office starts: one start for all
        s.commit()
        (e,) = evaluate_due_measures(s, "2026Q3", config)
        s.commit()
    assert e.method == METHOD_DID
    assert e.estimate is not None and e.estimate < 25.0 - 4  # the second wave's untreated quarters counted as after


def test_offices_starting_together_keep_the_single_start_evaluation(db, config):
    offices = ["52-01", "66-01", "10-01"]
    _fill(db, config, dict.fromkeys(offices, "2025Q4"))
    with Session(get_engine(db), expire_on_commit=False) as s:
        m = _measure(s, offices, date(2025, 10, 15), ", ".join(f"{o}:2025Q4" for o in offices))
        s.commit()
        (with_starts,) = evaluate_due_measures(s, "2026Q3", config)
        figures = (with_starts.method, with_starts.estimate, with_starts.ci_low, with_starts.ci_high, with_starts.n_obs)
        reg.update_fields(s, m, {"office_starts": ""}, "t", datetime(2026, 10, 2))
        (without,) = evaluate_due_measures(s, "2026Q3", config)
        s.commit()
    assert figures[0] == METHOD_DID
    assert figures == (without.method, without.estimate, without.ci_low, without.ci_high, without.n_obs)
