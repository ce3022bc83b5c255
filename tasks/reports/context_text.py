"""The report's methods note on the texts: how the quarter's feedback texts were read (by
the rules alone, or with the sentiment model learned from the service's own ratings,
:mod:`tasks.text.reread`), with the model's held-out figures next to the rules'."""

from __future__ import annotations

from sqlmodel import Session

from cxloop.config import AppConfig
from cxloop.i18n import format_number, format_percent, gettext
from tasks.text.reread import Reading, reading_of


def _held_out_accuracy(card: dict, who: str) -> tuple[float, int] | None:
    """Pooled 3-class accuracy of ``who`` ("model" or "rules") on the held-out texts of every
    modelled language, and how many texts that is."""
    right = total = 0.0
    for info in (card.get("languages") or {}).values():
        held = info.get("held_out") or {}
        figures = held.get(who) or {}
        n = figures.get("n") or 0
        if n and "accuracy_3class" in figures:
            right += figures["accuracy_3class"] * n
            total += n
    return (right / total, int(total)) if total else None


def text_method_note(session: Session, quarter: str, lang: str, config: AppConfig | None = None) -> str:
    """One paragraph for the report: themes by the rules (and, where analysts' labels taught
    them, by classifiers), sentiment by the rules or the model."""
    reading = reading_of(session, quarter)
    note = _sentiment_note(reading, lang)
    if reading is None or not reading.learned_themes:
        return note
    names = {
        tid: th.labels.get(lang, th.labels.get("en", tid)) for tid, th in (config.themes if config else {}).items()
    }
    learned = ", ".join(names.get(t, t) for t in reading.learned_themes)
    _ = gettext(lang)
    return note + " " + _("Themes learned from the analysts' labels: %(themes)s.", themes=learned)


def _sentiment_note(reading: Reading | None, lang: str) -> str:
    _ = gettext(lang)
    if reading is None:
        return _("Themes and sentiment of the texts: the rules of the lexicons.")
    if "model" not in reading.method:
        return _(
            "Themes and sentiment of the texts: the rules of the lexicons; "
            "%(n)s rated texts are too few to learn the sentiment from them.",
            n=format_number(reading.rated_texts, lang, digits=0),
        )
    card = reading.card
    languages = ", ".join(sorted(card.get("languages") or {}))
    model, rules = _held_out_accuracy(card, "model"), _held_out_accuracy(card, "rules")
    if model is None or rules is None:
        return _(
            "Themes: the rules of the lexicons. Sentiment (%(languages)s): a model learned from %(n)s rated "
            "texts of this service (version %(version)s).",
            languages=languages,
            n=format_number(reading.rated_texts, lang, digits=0),
            version=(reading.model_version or "")[:12],
        )
    return _(
        "Themes: the rules of the lexicons. Sentiment (%(languages)s): a model learned from %(n)s rated texts "
        "of this service (version %(version)s); on %(held)s texts kept out of its training it agrees with the "
        "ratings in %(model)s of cases, the rules in %(rules)s.",
        languages=languages,
        n=format_number(reading.rated_texts, lang, digits=0),
        version=(reading.model_version or "")[:12],
        held=format_number(model[1], lang, digits=0),
        model=format_percent(100 * model[0], lang),
        rules=format_percent(100 * rules[0], lang),
    )
