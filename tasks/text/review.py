"""Analysts teach themes, part 1: choosing texts to label and writing them to XLSX.

``cxloop text review export`` calls :func:`choose_sample` and :func:`write_review_xlsx`;
the ticked file comes back through :mod:`tasks.text.review_io` as gold labels
(table ``text_label``), from which :mod:`tasks.text.theme_learn` trains per-theme
classifiers.

**The sample** (:func:`choose_sample`), from one quarter's stored feedback texts, read
again by the current rules (:func:`tasks.text.analyser.analyse`):

1. *Uncertain* texts first, by a score that adds up what makes the rules' reading
   doubtful: a theme named only by a weak keyword (the text read again without weak
   keywords loses it; 1 per theme), a negative text with no theme (1), a text with
   themes whose sentiment is near 0 (|s| < 0.25; 0.5), a rating that contradicts the
   sentiment (0.5), and, given a trained theme model, a learned theme whose
   probability is near 0.5 (up to 1). At most ``uncertain_share`` of the sample.
2. The rest is a *stratified* sample of the remaining texts by channel x language x
   region: at least one text per stratum when the sample allows, the rest in
   proportion to the strata's sizes (largest remainder).

Texts already labelled (``text_label``) are left out unless asked. Every random
choice (ties, picks within a stratum) uses ``seed``: the same database gives the same
sample, and the same sample the same file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlmodel import Session, select

from cxloop.config import AppConfig
from cxloop.export_safety import neutralise_formula
from cxloop.files import save_xlsx
from models.tables import Feedback, TextLabel
from tasks.text.analyser import TextAnalysis, analyse, rating_polarity
from tasks.validate.redaction import redact

if TYPE_CHECKING:
    from tasks.text.theme_learn import ThemeModel

__all__ = [
    "FIXED_COLUMNS",
    "FIXED_LABELS",
    "NO_THEME",
    "SENTIMENT",
    "SENTIMENT_VALUES",
    "choose_sample",
    "write_review_xlsx",
]

NO_THEME = "no_theme"
SENTIMENT = "sentiment"
SENTIMENT_VALUES = ("negative", "neutral", "positive")
# The sentiment words an analyst may type, per language (the export offers its language's).
SENTIMENT_WORDS: dict[str, dict[str, str]] = {
    "en": {"negative": "negative", "neutral": "neutral", "positive": "positive"},
    "ru": {"negative": "негатив", "neutral": "нейтрально", "positive": "позитив"},
    "fi": {"negative": "negatiivinen", "neutral": "neutraali", "positive": "positiivinen"},
}
FIXED_COLUMNS = ("feedback_id", "quarter", "language", "channel", "region", "text", "rules_themes", "reason")
# Headers per language; the import reads the headers of every language and the ids.
FIXED_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "feedback_id": "Feedback id",
        "quarter": "Quarter",
        "language": "Language",
        "channel": "Channel",
        "region": "Region",
        "text": "Text",
        "rules_themes": "Themes found by the rules",
        "reason": "Why in the sample",
        NO_THEME: "No theme",
        SENTIMENT: "Sentiment",
    },
    "ru": {
        "feedback_id": "Номер отзыва",
        "quarter": "Квартал",
        "language": "Язык",
        "channel": "Канал",
        "region": "Регион",
        "text": "Текст",
        "rules_themes": "Темы по правилам",
        "reason": "Почему в выборке",
        NO_THEME: "Нет темы",
        SENTIMENT: "Тональность",
    },
    "fi": {
        "feedback_id": "Palautteen tunnus",
        "quarter": "Vuosineljännes",
        "language": "Kieli",
        "channel": "Kanava",
        "region": "Alue",
        "text": "Teksti",
        "rules_themes": "Sääntöjen teemat",
        "reason": "Miksi otoksessa",
        NO_THEME: "Ei teemaa",
        SENTIMENT: "Sävy",
    },
}
_NEAR_ZERO = 0.25


@dataclass(frozen=True)
class _Scored:
    score: float
    reasons: tuple[str, ...]


def _strong_only(config: AppConfig) -> AppConfig:
    """``config`` without weak keywords: a theme the full rules name but these do not is
    named by a weak keyword only."""
    themes = {tid: t.model_copy(update={"weak_keywords": {}}) for tid, t in config.themes.items()}
    return config.model_copy(update={"themes": themes})


def _uncertainty(
    full: TextAnalysis,
    strong: TextAnalysis,
    polarity: int,
    probabilities: dict[str, float],
) -> _Scored:
    score = 0.0
    reasons: list[str] = []
    for theme in sorted(full.themes - strong.themes):
        score += 1.0
        reasons.append(f"weak keyword only: {theme}")
    if not full.themes and full.sentiment < 0:
        score += 1.0
        reasons.append("negative, no theme")
    if full.themes and abs(full.sentiment) < _NEAR_ZERO:
        score += 0.5
        reasons.append("sentiment near 0")
    if polarity and full.sentiment and (polarity > 0) != (full.sentiment > 0):
        score += 0.5
        reasons.append("rating disagrees with sentiment")
    doubt = {t: 1.0 - 2.0 * abs(p - 0.5) for t, p in probabilities.items()}
    unsure = sorted(t for t, d in doubt.items() if d >= 0.4)
    if unsure:
        score += max(doubt[t] for t in unsure)
        reasons.append("model unsure: " + ", ".join(unsure))
    return _Scored(round(score, 6), tuple(reasons))


def _quarter_frame(session: Session, quarter: str, include_labelled: bool) -> pd.DataFrame:
    rows = session.exec(select(Feedback).where(Feedback.quarter == quarter).order_by(Feedback.id)).all()  # type: ignore[arg-type]
    labelled: set[int] = set()
    if not include_labelled:
        labelled = set(session.exec(select(TextLabel.feedback_id)).all())
    records = [
        {
            "feedback_id": int(r.id),
            "quarter": r.quarter,
            "channel": r.channel,
            "region": r.region_code,
            "text": r.text,
            "rating": r.rating,
            "scale": r.scale,
        }
        for r in rows
        if r.id is not None and r.id not in labelled and isinstance(r.text, str) and r.text.strip()
    ]
    columns = ["feedback_id", "quarter", "channel", "region", "text", "rating", "scale"]
    return pd.DataFrame.from_records(records, columns=columns)


def _allocate(sizes: dict[tuple[str, ...], int], n: int) -> dict[tuple[str, ...], int]:
    """Seats per stratum: one each while the sample allows, the rest by largest remainder."""
    keys = sorted(sizes)
    total = sum(sizes.values())
    n = min(n, total)
    if n <= 0:
        return dict.fromkeys(keys, 0)
    seats = dict.fromkeys(keys, 0)
    if n >= len(keys):
        seats = dict.fromkeys(keys, 1)
    left = n - sum(seats.values())
    room = {k: sizes[k] - seats[k] for k in keys}
    pool = sum(room.values())
    if left > 0 and pool > 0:
        quotas = {k: left * room[k] / pool for k in keys}
        for k in keys:
            seats[k] += min(room[k], int(quotas[k]))
        rest = n - sum(seats.values())
        order = sorted(keys, key=lambda k: (-(quotas[k] - int(quotas[k])), k))
        while rest > 0:
            progressed = False
            for k in order:
                if rest > 0 and seats[k] < sizes[k]:
                    seats[k] += 1
                    rest -= 1
                    progressed = True
            if not progressed:
                break
    elif n < len(keys):  # fewer seats than strata: the largest strata, ties by key
        for k in sorted(keys, key=lambda k: (-sizes[k], k))[:n]:
            seats[k] = 1
    return seats


def choose_sample(
    session: Session,
    quarter: str,
    *,
    size: int = 200,
    uncertain_share: float = 0.5,
    seed: int = 0,
    config: AppConfig | None = None,
    model: ThemeModel | None = None,
    include_labelled: bool = False,
) -> pd.DataFrame:
    """The texts of ``quarter`` to label, as a frame (see the module docstring).

    Columns: ``feedback_id``, ``quarter``, ``language``, ``channel``, ``region``,
    ``text`` (redacted), ``rules_themes`` (sorted theme ids, comma-separated),
    ``sentiment`` (the rules'), ``kind`` (``uncertain`` | ``stratified``), ``score``
    and ``reason``. Uncertain texts come first (highest score first), then the
    stratified ones by stratum and id.
    """
    if size < 1:
        raise ValueError(f"the sample size must be at least 1, not {size}")
    if not 0.0 <= uncertain_share <= 1.0:
        raise ValueError(f"the uncertain share must be between 0 and 1, not {uncertain_share}")
    if config is None:
        from cxloop.config import get_config

        config = get_config()
    frame = _quarter_frame(session, quarter, include_labelled)
    texts = frame["text"].tolist()
    full = analyse(texts, config)
    strong = analyse(texts, _strong_only(config))
    probabilities: list[dict[str, float]] = [{} for _ in texts]
    if model is not None and model.learned:
        from tasks.text.theme_learn import theme_probabilities

        probabilities = theme_probabilities(full, texts, model)
    scored = [
        _uncertainty(f, s, rating_polarity(r, sc), p)
        for f, s, r, sc, p in zip(
            full, strong, frame["rating"].tolist(), frame["scale"].tolist(), probabilities, strict=True
        )
    ]
    frame["language"] = [a.language for a in full]
    frame["rules_themes"] = [",".join(sorted(a.themes)) for a in full]
    frame["sentiment"] = [a.sentiment for a in full]
    frame["score"] = [s.score for s in scored]
    frame["reason"] = ["; ".join(s.reasons) for s in scored]
    frame = frame[frame["language"].notna()].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    frame["tie"] = rng.permutation(len(frame)) if len(frame) else []
    n_uncertain = min(int(round(size * uncertain_share)), int((frame["score"] > 0).sum()))
    uncertain = frame[frame["score"] > 0].sort_values(["score", "tie"], ascending=[False, True]).head(n_uncertain)
    uncertain = uncertain.assign(kind="uncertain")
    rest = frame.drop(index=uncertain.index)
    strata = {
        key: group.sort_values("feedback_id")
        for key, group in rest.groupby(["channel", "language", "region"], sort=True, dropna=False)
    }
    seats = _allocate({k: len(g) for k, g in strata.items()}, size - len(uncertain))
    picked = []
    for key in sorted(strata):
        group = strata[key]
        if seats[key]:
            chosen = rng.choice(len(group), size=seats[key], replace=False)
            picked.append(group.iloc[np.sort(chosen)])
    stratified = pd.concat(picked) if picked else rest.head(0)
    stratified = stratified.assign(kind="stratified", reason="stratified: channel/language/region")
    out = pd.concat([uncertain, stratified], ignore_index=True)
    out["text"] = [redact(t) for t in out["text"]]
    columns = [
        "feedback_id",
        "quarter",
        "language",
        "channel",
        "region",
        "text",
        "rules_themes",
        "sentiment",
        "kind",
        "score",
        "reason",
    ]
    return out[columns].reset_index(drop=True)


# --------------------------------------------------------------------------- XLSX


def theme_headers(config: AppConfig, lang: str) -> dict[str, str]:
    """Theme id -> its column header in ``lang`` (the label of ``themes.yaml``)."""
    return {tid: theme.labels.get(lang) or theme.labels["en"] for tid, theme in config.themes.items()}


def write_review_xlsx(sample: pd.DataFrame, path: Path, config: AppConfig, lang: str = "ru") -> Path:
    """Write ``sample`` (:func:`choose_sample`) as a workbook to tick: one row per text,
    the context columns, then one column per theme (headed by its label in ``lang``),
    "no theme" and an optional sentiment. A tick is ``1`` or ``x``; a row left without
    ticks is not labelled. Text that could run as a formula is neutralised."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    lang = lang if lang in FIXED_LABELS else "en"
    fixed = FIXED_LABELS[lang]
    themes = theme_headers(config, lang)
    headers = [fixed[c] for c in FIXED_COLUMNS] + list(themes.values()) + [fixed[NO_THEME], fixed[SENTIMENT]]
    wb = Workbook()
    ws = wb.active
    ws.title = {"ru": "Разметка", "fi": "Luokittelu"}.get(lang, "Labels")
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for rec in sample.to_dict("records"):
        rules = "; ".join(themes.get(t, t) for t in str(rec["rules_themes"]).split(",") if t)
        values: list[Any] = [
            int(rec["feedback_id"]),
            rec["quarter"],
            rec["language"],
            rec["channel"],
            rec["region"],
            rec["text"],
            rules,
            rec["reason"],
        ]
        ws.append([neutralise_formula(v) for v in values] + [None] * (len(themes) + 2))
        ws.cell(row=ws.max_row, column=FIXED_COLUMNS.index("text") + 1).alignment = Alignment(wrap_text=True)
    first_tick = len(FIXED_COLUMNS) + 1
    last_tick = first_tick + len(themes)  # the "no theme" column
    tick_fill = PatternFill("solid", fgColor="FFF2CC")
    for col in range(1, len(headers) + 1):
        letter = get_column_letter(col)
        if col == FIXED_COLUMNS.index("text") + 1:
            ws.column_dimensions[letter].width = 60
        elif col >= first_tick:
            ws.column_dimensions[letter].width = 14
            ws.cell(row=1, column=col).fill = tick_fill
        else:
            ws.column_dimensions[letter].width = 14
    if ws.max_row > 1:
        ticks = DataValidation(type="list", formula1='"1,x"', allow_blank=True, showErrorMessage=True, error="1, x")
        ticks.add(f"{get_column_letter(first_tick)}2:{get_column_letter(last_tick)}{ws.max_row}")
        ws.add_data_validation(ticks)
        words = SENTIMENT_WORDS[lang]
        sentiment = DataValidation(
            type="list",
            formula1='"' + ",".join(words[v] for v in SENTIMENT_VALUES) + '"',
            allow_blank=True,
            showErrorMessage=True,
            error=", ".join(words[v] for v in SENTIMENT_VALUES),
        )
        letter = get_column_letter(len(headers))
        sentiment.add(f"{letter}2:{letter}{ws.max_row}")
        ws.add_data_validation(sentiment)
    ws.freeze_panes = ws.cell(row=2, column=FIXED_COLUMNS.index("text") + 2)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(ws.max_row, 1)}"
    return save_xlsx(wb, path, datetime(2000, 1, 1), "cxloop")
