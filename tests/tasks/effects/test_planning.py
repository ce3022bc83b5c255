"""The power check of a measure before it starts (``tasks.effects.planning``): read from the
database, shown by ``cxloop measures plan`` and in the working group's proposal review form."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert
from sqlmodel import Session, select
from typer.testing import CliRunner

from cxloop.config import AppConfig, load_config
from cxloop.quarters import Quarter
from models.db import dispose_engines, get_engine, upgrade
from models.tables import Feedback, Measure, SurveyAnswer
from tasks.effects.planning import plan_measure
from tasks.measures import register as reg

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
QUARTERS = ["2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return load_config(CONFIG_DIR)


@pytest.fixture()
def db(tmp_path: Path, config: AppConfig):
    """Five quarters of P3 answers in 15 offices, office levels that drift a little."""
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    upgrade(url)
    rng = np.random.default_rng(11)
    feedback, answers, fid = [], [], 0
    for office in config.offices:
        level = rng.normal(0, 0.3)
        for q in QUARTERS:
            level += rng.normal(0, 0.1)
            for _ in range(40):
                fid += 1
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
                answers.append(dict(feedback_id=fid, P3=int(np.clip(round(3 + level + rng.normal(0, 0.8)), 1, 5))))
    with Session(get_engine(url)) as s:
        s.execute(insert(Feedback), feedback)
        s.execute(insert(SurveyAnswer), answers)
        s.commit()
    yield url
    dispose_engines()


def _proposal(s: Session, code: str, offices: list[str], change: float) -> Measure:
    m = Measure(
        code=code,
        title="Напоминания",
        theme="reminders_notifications",
        type="new_experience",
        region_code="52",
        offices=",".join(offices),
        owner="РГ",
        status="proposed",
        proposed_quarter="2026Q2",
        kpi_metric="item:P3",
        kpi_target_change=change,
    )
    return reg.create_measure(s, m, "t", datetime(2026, 7, 5), "")


def test_a_pilot_too_small_is_flagged_and_a_bigger_one_is_enough(db, config):
    with Session(get_engine(db), expire_on_commit=False) as s:
        one = plan_measure(s, _proposal(s, "M-ONE", ["52-01"], 3.0), config)
        two = plan_measure(s, _proposal(s, "M-TWO", ["52-01", "52-02"], 3.0), config)
        five = plan_measure(s, _proposal(s, "M-FIVE", ["52-01", "52-02", "52-03", "52-04", "52-05"], 3.0), config)
        big_aim = plan_measure(s, _proposal(s, "M-BIG", ["52-01", "52-02", "52-03", "52-04", "52-05"], 40.0), config)
    assert two.history_quarters == tuple(QUARTERS) and two.plan.n_comparison == 13
    assert five.plan.mde is not None and two.plan.mde is not None
    assert five.plan.mde < two.plan.mde  # more offices, smaller detectable effect
    assert not two.plan.enough and two.verdict().startswith("too small: MDE")
    assert big_aim.plan.enough and big_aim.verdict().startswith("enough: MDE")
    assert two.as_dict()["verdict"] == two.verdict() and two.as_dict()["enough"] is False
    # One office against 14: too few comparison offices for placebo inference (19 at 95 %).
    assert one.plan.mde is None and "19 comparison offices" in one.verdict()


def test_an_implemented_measure_is_planned_on_its_history_before_the_start(db, config):
    with Session(get_engine(db), expire_on_commit=False) as s:
        m = _proposal(s, "M-IMPL", ["52-01", "52-02"], 10.0)
        m.implemented_on = date(2026, 1, 20)
        other = _proposal(s, "M-OTHER", ["66-01"], 10.0)
        other.implemented_on = date(2025, 11, 2)  # another started measure on P3: its office is no comparison
        plan = plan_measure(s, m, config)
    assert plan.history_quarters == ("2025Q2", "2025Q3", "2025Q4")
    assert plan.left_out_offices == ("66-01",) and plan.plan.n_comparison == 12


def test_cli_plan_prints_the_check(db, use_database):
    from cxloop.cli import app

    with Session(get_engine(db), expire_on_commit=False) as s:
        _proposal(s, "M-TWO", ["52-01", "52-02"], 3.0)
        s.commit()
    use_database(db)
    result = CliRunner().invoke(app, ["measures", "plan", "M-TWO", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["code"] == "M-TWO" and plan["enough"] is False and plan["mde"] > 3.0
    text = CliRunner().invoke(app, ["measures", "plan", "M-TWO", "--quarters", "3"])
    assert text.exit_code == 0 and "3 quarter(s) after the start" in text.output and "too small" in text.output
    missing = CliRunner().invoke(app, ["measures", "plan", "M-NONE"])
    assert missing.exit_code == 2 and "no measure 'M-NONE'" in missing.output


def test_the_review_form_shows_a_power_check_for_every_proposal(db, use_database):
    from flows.register import _proposals_markdown

    with Session(get_engine(db), expire_on_commit=False) as s:
        _proposal(s, "M-TWO", ["52-01", "52-02"], 3.0)
        _proposal(s, "M-BIG", ["52-01", "52-02", "52-03", "52-04", "52-05"], 40.0)
        s.commit()
        codes = sorted(s.exec(select(Measure.code)))
    use_database(db)
    from cxloop.settings import reset_settings_cache

    reset_settings_cache()
    try:
        markdown = _proposals_markdown("2026Q2", codes, 60)
    finally:
        reset_settings_cache()
    rows = {line.split("|")[1].strip(): line for line in markdown.splitlines() if line.startswith("| M-")}
    assert sorted(rows) == ["M-BIG", "M-TWO"]
    assert "too small: MDE" in rows["M-TWO"] and "enough: MDE" in rows["M-BIG"]
