"""Stages 4-5 of the loop, *detect* and *prioritise* pain points: where in the client's
journey negative experience forms, and what to fix first.

What a pain point is
    A theme x journey stage x client type (citizen / employer) in a unit — an
    office (``unit_code`` = office code), a region (``unit_code`` = region code)
    or the country (``unit_code`` = ``region_code`` = ``"ALL"``) — in one quarter,
    with at least ``thresholds.pain_points.min_mentions`` negative mentions. The
    journey stage is the one the source names when it fits the client type (an
    interview follow-up carries it), else the theme's default stage from
    ``config/themes``; an employer's mention of a citizen-only theme goes to
    ``employer_onboarding``.

What comes in
    The quarter's feedback with text — either raw rows (one per feedback, as
    ``store.load_feedback`` returns them) or *text groups* (``store.load_text_groups``:
    identical (office, client type, stage, themes, negative themes) rows counted in
    SQL, which is what the stage uses: it never loads the texts themselves); the
    same for the ``history_quarters`` earlier quarters (p-chart and trend; only
    their negative mentions are used); the quarter's star
    index (ray values); the key drivers of the quarter (``tasks.insight.drivers``); the open
    measures and the (region, theme) scopes of closed measures.

Measures of a pain point (columns of ``PAIN_POINT_COLUMNS``)
    * ``mentions`` / ``negative_mentions``: texts of the unit and client type that
      mention the theme (at that stage) at all / negatively. A text counts once per
      theme.
    * ``texts_total``: texts of the unit and client type in the quarter (with or
      without a theme); ``negative_share`` = 100 x negative_mentions / texts_total
      ("complaints per 100 texts").
    * ``mean_rating``: mean rating of the *rated* mentioning texts (positive and
      negative), rescaled to 0-100 as (r - 1) / (scale - 1) x 100; empty when none
      is rated. Shown, not used in the priority: complaints come with low ratings, so
      it moves with ``negative_share`` and would count the same thing twice, and only
      the rated channels (contact centre, maps, follow-ups) have it.
    * ``reach_offices``: distinct offices with a negative mention (1 or 0 for an
      office row). ``reach_clients``: distinct feedback rows with a negative mention.
      We have no client ids, so a client who complains twice counts twice; near
      duplicates across channels are already dropped at ingest, and a text carries a
      theme once, so today this equals ``negative_mentions`` — it is its own column so
      that a client id can replace it.
    * ``offices_total``: the unit's offices — registry
      offices of the region (all of them for the country) plus any other office
      seen in the quarter's texts; 1 for an office row.
    * ``ray`` / ``ray_score``: the star ray the theme belongs to and the unit's value
      of it for the row's client type (the composite when the type has none). A unit
      whose sample is insufficient (``sufficient_sample`` false in the index) is never
      ranked by the star, so its value is not used either: the office falls back to
      its region's value, the region to the country's.
    * ``trend``: negative_share now minus negative_share in the previous quarter
      (same key, recomputed from the stored feedback, so a key that was below the
      threshold last quarter still has one); empty when the unit had no texts then.
    * ``signal``, ``p_bar``, ``ucl``, ``lcl``: the Laney p' chart below.
    * ``driver_importance``: the ray's share of the explained variance of overall
      satisfaction (``tasks.insight.drivers``, 0-1, the five rays sum to 1) for the row's
      region (country rows: ``"ALL"``; office rows: their region) and client type;
      falling back to the region's pooled (``"all"``) fit, then to the country's.
    * ``covered_by``: the code of the open measure working on it (below).
    * ``recurring``: a measure of the theme was evaluated or closed in the region
      (``store.closed_measure_scopes``; the country: anywhere) and the pain point is
      back.

The p-chart (Laney p')
    For every pain point, the series of its negative share over the
    ``history_quarters`` quarters before the current one (the *baseline*; a quarter
    in which the unit had no texts of the client type is not a point, one in which it
    had texts but no mention of the key is a point at 0):

        p̄   = Σx / Σn over the baseline
        σ_i = sqrt(p̄ (1 - p̄) / n_i)             (binomial, per quarter)
        z_i = (p_i - p̄) / σ_i
        σ_z = mean |z_i - z_(i-1)| / 1.128        (moving range of consecutive baseline points)
        UCL, LCL = p̄ ± 3 · σ_now · max(σ_z, 1)   (LCL at least 0, UCL at most 1)

    ``signal`` = ``"rise"`` when the current quarter's share is above the UCL,
    ``"fall"`` when below the LCL, else empty. With fewer than
    ``min_baseline_quarters`` (3) baseline points there is no signal and no limits
    (``p_bar`` is still shown). There is no signal either (the limits are still
    stored) when the baseline expects fewer than ``min_expected_mentions`` (5)
    mentions this quarter, p̄ x n_now < 5: 3-sigma limits rest on the normal
    approximation of the binomial, which the textbook rule n·p̄ ≥ 5 asks for. Below
    it the binomial is skewed and the upper limit too low; and since only keys with
    at least ``min_mentions`` mentions are pain points at all, a low-count key is
    listed precisely when it happens to be high, so the chart would "rise" often by
    chance. On stationary synthetic data (2,400 offices, 1,000,000 feedback rows a
    quarter, no real change, so every signal is spurious) the rule took the rate of
    rises among office pain points from 2.9 % (366 of 12,447) to 0.03 % (4), among
    region pain points from 0.65 % to 0.45 % (14 of 3,093). A theme never mentioned
    in the baseline (p̄ = 0) therefore gets no signal; its ``trend`` shows the jump.
    ``p_bar``, ``ucl`` and ``lcl`` are stored per 100 texts, like ``negative_share``.

    Why Laney: feedback volumes are large and the share of a theme drifts from
    quarter to quarter for reasons that are not a special cause (seasons, campaigns);
    a plain p-chart then flags almost every quarter. σ_z measures that extra
    quarter-to-quarter variation in units of the binomial one and widens the limits
    by it (Laney 2002, "Improved control charts for attributes").
    Why σ_z is floored at 1: Laney's chart also *narrows* the limits when σ_z < 1
    (underdispersion). With three to six baseline points the moving range rests on
    two to five differences and is far too noisy to claim that; a smooth baseline by
    chance would give σ_z near 0 and turn every wobble into a signal. So the p'
    limits are never narrower than the binomial p-chart's.

Priority (documented in the README, "Pain points and priority")

    priority = reach × severity × trend × driver × coverage

each factor stored as a ``component_*`` column:

* ``component_reach`` = lower bound × spread — how many clients it hurts, and how
  widely. The lower bound is the Wilson 95 % lower bound of the negative share (per
  100 texts of the unit and client type): "at least this many in 100 complain", so a
  share from 8 texts out of 35 (22.9, bound 12.1) does not outrank one from 22 out of
  217 (10.1, bound 6.8) by as much as the raw shares say — small samples are
  shrunk, large ones barely move. spread = 0.5 + 0.5 × reach_offices / offices_total
  for region and country rows (a complaint in every office counts fully, one
  confined to a single office of many about half), 1 for office rows;
* ``component_severity`` = clip((100 − ray_score) / 25, 0.5, 2) — how badly the
  survey says the matching expectation is met (a ray at 75 gives 1, at 50 or below 2,
  at 87.5 or above 0.5); 1 without a survey value;
* ``component_trend`` = ``rise_weight`` (1.25) on a p-chart rise, ``fall_weight``
  (0.9) on a fall, else 1 — a growing problem before a stable one;
* ``component_driver`` = clip(1 + 2.5 × (importance − 0.2), 0.5, 2) — a ray that
  drives overall satisfaction more than the average ray (1/5) weighs more:
  importance 0.6 → 2, 0.2 → 1, 0 → 0.5; 1 without driver data;
* ``component_coverage`` = ``covered_weight`` (0.5) when an open measure (approved,
  in progress or implemented at the cycle time — a merely *proposed* one is not yet
  working) of the theme reaches at least one office of the unit, with
  ``covered_by`` = its code (the one reaching most of the unit's offices, then the
  lowest code); else 1. A measure's offices are its scope, or every office of its
  region when it lists none; a measure also covers its own region's row when its
  offices lie elsewhere; the country row is covered by any open measure of the theme.

Ranks are within the unit (level, unit_code), client types together: by priority
(rounded to 6 decimals) descending, then negative mentions descending, then theme,
journey stage and client type; rows come out country first, then regions, then
offices, each by unit code and rank.

``why_this_rank`` turns the components into one sentence a manager reads (ru/en/fi;
the templates are in ``SENTENCES``), ``pain_points_artifact_rows`` gives the top
pain points per region and the country for the Prefect table artifact, and
``pareto`` the Pareto table of a unit's pain points.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from cxloop.config import AppConfig
from cxloop.domain import CITIZEN_STAGES, EMPLOYER_STAGES, RAYS
from cxloop.i18n import CLIENT_TYPE_LABELS, LANGUAGES, NP_, RAY_LABELS, STAGE_LABELS, format_number, gettext
from cxloop.quarters import Quarter

COUNTRY = "ALL"
LEVELS = ("country", "region", "office")
_LEVEL_ORDER = {lvl: i for i, lvl in enumerate(LEVELS)}

#: Columns of the result that are stored in ``pain_point`` (``store.replace_pain_points``).
PAIN_POINT_COLUMNS = [
    "level", "unit_code", "region_code", "client_type", "theme", "journey_stage",
    "mentions", "negative_mentions", "texts_total", "negative_share", "mean_rating",
    "reach_offices", "offices_total", "reach_clients", "ray", "ray_score", "trend", "signal", "p_bar", "ucl", "lcl",
    "driver_importance", "covered_by",
    "component_reach", "component_severity", "component_trend", "component_driver", "component_coverage",
    "priority", "rank", "recurring",
]
#: Result columns kept in the frame but not stored (none at present).
EXTRA_COLUMNS: list[str] = []
COMPONENTS = ["component_reach", "component_severity", "component_trend", "component_driver", "component_coverage"]

#: One row per identical (quarter, office, region, client type, stage, themes, negative themes)
#: combination of texts: ``texts`` of them, ``rated`` with a rating, ``rating_sum`` of the
#: ratings on 0-100. ``office_code`` and ``journey_stage`` are "" when unknown.
TEXT_GROUP_COLUMNS = ["quarter", "office_code", "region_code", "client_type", "journey_stage", "themes",
                      "negative_themes", "texts", "rated", "rating_sum"]

#: Shewhart's d2 for moving ranges of two points: E|X_i - X_(i-1)| = 1.128 σ.
D2 = 1.128
#: σ_z is never below this (see the module docstring).
SIGMA_Z_FLOOR = 1.0

# --------------------------------------------------------------------------- sentences
# The sentence templates and the names in them live in the Babel catalogs
# (locale/<lang>/LC_MESSAGES/cxloop.po; msgids are the English text, see
# cxloop/i18n.py). ``SENTENCES`` is what remains of the per-language tables: the
# names a caller looks up by language, read from the catalogs.

#: Client types after "… in 100" in the why-sentence (Russian genitive, Finnish elative).
_WHO_COMPLAIN = {
    "citizen": NP_("who complain: 12 in 100 … who gave feedback", "citizens"),
    "employer": NP_("who complain: 12 in 100 … who gave feedback", "employers"),
}


class _CatalogNames(Mapping):
    """``SENTENCES[lang]``: the names of rays, journey stages and client types and the
    national row's name in ``lang`` (ru, en, fi), from the catalogs; KeyError otherwise."""

    def __getitem__(self, lang: str) -> dict[str, Any]:
        if lang not in LANGUAGES:
            raise KeyError(lang)
        _ = gettext(lang)
        return {
            "rays": _.labels(RAY_LABELS),
            "stages": _.labels(STAGE_LABELS),
            "client_types": _.labels(CLIENT_TYPE_LABELS),
            # TRANSLATORS: the national row in the table of top pain points per region.
            "country": _.pgettext("pain point table: the national row", "Country"),
        }

    def __iter__(self):
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


SENTENCES: Mapping[str, dict[str, Any]] = _CatalogNames()

#: A severity or driver component counts as "mattering" for the sentence when it is
#: at least this far from 1 (a 20 % change of the priority).
_MATTERS = 0.2


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
    rating = (_rating_100(feedback["rating"], feedback["scale"])
              if {"rating", "scale"} <= set(feedback.columns) else pd.Series(np.nan, index=feedback.index))
    frame = pd.DataFrame({
        "quarter": q, "office_code": col("office_code"), "region_code": col("region_code"),
        "client_type": col("client_type"), "journey_stage": col("journey_stage"), "themes": col("themes"),
        "negative_themes": col("negative_themes"), "rated": rating.notna().astype("int64"),
        "rating_sum": rating.fillna(0.0),
    })
    keys = TEXT_GROUP_COLUMNS[:7]
    grouped = frame.groupby(keys, sort=True).agg(
        texts=("rated", "size"), rated=("rated", "sum"), rating_sum=("rating_sum", "sum")
    ).reset_index()
    return grouped[TEXT_GROUP_COLUMNS]


def theme_mentions(feedback: pd.DataFrame, config: AppConfig, quarter: str | None = None) -> pd.DataFrame:
    """One row per (text group, theme): who mentioned the theme, at which stage, whether negatively.

    In: raw feedback or text groups (``text_groups``). Out: ``quarter, office_code,
    region_code, client_type, theme, journey_stage, negative, texts, rated,
    rating_sum`` — ``texts`` is how many texts the row stands for. Vectorised: the
    theme lists are parsed once per distinct (themes, negative themes) pair.
    """
    groups = text_groups(feedback, quarter)
    out_cols = ["quarter", "office_code", "region_code", "client_type", "theme", "journey_stage", "negative",
                "texts", "rated", "rating_sum"]
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

_KEY = ["level", "unit_code", "client_type", "theme", "journey_stage"]
_UNIT = ["level", "unit_code", "client_type"]


def _unit_counts(groups: pd.DataFrame, config: AppConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
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
    ).agg(mentions=("texts", "sum"), negative_mentions=("neg", "sum"), rated=("rated", "sum"),
          rating_sum=("rating_sum", "sum"))
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
    parts.append(c.assign(level="country", unit_code=COUNTRY, region_code=COUNTRY))
    counts = pd.concat(parts, ignore_index=True)

    texts = pd.Series(np.bincount(unit_code, weights=groups["texts"].to_numpy(dtype="float64")), name="texts")
    t_office = units.join(texts.astype("int64")).reset_index(drop=True)
    t_parts = []
    to = t_office[t_office["office_code"] != ""]
    t_parts.append(to.assign(level="office", unit_code=to["office_code"])[["quarter", *_UNIT, "texts"]])
    tr = t_office.groupby(["quarter", "region_code", "client_type"], sort=False)["texts"].sum().reset_index()
    t_parts.append(tr.assign(level="region", unit_code=tr["region_code"])[["quarter", *_UNIT, "texts"]])
    tc = t_office.groupby(["quarter", "client_type"], sort=False)["texts"].sum().reset_index()
    t_parts.append(tc.assign(level="country", unit_code=COUNTRY)[["quarter", *_UNIT, "texts"]])
    totals = pd.concat(t_parts, ignore_index=True).rename(columns={"texts": "texts_total"})
    return counts, totals


def _offices_total(rows: pd.DataFrame, groups: pd.DataFrame, config: AppConfig) -> pd.Series:
    """Registry offices of the unit plus any other office seen in the quarter's texts."""
    registry = {o.office_code: o.region_code for o in config.offices}
    seen = groups.loc[groups["office_code"] != "", ["office_code", "region_code"]].drop_duplicates()
    for code, region in zip(seen["office_code"], seen["region_code"]):
        registry.setdefault(code, region)
    per_region = pd.Series(registry, dtype=object).value_counts()
    out = rows["unit_code"].map(per_region).where(rows["level"] == "region")
    out = out.where(rows["level"] != "country", float(len(registry)))
    out = out.where(rows["level"] != "office", 1.0)
    return out.fillna(0).astype("int64")


# --------------------------------------------------------------------------- p-chart


def laney_limits(series: pd.DataFrame, current: pd.DataFrame, *, min_baseline: int = 3, min_expected: float = 5.0,
                 sigma_z_floor: float = SIGMA_Z_FLOOR, z: float = 3.0) -> pd.DataFrame:
    """Laney p' limits and signals for many keys at once (formulas: module docstring).

    ``series``: the baseline, columns ``key, order, x, n`` (one row per key and
    quarter with n > 0; ``order`` sorts the quarters). ``current``: columns ``key, x,
    n`` for the quarter under test. Out, indexed by key (every key of ``current``):
    ``baseline`` (number of points), ``p_bar``, ``sigma_z`` (floored), ``ucl``,
    ``lcl`` (shares 0-1; empty below ``min_baseline`` points) and ``signal``
    (``"rise"``, ``"fall"`` or None; None also when the count the baseline expects
    now, p̄ x n, is below ``min_expected``).
    """
    cur = current.set_index("key")[["x", "n"]].astype("float64")
    out = pd.DataFrame(index=cur.index)
    s = series[series["n"] > 0].sort_values(["key", "order"], kind="mergesort")
    g = s.groupby("key", sort=False)
    out["baseline"] = g.size().reindex(out.index).fillna(0).astype("int64")
    p_bar = (g["x"].sum() / g["n"].sum()).reindex(out.index)
    out["p_bar"] = p_bar
    pb = s["key"].map(p_bar)
    sigma_i = np.sqrt(pb * (1.0 - pb) / s["n"])
    with np.errstate(divide="ignore", invalid="ignore"):
        zi = (s["x"] / s["n"] - pb) / sigma_i
    zi = zi.where(sigma_i > 0)
    mr = zi.groupby(s["key"], sort=False).diff().abs()
    sigma_z = (mr.groupby(s["key"], sort=False).mean() / D2).reindex(out.index)
    out["sigma_z"] = sigma_z.where(sigma_z > sigma_z_floor, sigma_z_floor).fillna(sigma_z_floor)
    sigma_now = np.sqrt(out["p_bar"] * (1.0 - out["p_bar"]) / cur["n"])
    half = z * sigma_now * out["sigma_z"]
    enough = out["baseline"] >= min_baseline
    out["ucl"] = (out["p_bar"] + half).clip(upper=1.0).where(enough)
    out["lcl"] = (out["p_bar"] - half).clip(lower=0.0).where(enough)
    p_now = cur["x"] / cur["n"]
    signal = np.where(p_now > out["ucl"], "rise", np.where(p_now < out["lcl"], "fall", None))
    judged = (enough & (out["p_bar"] * cur["n"] >= min_expected)).to_numpy()
    out["signal"] = pd.Series(np.where(judged, signal, None), index=out.index, dtype=object)
    return out


def laney_p_prime(x: Iterable[float], n: Iterable[float], x_now: float, n_now: float, *, min_baseline: int = 3,
                  min_expected: float = 5.0, sigma_z_floor: float = SIGMA_Z_FLOOR) -> dict[str, Any]:
    """One series through ``laney_limits``: baseline counts ``x``/``n`` in time order, the current ``x_now``/``n_now``."""
    x, n = list(x), list(n)
    series = pd.DataFrame({"key": 0, "order": range(len(x)), "x": x, "n": n}, dtype="float64").astype({"key": "int64"})
    res = laney_limits(series, pd.DataFrame({"key": [0], "x": [x_now], "n": [n_now]}),
                       min_baseline=min_baseline, min_expected=min_expected, sigma_z_floor=sigma_z_floor)
    row = res.iloc[0]
    return {k: (None if (k != "signal" and pd.isna(row[k])) else row[k]) for k in res.columns}


def _history_stats(rows: pd.DataFrame, counts: pd.DataFrame, totals: pd.DataFrame, quarter: str,
                   history_quarters: int, min_baseline: int, min_expected: float) -> pd.DataFrame:
    """trend, signal, p_bar, ucl, lcl for ``rows`` (current pain points) from the earlier quarters' counts."""
    q = Quarter.parse(quarter)
    baseline_q = {str(q.shift(-i)): -i for i in range(1, history_quarters + 1)}
    prev = str(q.prev())
    keys = rows[_KEY].reset_index(drop=True).assign(key=lambda f: np.arange(len(f)))
    base_totals = totals[totals["quarter"].isin(list(baseline_q))]
    grid = keys.merge(base_totals, on=_UNIT, how="inner")
    hist = counts.loc[counts["quarter"].isin(list(baseline_q)), ["quarter", *_KEY, "negative_mentions"]]
    grid = grid.merge(hist, on=["quarter", *_KEY], how="left")
    grid["x"] = grid["negative_mentions"].fillna(0).astype("float64")
    grid["n"] = grid["texts_total"].astype("float64")
    grid["order"] = grid["quarter"].map(baseline_q)
    current = pd.DataFrame({"key": keys["key"], "x": rows["negative_mentions"].to_numpy(dtype="float64"),
                            "n": rows["texts_total"].to_numpy(dtype="float64")})
    limits = laney_limits(grid[["key", "order", "x", "n"]], current, min_baseline=min_baseline,
                          min_expected=min_expected)
    out = pd.DataFrame(index=rows.index)
    before = grid[grid["quarter"] == prev].set_index("key")
    prev_share = (100.0 * before["x"] / before["n"]).reindex(keys["key"]).to_numpy()
    out["trend"] = rows["negative_share"].to_numpy() - prev_share
    out["signal"] = limits["signal"].to_numpy()
    out["p_bar"] = 100.0 * limits["p_bar"].to_numpy()
    out["ucl"] = 100.0 * limits["ucl"].to_numpy()
    out["lcl"] = 100.0 * limits["lcl"].to_numpy()
    return out


# --------------------------------------------------------------------------- survey, drivers, measures


def _lookup(table: pd.Series, *arrays: Iterable) -> np.ndarray:
    """Values of ``table`` (a Series with a unique MultiIndex) at the given key arrays; NaN where absent."""
    idx = pd.MultiIndex.from_arrays([np.asarray(a, dtype=object) for a in arrays])
    return table.reindex(idx).to_numpy(dtype="float64")


def _ray_scores(rows: pd.DataFrame, index: pd.DataFrame | None) -> np.ndarray:
    """The star value of each row's ray for its unit and client type (fallbacks: module docstring)."""
    n = len(rows)
    if index is None or index.empty or n == 0:
        return np.full(n, np.nan)
    idx = index
    if "sufficient_sample" in idx.columns:
        idx = idx[idx["sufficient_sample"].fillna(False).astype(bool)]
    rays = [r for r in RAYS if r in idx.columns]
    long = idx.melt(id_vars=["level", "unit_code", "client_type"], value_vars=rays, var_name="ray", value_name="value")
    long = long.dropna(subset=["value"]).drop_duplicates(["level", "unit_code", "client_type", "ray"], keep="last")
    table = long.set_index(["level", "unit_code", "client_type", "ray"])["value"].astype("float64")
    level, unit, region = rows["level"].to_numpy(), rows["unit_code"].to_numpy(), rows["region_code"].to_numpy()
    client, ray = rows["client_type"].to_numpy(), rows["ray"].to_numpy()
    composite = np.full(n, "composite", dtype=object)
    out = np.full(n, np.nan)
    candidates = [(level, unit)]
    # The unit above: an office's region, a region's (and an office's) country.
    candidates.append((np.where(level == "office", "region", "country"), np.where(level == "office", region, COUNTRY)))
    candidates.append((np.full(n, "country", dtype=object), np.full(n, COUNTRY, dtype=object)))
    for lvl, u in candidates:
        for ct in (client, composite):
            out = np.where(np.isnan(out), _lookup(table, lvl, u, ct, ray), out)
    return out


def _driver_importance(rows: pd.DataFrame, drivers: pd.DataFrame | None) -> np.ndarray:
    n = len(rows)
    if drivers is None or drivers.empty or n == 0:
        return np.full(n, np.nan)
    d = drivers.dropna(subset=["importance"]).drop_duplicates(["region_code", "client_type", "ray"], keep="last")
    table = d.set_index(["region_code", "client_type", "ray"])["importance"].astype("float64")
    region, client, ray = rows["region_code"].to_numpy(), rows["client_type"].to_numpy(), rows["ray"].to_numpy()
    every = np.full(n, "all", dtype=object)
    country = np.full(n, COUNTRY, dtype=object)
    out = np.full(n, np.nan)
    for reg, ct in ((region, client), (region, every), (country, client), (country, every)):
        out = np.where(np.isnan(out), _lookup(table, reg, ct, ray), out)
    return out


def _coverage(rows: pd.DataFrame, open_measures: pd.DataFrame | None, config: AppConfig) -> pd.Series:
    """The open measure (code) working on each row, or None (rule: module docstring)."""
    none = pd.Series([None] * len(rows), index=rows.index, dtype=object)
    if open_measures is None or open_measures.empty or rows.empty:
        return none
    registry = {o.office_code: o.region_code for o in config.offices}
    by_region: dict[str, list[str]] = {}
    for code, region in registry.items():
        by_region.setdefault(region, []).append(code)
    pairs = []  # (code, theme, office, region of the office)
    for m in open_measures.itertuples(index=False):  # measures, not mentions: a handful
        offices = [o for o in str(m.offices or "").split(",") if o]
        if not offices:
            offices = list(registry) if m.region_code == COUNTRY else by_region.get(m.region_code, [])
        for office in offices:
            pairs.append((m.code, m.theme, office, registry.get(office, m.region_code)))
        if m.region_code != COUNTRY:  # the measure's own region, even when its offices lie elsewhere
            pairs.append((m.code, m.theme, None, m.region_code))
    reach = pd.DataFrame(pairs, columns=["code", "theme", "office", "region"])
    reach["counted"] = reach["office"].notna().astype("int64")
    office_level = reach.dropna(subset=["office"]).groupby(["theme", "office", "code"])["counted"].sum().reset_index()
    office_level = office_level.rename(columns={"office": "unit_code"}).assign(level="office")
    region_level = reach.groupby(["theme", "region", "code"])["counted"].sum().reset_index()
    region_level = region_level.rename(columns={"region": "unit_code"}).assign(level="region")
    country_level = reach.groupby(["theme", "code"])["counted"].sum().reset_index().assign(level="country", unit_code=COUNTRY)
    best = pd.concat([office_level, region_level, country_level], ignore_index=True)
    best = best.sort_values(["level", "unit_code", "theme", "counted", "code"], ascending=[True, True, True, False, True],
                            kind="mergesort").drop_duplicates(["level", "unit_code", "theme"], keep="first")
    table = best.set_index(["level", "unit_code", "theme"])["code"]
    idx = pd.MultiIndex.from_arrays([rows["level"].to_numpy(), rows["unit_code"].to_numpy(), rows["theme"].to_numpy()])
    found = table.reindex(idx).to_numpy(dtype=object)
    return pd.Series([c if isinstance(c, str) else None for c in found], index=rows.index, dtype=object)


# --------------------------------------------------------------------------- the stage's computation


def prioritise_pain_points(
    feedback: pd.DataFrame,
    config: AppConfig,
    index: pd.DataFrame | None = None,
    *,
    quarter: str | None = None,
    history: pd.DataFrame | None = None,
    drivers: pd.DataFrame | None = None,
    open_measures: pd.DataFrame | None = None,
    closed_measures: set[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Detect and rank the quarter's pain points at office, region and country level.

    ``feedback``: the quarter's feedback, raw rows or text groups (``text_groups``).
    ``index``: the quarter's star index (``store.load_index``). ``history``: raw rows
    (with ``quarter``) or text groups of earlier quarters; only the
    ``history_quarters`` before ``quarter`` are used; without it there is no trend and
    no signal. ``drivers``: ``tasks.insight.drivers.drivers_for_quarter``. ``open_measures``:
    ``code, region_code, theme, offices`` (``store.open_measures``).
    ``closed_measures``: (region, theme) scopes (``store.closed_measure_scopes``).

    Out: ``PAIN_POINT_COLUMNS`` + ``EXTRA_COLUMNS``; the method is in the module docstring.
    """
    thresholds = config.thresholds.pain_points
    columns = PAIN_POINT_COLUMNS + EXTRA_COLUMNS
    if history is not None and quarter is None:
        raise ValueError("prioritise_pain_points: history needs the current quarter")
    q = quarter or ""
    groups = text_groups(feedback, q).assign(quarter=q)
    if groups.empty:
        return pd.DataFrame(columns=columns)
    counts, totals = _unit_counts(groups, config)
    rows = counts[counts["negative_mentions"] >= thresholds.min_mentions].copy()
    if rows.empty:
        return pd.DataFrame(columns=columns)
    rows = rows.merge(totals.drop(columns="quarter"), on=_UNIT, how="left")
    for col in ("mentions", "negative_mentions", "texts_total", "reach_offices"):
        rows[col] = rows[col].astype("int64")
    rows = rows.reset_index(drop=True)
    rows["negative_share"] = 100.0 * rows["negative_mentions"] / rows["texts_total"]
    rows["mean_rating"] = (rows["rating_sum"] / rows["rated"]).where(rows["rated"] > 0)
    rows["reach_clients"] = rows["negative_mentions"]
    rows["offices_total"] = _offices_total(rows, groups, config)
    rows["ray"] = rows["theme"].map({t: th.ray for t, th in config.themes.items()}).fillna("")
    rows["ray_score"] = _ray_scores(rows, index)

    if history is not None and not history.empty:
        if "texts" not in history.columns and "quarter" not in history.columns:
            raise ValueError("prioritise_pain_points: history rows need a quarter column")
        past = text_groups(history)
        past = past[past["quarter"].astype(str) != q]
        h_counts, h_totals = _unit_counts(past, config) if not past.empty else (counts.iloc[:0], totals.iloc[:0])
        stats = _history_stats(rows, h_counts, h_totals, q, thresholds.history_quarters,
                               thresholds.min_baseline_quarters, thresholds.min_expected_mentions)
        for col in ("trend", "signal", "p_bar", "ucl", "lcl"):
            rows[col] = stats[col]
    else:
        rows["trend"] = np.nan
        rows["signal"] = None
        rows["p_bar"] = rows["ucl"] = rows["lcl"] = np.nan

    rows["driver_importance"] = _driver_importance(rows, drivers)
    rows["covered_by"] = _coverage(rows, open_measures, config)

    spread = 0.5 + 0.5 * rows["reach_offices"] / rows["offices_total"].where(rows["offices_total"] > 0)
    lower = wilson_lower(rows["negative_mentions"].to_numpy(float), rows["texts_total"].to_numpy(float))
    rows["component_reach"] = lower * spread.where(rows["level"] != "office", 1.0).fillna(1.0)
    rows["component_severity"] = ((100.0 - rows["ray_score"]) / 25.0).clip(0.5, 2.0).fillna(1.0)
    rows["component_trend"] = np.select(
        [rows["signal"].eq("rise"), rows["signal"].eq("fall")], [thresholds.rise_weight, thresholds.fall_weight], 1.0
    )
    rows["component_driver"] = (1.0 + 2.5 * (rows["driver_importance"] - 0.2)).clip(0.5, 2.0).fillna(1.0)
    rows["component_coverage"] = np.where(rows["covered_by"].notna(), thresholds.covered_weight, 1.0)
    rows["priority"] = rows[COMPONENTS].prod(axis=1).round(6)

    closed = closed_measures or set()
    if closed:
        scopes = pd.MultiIndex.from_tuples(sorted(closed))
        rows["recurring"] = pd.MultiIndex.from_arrays([rows["region_code"], rows["theme"]]).isin(scopes)
    else:
        rows["recurring"] = False

    rows["_lvl"] = rows["level"].map(_LEVEL_ORDER)
    rows = rows.sort_values(
        ["_lvl", "unit_code", "priority", "negative_mentions", "theme", "journey_stage", "client_type"],
        ascending=[True, True, False, False, True, True, True], kind="mergesort",
    )
    rows["rank"] = rows.groupby(["_lvl", "unit_code"], sort=False).cumcount() + 1
    out = rows[columns].reset_index(drop=True)
    # The same dtypes whatever the input (raw rows or the database's groups): text as object.
    text_cols = ["level", "unit_code", "region_code", "client_type", "theme", "journey_stage", "ray"]
    out[text_cols] = out[text_cols].astype(object)
    return out


# --------------------------------------------------------------------------- words


def _get(row: Any, name: str, default: Any = None) -> Any:
    value = row.get(name, default) if isinstance(row, Mapping) else getattr(row, name, default)
    if value is None:
        return default
    try:
        if pd.isna(value):
            return default
    except (TypeError, ValueError):
        pass
    return value


def fmt_share(value: float, lang: str) -> str:
    """A share per 100 for a sentence: whole when it is (nearly) whole, else one decimal,
    written the reader's way (``cxloop.i18n.format_number``: "4,5" in ru/fi, "4.5" in en)."""
    v = round(float(value), 1)
    return format_number(v, lang, 0 if abs(v - round(v)) < 1e-9 else 1)


def wilson_lower(x: np.ndarray, n: np.ndarray, z: float = 1.959963984540054) -> np.ndarray:
    """Wilson score 95 % lower bound of x/n, per 100 (0 where n is 0)."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, x / n, 0.0)
        centre = p + z * z / (2 * n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        low = (centre - half) / (1 + z * z / n)
    return np.where(n > 0, 100.0 * np.clip(low, 0.0, 1.0), 0.0)


def why_this_rank(
    row: Mapping[str, Any] | Any,
    *,
    lang: str = "ru",
    theme_names: Mapping[str, str] | None = None,
    ray_names: Mapping[str, str] | None = None,
) -> str:
    """One sentence a manager understands: why this pain point has its rank.

    Always: the rank, the theme, how many of 100 clients of the type complain and
    (region / country) in how many of the unit's offices. Then only what matters:
    the p-chart signal, a survey score of the ray that raises or lowers the weight
    (severity at least 0.2 away from 1), the ray's pull on overall satisfaction
    (driver component at least 0.2 away from 1), the open measure that halves the
    weight, and a recurrence after a closed measure. ``row``: a result row (mapping,
    Series or namedtuple). Names default to the ids / the catalogs' ray names.

    The clauses are catalog strings (``locale/<lang>/LC_MESSAGES/cxloop.po``), joined
    with "; " and closed with a full stop. ``lang``: ru, en or fi (KeyError otherwise).
    """
    if lang not in LANGUAGES:
        raise KeyError(lang)
    _ = gettext(lang)
    theme = str(_get(row, "theme", ""))
    ray = str(_get(row, "ray", ""))
    theme_label = (theme_names or {}).get(theme, theme)
    ray_label = (ray_names or _.labels(RAY_LABELS)).get(ray, ray)
    client = str(_get(row, "client_type", "citizen"))
    values = dict(rank=int(_get(row, "rank", 0)), theme=theme_label,
                  share=fmt_share(_get(row, "negative_share", 0.0), lang),
                  clients=_.label(_WHO_COMPLAIN[client]) if client in _WHO_COMPLAIN else client)
    total = _get(row, "offices_total")
    if _get(row, "level") in ("region", "country") and total:
        # TRANSLATORS: %(share)s is a number per 100 ("12", "4.5"); %(clients)s "citizens"/"employers"
        # in the form that follows "in 100 … who gave feedback"; the plural is chosen by %(total)s.
        head = _.ngettext(
            "Rank %(rank)s: “%(theme)s” — %(share)s in 100 %(clients)s who gave feedback complain, "
            "in %(reach)s of %(total)s office",
            "Rank %(rank)s: “%(theme)s” — %(share)s in 100 %(clients)s who gave feedback complain, "
            "in %(reach)s of %(total)s offices",
            int(total), reach=int(_get(row, "reach_offices", 0)), total=int(total), **values)
    else:
        head = _("Rank %(rank)s: “%(theme)s” — %(share)s in 100 %(clients)s who gave feedback complain", **values)
    parts = [head]
    signal = _get(row, "signal")
    if signal == "rise":
        parts.append(_("the share is rising (control-chart signal)"))
    elif signal == "fall":
        parts.append(_("the share is falling (control-chart signal)"))
    severity = float(_get(row, "component_severity", 1.0))
    score = _get(row, "ray_score")
    driver = float(_get(row, "component_driver", 1.0))
    importance = _get(row, "driver_importance")
    ray_facts = []
    if score is not None and abs(severity - 1.0) >= _MATTERS:
        score_int = int(round(float(score)))
        ray_facts.append(_("scores only %(score)s of 100", score=score_int) if severity > 1.0
                         else _("scores well (%(score)s of 100)", score=score_int))
    if importance is not None and abs(driver - 1.0) >= _MATTERS:
        pct = int(round(100 * float(importance)))
        ray_facts.append(_("strongly drives overall satisfaction (%(pct)s %% of the explained variance)", pct=pct)
                         if driver > 1.0
                         else _("hardly drives overall satisfaction (%(pct)s %% of the explained variance)", pct=pct))
    if ray_facts:
        facts = ray_facts[0] if len(ray_facts) == 1 else _("%(first)s and %(second)s", first=ray_facts[0],
                                                             second=ray_facts[1])
        # TRANSLATORS: %(facts)s is one or two of "scores only 58 of 100", "strongly drives overall satisfaction (…)".
        parts.append(_("the “%(ray)s” ray %(facts)s", ray=ray_label, facts=facts))
    code = _get(row, "covered_by")
    if code:
        parts.append(_("measure %(code)s is already working on it, so its weight is reduced", code=code))
    if bool(_get(row, "recurring", False)):
        parts.append(_("it came back after a closed measure"))
    return "; ".join(parts) + "."


def _num(value: Any, digits: int = 2) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), digits)


def pain_points_artifact_rows(frame: pd.DataFrame, config: AppConfig, *, top: int = 10, lang: str = "ru") -> list[dict]:
    """The top ``top`` pain points of the country and of every region, for a Prefect table artifact.

    One dict per pain point, country first, then regions by code, each by rank:
    region, rank, theme (name), stage, client type, negative share, priority, the
    five components, signal, covered_by, why (``why_this_rank``). Values are plain
    str / int / float / None (JSON-ready).
    """
    if frame is None or frame.empty:
        return []
    t = SENTENCES[lang]
    theme_names = {tid: th.labels.get(lang, tid) for tid, th in config.themes.items()}
    regions = config.regions
    sel = frame[frame["level"].isin(["country", "region"])]
    sel = sel.assign(_lvl=sel["level"].map(_LEVEL_ORDER)).sort_values(["_lvl", "unit_code", "rank"], kind="mergesort")
    sel = sel.groupby(["_lvl", "unit_code"], sort=False).head(top)
    out = []
    for r in sel.to_dict("records"):
        unit = r["unit_code"]
        out.append({
            "region": t["country"] if r["level"] == "country" else f"{unit} {regions.get(unit, '')}".strip(),
            "rank": int(r["rank"]),
            "theme": theme_names.get(r["theme"], r["theme"]),
            "stage": t["stages"].get(r["journey_stage"], r["journey_stage"]),
            "client_type": t["client_types"].get(r["client_type"], r["client_type"]),
            "negative_share": _num(r["negative_share"], 1),
            "priority": _num(r["priority"]),
            "reach": _num(r["component_reach"]),
            "severity": _num(r["component_severity"]),
            "trend": _num(r["component_trend"]),
            "driver": _num(r["component_driver"]),
            "coverage": _num(r["component_coverage"]),
            "signal": _get(r, "signal"),
            "covered_by": _get(r, "covered_by"),
            "why": why_this_rank(r, lang=lang, theme_names=theme_names),
        })
    return out


def pareto(frame: pd.DataFrame, level: str, unit_code: str, *, by: str = "negative_mentions",
           vital: float = 80.0) -> pd.DataFrame:
    """The Pareto table of one unit's pain points: sorted by ``by`` (descending; ties by
    rank), with ``cum_share`` (cumulative % of the unit's total of ``by``) and
    ``vital_few`` (the rows up to and including the one that reaches ``vital`` %).
    A text can mention several themes, so the shares are of mentions, not of texts."""
    sel = frame[(frame["level"] == level) & (frame["unit_code"] == unit_code)]
    sel = sel.sort_values([by, "rank"], ascending=[False, True], kind="mergesort").copy()
    total = float(sel[by].sum())
    if sel.empty or total <= 0:
        return sel.assign(cum_share=pd.Series(dtype="float64"), vital_few=pd.Series(dtype=bool))
    sel["cum_share"] = 100.0 * sel[by].cumsum() / total
    before = sel["cum_share"].shift(1, fill_value=0.0)
    sel["vital_few"] = before < vital - 1e-9
    return sel.reset_index(drop=True)
