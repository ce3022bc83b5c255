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

OUTPUT_COLUMNS = [*RAYS, "index", "se", "ci_low", "ci_high", "n", "stars", "sufficient_sample"]


def respondent_rays(answers: pd.DataFrame) -> pd.DataFrame:
    """Per respondent 0-100 ray scores (NaN where no item of the ray was answered)."""
    scores = (answers[list(ITEMS)].astype("float64") - 1.0) / 4.0 * 100.0
    scores = scores.where((answers[list(ITEMS)] >= 1) & (answers[list(ITEMS)] <= 5))
    return pd.DataFrame(
        {ray: scores[list(items)].mean(axis=1) for ray, items in RAY_ITEMS.items()}, index=answers.index
    )


def _unit_stats(rays: pd.DataFrame) -> pd.Series:
    answered = rays.notna()
    n = int(answered.any(axis=1).sum())
    means = rays.mean()
    out = {ray: means[ray] for ray in RAYS}
    if n == 0 or means.isna().any():
        index = float(means.mean()) if not means.isna().all() else np.nan
        return pd.Series({**out, "index": index if not means.isna().any() else np.nan, "se": np.nan, "n": n})
    respondents = answered.any(axis=1)
    share = answered[respondents].mean()
    centred = (rays[respondents] - means) / share
    influence = centred.fillna(0.0).sum(axis=1) / len(RAYS)
    se = float(np.sqrt((influence**2).sum()) / n) if n > 1 else np.nan
    return pd.Series({**out, "index": float(means.mean()), "se": se, "n": n})


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
    rows = []
    keys = by + ["client_type"]
    for key, grp in data.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        stats = _unit_stats(grp[list(RAYS)])
        rows.append({**dict(zip(keys, key, strict=True)), **stats.to_dict()})
    per_type = pd.DataFrame(rows, columns=keys + list(RAYS) + ["index", "se", "n"])
    composite_rows = []
    group_iter = per_type.groupby(by, sort=True, dropna=False) if by else [((), per_type)]
    for key, grp in group_iter:
        key = key if isinstance(key, tuple) else (key,)
        valid = grp.dropna(subset=["index"])
        if valid.empty:
            continue
        # A client type below the minimum sample is reported on its own but left out
        # of the composite, so one small employer sample cannot swing an office.
        sufficient = valid[valid["n"] >= thresholds.min_sample]
        parts = sufficient if not sufficient.empty else valid
        comp = {ray: parts[ray].mean() for ray in RAYS}
        comp["index"] = parts["index"].mean()
        comp["se"] = float(np.sqrt((parts["se"] ** 2).sum()) / len(parts)) if parts["se"].notna().all() else np.nan
        comp["n"] = int(parts["n"].sum())
        comp["_sufficient"] = not sufficient.empty
        composite_rows.append({**dict(zip(by, key, strict=True)), "client_type": "composite", **comp})
    out = pd.concat([per_type, pd.DataFrame(composite_rows)], ignore_index=True) if composite_rows else per_type
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
