"""Free texts of the demo: which themes people write about here and now, and how they say it.

:func:`compose_text` writes one comment, review or complaint for a region, quarter,
office and client type from the phrase bank (:mod:`demo.phrases`), weighting themes by
the region's planted pain points, the respondent's low survey items and the SMS measure,
and sometimes planting typed-in personal data (:mod:`demo.people`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cxloop.config import Office
from cxloop.quarters import Quarter
from demo.people import fake_pii_sentence
from demo.phrases import (
    ALSO,
    BUT,
    EMPLOYER_PHRASES,
    ITEM_THEME,
    MONTHS,
    PHRASES,
    PREFIX,
    SUFFIX,
    THEMES,
    YET,
    capitalise,
    decapitalise,
    pick,
    pick_gendered,
)
from demo.world import World


@dataclass
class TextCtx:
    world: World
    region: str
    quarter: Quarter
    office: Office | None
    client: str  # citizen | employer


def _neg_weights(
    ctx: TextCtx, low_items: Sequence[str] = (), extra: dict[str, float] | None = None
) -> dict[str, float]:
    """How likely each theme is to be complained about here and now."""
    w = ctx.world
    prof = w.profile(ctx.region)
    t = w.pos(ctx.quarter)
    if ctx.client == "employer":
        weights = dict.fromkeys(THEMES, 0.0)
        weights.update(
            candidate_quality=4.0,
            online_service_usability=1.5,
            documents_effort=1.2,
            process_clarity=1.0,
            contact_reachability=0.8,
            staff_attitude=0.5,
            staff_competence=0.5,
            waiting_time=0.4,
        )
    else:
        weights = dict.fromkeys(THEMES, 1.0)
        weights.update(
            staff_competence=0.8,
            plan_personalisation=0.8,
            benefit_payment=0.8,
            documents_effort=0.8,
            office_comfort=0.6,
            training_offer=0.6,
            candidate_quality=0.0,
        )
        if prof.reminder_pain:
            weights["reminders_notifications"] *= 4.5
        weights["process_clarity"] *= 3.0
    if prof.online_growth:
        weights["online_service_usability"] *= 1.5 + 2.0 * t
    for item in low_items:
        theme = ITEM_THEME[item]
        if ctx.client == "employer" and item == "U2":
            theme = "candidate_quality"
        if weights[theme] > 0:
            weights[theme] *= 3.0
    for th, f in (extra or {}).items():
        weights[th] *= f
    if ctx.office is not None and w.is_treated(ctx.office.office_code, ctx.quarter):
        weights["reminders_notifications"] *= 0.25  # the SMS measure works (with higher P3, ~70 % fewer complaints)
    return weights


def _pos_weights(ctx: TextCtx) -> dict[str, float]:
    weights = dict.fromkeys(THEMES, 0.5)
    if ctx.client == "employer":
        weights = dict.fromkeys(THEMES, 0.0)
        weights.update(staff_attitude=3.0, candidate_quality=2.0, staff_competence=1.0, process_clarity=0.5)
    else:
        weights.update(
            staff_attitude=4.0,
            training_offer=2.0,
            staff_competence=1.5,
            vacancy_relevance=1.0,
            office_comfort=0.8,
            reminders_notifications=0.1,
            candidate_quality=0.0,
        )
    if ctx.office is not None and ctx.world.is_treated(ctx.office.office_code, ctx.quarter):
        weights["reminders_notifications"] = 2.0  # people notice the new SMS
    return weights


def _draw(rng: np.random.Generator, weights: dict[str, float], exclude: str | None = None) -> str:
    names = [k for k in THEMES if weights.get(k, 0) > 0 and k != exclude]
    p = np.array([weights[k] for k in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _clause(rng: np.random.Generator, theme: str, sentiment: str, lang: str, client: str, gender: str) -> str:
    if lang == "ru" and sentiment == "neg" and client == "employer" and theme in EMPLOYER_PHRASES:
        return pick(rng, EMPLOYER_PHRASES[theme])
    return pick_gendered(rng, PHRASES[theme][sentiment][lang], gender)


def draw_language(rng: np.random.Generator, ctx: TextCtx, fi_share: float | None = None) -> str:
    share = ctx.world.profile(ctx.region).fi_share if fi_share is None else fi_share
    u = rng.random()
    if u < share:
        return "fi"
    if u < share + 0.03:
        return "en"
    return "ru"


def compose_text(
    rng: np.random.Generator,
    ctx: TextCtx,
    mood: str,
    lang: str,
    low_items: Sequence[str] = (),
    extra: dict[str, float] | None = None,
    pii_rate: float = 0.03,
) -> tuple[str, bool, list[str]]:
    """One free text. ``mood``: neg | pos | mixed | neg2. Returns (text, carries_pii, themes in order)."""
    neg_w = _neg_weights(ctx, low_items, extra)
    pos_w = _pos_weights(ctx)
    client = ctx.client
    gender = "f" if rng.random() < 0.6 else "m"  # women are the majority of PES clients
    if mood == "pos":
        theme = _draw(rng, pos_w)
        body = capitalise(_clause(rng, theme, "pos", lang, client, gender))
        sentiment, themes = "pos", [theme]
    elif mood == "mixed":
        good = _draw(rng, pos_w)
        bad = _draw(rng, neg_w, exclude=good)
        g, b = _clause(rng, good, "pos", lang, client, gender), _clause(rng, bad, "neg", lang, client, gender)
        if rng.random() < 0.6:
            body = capitalise(g) + pick(rng, BUT[lang]) + decapitalise(b)
        else:
            body = capitalise(b) + pick(rng, YET[lang]) + decapitalise(g)
        sentiment, themes = "neg", [bad, good]
    elif mood == "neg2":
        first = _draw(rng, neg_w)
        second = _draw(rng, neg_w, exclude=first)
        body = (
            capitalise(_clause(rng, first, "neg", lang, client, gender))
            + pick(rng, ALSO[lang])
            + decapitalise(_clause(rng, second, "neg", lang, client, gender))
        )
        sentiment, themes = "neg", [first, second]
    else:
        theme = _draw(rng, neg_w)
        body = capitalise(_clause(rng, theme, "neg", lang, client, gender))
        sentiment, themes = "neg", [theme]
    text = body + "."
    if rng.random() < 0.35:
        office = ctx.office.office_name if ctx.office is not None else "центр занятости"
        # The quarter's first month: never later than the date the text is filed under.
        month = MONTHS[lang][ctx.quarter.start.month - 1]
        text = pick_gendered(rng, PREFIX[(lang, client)], gender).format(office=office, month=month) + text
    if rng.random() < 0.3:
        text += pick(rng, SUFFIX[(lang, sentiment)])
    pii = bool(rng.random() < pii_rate)
    if pii:
        sentence = fake_pii_sentence(rng, lang, gender)
        text = f"{sentence} {text}" if sentence.startswith(("Меня", "Nimeni", "My name")) else f"{text} {sentence}"
    return text, pii, themes


def draw_mood(rng: np.random.Generator, p_neg: float) -> str:
    """neg / neg2 / mixed / pos, with a fixed share of contrasts among negatives."""
    if rng.random() >= p_neg:
        return "pos"
    u = rng.random()
    return "mixed" if u < 0.2 else "neg2" if u < 0.3 else "neg"
