"""Pain points: counts, stage attribution, the documented priority score, ranking."""

import pandas as pd
import pytest

from tasks.painpoints import prioritise_pain_points, theme_mentions


def _fb(rows):
    return pd.DataFrame(rows, columns=["region_code", "client_type", "journey_stage", "text", "themes", "negative_themes"])


def _rows(region, theme, n_neg, n_pos=0, stage=None, client="citizen"):
    return [(region, client, stage, "t", theme, theme)] * n_neg + [(region, client, stage, "t", theme, "")] * n_pos


def test_counts_share_and_rank(config):
    rows = _rows("52", "waiting_time", 10, 2) + _rows("52", "staff_attitude", 6) + _rows("52", "office_comfort", 2) + [("52", "citizen", None, "ok", "", "")] * 2
    out = prioritise_pain_points(_fb(rows), config)
    reg = out[out["region_code"] == "52"].set_index("theme")
    assert reg.loc["waiting_time", "mentions"] == 12 and reg.loc["waiting_time", "negative_mentions"] == 10
    assert reg.loc["waiting_time", "texts_total"] == 22
    assert reg.loc["waiting_time", "negative_share"] == pytest.approx(100 * 10 / 22)
    assert reg.loc["waiting_time", "rank"] == 1 and reg.loc["staff_attitude", "rank"] == 2
    assert "office_comfort" not in reg.index  # below min_mentions (5)
    assert reg.loc["waiting_time", "journey_stage"] == config.themes["waiting_time"].stage
    assert set(out["region_code"]) == {"52", "ALL"}


def test_low_ray_score_raises_priority(config):
    rows = _rows("52", "waiting_time", 10) + _rows("52", "staff_attitude", 10)
    index = pd.DataFrame([
        {"level": "region", "unit_code": "52", "client_type": "citizen", "friendliness": 95.0, "usefulness": 80.0,
         "effort": 40.0, "personalisation": 80.0, "comfort": 80.0},
    ])
    out = prioritise_pain_points(_fb(rows), config, index=index)
    reg = out[out["region_code"] == "52"].set_index("theme")
    # effort 40 -> gap weight clip(60/25)=2.0 ; friendliness 95 -> clip(5/25)=0.5
    assert reg.loc["waiting_time", "priority"] == pytest.approx(reg.loc["waiting_time", "negative_share"] * 2.0)
    assert reg.loc["staff_attitude", "priority"] == pytest.approx(reg.loc["staff_attitude", "negative_share"] * 0.5)
    assert reg.loc["waiting_time", "rank"] == 1


def test_rising_trend_weight_and_recurring_flag(config):
    rows = _rows("52", "waiting_time", 10) + [("52", "citizen", None, "ok", "", "")] * 10
    prev = pd.DataFrame([{"region_code": "52", "theme": "waiting_time", "journey_stage": "first_contact", "negative_share": 10.0}])
    out = prioritise_pain_points(_fb(rows), config, previous=prev, closed_measures={("52", "waiting_time")})
    row = out[(out["region_code"] == "52")].iloc[0]
    assert row["trend"] == pytest.approx(40.0)
    assert row["priority"] == pytest.approx(50.0 * 1.25)
    assert bool(row["recurring"])


def test_stage_from_source_and_employer_stages(config):
    rows = _rows("10", "process_clarity", 5, stage="periodic_meetings") + _rows("10", "candidate_quality", 5, client="employer")
    mentions = theme_mentions(_fb(rows), config)
    stages = dict(zip(mentions["theme"], mentions["journey_stage"]))
    assert stages["process_clarity"] == "periodic_meetings" and stages["candidate_quality"] == "candidate_selection"
