"""Proposals from pain points: each quarter, measures from the playbook for every
region's top pain points that no open measure covers yet.

The proposals enter the register as ``proposed`` (:func:`tasks.measures.register.create_measure`)
with a KPI baseline and target from :mod:`tasks.measures.kpi`; the working group
then reviews them (:func:`tasks.measures.edits.review_proposals`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlmodel import Session, col, select

from cxloop.config import AppConfig
from cxloop.domain import COUNTRY_CODE, OPEN_STATUSES
from cxloop.quarters import Quarter
from models.tables import Measure
from tasks.measures.kpi import client_type_for_theme, kpi_baseline, kpi_target_for
from tasks.measures.register import SYSTEM_USER, create_measure


def _open_scopes(session: Session) -> tuple[set[tuple[str, str]], dict[str, set[str]]]:
    """(region, theme) pairs with an open measure, and per theme the offices open measures reach."""
    rows = session.exec(
        select(col(Measure.region_code), col(Measure.theme), col(Measure.offices)).where(
            col(Measure.status).in_(OPEN_STATUSES)
        )
    )
    scopes: set[tuple[str, str]] = set()
    offices: dict[str, set[str]] = {}
    for region, theme, office_list in rows:
        scopes.add((region, theme))
        offices.setdefault(theme, set()).update(o for o in (office_list or "").split(",") if o)
    return scopes, offices


def create_proposals(
    session: Session,
    quarter: str,
    pain_points: pd.DataFrame,
    config: AppConfig,
    as_of: datetime,
) -> list[Measure]:
    """Propose measures from the playbook for each region's top pain points of ``quarter``.

    In: pain points (quarter, level, region_code, theme, journey_stage, priority,
    rank, negative_mentions); only the region rows (``level == "region"``) are used,
    or, in a frame without ``level``, the rows other than the country's (``COUNTRY_CODE``).
    Per region the pain points with priority >= ``min_priority_for_measures`` whose
    theme has a playbook template are ranked (a theme counts once, at its best rank) and the top
    ``top_n_for_measures`` are considered; one already covered by an open measure
    of the same region and theme is skipped, and an open measure of the theme that
    reaches some of the region's offices (e.g. one rolled out across regions) leaves
    the proposal only the other offices (none left: skipped). The top N is taken *before* the
    coverage check, so a rerun proposes nothing new instead of reaching down to
    lower-ranked pain points. A code that already exists (e.g. the measure was
    rejected) is not proposed again for the same quarter.

    Out: the new measures (status ``proposed``), sorted by code.
    """
    q = Quarter.parse(quarter)
    thresholds = config.thresholds.pain_points
    if pain_points.empty:
        return []
    if "level" in pain_points.columns:  # pain points per unit: only the region rows propose measures
        pp = pain_points[pain_points["level"].astype(str) == "region"].copy()
    else:  # a frame of region rows only (region_code, COUNTRY_CODE = the country)
        pp = pain_points[pain_points["region_code"].astype(str) != COUNTRY_CODE].copy()
    if "quarter" in pp.columns:
        pp = pp[pp["quarter"].astype(str) == str(q)]
    pp = pp[(pp["priority"] >= thresholds.min_priority_for_measures) & pp["theme"].isin(list(config.playbook.measures))]
    pp = pp[pp["theme"].map(lambda t: bool(config.playbook.measures.get(t)))]
    if pp.empty:
        return []
    pp["region_code"] = pp["region_code"].astype(str)
    pp = pp.sort_values(
        ["region_code", "rank", "priority", "theme", "journey_stage"],
        ascending=[True, True, False, True, True],
        kind="mergesort",
    )
    pp = pp.drop_duplicates(["region_code", "theme"], keep="first")

    covered, covered_offices = _open_scopes(session)
    existing_codes = set(session.exec(select(Measure.code)))
    created: list[Measure] = []
    for region_code, group in pp.groupby("region_code", sort=True):
        region_name = config.regions.get(region_code, region_code)
        offices = sorted(o.office_code for o in config.offices if o.region_code == region_code)
        for row in group.head(thresholds.top_n_for_measures).itertuples(index=False):
            theme = str(row.theme)
            code = f"M-{q}-{region_code}-{theme}"
            if (region_code, theme) in covered or code in existing_codes:
                continue
            scope = [o for o in offices if o not in covered_offices.get(theme, set())]
            if not scope:
                continue
            template = config.playbook.measures[theme][0]
            baseline = kpi_baseline(session, template.kpi.metric, str(q), scope, client_type_for_theme(theme, config))
            planned_start = q.cycle_date
            measure = Measure(
                code=code,
                title=template.title,
                description=template.description,
                theme=theme,
                journey_stage=str(row.journey_stage),
                type=template.type,
                region_code=region_code,
                offices=",".join(scope),
                owner=config.playbook.owners.owner_for(region_code, region_name, theme),
                status="proposed",
                source_pain_point=f"{q}:{region_code}:{theme}:{row.journey_stage}",
                proposed_quarter=str(q),
                planned_start=planned_start,
                due_date=planned_start + timedelta(days=template.duration_days),
                kpi_metric=template.kpi.metric,
                kpi_baseline=baseline,
                kpi_target=kpi_target_for(baseline, template.kpi.target_change),
                kpi_target_change=template.kpi.target_change,
            )
            comment = f"proposed for pain point rank {int(row.rank)}, priority {float(row.priority):.1f}"
            created.append(create_measure(session, measure, SYSTEM_USER, as_of, comment))
            covered.add((region_code, theme))
            covered_offices.setdefault(theme, set()).update(scope)
            existing_codes.add(code)
    return sorted(created, key=lambda m: m.code)
