"""The report's words: the interface strings, plain-word labels and number formats.

Every string is an English msgid of the Babel catalogs (``locale/``, see
``cxloop/i18n.py``), translated here for one language: the report's and the
e-mail's fixed texts (``report_texts``), the page counter, quarantine reasons in
plain words and the PDF layout's words. The context, layout and render modules read them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from cxloop.config import AppConfig
from cxloop.domain import NATIONAL, RAY_ITEMS
from cxloop.i18n import (
    CLIENT_TYPE_LABELS,
    LANGUAGES,
    N_,
    NP_,
    RAY_LABELS,
    STAGE_LABELS,
    Marked,
    Translator,
    format_number,
    gettext,
)

# ---------------------------------------------------------------------------
# Interface strings. They live in the Babel catalogs (locale/<lang>/LC_MESSAGES/
# cxloop.po, see cxloop/i18n.py); the code holds the English msgids, and
# ``report_texts`` gathers the report's fixed strings under the names the templates use
# (``t.star_heading``). Sentences with values are formatted where they are made
# (``_key_messages``, ``build_report_context`` in context.py). Every catalog string is a
# %-format string: ``%%`` is a percent sign.
# ---------------------------------------------------------------------------


def report_texts(lang: str) -> dict[str, Any]:
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
        # TRANSLATORS: register groups (tasks/reports/context_measures.py register_group); each name says
        # which statuses the group holds.
        "reg_new": _("New this quarter"),
        "reg_awaiting": _("Proposed earlier, awaiting a decision"),
        "reg_in_progress": _("Approved and in progress"),
        "reg_implemented": _("Implemented, effect not evaluated yet"),
        "reg_overdue": _("Overdue"),
        "reg_evaluated": _("Evaluated"),
        # TRANSLATORS: in place of the table of a register group that holds no measure.
        "reg_empty": _("No measures in this group."),
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
        # TRANSLATORS: heading of the forest plot under the effects table.
        "forest_heading": _("Estimates with their 95 %% intervals"),
        "effects_empty": _("No measure's effect was evaluated this quarter."),
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
        # TRANSLATORS: sub-heading of the national league table, after "Regions".
        "league_offices": _("Offices"),
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


def page_counter_css(_: Translator | Callable[..., str]) -> Markup:
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


def scope_display_name(scope: str, config: AppConfig, lang: str = "ru") -> str:
    """How a scope is named in headings and e-mail subjects."""
    if scope == NATIONAL:
        return report_texts(lang)["national"]
    return f"{config.regions.get(scope, scope)} ({scope})"


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
    _ = gettext(lang)
    entry = QUARANTINE_FIELD_LABELS.get(field_id)
    if entry is not None:
        return _.label(entry)
    for ray, items in RAY_ITEMS.items():
        if field_id in items:
            return _.label(_QUARANTINE_ITEM, item=field_id, ray=_.label(RAY_LABELS[ray]))
    return field_id


# TRANSLATORS: a measure's KPI that is the share of negative mentions of a theme (the theme follows, below it).
_KPI_NEG_SHARE = N_("negative share")


def kpi_parts(metric: str, lang: str = "ru", theme_labels: dict[str, str] | None = None) -> tuple[str, str]:
    """A measure's KPI as a manager reads it, as (what, of what): a survey item and its ray
    ("P3", "адресность"), a ray ("адресность", ""), the negative share of a theme
    ("доля негатива", the theme's label from ``theme_labels``); any other metric (metric, "")."""
    _ = gettext(lang)
    kind, _sep, arg = metric.partition(":")
    if kind == "item":
        ray = next((r for r, items in RAY_ITEMS.items() if arg in items), None)
        return (arg, _.label(RAY_LABELS[ray])) if ray else (metric, "")
    if kind == "ray" and arg in RAY_LABELS:
        return _.label(RAY_LABELS[arg]), ""
    if kind == "neg_share" and arg:
        return _.label(_KPI_NEG_SHARE), (theme_labels or {}).get(arg, arg)
    return metric, ""


# Words of the PDF's layout (appendices, continued tables, the embedded register):
# msgids of the catalogs (cxloop/i18n.py), translated by ``layout_texts`` / ``layout_text``.
LAYOUT_TEXT: dict[str, str | Marked] = {
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


def layout_lang(lang: str) -> str:
    """The language of the layout's words: ``lang`` when it has a catalog, else English."""
    return lang if lang in LANGUAGES else "en"


def layout_texts(lang: str) -> dict[str, str]:
    """The layout's single words in ``lang`` (the template's ``appendix.words``); sentences
    with values come from ``layout_text``. A language without a catalog reads English."""
    _ = gettext(layout_lang(lang))
    return {key: _.label(LAYOUT_TEXT[key]) for key in ("appendix", "continued")}


def layout_text(lang: str, key: str, **values: Any) -> str:
    """One layout sentence of ``LAYOUT_TEXT`` in ``lang``, its placeholders filled."""
    return gettext(layout_lang(lang)).label(LAYOUT_TEXT[key], **values)
