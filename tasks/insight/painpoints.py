"""Loop steps 4-5, *detect* and *prioritise* pain points: where in the client's
journey negative experience forms, and what to fix first. :func:`prioritise_pain_points`
turns the counts of :mod:`tasks.insight.mentions` into ranked pain points; the p-chart is
in :mod:`tasks.insight.pchart`, the words and tables that explain a pain point to its
reader in :mod:`tasks.insight.explain`.

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
    * ``signal``, ``p_bar``, ``ucl``, ``lcl``: the Laney p' chart (:mod:`tasks.insight.pchart`).
    * ``driver_importance``: the ray's share of the explained variance of overall
      satisfaction (``tasks.insight.drivers``, 0-1, the five rays sum to 1) for the row's
      region (country rows: ``"ALL"``; office rows: their region) and client type;
      falling back to the region's pooled (``"all"``) fit, then to the country's.
    * ``covered_by``: the code of the open measure working on it (below).
    * ``recurring``: a measure of the theme was evaluated or closed in the region
      (``store.closed_measure_scopes``; the country: anywhere) and the pain point is
      back.

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
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from cxloop.config import AppConfig
from cxloop.domain import COUNTRY_CODE, LEVELS, RAYS, Z95, wilson_interval
from models.store import PAIN_POINT_STORED
from tasks.insight.mentions import UNIT_KEY, text_groups, unit_counts
from tasks.insight.pchart import history_stats

#: The order result rows come out in: the country first, then regions, then offices.
LEVEL_ORDER = {lvl: i for i, lvl in enumerate(reversed(LEVELS))}

#: Columns of the result that are stored in ``pain_point`` (``store.replace_pain_points``).
PAIN_POINT_COLUMNS = [c for c in PAIN_POINT_STORED if c != "quarter"]
#: Result columns kept in the frame but not stored (none at present).
EXTRA_COLUMNS: list[str] = []
COMPONENTS = ["component_reach", "component_severity", "component_trend", "component_driver", "component_coverage"]


# --------------------------------------------------------------------------- offices, survey, drivers, measures


def _offices_total(rows: pd.DataFrame, groups: pd.DataFrame, config: AppConfig) -> pd.Series:
    """Registry offices of the unit plus any other office seen in the quarter's texts."""
    registry = {o.office_code: o.region_code for o in config.offices}
    seen = groups.loc[groups["office_code"] != "", ["office_code", "region_code"]].drop_duplicates()
    for code, region in zip(seen["office_code"], seen["region_code"], strict=True):
        registry.setdefault(code, region)
    per_region = pd.Series(registry, dtype=object).value_counts()
    out = rows["unit_code"].map(per_region).where(rows["level"] == "region")
    out = out.where(rows["level"] != "country", float(len(registry)))
    out = out.where(rows["level"] != "office", 1.0)
    return out.fillna(0).astype("int64")


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
    candidates.append(
        (np.where(level == "office", "region", "country"), np.where(level == "office", region, COUNTRY_CODE))
    )
    candidates.append((np.full(n, "country", dtype=object), np.full(n, COUNTRY_CODE, dtype=object)))
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
    country = np.full(n, COUNTRY_CODE, dtype=object)
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
    pairs: list[tuple[Any, Any, str | None, Any]] = []  # (code, theme, office, region of the office)
    for m in open_measures.itertuples(index=False):  # measures, not mentions: a handful
        offices = [o for o in str(m.offices or "").split(",") if o]
        if not offices:
            offices = list(registry) if m.region_code == COUNTRY_CODE else by_region.get(m.region_code, [])
        for office in offices:
            pairs.append((m.code, m.theme, office, registry.get(office, m.region_code)))
        if m.region_code != COUNTRY_CODE:  # the measure's own region, even when its offices lie elsewhere
            pairs.append((m.code, m.theme, None, m.region_code))
    reach = pd.DataFrame(pairs, columns=["code", "theme", "office", "region"])
    reach["counted"] = reach["office"].notna().astype("int64")
    office_level = reach.dropna(subset=["office"]).groupby(["theme", "office", "code"])["counted"].sum().reset_index()
    office_level = office_level.rename(columns={"office": "unit_code"}).assign(level="office")
    region_level = reach.groupby(["theme", "region", "code"])["counted"].sum().reset_index()
    region_level = region_level.rename(columns={"region": "unit_code"}).assign(level="region")
    country_level = reach.groupby(["theme", "code"])["counted"].sum().reset_index()
    country_level = country_level.assign(level="country", unit_code=COUNTRY_CODE)
    best = pd.concat([office_level, region_level, country_level], ignore_index=True)
    best = best.sort_values(
        ["level", "unit_code", "theme", "counted", "code"], ascending=[True, True, True, False, True], kind="mergesort"
    ).drop_duplicates(["level", "unit_code", "theme"], keep="first")
    table = best.set_index(["level", "unit_code", "theme"])["code"]
    idx = pd.MultiIndex.from_arrays([rows["level"].to_numpy(), rows["unit_code"].to_numpy(), rows["theme"].to_numpy()])
    found = table.reindex(idx).to_numpy(dtype=object)
    return pd.Series([c if isinstance(c, str) else None for c in found], index=rows.index, dtype=object)


def wilson_lower(x: np.ndarray, n: np.ndarray, z: float = Z95) -> np.ndarray:
    """Wilson score 95 % lower bound of x/n, per 100 (0 where n is 0)."""
    n = np.asarray(n, dtype=float)
    low, _ = wilson_interval(np.asarray(x, dtype=float), n, z)
    return np.where(n > 0, 100.0 * low, 0.0)


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

    Out: ``PAIN_POINT_COLUMNS`` + ``EXTRA_COLUMNS``; the method is in the module docstring
    (the p-chart's in :mod:`tasks.insight.pchart`).
    """
    thresholds = config.thresholds.pain_points
    columns = PAIN_POINT_COLUMNS + EXTRA_COLUMNS
    if history is not None and quarter is None:
        raise ValueError("prioritise_pain_points: history needs the current quarter")
    q = quarter or ""
    groups = text_groups(feedback, q).assign(quarter=q)
    if groups.empty:
        return pd.DataFrame(columns=columns)
    counts, totals = unit_counts(groups, config)
    rows = counts[counts["negative_mentions"] >= thresholds.min_mentions].copy()
    if rows.empty:
        return pd.DataFrame(columns=columns)
    rows = rows.merge(totals.drop(columns="quarter"), on=UNIT_KEY, how="left")
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
        h_counts, h_totals = unit_counts(past, config) if not past.empty else (counts.iloc[:0], totals.iloc[:0])
        stats = history_stats(
            rows,
            h_counts,
            h_totals,
            q,
            thresholds.history_quarters,
            thresholds.min_baseline_quarters,
            thresholds.min_expected_mentions,
        )
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

    rows["_lvl"] = rows["level"].map(LEVEL_ORDER)
    rows = rows.sort_values(
        ["_lvl", "unit_code", "priority", "negative_mentions", "theme", "journey_stage", "client_type"],
        ascending=[True, True, False, False, True, True, True],
        kind="mergesort",
    )
    rows["rank"] = rows.groupby(["_lvl", "unit_code"], sort=False).cumcount() + 1
    out = rows[columns].reset_index(drop=True)
    # The same dtypes whatever the input (raw rows or the database's groups): text as object.
    text_cols = ["level", "unit_code", "region_code", "client_type", "theme", "journey_stage", "ray"]
    out[text_cols] = out[text_cols].astype(object)
    return out
