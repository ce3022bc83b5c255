"""The report context: everything one quarterly report shows, as a plain dict.

``build_report_context`` reads the quarter for one scope (the country or a region)
through the section readers of ``context_findings`` and ``context_measures``, adds
the interface strings and the dates, and writes the key messages that open the
report and its e-mail. The renderer (``tasks.reports.render``) turns the dict into a PDF.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from cxloop.config import AppConfig
from cxloop.domain import NATIONAL
from cxloop.i18n import format_date, format_date_range, format_quarter, gettext
from cxloop.quarters import Quarter
from tasks.reports.context_findings import (
    channels_block,
    drivers_block,
    index_rows,
    league_block,
    metrics_block,
    pain_block,
    scope_rated_feedback,
    star_block,
)
from tasks.reports.context_measures import effects_block, register_block
from tasks.reports.context_text import text_method_note
from tasks.reports.scope_survey import ScopeSurvey, scope_survey
from tasks.reports.strings import fmt_num, page_counter_css, report_texts, scope_display_name


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
        values = dict(
            value=composite["index_text"],
            stars=composite["stars_text"],
            prev=prev,
            lo=fmt_num(composite["ci_low"], lang),
            hi=fmt_num(composite["ci_high"], lang),
        )
        if composite["change"] is not None:
            msg = _(
                "The composite client-centricity index is %(value)s out of 100 (%(stars)s, 95 %% CI "
                "%(lo)s–%(hi)s); change vs %(prev)s: %(delta)s.",
                delta=composite["change_text"],
                **values,
            )
        else:
            msg = _(
                "The composite client-centricity index is %(value)s out of 100 (%(stars)s, 95 %% CI "
                "%(lo)s–%(hi)s); no comparison with %(prev)s.",
                **values,
            )
        if not composite["sufficient"]:
            msg += " " + _.ngettext(
                "The sample is small (%(num)s respondent): read it as preliminary.",
                "The sample is small (%(num)s respondents): read it as preliminary.",
                int(composite["n"]),
            )
        messages.append(msg)
    else:
        messages.append(_("No index this quarter: no survey data."))

    rays = [r for r in star["rays"] if r["composite"] is not None]
    moved = [r for r in rays if r["change"] is not None]
    if moved:
        biggest = max(moved, key=lambda r: (abs(r["change"]), r["ray"]))
        messages.append(
            _(
                "The ray that moved most is “%(ray)s”: %(delta)s points (now %(value)s).",
                ray=biggest["label"],
                delta=biggest["change_text"],
                value=biggest["composite_text"],
            )
        )
    elif rays:
        weakest = min(rays, key=lambda r: (r["composite"], r["ray"]))
        messages.append(
            _(
                "The weakest ray is “%(ray)s” (%(value)s out of 100).",
                ray=weakest["label"],
                value=weakest["composite_text"],
            )
        )

    pains = ctx["pain_points"]["rows"]
    if pains:
        top = pains[0]
        messages.append(
            _(
                "The top pain point is “%(theme)s” (%(stage)s): %(share)s negative mentions per 100 "
                "texts, %(mentions)s in all.",
                theme=top["label"],
                stage=top["stage_label"],
                share=top["negative_share_text"],
                mentions=fmt_num(top["negative_mentions"], lang, 0),
            )
        )
    else:
        messages.append(_("No pain point above the threshold this quarter."))

    reg = ctx["register"]
    if reg["overdue_count"]:
        messages.append(
            _.ngettext(
                "Overdue measures: %(overdue)s of %(num)s open.",
                "Overdue measures: %(overdue)s of %(num)s open.",
                reg["open_count"],
                overdue=reg["overdue_count"],
            )
        )
    else:
        messages.append(_("No overdue measures (%(open)s open).", open=reg["open_count"]))

    effective = [r for r in ctx["effects"]["rows"] if r["verdict"] == "effective" and r["estimate"] is not None]
    if effective:
        # "Best" = the largest improvement in the KPI's own direction.
        best = max(effective, key=lambda r: ((-r["estimate"] if r["lower_is_better"] else r["estimate"]), r["code"]))
        messages.append(
            _(
                "Best measured effect: measure %(code)s “%(title)s”: "
                "%(estimate)s (95 %% CI %(lo)s…%(hi)s), %(method)s.",
                code=best["code"],
                title=best["title"],
                estimate=best["estimate_text"],
                lo=fmt_num(best["ci_low"], lang, 2),
                hi=fmt_num(best["ci_high"], lang, 2),
                method=best["method_label"],
            )
        )
    return messages[:5]


def build_report_context(
    session: Session,
    quarter: str,
    scope: str,
    config: AppConfig,
    lang: str = "ru",
    survey: ScopeSurvey | None = None,
) -> dict:
    """Everything the quarterly report shows, for one scope ("national" or a region code).

    In: the database session, the quarter ("2026Q3"), the scope, the configuration,
    the language (ru, en, fi; ValueError for any other); ``survey``: the scope's survey
    findings when the caller holds them (``tasks.reports.scope_survey``: the same values
    as those read here without it).
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
        **report_texts(lang),
        # TRANSLATORS: column heading; %(quarter)s is the previous quarter, short form.
        "change": _("Change vs %(quarter)s", quarter=prev_label),
        "league_note": _.ngettext(
            "Units with fewer than %(num)s respondent are not ranked.",
            "Units with fewer than %(num)s respondents are not ranked.",
            min_sample,
        ),
    }
    t["text_method"] = text_method_note(session, qs, lang, config)
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
        "page_counter_css": page_counter_css(_),
        "scope": scope,
        "scope_name": scope_name,
        "title": t["title"],
    }
    ctx["star"] = star_block(index_rows(session, qs, scope), index_rows(session, prev, scope), prev, t, lang)
    ctx["channels"] = channels_block(session, qs, scope, t, lang)
    survey = survey if survey is not None else scope_survey(session, qs, scope)
    ctx["metrics"] = metrics_block(survey, scope_rated_feedback(session, qs, scope), t, lang)
    ctx["pain_points"] = pain_block(session, qs, scope, config, t, lang)
    ctx["drivers"] = drivers_block(survey, t, lang)
    ctx["register"] = register_block(session, q, scope, config, t, lang)
    ctx["effects"] = effects_block(session, qs, scope, config, t, lang)
    ctx["league"] = league_block(session, qs, scope, config, t, lang)
    ctx["key_messages"] = _key_messages(ctx, lang)
    return ctx
