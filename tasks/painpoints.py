"""Stages 4-5 of the loop, *detect* and *prioritise* pain points: where in the client's
journey negative experience forms, and what to fix first.

What comes in: the quarter's feedback (one row per text, with ``themes`` and
``negative_themes`` from the text stage), the star index of the quarter (ray
values) and the previous quarter's pain points.
What goes out: one row per region (and ``ALL`` for the country) × theme ×
journey stage with its counts and a priority score, ranked.

Priority score (documented in the README, "Pain points and priority"):

    priority = negative_share × gap_weight × trend_weight

* ``negative_share``: negative mentions per 100 texts of the region in the quarter
  (how many clients it hurts);
* ``gap_weight`` = clip((100 − ray_score) / 25, 0.5, 2.0), where ray_score is the
  region's star value of the ray the theme belongs to (citizens for citizen stages,
  employers for employer stages): a theme hurts more where the survey says the
  matching expectation is met worst; 1.0 when there is no survey score;
* ``trend_weight`` = 1.25 when the negative share rose by 2 points or more against
  the previous quarter, else 1.0 (a growing problem comes before a stable one).

Themes with fewer than ``thresholds.pain_points.min_mentions`` negative mentions
are not pain points. The stage is the one the source names (interview follow-ups
carry it), else the theme's default stage from ``config/themes.yaml``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxloop.config import CITIZEN_STAGES, EMPLOYER_STAGES, AppConfig

PAIN_POINT_COLUMNS = [
    "region_code", "theme", "journey_stage", "mentions", "negative_mentions", "texts_total",
    "negative_share", "ray", "ray_score", "trend", "priority", "rank", "recurring",
]


def theme_mentions(feedback: pd.DataFrame, config: AppConfig) -> pd.DataFrame:
    """One row per (text, theme) with region, stage and whether the mention is negative."""
    texts = feedback[feedback["themes"].fillna("") != ""]
    if texts.empty:
        return pd.DataFrame(columns=["region_code", "theme", "journey_stage", "negative"])
    exploded = texts[["region_code", "client_type", "journey_stage", "themes", "negative_themes"]].copy()
    exploded["theme"] = exploded["themes"].str.split(",")
    exploded = exploded.explode("theme")
    neg_sets = exploded["negative_themes"].fillna("").str.split(",")
    exploded["negative"] = [t in s for t, s in zip(exploded["theme"], neg_sets)]
    # The stage is the source's when it fits the client type, else the theme's default
    # (an employer's mention of a citizen-stage theme goes to employer_onboarding).
    default_stage = exploded["theme"].map({tid: th.stage for tid, th in config.themes.items()})
    employer = exploded["client_type"].eq("employer")
    own_ok = exploded["journey_stage"].isin(EMPLOYER_STAGES).where(employer, exploded["journey_stage"].isin(CITIZEN_STAGES))
    default_ok = default_stage.isin(EMPLOYER_STAGES).where(employer, default_stage.isin(CITIZEN_STAGES))
    fallback = default_stage.where(default_ok | ~employer, "employer_onboarding")
    exploded["journey_stage"] = exploded["journey_stage"].where(own_ok, fallback)
    return exploded[["region_code", "theme", "journey_stage", "negative"]].reset_index(drop=True)


def _ray_scores(index: pd.DataFrame | None) -> dict[tuple[str, str, str], float]:
    """(unit_code, client_type, ray) -> value, from region and country rows of the quarter's index."""
    out: dict[tuple[str, str, str], float] = {}
    if index is None or index.empty:
        return out
    rows = index[index["level"].isin(["region", "country"])]
    for r in rows.itertuples(index=False):
        for ray in ("friendliness", "usefulness", "effort", "personalisation", "comfort"):
            v = getattr(r, ray)
            if v is not None and not pd.isna(v):
                out[(r.unit_code, r.client_type, ray)] = float(v)
    return out


def prioritise_pain_points(
    feedback: pd.DataFrame,
    config: AppConfig,
    index: pd.DataFrame | None = None,
    previous: pd.DataFrame | None = None,
    closed_measures: set[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Detect and rank the quarter's pain points. See the module docstring for the score."""
    thresholds = config.thresholds.pain_points
    with_text = feedback[feedback["text"].notna() & (feedback["text"].astype(str) != "")]
    mentions = theme_mentions(with_text, config)
    if mentions.empty:
        return pd.DataFrame(columns=PAIN_POINT_COLUMNS)
    totals = with_text.groupby("region_code").size().to_dict()
    totals["ALL"] = len(with_text)
    national = mentions.assign(region_code="ALL")
    both = pd.concat([mentions, national], ignore_index=True)
    grouped = both.groupby(["region_code", "theme", "journey_stage"], sort=True).agg(
        mentions=("negative", "size"), negative_mentions=("negative", "sum")
    ).reset_index()
    grouped["negative_mentions"] = grouped["negative_mentions"].astype("int64")
    grouped["texts_total"] = grouped["region_code"].map(totals).astype("int64")
    grouped["negative_share"] = 100.0 * grouped["negative_mentions"] / grouped["texts_total"]
    grouped["ray"] = grouped["theme"].map(lambda t: config.themes[t].ray if t in config.themes else None)
    scores = _ray_scores(index)

    def ray_score(row) -> float:
        client = "employer" if row.journey_stage in EMPLOYER_STAGES else "citizen"
        for ct in (client, "composite"):
            v = scores.get((row.region_code, ct, row.ray))
            if v is not None:
                return v
        return np.nan

    grouped["ray_score"] = [ray_score(r) for r in grouped.itertuples(index=False)]
    if previous is not None and not previous.empty:
        prev = previous.set_index(["region_code", "theme", "journey_stage"])["negative_share"]
        keys = list(zip(grouped["region_code"], grouped["theme"], grouped["journey_stage"]))
        grouped["trend"] = [grouped["negative_share"].iat[i] - prev.get(k, np.nan) for i, k in enumerate(keys)]
    else:
        grouped["trend"] = np.nan
    gap = ((100.0 - grouped["ray_score"]) / 25.0).clip(0.5, 2.0).fillna(1.0)
    trend_w = np.where(grouped["trend"].fillna(0) >= 2.0, 1.25, 1.0)
    grouped["priority"] = (grouped["negative_share"] * gap * trend_w).round(4)
    grouped = grouped[grouped["negative_mentions"] >= thresholds.min_mentions].copy()
    grouped = grouped.sort_values(["region_code", "priority", "theme", "journey_stage"], ascending=[True, False, True, True])
    grouped["rank"] = grouped.groupby("region_code").cumcount() + 1
    closed = closed_measures or set()
    grouped["recurring"] = [(r, t) in closed for r, t in zip(grouped["region_code"], grouped["theme"])]
    return grouped[PAIN_POINT_COLUMNS].reset_index(drop=True)
