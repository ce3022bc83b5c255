"""The learned sentiment model in the quarterly cycle: trained on the deployment's own rated
feedback, then used to read the quarter's texts again (issue 13, "learning from the
deployment's own ratings").

Every rated text stored up to the quarter (review book, contact centre, social stars, the
survey's overall question...) labels itself through its rating. With at least
:data:`tasks.text.model.MIN_TEXTS` of them in a language, :func:`learn_and_reread` trains the
model (:func:`tasks.text.model_train.train`), saves it under ``<out>/models/<version>``,
makes it the active one and rereads the quarter's texts with it: their ``sentiment`` and
``negative_themes`` (and ``language``/``themes``, which stay the rules') are written back.
Languages with fewer rated texts keep the rules' reading. Training is deterministic, so a
rerun of the quarter on the same data gives the same model and the same rows.

How the quarter was read is stored in ``text_reading`` (one row per quarter: the method,
the model's version and its card) for the report's methods note and the run's artifact.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import delete, select
from sqlmodel import Session, col

from cxloop.config import AppConfig
from models.db import driver_marks
from models.store import query_frame
from models.tables import Feedback, TextReading
from tasks.text.analyser import analyse_frame
from tasks.text.model import ModelSettings, SentimentModel
from tasks.text.model_store import activate, active_model_dir, load_model, models_dir, rated_feedback, save_model
from tasks.text.model_train import TrainingError, fit, training_set
from tasks.text.theme_learn import ThemeModel, gold_labels, train_from_gold

__all__ = [
    "MAX_TRAINING_TEXTS",
    "MIN_GOLD_LABELS",
    "Reading",
    "learn_and_reread",
    "reading_of",
    "card_summary",
    "reread_region",
]

MIN_GOLD_LABELS = 50
"""Analysts' labels (``cxloop text review import``) needed before theme classifiers are tried;
each theme then still needs its own positives and must beat the rules
(:func:`tasks.text.theme_learn.train_theme_model`)."""

MAX_TRAINING_TEXTS = 100_000
"""Rated texts a training run takes at most (the latest quarters first): beyond this the
model gains little and the training time grows (~12 s for a national quarter's 53,877 here:
labelling and features ~2 s, the fits ~10 s)."""


@dataclass
class Reading:
    """What :func:`learn_and_reread` did for a quarter."""

    quarter: str
    method: str  # "rules", "rules+model", "rules+themes" or "rules+model+themes"
    model_version: str | None = None
    rated_texts: int = 0
    texts_read: int = 0
    card: dict[str, Any] = field(default_factory=dict)  # the sentiment model's; "theme_model": the themes'

    @property
    def learned_themes(self) -> list[str]:
        return list((self.card.get("theme_model") or {}).get("learned") or [])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def card_summary(card: dict[str, Any]) -> dict[str, Any]:
    """The card without its wall-clock time and file hashes: what the database and the
    report keep, identical for the same data."""
    return {k: v for k, v in card.items() if k not in ("created_at", "model_file")}


def _reread_quarter(
    session: Session,
    quarter: str,
    config: AppConfig,
    model: SentimentModel | None,
    theme_model: ThemeModel | None,
    region: str | None = None,
) -> int:
    """Read the quarter's texts (``region``: that region's only) again with the learned models;
    write the columns back."""
    query = select(col(Feedback.id), col(Feedback.text), col(Feedback.rating), col(Feedback.scale)).where(
        col(Feedback.quarter) == quarter, col(Feedback.text).is_not(None)
    )
    if region is not None:
        query = query.where(col(Feedback.region_code) == region)
    frame = query_frame(session, query.order_by(col(Feedback.id)), ["id", "text", "rating", "scale"]).set_index("id")
    if frame.empty:
        return 0
    read = analyse_frame(frame["text"], frame["rating"], frame["scale"], config, model=model, theme_model=theme_model)
    sentiments = [None if pd.isna(v) else float(v) for v in read["sentiment"].tolist()]
    rows = list(
        zip(
            read["language"].tolist(),
            sentiments,
            read["themes"].tolist(),
            read["negative_themes"].tolist(),
            [int(fid) for fid in read.index.tolist()],
            strict=True,
        )
    )
    # Straight through the driver, in the session's transaction: SQLAlchemy's parameter
    # processing of 274,000 rows cost more than the UPDATEs themselves.
    conn = session.connection()
    quote = conn.dialect.identifier_preparer.quote
    columns = ("language", "sentiment", "themes", "negative_themes")
    *value_marks, id_mark = driver_marks(conn, len(columns) + 1)
    assignments = ", ".join(f"{quote(c)} = {m}" for c, m in zip(columns, value_marks, strict=True))
    conn.exec_driver_sql(
        f"UPDATE {quote(Feedback.__tablename__)} SET {assignments} WHERE {quote('id')} = {id_mark}", rows
    )
    return len(rows)


def learn_and_reread(
    session: Session, quarter: str, config: AppConfig, settings: ModelSettings | None = None
) -> Reading:
    """Train the sentiment model on the rated texts stored up to ``quarter`` and reread the
    quarter's texts with it; the rules' reading stays where no language has enough rated
    texts. Records the reading in ``text_reading`` (replacing the quarter's row)."""
    rated = rated_feedback(session, until=quarter, limit=MAX_TRAINING_TEXTS)
    reading = Reading(quarter=quarter, method="rules", rated_texts=len(rated))
    model: SentimentModel | None = None
    if not rated.empty:
        try:
            data = training_set(
                rated["text"].tolist(),
                rated["rating"].tolist(),
                rated["scale"].tolist(),
                rated["language"].tolist(),
                settings or ModelSettings(),
            )
        except TrainingError:
            data = None
        if data is not None:
            # The version is a digest of the data and settings: a model already fitted on
            # exactly these (an earlier run of the quarter) is read back, not fitted again.
            folder = models_dir() / data.version
            if not (folder / "card.json").is_file():
                fitted = fit(data)
                if fitted.languages:
                    save_model(fitted, folder)
            if (folder / "card.json").is_file():
                activate(folder)
                model = load_model(folder)  # what the next run will use, read back
    if model is not None and model.languages:
        reading.method = "rules+model"
        reading.model_version = model.version
        reading.card = card_summary(model.card)
    else:
        model = None
    theme_model = _theme_model(session, config)
    if theme_model is not None:
        reading.method += "+themes"
        reading.card["theme_model"] = theme_model.card
    if model is not None or theme_model is not None:
        reading.texts_read = _reread_quarter(session, quarter, config, model, theme_model)
    session.execute(delete(TextReading).where(col(TextReading.quarter) == quarter))
    session.add(
        TextReading(
            quarter=quarter,
            method=reading.method,
            model_version=reading.model_version,
            rated_texts=reading.rated_texts,
            texts_read=reading.texts_read,
            card=json.dumps(reading.card, ensure_ascii=False, sort_keys=True),
        )
    )
    session.flush()
    return reading


def reread_region(session: Session, quarter: str, region: str, config: AppConfig) -> Reading:
    """A region's rerun: its texts of ``quarter`` read again the way the quarter's last whole
    cycle read them (the model version recorded in ``text_reading``), without training.

    Training reads every rated text of the country (about a minute per 100,000) and its
    card is a national figure, so it is left to the whole-quarter cycle; ``text_reading``
    is not changed. With no recorded reading, or one by the rules alone, the texts keep
    the reading they were stored with. When the recorded model's folder is gone, the
    active model reads them (the version returned says which)."""
    recorded = reading_of(session, quarter)
    reading = Reading(quarter=quarter, method="rules")
    if recorded is None:
        return reading
    model: SentimentModel | None = None
    if recorded.model_version:
        folder = models_dir() / recorded.model_version
        if not (folder / "card.json").is_file():
            active = active_model_dir()
            folder = active if active is not None else folder
        model = load_model(folder)
        reading.method, reading.model_version = "rules+model", model.version
    theme_model = _theme_model(session, config) if recorded.method.endswith("+themes") else None
    if theme_model is not None:
        reading.method += "+themes"
    if model is not None or theme_model is not None:
        reading.texts_read = _reread_quarter(session, quarter, config, model, theme_model, region=region)
    session.flush()
    return reading


def _theme_model(session: Session, config: AppConfig) -> ThemeModel | None:
    """Theme classifiers from the analysts' labels, ``None`` without enough labels or when no
    theme's classifier beats the rules (then the rules decide every theme)."""
    gold = gold_labels(session)
    if len(gold) < MIN_GOLD_LABELS:
        return None
    model = train_from_gold(gold, config)
    return model if model.learned else None


def reading_of(session: Session, quarter: str) -> Reading | None:
    """How ``quarter``'s texts were read, ``None`` when the cycle has not recorded it."""
    row = session.get(TextReading, quarter)
    if row is None:
        return None
    return Reading(
        quarter=row.quarter,
        method=row.method,
        model_version=row.model_version,
        rated_texts=row.rated_texts,
        texts_read=row.texts_read,
        card=json.loads(row.card or "{}"),
    )
