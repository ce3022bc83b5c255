"""What the quarter's feedback says, read from the database into report sections.

One function per section of the report: the star index, the intake channels and
data quality, the satisfaction metrics, the pain points, the key drivers and the
office league table. Each returns a plain dict of formatted values and charts;
``tasks.reports.context.build_report_context`` puts them together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, col, select

from cxloop.config import AppConfig
from cxloop.domain import CHANNELS, COUNTRY_CODE, NATIONAL, RAYS
from models.tables import Feedback, IndexResult, IngestedFile, PainPoint, Quarantine
from tasks.reports.charts import importance_performance_svg, pareto_svg, radar_svg, svg_data_uri
from tasks.reports.scope_survey import ScopeSurvey
from tasks.reports.strings import fmt_num, quarantine_field_label, quarantine_rule_label, star_text

TOP_PAIN_POINTS = 10
PARETO_BARS = 15


def index_rows(session: Session, quarter: str, scope: str) -> dict[str, IndexResult]:
    stmt = select(IndexResult).where(IndexResult.quarter == quarter)
    if scope == NATIONAL:
        stmt = stmt.where(IndexResult.level == "country")
    else:
        stmt = stmt.where(IndexResult.level == "region", IndexResult.unit_code == scope)
    rows = sorted(session.exec(stmt).all(), key=lambda r: (r.client_type, r.unit_code))
    out: dict[str, IndexResult] = {}
    for row in rows:
        out.setdefault(row.client_type, row)
    return out


def star_block(
    current: dict[str, IndexResult], previous: dict[str, IndexResult], prev_q: str, t: dict[str, Any], lang: str
) -> dict[str, Any]:
    blocks = []
    for ctype in ("composite", "citizen", "employer"):
        row = current.get(ctype)
        prev = previous.get(ctype)
        if row is None or row.index is None:
            blocks.append({"client_type": ctype, "label": t["client_types"][ctype], "available": False})
            continue
        change = row.change
        if change is None and prev is not None and prev.index is not None:
            change = row.index - prev.index
        blocks.append(
            {
                "client_type": ctype,
                "label": t["client_types"][ctype],
                "available": True,
                "index": row.index,
                "index_text": fmt_num(row.index, lang),
                "ci_text": f"{fmt_num(row.ci_low, lang)}–{fmt_num(row.ci_high, lang)}",
                "ci_low": row.ci_low,
                "ci_high": row.ci_high,
                "stars": row.stars,
                "stars_text": star_text(row.stars),
                "change": change,
                "change_text": fmt_num(change, lang, sign=True),
                "change_p_value": row.change_p_value,
                "n": row.n,
                "sufficient": bool(row.sufficient_sample),
            }
        )
    rays = []
    for ray in RAYS:
        cur = {c: getattr(current[c], ray) if c in current else None for c in ("citizen", "employer", "composite")}
        prv = getattr(previous["composite"], ray) if "composite" in previous else None
        delta = cur["composite"] - prv if cur["composite"] is not None and prv is not None else None
        rays.append(
            {
                "ray": ray,
                "label": t["rays"][ray],
                "citizen": cur["citizen"],
                "employer": cur["employer"],
                "composite": cur["composite"],
                "citizen_text": fmt_num(cur["citizen"], lang),
                "employer_text": fmt_num(cur["employer"], lang),
                "composite_text": fmt_num(cur["composite"], lang),
                "change": delta,
                "change_text": fmt_num(delta, lang, sign=True),
            }
        )
    series = {}
    for ctype in ("citizen", "employer"):
        if ctype in current:
            series[t["client_types"][ctype]] = {ray: getattr(current[ctype], ray) for ray in RAYS}
    if not series and "composite" in current:
        series[t["client_types"]["composite"]] = {ray: getattr(current["composite"], ray) for ray in RAYS}
    radar = radar_svg(series, {r: t["rays"][r] for r in RAYS}, chart_id="radar") if series else ""
    return {
        "blocks": blocks,
        "rays": rays,
        "radar_svg": radar,
        "radar_uri": svg_data_uri(radar),
        "prev_quarter": prev_q,
    }


def channels_block(session: Session, quarter: str, scope: str, t: dict[str, Any], lang: str = "ru") -> dict[str, Any]:
    files = session.exec(select(IngestedFile).where(IngestedFile.quarter == quarter)).all()
    # A file received again with identical content is the same data; counting it
    # would inflate volumes on every rerun of the intake, so only first receipts count.
    firsts = [f for f in files if f.repeat_of is None]
    repeats = len(files) - len(firsts)
    by_channel: dict[str, dict[str, int]] = defaultdict(
        lambda: {"received": 0, "accepted": 0, "quarantined": 0, "duplicates": 0}
    )
    for f in firsts:
        acc = by_channel[f.channel]
        acc["received"] += f.received
        acc["accepted"] += f.accepted
        acc["quarantined"] += f.quarantined
        acc["duplicates"] += f.duplicates

    def ordered(channels: Iterable[str]) -> list[str]:
        known = [c for c in CHANNELS if c in channels]
        return known + sorted(c for c in channels if c not in CHANNELS)

    def name(channel: str) -> str:
        return t["channel_names"].get(channel, channel)

    intake_rows: list[dict[str, Any]] = [{"channel": c, "label": name(c), **by_channel[c]} for c in ordered(by_channel)]
    intake_total = {k: sum(r[k] for r in intake_rows) for k in ("received", "accepted", "quarantined", "duplicates")}

    file_ids = [f.id for f in firsts]
    reasons: list[dict[str, Any]] = []
    if file_ids:
        stmt = (
            select(Quarantine.rule, Quarantine.field, func.count())
            .where(col(Quarantine.ingested_file_id).in_(file_ids))
            .group_by(Quarantine.rule, Quarantine.field)
        )
        # A row that broke several rules carries them "; "-joined, pairwise with its fields;
        # each rule counts on its own. Only rule and field are shown: the free-text reason
        # quotes the rejected value, which can be personal data.
        tally: dict[tuple[str, str], int] = defaultdict(int)
        for rule, fld, n in session.exec(stmt).all():
            rules, fields = rule.split("; "), fld.split("; ")
            if len(fields) != len(rules):
                fields = [fld] * len(rules)
            for r, field_name in zip(rules, fields, strict=True):
                tally[(r, field_name)] += n
        counted = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
        # Shown in plain words (the ids stay in the row for tests and tools).
        reasons = [
            {
                "rule": rule,
                "field": fld,
                "count": n,
                "rule_label": quarantine_rule_label(rule, lang),
                "field_label": quarantine_field_label(fld, lang),
            }
            for (rule, fld), n in counted[:8]
        ]

    block: dict[str, Any] = {
        "scope_is_region": scope != NATIONAL,
        "intake_rows": intake_rows,
        "intake_total": intake_total,
        "repeat_files": repeats,
        "reasons": reasons,
        "region_rows": [],
        "region_total": 0,
    }
    if scope != NATIONAL:
        region_stmt = (
            select(Feedback.channel, func.count())
            .where(Feedback.quarter == quarter, Feedback.region_code == scope)
            .group_by(Feedback.channel)
        )
        counts = dict(session.exec(region_stmt).all())
        block["region_rows"] = [{"channel": c, "label": name(c), "accepted": counts[c]} for c in ordered(counts)]
        block["region_total"] = sum(counts.values())
    return block


def scope_rated_feedback(session: Session, quarter: str, scope: str) -> pd.DataFrame:
    """The scope's rated feedback for CSAT; a region's report reads only that region's rows (in SQL)."""
    from tasks.insight.metrics import load_rated_feedback

    return load_rated_feedback(session, quarter, region=None if scope == NATIONAL else scope)


def metrics_block(survey: ScopeSurvey, rated: pd.DataFrame, t: dict[str, Any], lang: str) -> dict[str, Any]:
    """ACSI, NPS, CES from the survey and CSAT per rated channel, for the scope's rows (see tasks/metrics.py)."""
    from tasks.insight.metrics import csat_entry

    rows: list[dict[str, Any]] = []
    names = t["metric_names"]

    def interval(low: Any, high: Any, digits: int = 1) -> str:
        return f"{fmt_num(low, lang, digits)} – {fmt_num(high, lang, digits)}"

    pooled = survey.metrics.get("all")
    if pooled:
        specs = [
            (
                "acsi",
                "acsi_sufficient",
                "n_acsi",
                lambda m: (fmt_num(m["acsi"], lang), interval(m["acsi_ci_low"], m["acsi_ci_high"])),
            ),
            (
                "nps",
                "nps_sufficient",
                "n_nps",
                lambda m: (fmt_num(m["nps"], lang, sign=True), "± " + fmt_num(m["nps_moe"], lang)),
            ),
            (
                "ces",
                "ces_sufficient",
                "n_ces",
                lambda m: (fmt_num(m["ces"], lang, 2), interval(m["ces_ci_low"], m["ces_ci_high"], 2)),
            ),
        ]
        for key, flag, n_key, show in specs:
            n = int(pooled.get(n_key) or 0)
            if n == 0:
                continue
            value, ci = show(pooled) if pooled.get(flag) else (t["insufficient"], "")
            rows.append({"label": names[key], "value": value, "interval": ci, "n": n})
    for channel, m in csat_entry(rated).items():
        n = int(m.get("n") or 0)
        if n == 0:
            continue
        label = f"{names['csat']}: " + (
            t["all_channels"] if channel == "all" else t["channel_names"].get(channel, channel)
        )
        ok = bool(m.get("sufficient_sample"))
        value = fmt_num(m["csat"], lang) if ok else t["insufficient"]
        rows.append(
            {
                "label": label,
                "value": value,
                "interval": interval(m["csat_ci_low"], m["csat_ci_high"]) if ok else "",
                "n": n,
            }
        )
    return {"rows": rows}


def pain_block(
    session: Session, quarter: str, scope: str, config: AppConfig, t: dict[str, Any], lang: str
) -> dict[str, Any]:
    """The scope's ranked pain points (region rows, or country rows for the national report)
    with the components of their priority and the one-sentence "why this rank"; the
    Pareto chart of all the scope's pain points by negative mentions."""
    from tasks.insight.explain import why_this_rank

    level, unit = ("country", COUNTRY_CODE) if scope == NATIONAL else ("region", scope)
    rows = session.exec(
        select(PainPoint).where(PainPoint.quarter == quarter, PainPoint.level == level, PainPoint.unit_code == unit)
    ).all()
    rows = sorted(rows, key=lambda p: (p.rank, -p.priority, p.theme, p.journey_stage, p.client_type))
    theme_names = {tid: th.labels.get(lang, th.labels.get("en", tid)) for tid, th in config.themes.items()}
    out = []
    for p in rows[:TOP_PAIN_POINTS]:
        label = theme_names.get(p.theme, p.theme)
        components = [
            p.component_reach,
            p.component_severity,
            p.component_trend,
            p.component_driver,
            p.component_coverage,
        ]
        out.append(
            {
                "rank": p.rank,
                "theme": p.theme,
                "label": label,
                "client_type": p.client_type,
                "client_label": t["client_short"].get(p.client_type, p.client_type),
                "stage": p.journey_stage,
                "stage_label": t["stages"].get(p.journey_stage, p.journey_stage.replace("_", " ")),
                "ray_label": t["rays"].get(p.ray, p.ray),
                "mentions": p.mentions,
                "negative_mentions": p.negative_mentions,
                "negative_share": p.negative_share,
                "negative_share_text": fmt_num(p.negative_share, lang),
                "trend_text": fmt_num(p.trend, lang, sign=True),
                "trend": p.trend,
                "signal": p.signal,
                "signal_text": t["signals"].get(p.signal, "") if p.signal else "",
                "priority_text": fmt_num(p.priority, lang),
                "components_text": " × ".join(fmt_num(c, lang, digits=2) if c is not None else "—" for c in components),
                "covered_by": p.covered_by,
                "recurring": p.recurring,
                "why": why_this_rank(p.model_dump(), lang=lang, theme_names=theme_names, ray_names=t["rays"]),
            }
        )
    # The Pareto of the scope's pain points by negative mentions; one theme may hurt in
    # several stages or for both client types, so the bar label says which.
    labels_count: dict[str, int] = defaultdict(int)
    for p in rows:
        labels_count[theme_names.get(p.theme, p.theme)] += 1

    def bar_label(p: PainPoint) -> str:
        label = theme_names.get(p.theme, p.theme)
        if labels_count[label] == 1:
            return label
        stage = t["stages"].get(p.journey_stage, p.journey_stage.replace("_", " "))
        return f"{label} ({stage}, {t['client_short'].get(p.client_type, p.client_type)})"

    top_by_count = sorted(rows, key=lambda p: (-p.negative_mentions, p.rank))[:PARETO_BARS]
    pareto_items = [(bar_label(p), p.negative_mentions) for p in top_by_count]
    pareto = (
        pareto_svg(pareto_items, chart_id="pareto", y_label=t["pareto_y"], cumulative_label=t["pareto_cum"])
        if any(v > 0 for _, v in pareto_items)
        else ""
    )
    return {"rows": out, "total": len(rows), "pareto_svg": pareto, "pareto_uri": svg_data_uri(pareto)}


def drivers_block(survey: ScopeSurvey, t: dict[str, Any], lang: str) -> dict[str, Any]:
    """Key drivers of overall satisfaction among the scope's respondents:
    one importance-vs-performance chart per client type."""
    drivers = survey.drivers
    charts = []
    for client_type in ("citizen", "employer"):
        rows = drivers[drivers["client_type"] == client_type]
        if rows.empty:
            continue
        svg = importance_performance_svg(
            rows,
            labels={**t["rays"], **t["ipa_labels"]},
            lang=lang,
            title=t["client_types"][client_type],
            chart_id=f"ipa-{client_type}",
        )
        charts.append(
            {
                "client_type": client_type,
                "uri": svg_data_uri(svg),
                "n": int(rows["n"].iloc[0]),
                "r2_text": fmt_num(float(rows["r2"].iloc[0]), lang, digits=2),
                "fix_first": [t["rays"].get(r, r) for r in rows.loc[rows["quadrant"] == "fix_first", "ray"]],
            }
        )
    return {"charts": charts}


def _league_rows(rows: list[IndexResult], names: dict[str, str], t: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    ranked = sorted(
        (r for r in rows if r.sufficient_sample and r.index is not None), key=lambda r: (-(r.index or 0), r.unit_code)
    )
    small = sorted((r for r in rows if not (r.sufficient_sample and r.index is not None)), key=lambda r: r.unit_code)
    out = []
    for place, r in enumerate(ranked, start=1):
        out.append(
            {
                "place": str(place),
                "code": r.unit_code,
                "region_code": r.region_code,
                "name": names.get(r.unit_code, r.unit_code),
                "index": r.index,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "change": r.change,
                "stars": r.stars,
                "index_text": fmt_num(r.index, lang),
                "ci_text": f"{fmt_num(r.ci_low, lang)}–{fmt_num(r.ci_high, lang)}",
                "stars_text": star_text(r.stars),
                "change_text": fmt_num(r.change, lang, sign=True),
                "n": r.n,
                "sufficient": True,
            }
        )
    for r in small:
        # Too few respondents: show the size so readers know why, but no value to compare and no place.
        out.append(
            {
                "place": "—",
                "code": r.unit_code,
                "region_code": r.region_code,
                "name": names.get(r.unit_code, r.unit_code),
                "index": None,
                "ci_low": None,
                "ci_high": None,
                "change": None,
                "stars": None,
                "index_text": t["insufficient"],
                "ci_text": "—",
                "stars_text": "—",
                "change_text": "—",
                "n": r.n,
                "sufficient": False,
            }
        )
    return out


def league_block(
    session: Session, quarter: str, scope: str, config: AppConfig, t: dict[str, Any], lang: str
) -> dict[str, Any]:
    office_names = {o.office_code: o.office_name for o in config.offices}
    stmt = select(IndexResult).where(
        IndexResult.quarter == quarter, IndexResult.level == "office", IndexResult.client_type == "composite"
    )
    if scope != NATIONAL:
        stmt = stmt.where(IndexResult.region_code == scope)
    offices = _league_rows(list(session.exec(stmt).all()), office_names, t, lang)
    regions: list[dict[str, Any]] = []
    if scope == NATIONAL:
        stmt = select(IndexResult).where(
            IndexResult.quarter == quarter, IndexResult.level == "region", IndexResult.client_type == "composite"
        )
        regions = _league_rows(list(session.exec(stmt).all()), config.regions, t, lang)
    return {"offices": offices, "regions": regions, "min_sample": config.thresholds.star.min_sample}
