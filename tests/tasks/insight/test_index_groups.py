"""star_index computes all groups at once; each group's figures must be what the definition
gives for that group alone (a plain per-group reference below, written from the module
docstring), on data with the awkward cases: unanswered items, a ray nobody in a group
answered, a group of one respondent, an office with employers only, a client type below the
minimum sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxloop.config import StarThresholds
from cxloop.domain import ITEMS, RAYS
from tasks.insight.index import respondent_rays, star_index

THRESHOLDS = StarThresholds(ratings={5: 90, 4: 80, 3: 70, 2: 60}, min_sample=8)


def _reference(rays: pd.DataFrame) -> dict:
    """One group's rays, index, se and n, straight from the definition."""
    answered = rays.notna()
    respondents = answered.any(axis=1)
    n = int(respondents.sum())
    means = rays.mean()
    if n == 0 or means.isna().any():
        return {**means.to_dict(), "index": np.nan, "se": np.nan, "n": n}
    share = answered[respondents].mean()
    influence = ((rays[respondents] - means) / share).fillna(0.0).sum(axis=1) / len(RAYS)
    se = float(np.sqrt((influence**2).sum()) / n) if n > 1 else np.nan
    return {**means.to_dict(), "index": float(means.mean()), "se": se, "n": n}


@pytest.fixture()
def answers() -> pd.DataFrame:
    rng = np.random.default_rng(17)
    rows = []
    sizes = {("52-01", "citizen"): 40, ("52-01", "employer"): 5, ("52-02", "citizen"): 1, ("52-03", "employer"): 12}
    sizes |= {("66-01", "citizen"): 9, ("66-01", "employer"): 9}
    for (office, client_type), size in sizes.items():
        for _ in range(size):
            items = rng.integers(1, 6, len(ITEMS)).astype("float64")
            items[rng.random(len(ITEMS)) < 0.3] = np.nan
            if office == "52-03":
                items[[ITEMS.index(i) for i in ("F1", "F2", "F3", "F4")]] = np.nan  # nobody answered friendliness
            rows.append(
                {
                    "office_code": office,
                    "region_code": office[:2],
                    "client_type": client_type,
                    **dict(zip(ITEMS, items, strict=True)),
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("by", [["office_code", "region_code"], ["region_code"], []])
def test_every_group_is_what_the_definition_gives_it_alone(answers, by):
    out = star_index(answers, by=by, thresholds=THRESHOLDS)
    rays = respondent_rays(answers)
    for key, grp in answers.groupby([*by, "client_type"], sort=True):
        key = key if isinstance(key, tuple) else (key,)
        want = _reference(rays.loc[grp.index])
        mask = np.logical_and.reduce([out[c] == v for c, v in zip([*by, "client_type"], key, strict=True)])
        (row,) = out[mask].to_dict("records")
        assert row["n"] == want["n"]
        for name in [*RAYS, "index", "se"]:
            assert row[name] == pytest.approx(want[name], abs=1e-9, nan_ok=True), (key, name)
    composites = out[out["client_type"] == "composite"].set_index(by) if by else out[out["client_type"] == "composite"]
    if by == ["office_code", "region_code"]:
        c = composites.loc[("52-01", "52")]
        citizens = out[(out["office_code"] == "52-01") & (out["client_type"] == "citizen")].iloc[0]
        # 5 employers are below the minimum sample of 8: the composite is the citizens' alone
        assert c["index"] == citizens["index"] and c["n"] == 40 and bool(c["sufficient_sample"])
        both = out[(out["office_code"] == "66-01")].set_index("client_type")
        assert both.loc["composite", "index"] == pytest.approx(
            (both.loc["citizen", "index"] + both.loc["employer", "index"]) / 2
        )
        assert ("52-03", "52") not in composites.index  # its only client type has no index (a ray unanswered)
        small = composites.loc[("52-02", "52")]  # one respondent: an index, no interval, not sufficient
        assert not np.isnan(small["index"]) and np.isnan(small["se"]) and not bool(small["sufficient_sample"])
