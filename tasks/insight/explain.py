"""Loop step 5, *prioritise*, in words: why a pain point has its rank, for the
people who read it. ``why_this_rank`` turns a row's components into one sentence a manager
reads (ru/en/fi; the names in ``SENTENCES``), ``pain_points_artifact_rows`` gives the top
pain points per region and the country for the Prefect table artifact, and ``pareto``
the Pareto table of a unit's pain points (rows of :mod:`tasks.insight.painpoints`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from cxloop.config import AppConfig
from cxloop.i18n import CLIENT_TYPE_LABELS, LANGUAGES, NP_, RAY_LABELS, STAGE_LABELS, format_number, gettext
from tasks.insight.painpoints import LEVEL_ORDER

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
    values = dict(
        rank=int(_get(row, "rank", 0)),
        theme=theme_label,
        share=fmt_share(_get(row, "negative_share", 0.0), lang),
        clients=_.label(_WHO_COMPLAIN[client]) if client in _WHO_COMPLAIN else client,
    )
    total = _get(row, "offices_total")
    if _get(row, "level") in ("region", "country") and total:
        # TRANSLATORS: %(share)s is a number per 100 ("12", "4.5"); %(clients)s "citizens"/"employers"
        # in the form that follows "in 100 … who gave feedback"; the plural is chosen by %(total)s.
        head = _.ngettext(
            "Rank %(rank)s: “%(theme)s” — %(share)s in 100 %(clients)s who gave feedback complain, "
            "in %(reach)s of %(total)s office",
            "Rank %(rank)s: “%(theme)s” — %(share)s in 100 %(clients)s who gave feedback complain, "
            "in %(reach)s of %(total)s offices",
            int(total),
            reach=int(_get(row, "reach_offices", 0)),
            total=int(total),
            **values,
        )
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
        ray_facts.append(
            _("scores only %(score)s of 100", score=score_int)
            if severity > 1.0
            else _("scores well (%(score)s of 100)", score=score_int)
        )
    if importance is not None and abs(driver - 1.0) >= _MATTERS:
        pct = int(round(100 * float(importance)))
        ray_facts.append(
            _("strongly drives overall satisfaction (%(pct)s %% of the explained variance)", pct=pct)
            if driver > 1.0
            else _("hardly drives overall satisfaction (%(pct)s %% of the explained variance)", pct=pct)
        )
    if ray_facts:
        facts = (
            ray_facts[0]
            if len(ray_facts) == 1
            else _("%(first)s and %(second)s", first=ray_facts[0], second=ray_facts[1])
        )
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
    sel = sel.assign(_lvl=sel["level"].map(LEVEL_ORDER)).sort_values(["_lvl", "unit_code", "rank"], kind="mergesort")
    sel = sel.groupby(["_lvl", "unit_code"], sort=False).head(top)
    out = []
    for r in sel.to_dict("records"):
        unit = r["unit_code"]
        out.append(
            {
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
            }
        )
    return out


def pareto(
    frame: pd.DataFrame, level: str, unit_code: str, *, by: str = "negative_mentions", vital: float = 80.0
) -> pd.DataFrame:
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
