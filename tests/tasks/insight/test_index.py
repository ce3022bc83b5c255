"""The star index against hand-computed values from domain.md."""

import numpy as np
import pandas as pd
import pytest

from cxloop.config import StarThresholds
from cxloop.domain import ITEMS
from tasks.insight.index import add_change, star_index

TH = StarThresholds(ratings={5: 90, 4: 80, 3: 70, 2: 60}, min_sample=2)


def _resp(client_type, answers, **extra):
    row = {"client_type": client_type, **dict.fromkeys(ITEMS, np.nan), **extra}
    row.update(answers)
    return row


def test_hand_computed_example():
    # Citizen A answers everything 5 except E1..E4 = 1; citizen B answers F1=3 only (others blank).
    a = _resp("citizen", dict.fromkeys(ITEMS, 5) | {"E1": 1, "E2": 1, "E3": 1, "E4": 1})
    b = _resp("citizen", {"F1": 3})
    out = star_index(pd.DataFrame([a, b]), thresholds=TH).set_index("client_type")
    cit = out.loc["citizen"]
    # friendliness: A=100, B=50 -> 75; other rays only A: usefulness 100, effort 0, pers 100, comfort 100
    assert cit["friendliness"] == pytest.approx(75.0)
    assert cit["effort"] == pytest.approx(0.0)
    assert cit["index"] == pytest.approx((75 + 100 + 0 + 100 + 100) / 5)
    assert cit["n"] == 2
    # Only citizens: the composite is the citizens' index.
    assert out.loc["composite", "index"] == pytest.approx(cit["index"])
    assert "employer" not in out.index


def test_composite_is_mean_of_citizens_and_employers_and_stars():
    rows = [_resp("citizen", dict.fromkeys(ITEMS, 5))] * 3 + [_resp("employer", dict.fromkeys(ITEMS, 4))] * 3
    out = star_index(pd.DataFrame(rows), thresholds=TH).set_index("client_type")
    assert out.loc["citizen", "index"] == 100 and out.loc["employer", "index"] == 75
    assert out.loc["composite", "index"] == pytest.approx(87.5)
    assert out.loc["composite", "stars"] == 4 and out.loc["citizen", "stars"] == 5 and out.loc["employer", "stars"] == 3


def test_insufficient_sample_is_not_rated_and_left_out_of_composite():
    th = StarThresholds(ratings={5: 90, 4: 80, 3: 70, 2: 60}, min_sample=3)
    rows = [_resp("citizen", dict.fromkeys(ITEMS, 5), office="a")] * 3 + [
        _resp("employer", dict.fromkeys(ITEMS, 1), office="a")
    ]
    out = star_index(pd.DataFrame(rows), by=["office"], thresholds=th).set_index("client_type")
    assert not out.loc["employer", "sufficient_sample"] and pd.isna(out.loc["employer", "stars"])
    assert out.loc["composite", "index"] == 100 and out.loc["composite", "sufficient_sample"]


def test_confidence_interval_has_nominal_coverage_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    probs = [0.1, 0.1, 0.2, 0.3, 0.3]  # true item score = sum(p*k)/4*100 with k = 0..4
    truth = sum(p * k for p, k in zip(probs, range(5), strict=True)) / 4 * 100
    hits, widths = 0, {}
    for _ in range(200):
        n = 60
        df = pd.DataFrame({i: rng.choice(np.arange(1, 6), n, p=probs) for i in ITEMS}).astype(float)
        df = df.mask(rng.random(df.shape) < 0.1)  # some items unanswered
        df["client_type"] = "citizen"
        row = star_index(df, thresholds=TH).iloc[0]
        hits += row["ci_low"] <= truth <= row["ci_high"]
        widths.setdefault(n, row["ci_high"] - row["ci_low"])
    assert 0.90 <= hits / 200 <= 0.99
    big = pd.DataFrame({i: rng.choice(np.arange(1, 6), 960, p=probs) for i in ITEMS}).astype(float)
    big["client_type"] = "citizen"
    row = star_index(big, thresholds=TH).iloc[0]
    assert row["ci_high"] - row["ci_low"] == pytest.approx(widths[60] / 4, rel=0.25)


def test_out_of_range_answers_do_not_count():
    rows = [_resp("citizen", {"F1": 5, "F2": 9})]
    out = star_index(pd.DataFrame(rows), thresholds=TH).set_index("client_type")
    assert out.loc["citizen", "friendliness"] == 100


def test_change_against_previous_quarter():
    cur = pd.DataFrame(
        {"level": ["region"], "unit_code": ["52"], "client_type": ["citizen"], "index": [80.0], "se": [1.0]}
    )
    prev = pd.DataFrame(
        {"level": ["region"], "unit_code": ["52"], "client_type": ["citizen"], "index": [75.0], "se": [1.0]}
    )
    out = add_change(cur, prev)
    assert out.loc[0, "change"] == 5.0 and out.loc[0, "change_p_value"] < 0.001
