"""Loop step 3, *measure*: the client-centricity star ("Звезда клиентоцентричности").

Definition (``shared/domain.md``): item score = (answer − 1) / 4 × 100; a ray is the
mean of a respondent's answered items of that ray (a respondent with none does not
count for the ray); a unit's ray value is the mean over its respondents; the unit's
index is the mean of its five ray values; citizens and employers separately, the
composite is the mean of the two (or the one that exists). A client type with
fewer than ``min_sample`` respondents is shown as "insufficient sample" and left
out of its unit's composite; a composite with no sufficient part is insufficient.

Confidence interval: the index is a smooth function of five ray means over
partly overlapping respondent sets, so its variance comes from the delta method:
respondent i's influence on the index is (1/5)·Σ_r (x_ir − mean_r)/p_r over the rays
i answered (p_r = share of respondents who answered ray r); var = Σ IF_i² / n².
The composite's variance is (var_c + var_e)/4 (independent samples).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxloop.config import StarThresholds
from cxloop.domain import COUNTRY_CODE, ITEMS, RAY_ITEMS, RAYS, Z95

DECIMALS = 9  # of ray values, index and standard error

OUTPUT_COLUMNS = [*RAYS, "index", "se", "ci_low", "ci_high", "n", "stars", "sufficient_sample"]


def respondent_rays(answers: pd.DataFrame) -> pd.DataFrame:
    """Per respondent 0-100 ray scores (NaN where no item of the ray was answered)."""
    scores = (answers[list(ITEMS)].astype("float64") - 1.0) / 4.0 * 100.0
    scores = scores.where((answers[list(ITEMS)] >= 1) & (answers[list(ITEMS)] <= 5))
    return pd.DataFrame(
        {ray: scores[list(items)].mean(axis=1) for ray, items in RAY_ITEMS.items()}, index=answers.index
    )


def _unit_stats(data: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Ray means, index, its standard error (the delta method of the module docstring) and the
    number of respondents per group of ``keys``, for all groups at once.

    Out: one row per group (sorted by ``keys``), columns ``keys``, the rays, index, se, n."""
    rays = data[list(RAYS)]
    answered = rays.notna()
    frame = data[keys].copy()
    frame["_respondent"] = answered.any(axis=1)
    for ray in RAYS:
        frame[ray] = rays[ray]
    groups = frame.groupby(keys, sort=True, dropna=False)
    means = groups[list(RAYS)].transform("mean")
    counts = groups[list(RAYS)].transform("count")
    n_rows = groups["_respondent"].transform("sum")
    # respondent i's influence on the index: (1/5) sum over the rays i answered of (x_ir - mean_r) / p_r
    centred = (rays - means).div(counts.div(n_rows, axis=0))
    frame["_influence2"] = (centred.fillna(0.0).sum(axis=1) / len(RAYS)) ** 2
    groups = frame.groupby(keys, sort=True, dropna=False)
    out = groups[list(RAYS)].mean()
    n = groups["_respondent"].sum().astype("int64")
    complete = out.notna().all(axis=1) & (n > 0)
    out["index"] = out[list(RAYS)].mean(axis=1).where(complete)
    out["se"] = (np.sqrt(groups["_influence2"].sum()) / n).where(complete & (n > 1))
    out["n"] = n
    return out.reset_index()


def _composite(per_type: pd.DataFrame, by: list[str], min_sample: int) -> pd.DataFrame:
    """The composite star per group of ``by``: the mean of its client types with a sufficient
    sample (of all it has when none is sufficient); a client type below the minimum sample is
    reported on its own but left out, so one small employer sample cannot swing an office."""
    valid = per_type.dropna(subset=["index"]).copy()
    if valid.empty:
        return pd.DataFrame()
    keys = by or ["_all"]
    if not by:
        valid["_all"] = 0
    valid["_sufficient"] = valid["n"] >= min_sample
    any_sufficient = valid.groupby(keys, sort=True, dropna=False)["_sufficient"].transform("any")
    parts = valid[valid["_sufficient"] | ~any_sufficient].copy()
    parts["_se2"] = parts["se"] ** 2
    groups = parts.groupby(keys, sort=True, dropna=False)
    comp = groups[[*RAYS, "index"]].mean()
    size = groups.size()
    comp["se"] = (np.sqrt(groups["_se2"].sum()) / size).where(groups["se"].count() == size)
    comp["n"] = groups["n"].sum().astype("int64")
    comp["_sufficient"] = groups["_sufficient"].any()
    comp = comp.reset_index().assign(client_type="composite")
    return comp.drop(columns=["_all"]) if not by else comp


def star_index(
    answers: pd.DataFrame, by: tuple[str, ...] | list[str] = (), thresholds: StarThresholds | None = None
) -> pd.DataFrame:
    """The star per group and client type.

    In: one row per respondent with ``client_type`` (citizen/employer), items F1..C4
    (1-5 or missing) and the grouping columns ``by``.
    Out: one row per group and client type (citizen, employer, composite) with
    friendliness, usefulness, effort, personalisation, comfort, index, se, ci_low,
    ci_high, n, stars, sufficient_sample.
    """
    if thresholds is None:
        thresholds = StarThresholds(ratings={5: 90, 4: 80, 3: 70, 2: 60}, min_sample=30)
    by = list(by)
    rays = respondent_rays(answers)
    data = pd.concat([answers[by + ["client_type"]].reset_index(drop=True), rays.reset_index(drop=True)], axis=1)
    data = data[data["client_type"].isin(["citizen", "employer"])]
    keys = by + ["client_type"]
    per_type = _unit_stats(data, keys)[keys + list(RAYS) + ["index", "se", "n"]]
    composite = _composite(per_type, by, thresholds.min_sample)
    out = pd.concat([per_type, composite], ignore_index=True) if not composite.empty else per_type
    # Rounded far below what anyone reads, so the figures (and stars at a threshold) do not
    # depend on the order in which a sum was taken.
    out[[*RAYS, "index", "se"]] = out[[*RAYS, "index", "se"]].astype("float64").round(DECIMALS)
    out["n"] = out["n"].astype("int64")
    out["ci_low"] = (out["index"] - Z95 * out["se"]).clip(lower=0)
    out["ci_high"] = (out["index"] + Z95 * out["se"]).clip(upper=100)
    out["sufficient_sample"] = out["n"] >= thresholds.min_sample
    if "_sufficient" in out.columns:
        comp_mask = out["client_type"] == "composite"
        out.loc[comp_mask, "sufficient_sample"] = out.loc[comp_mask, "_sufficient"].astype(bool)
        out = out.drop(columns=["_sufficient"])
    out["stars"] = pd.array(
        [thresholds.stars(v) if ok else None for v, ok in zip(out["index"], out["sufficient_sample"], strict=True)],
        dtype="Int64",
    )
    order = {"citizen": 0, "employer": 1, "composite": 2}
    out = out.sort_values(
        by + ["client_type"], key=lambda s: s.map(order) if s.name == "client_type" else s
    ).reset_index(drop=True)
    return out[by + ["client_type"] + OUTPUT_COLUMNS]


def quarter_index(answers: pd.DataFrame, thresholds: StarThresholds) -> pd.DataFrame:
    """Office, region and country stars for one quarter's answers (columns office_code, region_code, ...).

    Out: the IndexResult columns: level, unit_code, region_code, client_type, rays, index, ci, n, stars...
    """
    parts = []
    office = star_index(answers, by=["office_code", "region_code"], thresholds=thresholds)
    office = office.rename(columns={"office_code": "unit_code"}).assign(level="office")
    parts.append(office)
    region = star_index(answers, by=["region_code"], thresholds=thresholds)
    parts.append(region.assign(level="region", unit_code=region["region_code"]))
    country = star_index(answers, by=[], thresholds=thresholds)
    parts.append(country.assign(level="country", unit_code=COUNTRY_CODE, region_code=None))
    return pd.concat(parts, ignore_index=True)


def add_change(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Change against the previous quarter and its two-sided p-value (independent samples)."""
    from scipy.stats import norm

    out = current.copy()
    out["change"] = np.nan
    out["change_p_value"] = np.nan
    if previous is None or previous.empty:
        return out
    keys = ["level", "unit_code", "client_type"]
    prev = previous[keys + ["index", "se"]].rename(columns={"index": "prev_index", "se": "prev_se"})
    merged = out.merge(prev, on=keys, how="left")
    merged["change"] = merged["index"] - merged["prev_index"]
    se = np.sqrt(merged["se"] ** 2 + merged["prev_se"] ** 2)
    z = merged["change"] / se
    merged["change_p_value"] = 2 * norm.sf(np.abs(z))
    return merged.drop(columns=["prev_index", "prev_se"])
