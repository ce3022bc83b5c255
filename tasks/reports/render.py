"""Report stage of the loop (step 8): the quarterly PDF, one per region plus a national one.

``build_report_context`` reads the quarter's results from the database (star
index, intake accounting, pain points, measure register, effect evaluations)
into a plain dict; ``render_report_pdf`` turns that dict into an A4 PDF with
Jinja2 and WeasyPrint; ``write_reports`` does both for every scope and returns
the files with their content hash, which delivery uses to avoid re-sending.

The report shows aggregates only. Feedback text never reaches it, and the
renderer is given a URL fetcher that can read nothing but the files in
``templates/`` (and ``data:`` URIs), so even a string that slipped through
cannot make WeasyPrint fetch a URL or read a local file.

Languages: Russian by default, English and Finnish on request (``lang``). Every
interface string comes from the Babel catalogs in ``locale/`` and numbers, dates
and quarter names are written the reader's way (``cxloop.i18n``).
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import unquote, urlsplit

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy import func
from sqlmodel import Session, select
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from cxloop.config import AppConfig
from cxloop.domain import CHANNELS, RAYS
from cxloop.files import file_sha256
from cxloop.i18n import (
    CLIENT_TYPE_LABELS,
    LANGUAGES,
    NP_,
    N_,
    RAY_LABELS,
    STAGE_LABELS,
    Marked,
    Translator,
    format_date,
    format_date_range,
    format_number,
    format_quarter,
    gettext,
    translations,
)
from cxloop.quarters import Quarter
from models.tables import (
    EffectEvaluation,
    Feedback,
    IndexResult,
    IngestedFile,
    Measure,
    PainPoint,
    Quarantine,
)
from tasks.reports.charts import forest_svg, importance_performance_svg, pareto_svg, radar_svg
from tasks.measures.register import is_overdue

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
NATIONAL = "national"

OPEN_STATUSES = ("proposed", "approved", "in_progress", "implemented")
EVALUATED_STATUSES = frozenset({"evaluated", "closed"})
TOP_PAIN_POINTS = 10
PARETO_BARS = 15

# ---------------------------------------------------------------------------
# Interface strings. They live in the Babel catalogs (locale/<lang>/LC_MESSAGES/
# cxloop.po, see cxloop/i18n.py); the code holds the English msgids, and
# ``_texts`` gathers the report's fixed strings under the names the templates use
# (``t.star_heading``). Sentences with values are formatted where they are made
# (``_key_messages``, ``build_report_context``). Every catalog string is a
# %-format string: ``%%`` is a percent sign.
# ---------------------------------------------------------------------------


def _texts(lang: str) -> dict[str, Any]:
    """The report's and the e-mail's fixed interface strings in ``lang`` (ru, en, fi), from the catalogs."""
    _ = gettext(lang)
    return {
        "title": _("Client experience in the employment service"),
        # TRANSLATORS: how the national scope is named in headings and e-mail subjects.
        "national": _("National report"),
        "rays": _.labels(RAY_LABELS),
        "client_types": {
            "citizen": _.pgettext("client type, heading", "Citizens"),
            "employer": _.pgettext("client type, heading", "Employers"),
            "composite": _("Composite index"),
        },
        "star_heading": _("Client-centricity star"),
        "index": _("Index"),
        "ci": _("95 %% CI"),
        "n": _("Respondents"),
        "stars": _("Stars"),
        "ray": _("Ray"),
        "key_messages": _("Key messages"),
        "no_data": _("no data"),
        "insufficient": _("insufficient sample"),
        "channels_heading": _("Feedback channels and data quality"),
        "metrics_heading": _("Satisfaction at a glance"),
        "metric": _("Metric"),
        "value": _("Value"),
        "interval": _("95 %% interval"),
        "metric_names": {
            "acsi": _("Overall satisfaction (ACSI-style, 0–100)"),
            "nps": _("Net Promoter Score (−100…100)"),
            "ces": _("Customer effort score CES (1–7)"),
            "csat": _("CSAT, share of 4–5 ratings, %%"),
        },
        # TRANSLATORS: after "CSAT, share of 4–5 ratings, %:" — the CSAT of every rated channel together.
        "all_channels": _("all channels"),
        "metrics_note": _(
            "ACSI, NPS and CES come from the star survey (all respondents); CSAT from contact-centre, "
            "review-book and social ratings. NPS margin: ±1.96·100·√(((p+d)−(p−d)²)/n)."
        ),
        "channel": _("Channel"),
        "received": _("Received"),
        "accepted": _("Accepted"),
        "quarantined": _("Quarantined"),
        "duplicates": _("Duplicates"),
        "total": _("Total"),
        "channels_region_note": _(
            "Accepted feedback is for the region. Quarantine and duplicates are counted per file and files "
            "carry no region, so the totals below cover the whole quarter's intake (all regions)."
        ),
        "quarter_wide": _("Whole quarter's intake (all regions)"),
        "repeat_files": _("Files received again (not counted twice)"),
        "quarantine_reasons": _("Top quarantine reasons"),
        "rule": _("Problem"),
        "field": _("Field"),
        "rows": _("Rows"),
        "channel_names": {
            "star_survey": _("Star survey"),
            "review_book": _("Review book"),
            "pos": _("Feedback platform"),
            "social": _("Social media and open sources"),
            "contact_center": _("Contact centre"),
            "interview_followup": _("Post-interview survey"),
        },
        "pain_heading": _("Pain points (by priority)"),
        # TRANSLATORS: narrow column heading: the rank of a pain point.
        "rank": _("#"),
        "theme": _("Theme"),
        "stage": _("Journey stage"),
        "neg_mentions": _("Negative mentions"),
        "neg_share": _("Per 100 texts"),
        "trend": _("Trend"),
        "priority": _("Priority"),
        "recurring": _("recurring"),
        "client_short": _.labels(CLIENT_TYPE_LABELS),
        "signals": {"rise": _("▲ rising (control chart)"), "fall": _("▼ falling (control chart)")},
        "priority_formula": _(
            "Priority = reach × severity × trend × driver × coverage (the factors in brackets under each row). "
            "Reach: complaints per 100 texts, adjusted for the share of offices affected; severity: how low the "
            "star ray scores; trend: 1.25 on a significant rise on the Laney p′ chart; driver: the ray's weight "
            "in overall satisfaction; coverage: 0.5 when a measure is already working on it."
        ),
        "pareto_heading": _("Pareto of negative mentions"),
        "ipa_heading": _("What drives overall satisfaction"),
        "ipa_note": _(
            "A ray's importance is its share of the explained variance of overall satisfaction (Shapley "
            "decomposition of R²); performance is the ray's star value. Red: rays that matter and score below "
            "average: fix these first."
        ),
        "ipa_r2": _("model R²"),
        "ipa_labels": {
            "fix_first": _("fix first"),
            "keep_up": _("keep up"),
            "low_priority": _("low priority"),
            "possible_overkill": _("possible overkill"),
            "x_label": _("importance, %% of explained variance"),
            "y_label": _("performance (0–100)"),
        },
        "pareto_y": _("negative mentions"),
        "pareto_cum": _("cumulative share, %%"),
        "stages": _.labels(STAGE_LABELS),
        "register_heading": _("Register of corrective measures"),
        "reg_new": _("New this quarter"),
        "reg_in_progress": _("In progress"),
        "reg_overdue": _("Overdue"),
        "reg_evaluated": _("Evaluated"),
        "code": _("Code"),
        "measure": _("Measure"),
        "owner": _("Owner"),
        "status": _("Status"),
        "due": _("Due"),
        "kpi": _("KPI"),
        "verdict": _("Verdict"),
        # TRANSLATORS: tag after the status of a measure past its due date.
        "overdue_tag": _("overdue"),
        "statuses": {
            "proposed": _("proposed"),
            "approved": _("approved"),
            "in_progress": _("in progress"),
            "implemented": _("implemented"),
            "evaluated": _("evaluated"),
            "closed": _("closed"),
            "rejected": _("rejected"),
            "cancelled": _("cancelled"),
        },
        "verdicts": {
            "effective": _("effective"),
            "no_effect": _("no effect"),
            "worsened": _("worsened"),
            "inconclusive": _("inconclusive"),
        },
        "effects_heading": _("Effects of implemented measures"),
        "method": _("Method"),
        "estimate": _("Estimate"),
        "units": _("Offices (treated / comparison)"),
        "methods": {
            "did": _("difference-in-differences"),
            "diff_in_diff": _("difference-in-differences"),
            "difference_in_differences": _("difference-in-differences"),
            "staggered_did": _("difference-in-differences (staggered rollout)"),
            "its": _("interrupted time series"),
            "interrupted_time_series": _("interrupted time series"),
            "before_after": _("before/after"),
            "none": _("not estimated"),
        },
        "league_heading": _("Office league table"),
        "league_regions": _("Regions"),
        "unit": _("Unit"),
        # TRANSLATORS: column heading of the league table: a unit's place.
        "place": _("Rank"),
        "email": {
            "greeting": _("Hello,"),
            # TRANSLATORS: followed by ": <region>, <quarter>."
            "intro": _("Attached is the quarterly client-experience report"),
            "key_messages": _("Key messages"),
            # TRANSLATORS: followed by ": <file name>".
            "attached": _("Report (PDF) attached"),
            "signature": _("This message was generated automatically by cxloop. Please do not reply."),
        },
    }


def _page_counter_css(_: Translator | Callable[..., str]) -> Markup:
    """The CSS ``content`` of the page footer, from the catalog's "page %(page)s of %(pages)s":
    the translation's text around ``counter(page)`` and ``counter(pages)``, in its order, each
    piece a CSS string (quotes, backslashes and ``<``/``>`` escaped, so a translation can
    neither end the string nor the ``<style>`` element)."""
    mark = "\x00"
    text = _("page %(page)s of %(pages)s", page=f"{mark}page{mark}", pages=f"{mark}pages{mark}")
    pieces = []
    for i, piece in enumerate(text.split(mark)):
        if i % 2:
            pieces.append(f"counter({piece})")
        elif piece:
            pieces.append('"' + "".join(c if c not in '\\"<>' and c >= " " else f"\\{ord(c):x} " for c in piece) + '"')
    return Markup(" ".join(pieces))


@dataclass(frozen=True)
class ReportFile:
    """One rendered report: what it covers, where it is, what it says first, and its content hash."""

    scope: str
    path: Path
    key_messages: list[str] = field(default_factory=list)
    sha256: str = ""


# ---------------------------------------------------------------------------
# Formatting helpers (also exposed to the template as filters).
# ---------------------------------------------------------------------------


def fmt_num(value: float | None, lang: str = "ru", digits: int = 1, sign: bool = False) -> str:
    """A number the way the reader writes it (``cxloop.i18n.format_number``): decimal comma in
    Russian and Finnish, the locale's grouping, true minus sign, "+" for changes when ``sign``."""
    return format_number(value, lang, digits, sign)


def star_text(stars: int | None, top: int = 5) -> str:
    """★★★★☆ — DejaVu Sans carries both glyphs."""
    if not stars:
        return "—"
    stars = max(0, min(top, int(stars)))
    return "★" * stars + "☆" * (top - stars)


# ---------------------------------------------------------------------------
# Reading the quarter from the database.
# ---------------------------------------------------------------------------


def svg_data_uri(svg: str) -> str:
    """An SVG chart as a ``data:`` URI: still vector in the PDF, drawn by WeasyPrint's own
    SVG renderer (inline ``<svg>`` would have its presentation styles run through the HTML
    cascade, which drops strokes and fills), and needs no file next to the report."""
    if not svg:
        return ""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _index_rows(session: Session, quarter: str, scope: str) -> dict[str, IndexResult]:
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


def _star_block(
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
    return {"blocks": blocks, "rays": rays, "radar_svg": radar, "radar_uri": svg_data_uri(radar), "prev_quarter": prev_q}


#: Quarantine reasons in plain words. A rule is the Great Expectations expectation type
#: that failed (expectations/*.json) or ``parse`` (tasks.validate.ingest: the row could not be
#: read); a field is a staging column, ``(row)`` for the whole row. Ids not listed here
#: show unchanged.
QUARANTINE_RULE_LABELS: dict[str, str | Marked] = {
    "expect_column_values_to_not_be_null": NP_("quarantine rule", "value missing"),
    "expect_column_values_to_be_between": NP_("quarantine rule", "value out of range"),
    "expect_column_values_to_be_in_set": NP_("quarantine rule", "value not allowed"),
    "expect_column_values_to_be_unique": NP_("quarantine rule", "repeated id"),
    "expect_column_values_to_match_regex": NP_("quarantine rule", "wrong format"),
    "expect_column_values_to_match_strftime_format": NP_("quarantine rule", "date in wrong format"),
    # TRANSLATORS: the value of a field (in the demo: a record id) is longer than allowed.
    "expect_column_value_lengths_to_be_between": NP_("quarantine rule", "value too long"),
    "parse": NP_("quarantine rule", "row could not be read"),
}

QUARANTINE_FIELD_LABELS: dict[str, str | Marked] = {
    "(row)": NP_("quarantine field", "whole row"),
    "external_id": NP_("quarantine field", "record id"),
    "dedup_key": NP_("quarantine field", "record key"),
    "office_code": NP_("quarantine field", "office"),
    "region_code": NP_("quarantine field", "region"),
    "received_at": NP_("quarantine field", "date"),
    "quarter": NP_("quarantine field", "quarter"),
    "channel": NP_("quarantine field", "channel"),
    "client_type": NP_("quarantine field", "client type"),
    "journey_stage": NP_("quarantine field", "journey stage"),
    "rating": NP_("quarantine field", "rating"),
    "text": NP_("quarantine field", "text"),
    "sentiment": NP_("quarantine field", "sentiment"),
    "language": NP_("quarantine field", "language"),
    "overall": NP_("quarantine field", "overall satisfaction"),
    "nps": NP_("quarantine field", "likelihood to recommend"),
    "ces": NP_("quarantine field", "ease of getting the service"),
    # TRANSLATORS: questions of the post-interview survey, named by what they ask.
    "q_useful": NP_("quarantine field", "question “was it useful”"),
    "q_clear_next_steps": NP_("quarantine field", "question “are the next steps clear”"),
    "q_confident": NP_("quarantine field", "question “do you feel confident”"),
}
# TRANSLATORS: a star-survey answer that failed a check: %(item)s is its code (F1…C4), %(ray)s the star's ray.
_QUARANTINE_ITEM = NP_("quarantine field", "answer %(item)s (%(ray)s)")


def quarantine_rule_label(rule: str, lang: str = "ru") -> str:
    """A quarantine rule id in plain words in ``lang``; an unknown id unchanged."""
    entry = QUARANTINE_RULE_LABELS.get(rule)
    return gettext(lang).label(entry) if entry is not None else rule


def quarantine_field_label(field_id: str, lang: str = "ru") -> str:
    """A quarantined field in plain words in ``lang`` (a star item with its ray); an unknown id unchanged."""
    from cxloop.domain import RAY_ITEMS

    _ = gettext(lang)
    entry = QUARANTINE_FIELD_LABELS.get(field_id)
    if entry is not None:
        return _.label(entry)
    for ray, items in RAY_ITEMS.items():
        if field_id in items:
            return _.label(_QUARANTINE_ITEM, item=field_id, ray=_.label(RAY_LABELS[ray]))
    return field_id


def _channels_block(session: Session, quarter: str, scope: str, t: dict[str, Any], lang: str = "ru") -> dict[str, Any]:
    files = session.exec(select(IngestedFile).where(IngestedFile.quarter == quarter)).all()
    # A file received again with identical content is the same data; counting it
    # would inflate volumes on every rerun of the intake, so only first receipts count.
    firsts = [f for f in files if f.repeat_of is None]
    repeats = len(files) - len(firsts)
    by_channel: dict[str, dict[str, int]] = defaultdict(lambda: {"received": 0, "accepted": 0, "quarantined": 0, "duplicates": 0})
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

    intake_rows = [{"channel": c, "label": name(c), **by_channel[c]} for c in ordered(by_channel)]
    intake_total = {k: sum(r[k] for r in intake_rows) for k in ("received", "accepted", "quarantined", "duplicates")}

    file_ids = [f.id for f in firsts]
    reasons: list[dict[str, Any]] = []
    if file_ids:
        stmt = (
            select(Quarantine.rule, Quarantine.field, func.count())
            .where(Quarantine.ingested_file_id.in_(file_ids))  # type: ignore[union-attr]
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
            for r, f in zip(rules, fields):
                tally[(r, f)] += n
        counted = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
        # Shown in plain words (the ids stay in the row for tests and tools).
        reasons = [
            {"rule": rule, "field": fld, "count": n,
             "rule_label": quarantine_rule_label(rule, lang), "field_label": quarantine_field_label(fld, lang)}
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
        stmt = (
            select(Feedback.channel, func.count())
            .where(Feedback.quarter == quarter, Feedback.region_code == scope)
            .group_by(Feedback.channel)
        )
        counts = dict(session.exec(stmt).all())
        block["region_rows"] = [{"channel": c, "label": name(c), "accepted": counts[c]} for c in ordered(counts)]
        block["region_total"] = sum(counts.values())
    return block


def _scope_inputs(session: Session, quarter: str, scope: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scope's survey respondents and rated feedback, read once for the metrics and the
    key drivers; a region's report reads only that region's rows (in SQL)."""
    from tasks.insight.metrics import load_metric_inputs

    return load_metric_inputs(session, quarter, region=None if scope == NATIONAL else scope)


def _metrics_block(answers: pd.DataFrame, feedback: pd.DataFrame, t: dict[str, Any], lang: str) -> dict[str, Any]:
    """ACSI, NPS, CES from the survey and CSAT per rated channel, for the scope's rows (see tasks/metrics.py)."""
    from tasks.insight.metrics import scope_metrics

    unit = scope_metrics(answers, feedback)
    rows: list[dict[str, Any]] = []
    if not unit:
        return {"rows": rows}
    names = t["metric_names"]

    def interval(low: Any, high: Any, digits: int = 1) -> str:
        return f"{fmt_num(low, lang, digits)} – {fmt_num(high, lang, digits)}"

    survey = unit.get("survey", {}).get("all")
    if survey:
        specs = [
            ("acsi", "acsi_sufficient", "n_acsi", lambda m: (fmt_num(m["acsi"], lang), interval(m["acsi_ci_low"], m["acsi_ci_high"]))),
            ("nps", "nps_sufficient", "n_nps", lambda m: (fmt_num(m["nps"], lang, sign=True), "± " + fmt_num(m["nps_moe"], lang))),
            ("ces", "ces_sufficient", "n_ces", lambda m: (fmt_num(m["ces"], lang, 2), interval(m["ces_ci_low"], m["ces_ci_high"], 2))),
        ]
        for key, flag, n_key, show in specs:
            n = int(survey.get(n_key) or 0)
            if n == 0:
                continue
            value, ci = show(survey) if survey.get(flag) else (t["insufficient"], "")
            rows.append({"label": names[key], "value": value, "interval": ci, "n": n})
    for channel, m in unit.get("csat", {}).items():
        n = int(m.get("n") or 0)
        if n == 0:
            continue
        label = f"{names['csat']}: " + (t["all_channels"] if channel == "all" else t["channel_names"].get(channel, channel))
        ok = bool(m.get("sufficient_sample"))
        value = fmt_num(m["csat"], lang) if ok else t["insufficient"]
        rows.append({"label": label, "value": value, "interval": interval(m["csat_ci_low"], m["csat_ci_high"]) if ok else "", "n": n})
    return {"rows": rows}


def _pain_block(session: Session, quarter: str, scope: str, config: AppConfig, t: dict[str, Any], lang: str) -> dict[str, Any]:
    """The scope's ranked pain points (region rows, or country rows for the national report)
    with the components of their priority and the one-sentence "why this rank"; the
    Pareto chart of all the scope's pain points by negative mentions."""
    from tasks.insight.painpoints import why_this_rank

    level, unit = ("country", "ALL") if scope == NATIONAL else ("region", scope)
    rows = session.exec(
        select(PainPoint).where(PainPoint.quarter == quarter, PainPoint.level == level, PainPoint.unit_code == unit)
    ).all()
    rows = sorted(rows, key=lambda p: (p.rank, -p.priority, p.theme, p.journey_stage, p.client_type))
    theme_names = {
        tid: th.labels.get(lang, th.labels.get("en", tid)) for tid, th in config.themes.items()
    }
    out = []
    for p in rows[:TOP_PAIN_POINTS]:
        label = theme_names.get(p.theme, p.theme)
        components = [p.component_reach, p.component_severity, p.component_trend, p.component_driver, p.component_coverage]
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


def _drivers_block(answers: pd.DataFrame, t: dict[str, Any], lang: str) -> dict[str, Any]:
    """Key drivers of overall satisfaction among the scope's respondents: one importance-vs-performance chart per client type."""
    from tasks.insight.drivers import key_drivers

    if answers.empty or "overall" not in answers.columns:
        return {"charts": []}
    drivers = key_drivers(answers)
    charts = []
    for client_type in ("citizen", "employer"):
        rows = drivers[drivers["client_type"] == client_type]
        if rows.empty:
            continue
        svg = importance_performance_svg(
            rows, labels={**t["rays"], **t["ipa_labels"]}, lang=lang,
            title=t["client_types"][client_type], chart_id=f"ipa-{client_type}",
        )
        charts.append({
            "client_type": client_type,
            "uri": svg_data_uri(svg),
            "n": int(rows["n"].iloc[0]),
            "r2_text": fmt_num(float(rows["r2"].iloc[0]), lang, digits=2),
            "fix_first": [t["rays"].get(r, r) for r in rows.loc[rows["quadrant"] == "fix_first", "ray"]],
        })
    return {"charts": charts}


def _measure_row(m: Measure, config: AppConfig, t: dict[str, Any], lang: str, overdue: bool) -> dict[str, Any]:
    theme = config.themes.get(m.theme)
    return {
        "code": m.code,
        "title": m.title,
        "theme_label": theme.labels.get(lang, m.theme) if theme else m.theme,
        "region_code": m.region_code,
        "offices": m.offices,
        "owner": m.owner,
        "status": m.status,
        "status_label": t["statuses"].get(m.status, m.status.replace("_", " ")),
        "due_date": format_date(m.due_date, lang, "short"),
        "kpi": m.kpi_metric,
        "kpi_baseline": fmt_num(m.kpi_baseline, lang),
        "kpi_target": fmt_num(m.kpi_target, lang),
        "verdict": m.effect_verdict,
        "verdict_label": t["verdicts"].get(m.effect_verdict, (m.effect_verdict or "—").replace("_", " ")),
        "overdue": overdue,
    }


def _measure_in_scope(measure: Measure, scope: str, office_region: dict[str, str]) -> bool:
    """A measure belongs to a region's report when it is the region's or when any of
    its offices is in the region (a measure rolled out across regions shows in each)."""
    if scope == NATIONAL or measure.region_code == scope:
        return True
    return any(office_region.get(o) == scope for o in measure.offices.split(","))


def _register_block(
    session: Session, quarter: Quarter, scope: str, config: AppConfig, t: dict[str, Any], lang: str
) -> dict[str, Any]:
    offices = {o.office_code: o.region_code for o in config.offices}
    measures = sorted((m for m in session.exec(select(Measure)).all() if _measure_in_scope(m, scope, offices)),
                      key=lambda m: (m.region_code, m.code))
    q = str(quarter)
    groups: dict[str, list[dict[str, Any]]] = {"new": [], "in_progress": [], "overdue": [], "evaluated": []}
    for m in measures:
        # Measures proposed in a later quarter do not exist yet from this report's point of view.
        if Quarter.parse(m.proposed_quarter) > quarter:
            continue
        # One definition of "overdue" for the register, its export and the report.
        overdue = is_overdue(m, quarter.end)
        row = _measure_row(m, config, t, lang, overdue)
        # Each measure appears once; being overdue is what management must see first.
        if overdue:
            groups["overdue"].append(row)
        elif m.proposed_quarter == q and m.status not in ("rejected", "cancelled"):
            groups["new"].append(row)
        elif m.status in OPEN_STATUSES:
            groups["in_progress"].append(row)
        elif m.status in EVALUATED_STATUSES or m.effect_verdict:
            groups["evaluated"].append(row)
    open_count = len(groups["overdue"]) + len(groups["new"]) + len(groups["in_progress"])
    return {**groups, "open_count": open_count, "overdue_count": len(groups["overdue"])}


def _effects_block(
    session: Session, quarter: str, scope: str, config: AppConfig, t: dict[str, Any], lang: str
) -> dict[str, Any]:
    stmt = select(EffectEvaluation, Measure).join(Measure, Measure.id == EffectEvaluation.measure_id).where(
        EffectEvaluation.quarter == quarter
    )
    offices = {o.office_code: o.region_code for o in config.offices}
    pairs = sorted((p for p in session.exec(stmt).all() if _measure_in_scope(p[1], scope, offices)),
                   key=lambda p: (p[1].code, p[0].kpi_metric))
    rows = []
    for ev, m in pairs:
        rows.append(
            {
                "code": m.code,
                "title": m.title,
                "kpi": ev.kpi_metric,
                "method": ev.method,
                "method_label": t["methods"].get(ev.method, ev.method.replace("_", " ")),
                "estimate": ev.estimate,
                "ci_low": ev.ci_low,
                "ci_high": ev.ci_high,
                "estimate_text": fmt_num(ev.estimate, lang, digits=2, sign=True),
                "ci_text": f"{fmt_num(ev.ci_low, lang, 2)}…{fmt_num(ev.ci_high, lang, 2)}",
                "units_text": f"{ev.n_treated_units} / {ev.n_control_units}",
                "n_obs": ev.n_obs,
                "verdict": ev.verdict,
                "verdict_label": t["verdicts"].get(ev.verdict, ev.verdict.replace("_", " ")),
                "lower_is_better": ev.kpi_metric.startswith("neg_share"),
            }
        )
    forest_rows = [(r["code"], r["estimate"], r["ci_low"], r["ci_high"]) for r in rows if r["estimate"] is not None]
    forest = forest_svg(forest_rows, chart_id="forest", x_label=f"{t['estimate']} ({t['ci']})") if forest_rows else ""
    return {"rows": rows, "forest_svg": forest, "forest_uri": svg_data_uri(forest)}


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


def _league_block(session: Session, quarter: str, scope: str, config: AppConfig, t: dict[str, Any], lang: str) -> dict[str, Any]:
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


def _key_messages(ctx: dict[str, Any], lang: str) -> list[str]:
    """Three to five sentences a manager can read in the e-mail without opening the PDF:
    the composite index (and its change), the ray that moved most (else the weakest),
    the top pain point, overdue measures, and the best measured effect if any."""
    _ = gettext(lang)
    messages: list[str] = []
    star = ctx["star"]
    prev = ctx["prev_quarter_label"]
    composite = star["blocks"][0]
    if composite["available"]:
        values = dict(value=composite["index_text"], stars=composite["stars_text"], prev=prev,
                      lo=fmt_num(composite["ci_low"], lang), hi=fmt_num(composite["ci_high"], lang))
        if composite["change"] is not None:
            msg = _("The composite client-centricity index is %(value)s out of 100 (%(stars)s, 95 %% CI "
                    "%(lo)s–%(hi)s); change vs %(prev)s: %(delta)s.", delta=composite["change_text"], **values)
        else:
            msg = _("The composite client-centricity index is %(value)s out of 100 (%(stars)s, 95 %% CI "
                    "%(lo)s–%(hi)s); no comparison with %(prev)s.", **values)
        if not composite["sufficient"]:
            msg += " " + _.ngettext("The sample is small (%(num)s respondent): read it as preliminary.",
                                    "The sample is small (%(num)s respondents): read it as preliminary.",
                                    int(composite["n"]))
        messages.append(msg)
    else:
        messages.append(_("No index this quarter: no survey data."))

    rays = [r for r in star["rays"] if r["composite"] is not None]
    moved = [r for r in rays if r["change"] is not None]
    if moved:
        biggest = max(moved, key=lambda r: (abs(r["change"]), r["ray"]))
        messages.append(_("The ray that moved most is “%(ray)s”: %(delta)s points (now %(value)s).",
                          ray=biggest["label"], delta=biggest["change_text"], value=biggest["composite_text"]))
    elif rays:
        weakest = min(rays, key=lambda r: (r["composite"], r["ray"]))
        messages.append(_("The weakest ray is “%(ray)s” (%(value)s out of 100).",
                          ray=weakest["label"], value=weakest["composite_text"]))

    pains = ctx["pain_points"]["rows"]
    if pains:
        top = pains[0]
        messages.append(_("The top pain point is “%(theme)s” (%(stage)s): %(share)s negative mentions per 100 "
                          "texts, %(mentions)s in all.", theme=top["label"], stage=top["stage_label"],
                          share=top["negative_share_text"], mentions=fmt_num(top["negative_mentions"], lang, 0)))
    else:
        messages.append(_("No pain point above the threshold this quarter."))

    reg = ctx["register"]
    if reg["overdue_count"]:
        messages.append(_.ngettext("Overdue measures: %(overdue)s of %(num)s open.",
                                   "Overdue measures: %(overdue)s of %(num)s open.",
                                   reg["open_count"], overdue=reg["overdue_count"]))
    else:
        messages.append(_("No overdue measures (%(open)s open).", open=reg["open_count"]))

    effective = [r for r in ctx["effects"]["rows"] if r["verdict"] == "effective" and r["estimate"] is not None]
    if effective:
        # "Best" = the largest improvement in the KPI's own direction.
        best = max(effective, key=lambda r: ((-r["estimate"] if r["lower_is_better"] else r["estimate"]), r["code"]))
        messages.append(
            _("Best measured effect: measure %(code)s “%(title)s”: %(estimate)s (95 %% CI %(lo)s…%(hi)s), %(method)s.",
              code=best["code"], title=best["title"], estimate=best["estimate_text"],
              lo=fmt_num(best["ci_low"], lang, 2), hi=fmt_num(best["ci_high"], lang, 2), method=best["method_label"])
        )
    return messages[:5]


def build_report_context(session: Session, quarter: str, scope: str, config: AppConfig, lang: str = "ru") -> dict:
    """Everything the quarterly report shows, for one scope ("national" or a region code).

    In: the database session, the quarter ("2026Q3"), the scope, the configuration,
    the language (ru, en, fi; ValueError for any other).
    Out: a plain dict of already-formatted values and inline SVG charts; the
    same database gives the same dict. ``t`` holds the interface strings in the
    language; quarters, dates and numbers are formatted for it (``cxloop.i18n``).
    """
    q = Quarter.parse(quarter)
    qs, prev = str(q), str(q.prev())
    if scope != NATIONAL and scope not in config.regions:
        raise ValueError(f"unknown scope {scope!r}: expected 'national' or one of {sorted(config.regions)}")
    _ = gettext(lang)
    prev_label = format_quarter(q.prev(), lang, "short")
    min_sample = config.thresholds.star.min_sample
    t = {
        **_texts(lang),
        # TRANSLATORS: column heading; %(quarter)s is the previous quarter, short form.
        "change": _("Change vs %(quarter)s", quarter=prev_label),
        "league_note": _.ngettext("Units with fewer than %(num)s respondent are not ranked.",
                                  "Units with fewer than %(num)s respondents are not ranked.", min_sample),
    }
    scope_name = scope_display_name(scope, config, lang)
    ctx: dict[str, Any] = {
        "lang": lang,
        "t": t,
        "quarter": qs,
        "prev_quarter": prev,
        "quarter_label": format_quarter(q, lang),
        "prev_quarter_label": prev_label,
        "quarter_start": q.start.isoformat(),
        "quarter_end": q.end.isoformat(),
        "period_label": format_date_range(q.start, q.end, lang),
        # The cycle's logical date, not the wall clock: reruns give the same PDF.
        "report_date": q.cycle_date.isoformat(),
        "report_date_label": format_date(q.cycle_date, lang),
        "page_counter_css": _page_counter_css(_),
        "scope": scope,
        "scope_name": scope_name,
        "title": t["title"],
    }
    ctx["star"] = _star_block(_index_rows(session, qs, scope), _index_rows(session, prev, scope), prev, t, lang)
    ctx["channels"] = _channels_block(session, qs, scope, t, lang)
    answers, rated = _scope_inputs(session, qs, scope)
    ctx["metrics"] = _metrics_block(answers, rated, t, lang)
    ctx["pain_points"] = _pain_block(session, qs, scope, config, t, lang)
    ctx["drivers"] = _drivers_block(answers, t, lang)
    ctx["register"] = _register_block(session, q, scope, config, t, lang)
    ctx["effects"] = _effects_block(session, qs, scope, config, t, lang)
    ctx["league"] = _league_block(session, qs, scope, config, t, lang)
    ctx["key_messages"] = _key_messages(ctx, lang)
    return ctx


# ---------------------------------------------------------------------------
# Rendering.
# ---------------------------------------------------------------------------


class TemplatesOnlyFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves files under one folder and ``data:`` URIs, nothing else.

    Every URL asked for is recorded in ``requested`` and every refusal in
    ``refused``, so a test can prove that rendering fetched nothing it should not.
    """

    def __init__(self, root: Path = TEMPLATES_DIR) -> None:
        super().__init__(timeout=1, allowed_protocols={"data", "file"}, allow_redirects=False)
        self.root = Path(root).resolve()
        self.requested: list[str] = []
        self.refused: list[str] = []

    def _refuse(self, url: str, why: str) -> None:
        self.refused.append(url)
        raise ValueError(f"refused to fetch {url[:80]!r}: {why}")

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        self.requested.append(url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme != "file" or parts.netloc not in ("", "localhost"):
            self._refuse(url, "only files in templates/ and data: URIs may be read")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            self._refuse(url, "outside the templates folder")
        # WeasyPrint ignores a stylesheet that is not served as text/css.
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(path.as_uri(), path.read_bytes(), headers={"Content-Type": mime})


def _environment(lang: str = "ru") -> Environment:
    """The templates' environment for one language: autoescaped HTML, Jinja2's i18n
    extension with the language's catalog ("newstyle": ``{{ _("Text %(x)s", x=v) }}``,
    values escaped, ``%%`` for a percent sign), and number filters in the language
    (``num``: ``fmt_num``; ``count``: a whole number with the locale's grouping)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2", "xml"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["num"] = lambda value, digits=1, sign=False: fmt_num(value, lang, digits, sign)
    env.filters["count"] = lambda value: fmt_num(value, lang, 0)
    env.filters["stars"] = star_text
    return env


def render_report_html(context: dict) -> str:
    """The report as HTML (autoescaped), in ``context["lang"]``; charts are the only markup marked safe."""
    return _environment(context.get("lang", "ru")).get_template("report.html.j2").render(**context)


def scope_display_name(scope: str, config: AppConfig, lang: str = "ru") -> str:
    """How a scope is named in headings and e-mail subjects."""
    if scope == NATIONAL:
        return _texts(lang)["national"]
    return f"{config.regions.get(scope, scope)} ({scope})"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(
    quarter: str, scope: str, config: AppConfig, key_messages: list[str], filename: str, lang: str = "ru"
) -> RenderedEmail:
    """Subject, plain-text and HTML body of the message that carries a report (templates/email.*.j2).

    Lives here because ``templates/`` is read only by the reporting stage; delivery just sends.
    """
    _ = gettext(lang)
    quarter = str(Quarter.parse(quarter))
    quarter_label = format_quarter(quarter, lang)
    scope_name = scope_display_name(scope, config, lang)
    # The quarter's code stays in the subject too: it is what the attachment is named by and what mail is searched for.
    subject = _("Client experience: report for %(quarter)s (%(code)s) — %(scope_name)s",
                quarter=quarter_label, code=quarter, scope_name=scope_name)
    values = {
        "t": _texts(lang)["email"], "lang": lang, "quarter": quarter, "quarter_label": quarter_label, "scope": scope,
        "scope_name": scope_name, "key_messages": list(key_messages), "filename": filename, "subject": subject,
    }
    env = _environment(lang)
    return RenderedEmail(
        subject=subject,
        text=env.get_template("email.txt.j2").render(**values).strip() + "\n",
        html=env.get_template("email.html.j2").render(**values),
    )


# ---------------------------------------------------------------------------
# The PDF: archive-ready (PDF/A-3u), long lists continued in appendices, the
# measure register embedded as CSV.
# ---------------------------------------------------------------------------

#: ISO 19005-3, conformance level U: every font embedded and every glyph mapped to
#: Unicode (the text can still be searched and copied when the report is pulled from
#: the archive), an sRGB output intent, XMP metadata declaring the conformance, and —
#: what part 3 adds — embedded files of any type, each declared with its relationship
#: to the document.
PDF_VARIANT = "pdf/a-3u"
#: Context key of the measure register to embed (CSV bytes from ``register_csv_bytes``).
REGISTER_CSV_KEY = "register_csv"
#: Rows of the office league table kept in the body; the rest continue in an appendix.
LEAGUE_BODY_ROWS = 30
#: Rows kept in the body per register group; the rest continue in an appendix.
REGISTER_BODY_ROWS = 15
#: An appendix takes at most this many rows (about six pages). A longer rest — the
#: national report's 2,400 offices, a national register of hundreds of measures — is
#: not printed: the whole list is a CSV file attached to the PDF, which a reader sorts
#: and filters in a spreadsheet (the register's is attached anyway).
APPENDIX_MAX_ROWS = 200
REGISTER_GROUPS = ("new", "in_progress", "overdue", "evaluated")

# Words of the PDF's layout (appendices, continued tables, the embedded register):
# msgids of the catalogs (cxloop/i18n.py), translated by ``_layout_texts`` / ``_layout_text``.
_LAYOUT_TEXT: dict[str, str | Marked] = {
    # TRANSLATORS: heading of an appendix of the PDF, followed by its number ("Appendix 1. …").
    "appendix": NP_("PDF layout", "Appendix"),
    # TRANSLATORS: in brackets after the heading of a table that goes on in an appendix.
    "continued": NP_("PDF layout", "continued"),
    # TRANSLATORS: note under a table cut short in the body; %(number)s is the appendix's number.
    "more": N_("Rows 1–%(shown)s of %(total)s; continued in appendix %(number)s."),
    # TRANSLATORS: the rows of a table an appendix shows ("rows 16–40").
    "rows": N_("rows %(first)s–%(last)s"),
    # TRANSLATORS: note under the register heading; %(name)s is the file name of the embedded CSV.
    "register_csv": N_("The whole measure register is attached to this PDF: %(name)s (CSV)."),
    # TRANSLATORS: description of the CSV file embedded in the PDF; %(date)s is an ISO date (2026-10-05).
    "attachment": N_("Register of corrective measures as of %(date)s (CSV, UTF-8)"),
    # TRANSLATORS: note under a table cut short in the body whose whole list is a CSV file embedded in the PDF.
    "more_csv": N_("Rows 1–%(shown)s of %(total)s; all rows are in the file %(name)s attached to this PDF (CSV)."),
    # TRANSLATORS: description of the embedded CSV of the office ranking; %(quarter)s is e.g. "Q3 2026".
    "league_attachment": N_("Client-centricity index of every office, %(quarter)s (CSV, UTF-8)"),
}

#: Columns of the office ranking's CSV (``league_csv_bytes``): key of the league row, heading.
LEAGUE_CSV_COLUMNS: tuple[tuple[str, Marked], ...] = (
    ("place", NP_("office ranking CSV", "Place")),
    ("code", NP_("office ranking CSV", "Office code")),
    ("name", NP_("office ranking CSV", "Office")),
    ("region_code", NP_("office ranking CSV", "Region")),
    ("index", NP_("office ranking CSV", "Index (0–100)")),
    ("ci_low", NP_("office ranking CSV", "95%% CI low")),
    ("ci_high", NP_("office ranking CSV", "95%% CI high")),
    ("stars", NP_("office ranking CSV", "Stars")),
    ("change", NP_("office ranking CSV", "Change")),
    ("n", NP_("office ranking CSV", "Respondents")),
    ("sufficient", NP_("office ranking CSV", "Sufficient sample")),
)
_YES_NO = (NP_("office ranking CSV", "no"), NP_("office ranking CSV", "yes"))


def _layout_lang(lang: str) -> str:
    return lang if lang in LANGUAGES else "en"


def _layout_texts(lang: str) -> dict[str, str]:
    """The layout's single words in ``lang`` (the template's ``appendix.words``); sentences
    with values come from ``_layout_text``. A language without a catalog reads English."""
    _ = gettext(_layout_lang(lang))
    return {key: _.label(_LAYOUT_TEXT[key]) for key in ("appendix", "continued")}


def _layout_text(lang: str, key: str, **values: Any) -> str:
    """One layout sentence of ``_LAYOUT_TEXT`` in ``lang``, its placeholders filled."""
    return gettext(_layout_lang(lang)).label(_LAYOUT_TEXT[key], **values)


def league_csv_name(quarter: str, scope: str) -> str:
    """File name of the office ranking attached to a report whose ranking is too long to print."""
    return f"offices_{Quarter.parse(quarter)}_{scope}.csv"


def league_csv_bytes(rows: list[dict[str, Any]], lang: str = "ru") -> bytes:
    """The office ranking as CSV (UTF-8 with BOM, as the register's: Excel opens it as is).

    One row per office in the report's order (ranked offices, then those with too small a
    sample, without a place); headings in ``lang``; numbers as numbers (index and interval
    with one decimal, a point as decimal sign), an empty cell where there is no value."""
    import csv
    import io

    _ = gettext(_layout_lang(lang))
    yes_no = [_.label(w) for w in _YES_NO]

    def cell(key: str, value: Any) -> Any:
        if value is None or value == "—":
            return ""
        if key == "sufficient":
            return yes_no[bool(value)]
        if isinstance(value, float):
            return f"{value:.1f}"
        return value

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_.label(label) for _key, label in LEAGUE_CSV_COLUMNS])
    for row in rows:
        writer.writerow([cell(key, row.get(key)) for key, _label in LEAGUE_CSV_COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def register_csv_name(quarter: str) -> str:
    """File name of the embedded register: the same as the quarter's export in ``out/register/``."""
    return f"measures_{Quarter.parse(quarter)}.csv"


def register_csv_bytes(session: Session, quarter: str, lang: str = "ru") -> bytes:
    """The measure register as the quarter's CSV export has it: ``export_register_csv``
    judged at the quarter's logical cycle date (overdue flags as of that day), headers in
    ``lang``. This is the file every report of the quarter embeds.

    A measure's title and description are typed by people and may quote a client; the
    report travels by e-mail, so those cells pass through ``tasks.validate.redaction.redact``
    first. With nothing personal in them (the normal case) the bytes are exactly the
    export's; otherwise only the cells that held personal data differ.
    """
    import tempfile

    from tasks.measures.register import EXPORT_COLUMNS, export_register_csv

    with tempfile.TemporaryDirectory(prefix="cxloop-register-") as tmp:
        path = export_register_csv(session, Path(tmp) / register_csv_name(quarter), Quarter.parse(quarter).cycle_date, lang)
        data = path.read_bytes()
    return _redact_register_csv(data, [EXPORT_COLUMNS.index(c) for c in ("title", "description")])


def _redact_register_csv(data: bytes, columns: list[int]) -> bytes:
    """``data`` (UTF-8 with BOM, ``\\n`` line ends, as ``export_register_csv`` writes it)
    with personal data replaced in the given columns; the very same bytes when none."""
    import csv
    import io

    from tasks.validate.redaction import redact

    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    changed = 0
    for row in rows[1:]:
        for i in columns:
            if i < len(row) and row[i]:
                clean = redact(row[i]) or ""
                if clean != row[i]:
                    row[i], changed = clean, changed + 1
    if not changed:
        return data
    log.warning("register CSV for the report: personal data replaced in %d cell(s)", changed)
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def report_layout(context: dict, *, league_rows: int = LEAGUE_BODY_ROWS, register_rows: int = REGISTER_BODY_ROWS) -> dict:
    """What the body shows and what continues in an appendix; returns a new context
    (``context`` itself is not changed).

    Management reads the body in five minutes, so a long list stops after a fixed
    number of rows, with a note saying where it goes on: each register group (new, in
    progress, overdue, evaluated) after ``register_rows`` rows — Appendix 1, group by
    group — and the office league table after ``league_rows`` rows — the next
    appendix; the top of the ranking stays in the body, the rest (offices with too
    small a sample come last) continues there. Rows are moved, not copied: body rows +
    appendix rows are the whole list in its order. The register headings keep the full
    counts (``register["totals"]``). When the register CSV is embedded, a note under
    the register heading says so.

    A rest longer than ``APPENDIX_MAX_ROWS`` is not printed at all: the note says the
    whole list is in a CSV attached to the PDF (the register's own CSV; for the office
    ranking ``appendix["league_csv"]`` = {name, rows}, which ``render_report_pdf``
    attaches). The national report's 2,400 offices would otherwise be ~60 pages.
    """
    lang = context.get("lang", "ru")
    words = _layout_texts(lang)
    register = dict(context["register"])
    league = dict(context["league"])
    more = {"league": "", **{key: "" for key in REGISTER_GROUPS}}
    register["totals"] = {key: len(register[key]) for key in REGISTER_GROUPS}
    number = 0

    register_csv_attached = bool(context.get(REGISTER_CSV_KEY))
    register_appendix = None
    rest_rows = sum(max(0, len(register[key]) - register_rows) for key in REGISTER_GROUPS)
    if rest_rows > APPENDIX_MAX_ROWS and register_csv_attached:
        # Too long to print: the body keeps each group's first rows, the attached CSV has all.
        for key in REGISTER_GROUPS:
            rows = list(register[key])
            if len(rows) > register_rows:
                register[key] = rows[:register_rows]
                more[key] = _layout_text(lang, "more_csv", shown=register_rows, total=fmt_num(len(rows), lang, 0),
                                         name=register_csv_name(context["quarter"]))
    elif rest_rows:
        number += 1
        rest: dict[str, list] = {}
        rows_text: dict[str, str] = {}
        for key in REGISTER_GROUPS:
            rows = list(register[key])
            rest[key] = rows[register_rows:]
            rows_text[key] = _layout_text(lang, "rows", first=register_rows + 1, last=len(rows)) if rest[key] else ""
            if rest[key]:
                register[key] = rows[:register_rows]
                more[key] = _layout_text(lang, "more", shown=register_rows, total=len(rows), number=number)
        register_appendix = {"number": number, "rest": rest, "rows_text": rows_text}

    league_appendix = None
    league_csv = None
    offices = list(league["offices"])
    if len(offices) - league_rows > APPENDIX_MAX_ROWS:
        league["offices"] = offices[:league_rows]
        name = league_csv_name(context["quarter"], context["scope"])
        more["league"] = _layout_text(lang, "more_csv", shown=league_rows, total=fmt_num(len(offices), lang, 0), name=name)
        league_csv = {"name": name, "rows": offices}
    elif len(offices) > league_rows:
        number += 1
        league["offices"] = offices[:league_rows]
        more["league"] = _layout_text(lang, "more", shown=league_rows, total=len(offices), number=number)
        league_appendix = {
            "number": number,
            "rows": offices[league_rows:],
            "rows_text": _layout_text(lang, "rows", first=league_rows + 1, last=len(offices)),
        }

    csv_note = _layout_text(lang, "register_csv", name=register_csv_name(context["quarter"])) if register_csv_attached else ""
    appendix = {"words": words, "more": more, "register": register_appendix, "league": league_appendix,
                "register_csv": csv_note, "league_csv": league_csv}
    return {**context, "register": register, "league": league, "appendix": appendix}


def _archive_timestamp(context: dict) -> datetime:
    """The report's date in the PDF (metadata, attachment): the quarter's logical cycle
    date at 00:00 UTC, not the wall clock, so the same data gives the same bytes."""
    from datetime import datetime, timezone

    day = Quarter.parse(context["quarter"]).cycle_date
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _csv_attachment(context: dict, fetcher: URLFetcher, data: bytes, name: str, description: str,
                    **values: Any) -> Attachment:
    """CSV bytes as a PDF/A-3 associated file (relationship ``Data``: the data the
    report's tables are drawn from), dated with the quarter's logical cycle date."""
    import io

    from weasyprint import Attachment

    stamp = _archive_timestamp(context)
    return Attachment(
        file_obj=io.BytesIO(data), url_fetcher=fetcher, name=name,
        description=_layout_text(context.get("lang", "ru"), description, **values),
        created=stamp, modified=stamp, relationship="Data",
    )


def _register_attachment(context: dict, fetcher: URLFetcher) -> Attachment | None:
    """The register CSV of ``context`` as a PDF/A-3 associated file, or None."""
    data = context.get(REGISTER_CSV_KEY)
    if not data:
        return None
    return _csv_attachment(context, fetcher, data, register_csv_name(context["quarter"]), "attachment",
                           date=_archive_timestamp(context).date().isoformat())


def _unique_associated_files(document: Any, pdf: Any) -> None:
    """WeasyPrint finisher: list each embedded file once in the catalog's ``/AF`` array.

    WeasyPrint 70 puts every attachment there twice for PDF/A-3 (once from the
    ``/EmbeddedFiles`` name tree, once from the ``/Filespec`` objects; Kozea/WeasyPrint
    issue #2917). Harmless for readers, but an archive file should say it once.
    """
    import pydyf

    if "AF" in pdf.catalog:
        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))


def render_report_pdf(context: dict, out_path: Path, *, url_fetcher: TemplatesOnlyFetcher | None = None) -> Path:
    """Render ``context`` to an archive-ready A4 PDF at ``out_path`` (folders created); returns the path.

    * Layout: ``report_layout`` moves long lists to appendices; the stylesheet gives
      every page the running header (scope, quarter) and "page X of Y", and repeats a
      table's header row on each page it runs over.
    * PDF/A-3u (``PDF_VARIANT``): WeasyPrint embeds the fonts, adds the sRGB output
      intent and writes the XMP metadata (``pdfaid:part=3``, ``conformance=U``).
    * The measure register (``context[REGISTER_CSV_KEY]``, CSV bytes) is embedded as
      ``measures_<quarter>.csv``, listed in the catalog's associated files with
      relationship ``Data``. Without it the PDF is still PDF/A-3u, with no attachment.
    * Metadata: title from the HTML ``<title>``, language, creator ``cxloop``, creation
      and modification date = the quarter's logical cycle date; the file identifier is
      a hash of the HTML and the attachment. Same context → byte-identical PDF.
    * Safety: values are autoescaped by the template, and the renderer can fetch
      nothing but ``templates/`` files and ``data:`` URIs (``TemplatesOnlyFetcher``).
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fetcher = url_fetcher or TemplatesOnlyFetcher(TEMPLATES_DIR)
    laid = report_layout(context)
    html = render_report_html(laid)
    digest = hashlib.sha256(html.encode("utf-8"))
    attachments = []
    attachment = _register_attachment(context, fetcher)
    if attachment is not None:
        digest.update(context[REGISTER_CSV_KEY])
        attachments.append(attachment)
    league = laid["appendix"]["league_csv"]
    if league is not None:
        data = league_csv_bytes(league["rows"], context.get("lang", "ru"))
        digest.update(data)
        attachments.append(_csv_attachment(context, fetcher, data, league["name"], "league_attachment",
                                           quarter=context.get("quarter_label", context["quarter"])))
    options: dict[str, Any] = {
        "pdf_variant": PDF_VARIANT,
        "pdf_identifier": digest.hexdigest()[:32].encode(),
        "attachments": attachments or None,
    }
    document = HTML(string=html, base_url=TEMPLATES_DIR.as_uri() + "/", url_fetcher=fetcher).render(**options)
    stamp = _archive_timestamp(context).strftime("%Y-%m-%dT%H:%M:%SZ")
    document.metadata.created = document.metadata.modified = stamp
    # Write to a sibling and rename, so a crash never leaves a half PDF that delivery would send.
    tmp = out_path.with_suffix(out_path.suffix + ".part")
    document.write_pdf(tmp, finisher=_unique_associated_files, **options)
    tmp.replace(out_path)
    return out_path


def report_path(out_dir: Path, quarter: str, scope: str, lang: str = "ru") -> Path:
    return Path(out_dir) / "reports" / quarter / f"cx-report_{quarter}_{scope}_{lang}.pdf"


def write_reports(
    session: Session,
    quarter: str,
    config: AppConfig,
    out_dir: Path,
    scopes: list[str] | None = None,
    lang: str = "ru",
) -> dict[str, ReportFile]:
    """Build and render the quarter's reports: national plus every region unless ``scopes`` says otherwise.

    Every PDF embeds the quarter's measure register (``register_csv_bytes``, exported
    once for all scopes: the content of ``out/register/measures_<quarter>.csv``, with
    personal data redacted from titles and descriptions should any be there).
    Out: scope -> ReportFile at ``out_dir/reports/<quarter>/cx-report_<quarter>_<scope>_<lang>.pdf``.
    """
    quarter = str(Quarter.parse(quarter))
    scopes = scopes if scopes is not None else [NATIONAL, *config.regions]
    register_csv = register_csv_bytes(session, quarter, lang)
    reports: dict[str, ReportFile] = {}
    for scope in scopes:
        context = build_report_context(session, quarter, scope, config, lang)
        context.setdefault(REGISTER_CSV_KEY, register_csv)
        path = render_report_pdf(context, report_path(out_dir, quarter, scope, lang))
        reports[scope] = ReportFile(scope=scope, path=path, key_messages=list(context["key_messages"]), sha256=file_sha256(path))
        log.info("report %s %s written (%d bytes)", quarter, scope, path.stat().st_size)
    return reports


__all__ = [
    "NATIONAL",
    "PDF_VARIANT",
    "REGISTER_CSV_KEY",
    "ReportFile",
    "TemplatesOnlyFetcher",
    "build_report_context",
    "file_sha256",
    "fmt_num",
    "RenderedEmail",
    "render_email",
    "render_report_html",
    "register_csv_bytes",
    "register_csv_name",
    "league_csv_bytes",
    "league_csv_name",
    "render_report_pdf",
    "report_layout",
    "report_path",
    "scope_display_name",
    "star_text",
    "write_reports",
]
