"""Loop step 4, *detect*: the counting under the pain points. Feedback texts
become text groups (identical rows counted, in SQL or here), the groups become theme
mentions at a journey stage, and the mentions become counts per unit (office, region,
country) and client type, with each unit's texts as the denominator.
:mod:`tasks.insight.painpoints` ranks what is counted here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cxloop.config import AppConfig
from cxloop.domain import CITIZEN_STAGES, COUNTRY_CODE, EMPLOYER_STAGES

#: One row per identical (quarter, office, region, client type, stage, themes, negative themes)
#: combination of texts: ``texts`` of them, ``rated`` with a rating, ``rating_sum`` of the
#: ratings on 0-100. ``office_code`` and ``journey_stage`` are "" when unknown.
TEXT_GROUP_COLUMNS = [
    "quarter",
    "office_code",
    "region_code",
    "client_type",
    "journey_stage",
    "themes",
    "negative_themes",
    "texts",
    "rated",
    "rating_sum",
]

#: The key of a pain point, and the key of its unit and client type (whose texts are the denominator).
PAIN_POINT_KEY = ["level", "unit_code", "client_type", "theme", "journey_stage"]
UNIT_KEY = ["level", "unit_code", "client_type"]


# --------------------------------------------------------------------------- mentions


def _rating_100(rating: pd.Series, scale: pd.Series) -> pd.Series:
    r = pd.to_numeric(rating, errors="coerce").astype("float64")
    s = pd.to_numeric(scale, errors="coerce").astype("float64")
    return ((r - 1.0) / (s - 1.0) * 100.0).where(s > 1)


def text_groups(feedback: pd.DataFrame, quarter: str | None = None) -> pd.DataFrame:
    """Count raw feedback rows with a text into ``TEXT_GROUP_COLUMNS``.

    A text is a non-empty ``text``; rows without one are not texts and are left out.
    ``quarter`` fills the column when the frame has none. Already grouped input
    (it has a ``texts`` column) is returned as it is.
    """
    if "texts" in feedback.columns:
        return feedback
    if "text" in feedback.columns:
        text = feedback["text"]
        feedback = feedback[text.notna() & (text.astype(str) != "")]
    n = len(feedback)

    def col(name: str, default: Any = "") -> pd.Series:
        if name in feedback.columns:
            return feedback[name].astype(object).where(feedback[name].notna(), default)
        return pd.Series([default] * n, index=feedback.index, dtype=object)

    if "quarter" in feedback.columns:
        q = feedback["quarter"].astype(str)
    else:
        q = pd.Series([quarter or ""] * n, index=feedback.index, dtype=object)
    rating = (
        _rating_100(feedback["rating"], feedback["scale"])
        if {"rating", "scale"} <= set(feedback.columns)
        else pd.Series(np.nan, index=feedback.index)
    )
    frame = pd.DataFrame(
        {
            "quarter": q,
            "office_code": col("office_code"),
            "region_code": col("region_code"),
            "client_type": col("client_type"),
            "journey_stage": col("journey_stage"),
            "themes": col("themes"),
            "negative_themes": col("negative_themes"),
            "rated": rating.notna().astype("int64"),
            "rating_sum": rating.fillna(0.0),
        }
    )
    keys = TEXT_GROUP_COLUMNS[:7]
    grouped = (
        frame.groupby(keys, sort=True)
        .agg(texts=("rated", "size"), rated=("rated", "sum"), rating_sum=("rating_sum", "sum"))
        .reset_index()
    )
    return grouped[TEXT_GROUP_COLUMNS]


def theme_mentions(feedback: pd.DataFrame, config: AppConfig, quarter: str | None = None) -> pd.DataFrame:
    """One row per (text group, theme): who mentioned the theme, at which stage, whether negatively.

    In: raw feedback or text groups (``text_groups``). Out: ``quarter, office_code,
    region_code, client_type, theme, journey_stage, negative, texts, rated,
    rating_sum`` — ``texts`` is how many texts the row stands for. Vectorised: the
    theme lists are parsed once per distinct (themes, negative themes) pair.
    """
    groups = text_groups(feedback, quarter)
    out_cols = [
        "quarter",
        "office_code",
        "region_code",
        "client_type",
        "theme",
        "journey_stage",
        "negative",
        "texts",
        "rated",
        "rating_sum",
    ]
    groups = groups[groups["themes"].fillna("") != ""]
    if groups.empty:
        return pd.DataFrame(columns=out_cols)
    pair = groups["themes"].astype(str) + "|" + groups["negative_themes"].fillna("").astype(str)
    codes, uniques = pd.factorize(pair)
    table_code, table_theme, table_neg = [], [], []
    for code, combo in enumerate(uniques):  # distinct theme combinations, not mentions
        themes, _, negative = combo.partition("|")
        negatives = set(negative.split(","))
        for theme in sorted(set(themes.split(",")) - {""}):
            table_code.append(code)
            table_theme.append(theme)
            table_neg.append(theme in negatives)
    table = pd.DataFrame({"_code": np.asarray(table_code, dtype="int64"), "theme": table_theme, "negative": table_neg})
    exploded = groups.assign(_code=codes).merge(table, on="_code", how="inner").drop(columns="_code")
    # The stage is the source's when it fits the client type, else the theme's default
    # (an employer's mention of a citizen-stage theme goes to employer_onboarding).
    default_stage = exploded["theme"].map({tid: th.stage for tid, th in config.themes.items()})
    employer = exploded["client_type"].eq("employer")
    own = exploded["journey_stage"]
    own_ok = own.isin(EMPLOYER_STAGES).where(employer, own.isin(CITIZEN_STAGES))
    default_ok = default_stage.isin(EMPLOYER_STAGES).where(employer, default_stage.isin(CITIZEN_STAGES))
    fallback = default_stage.where(default_ok | ~employer, "employer_onboarding").fillna("")
    exploded["journey_stage"] = own.where(own_ok, fallback)
    return exploded[out_cols].reset_index(drop=True)


# --------------------------------------------------------------------------- counting


def unit_counts(groups: pd.DataFrame, config: AppConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts per (quarter, level, unit, client type, theme, stage) and texts per (quarter, unit, client type).

    The (quarter, office, region, client type) of every text group is coded once as an
    integer, and theme and stage as categoricals, so the group-bys over the mentions
    (a million rows at national scale) work on integer codes instead of strings.
    """
    unit_cols = ["quarter", "office_code", "region_code", "client_type"]
    unit_code = groups.groupby(unit_cols, sort=False).ngroup().to_numpy()
    units = groups[unit_cols].assign(_u=unit_code).drop_duplicates("_u").set_index("_u").sort_index()
    lean = groups[["client_type", "journey_stage", "themes", "negative_themes", "texts", "rated", "rating_sum"]]
    mentions = theme_mentions(lean.assign(quarter="", office_code=unit_code, region_code=""), config)
    mentions["neg"] = mentions["texts"].where(mentions["negative"], 0)
    stages = pd.Categorical(mentions["journey_stage"])
    office = mentions.groupby(
        [mentions["office_code"].rename("_u"), pd.Categorical(mentions["theme"]), stages], sort=False, observed=True
    ).agg(
        mentions=("texts", "sum"),
        negative_mentions=("neg", "sum"),
        rated=("rated", "sum"),
        rating_sum=("rating_sum", "sum"),
    )
    office.index = office.index.set_names(["_u", "theme", "journey_stage"])
    office = office.reset_index()
    office = office.join(units, on="_u").drop(columns="_u")
    office["theme"] = office["theme"].astype(object)
    office["journey_stage"] = office["journey_stage"].astype(object)
    office["reached"] = ((office["negative_mentions"] > 0) & (office["office_code"] != "")).astype("int64")
    sums = {"mentions": "sum", "negative_mentions": "sum", "rated": "sum", "rating_sum": "sum", "reached": "sum"}

    parts = []
    o = office[office["office_code"] != ""].rename(columns={"reached": "reach_offices"})
    parts.append(o.assign(level="office", unit_code=o["office_code"]).drop(columns="office_code"))
    r = office.groupby(["quarter", "region_code", "client_type", "theme", "journey_stage"], sort=False).agg(sums)
    r = r.reset_index().rename(columns={"reached": "reach_offices"})
    parts.append(r.assign(level="region", unit_code=r["region_code"]))
    c = office.groupby(["quarter", "client_type", "theme", "journey_stage"], sort=False).agg(sums)
    c = c.reset_index().rename(columns={"reached": "reach_offices"})
    parts.append(c.assign(level="country", unit_code=COUNTRY_CODE, region_code=COUNTRY_CODE))
    counts = pd.concat(parts, ignore_index=True)

    texts = pd.Series(np.bincount(unit_code, weights=groups["texts"].to_numpy(dtype="float64")), name="texts")
    t_office = units.join(texts.astype("int64")).reset_index(drop=True)
    t_parts = []
    to = t_office[t_office["office_code"] != ""]
    t_parts.append(to.assign(level="office", unit_code=to["office_code"])[["quarter", *UNIT_KEY, "texts"]])
    tr = t_office.groupby(["quarter", "region_code", "client_type"], sort=False)["texts"].sum().reset_index()
    t_parts.append(tr.assign(level="region", unit_code=tr["region_code"])[["quarter", *UNIT_KEY, "texts"]])
    tc = t_office.groupby(["quarter", "client_type"], sort=False)["texts"].sum().reset_index()
    t_parts.append(tc.assign(level="country", unit_code=COUNTRY_CODE)[["quarter", *UNIT_KEY, "texts"]])
    totals = pd.concat(t_parts, ignore_index=True).rename(columns={"texts": "texts_total"})
    return counts, totals
