"""The learned sentiment model as a versioned folder, the active model, and its training data.

A model folder holds two files:

* ``model.joblib``: the fitted scikit-learn parts per language (joblib pickle: load only
  folders this installation wrote, as with any pickle);
* ``card.json``: the model card (:mod:`tasks.text.model_train`): format, version id,
  creation time, settings, per language the counts per class, the held-out figures of
  the model and of the rules, the top features; and the SHA-256 of ``model.joblib``.

:func:`load_model` refuses (:class:`ModelError`, naming the file) a folder without those
files, a card of another format, or a ``model.joblib`` whose digest is not the card's.

The *active* model is the one ``cxloop text analyse`` uses without ``--model``: the file
``<CXLOOP_OUT_DIR>/models/active`` holds its folder's path (:func:`active_model_dir`,
:func:`activate`). Rated texts to train on come from a CSV file (:func:`read_rated_csv`)
or the feedback table (:func:`read_rated_db`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from cxloop.files import file_sha256
from tasks.text.model import LanguageModel, SentimentModel
from tasks.text.model_train import FORMAT

__all__ = [
    "CARD_FILE",
    "MODEL_FILE",
    "ModelError",
    "activate",
    "active_model_dir",
    "active_pointer",
    "load_active_model",
    "load_model",
    "models_dir",
    "read_rated_csv",
    "rated_feedback",
    "read_rated_db",
    "save_model",
]

CARD_FILE = "card.json"
MODEL_FILE = "model.joblib"


class ModelError(ValueError):
    """A model folder, pointer or training file that cannot be used; the message names the file."""


def _canonical(vectoriser: Any) -> None:
    """Make a fitted vectoriser pickle to the same bytes in every process: its vocabulary
    in sorted order (a dict's order follows string hashing, which differs per process),
    without ``stop_words_``, a set of the terms cut by frequency that only documents the
    fit (scikit-learn: safe to remove before pickling), and without the cached id() of the
    stop-word list."""
    if hasattr(vectoriser, "vocabulary_"):
        vectoriser.vocabulary_ = dict(sorted(vectoriser.vocabulary_.items()))
    if hasattr(vectoriser, "stop_words_"):
        vectoriser.stop_words_ = None
    if hasattr(vectoriser, "_stop_words_id"):
        # id() of the stop-word list, cached by scikit-learn to skip a repeated warning
        # check: a memory address, different in every process (read with a default).
        del vectoriser._stop_words_id


def save_model(model: SentimentModel, folder: Path | str) -> Path:
    """Write ``model.joblib`` and ``card.json`` into ``folder`` (created); returns the folder."""
    import joblib

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    parts = {
        "format": FORMAT,
        "version": model.version,
        "languages": {
            lang: {"word": lm.word, "char": lm.char, "classifier": lm.classifier, "lexicon_weight": lm.lexicon_weight}
            for lang, lm in sorted(model.languages.items())
        },
    }
    for lm in model.languages.values():
        _canonical(lm.word)
        _canonical(lm.char)
    joblib.dump(parts, folder / MODEL_FILE, compress=3)
    card = dict(model.card)
    card["model_file"] = {"name": MODEL_FILE, "sha256": file_sha256(folder / MODEL_FILE)}
    (folder / CARD_FILE).write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return folder


def load_model(folder: Path | str) -> SentimentModel:
    """The model saved in ``folder``; :class:`ModelError` naming the file when it is not one."""
    import joblib

    folder = Path(folder)
    card_path = folder / CARD_FILE
    model_path = folder / MODEL_FILE
    if not card_path.is_file():
        raise ModelError(f"{card_path}: no model card here; {folder} is not a sentiment model folder")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{card_path}: not a JSON model card ({exc})") from exc
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        found = card.get("format") if isinstance(card, dict) else type(card).__name__
        raise ModelError(f"{card_path}: format {found!r}, expected {FORMAT!r}")
    if not model_path.is_file():
        raise ModelError(f"{model_path}: missing (the card {card_path} names it)")
    expected = (card.get("model_file") or {}).get("sha256")
    if expected != file_sha256(model_path):
        raise ModelError(f"{model_path}: does not match {card_path} (SHA-256 differs); retrain or restore the folder")
    try:
        parts = joblib.load(model_path)
    except Exception as exc:  # a corrupt pickle can raise anything
        raise ModelError(f"{model_path}: cannot be read ({type(exc).__name__}: {exc})") from exc
    if not isinstance(parts, dict) or parts.get("format") != FORMAT or parts.get("version") != card.get("version"):
        raise ModelError(f"{model_path}: not the model of {card_path} (format or version differs)")
    languages = {
        lang: LanguageModel(p["word"], p["char"], p["classifier"], float(p["lexicon_weight"]))
        for lang, p in parts["languages"].items()
    }
    if set(languages) != set(card.get("languages", {})):
        raise ModelError(f"{model_path}: languages {sorted(languages)} differ from {card_path}")
    return SentimentModel(languages, card)


# ---------------------------------------------------------------- the active model


def models_dir() -> Path:
    """``<CXLOOP_OUT_DIR>/models``: where trained models go by default."""
    from cxloop.settings import get_settings

    return Path(get_settings().out_dir) / "models"


def active_pointer() -> Path:
    return models_dir() / "active"


def activate(folder: Path | str) -> Path:
    """Make the model in ``folder`` the active one (it is loaded first: a broken folder is
    refused); returns the pointer file."""
    folder = Path(folder).resolve()
    load_model(folder)
    pointer = active_pointer()
    pointer.parent.mkdir(parents=True, exist_ok=True)
    tmp = pointer.with_suffix(".tmp")
    tmp.write_text(str(folder) + "\n", encoding="utf-8")
    tmp.replace(pointer)
    return pointer


def active_model_dir() -> Path | None:
    """The active model's folder, ``None`` when no model was activated."""
    pointer = active_pointer()
    if not pointer.is_file():
        return None
    given = pointer.read_text(encoding="utf-8").strip()
    if not given:
        raise ModelError(f"{pointer}: empty; it should hold the active model's folder")
    return Path(given)


def load_active_model() -> SentimentModel | None:
    """The active model, ``None`` when there is none; :class:`ModelError` when the pointer
    names a folder that is not a model."""
    folder = active_model_dir()
    if folder is None:
        return None
    try:
        return load_model(folder)
    except ModelError as exc:
        raise ModelError(f"active model ({active_pointer()}): {exc}") from exc


# ---------------------------------------------------------------- training data


def read_rated_csv(path: Path | str) -> pd.DataFrame:
    """Columns ``text``, ``rating`` and optional ``scale`` (default 5) and ``language`` of a
    UTF-8 CSV file, texts redacted. :class:`ModelError` naming the file, and the line and
    field, for a missing column, a rating that is not a number or a scale other than 5/10."""
    from tasks.validate.redaction import redact_series

    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ModelError(f"{path}: cannot be read as a UTF-8 CSV file ({exc})") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("text", "rating") if c not in frame.columns]
    if missing:
        raise ModelError(f"{path}: missing column(s) {', '.join(missing)} (has {', '.join(frame.columns)})")
    rating = pd.to_numeric(frame["rating"].str.strip().replace("", None), errors="coerce")
    bad = frame["rating"].str.strip().ne("") & rating.isna()
    if bad.any():
        k = int(bad.to_numpy().nonzero()[0][0])
        raise ModelError(f"{path}, line {k + 2}, field rating: {frame['rating'].iloc[k]!r} is not a number")
    if "scale" in frame.columns:
        scale = pd.to_numeric(frame["scale"].str.strip().replace("", "5"), errors="coerce")
        bad = ~scale.isin([5, 10])
        if bad.any():
            k = int(bad.to_numpy().nonzero()[0][0])
            raise ModelError(f"{path}, line {k + 2}, field scale: {frame['scale'].iloc[k]!r} is not 5 or 10")
    else:
        scale = pd.Series(5, index=frame.index)
    language = frame["language"].str.strip().str.lower() if "language" in frame.columns else None
    return pd.DataFrame(
        {
            "text": redact_series(frame["text"]),
            "rating": rating,
            "scale": scale,
            "language": language.where(language != "", None) if language is not None else None,
        }
    )


def rated_feedback(session: Any, until: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """The rated feedback texts stored in the database (already redacted): columns ``text``,
    ``rating``, ``scale``, ``language``, the latest quarters first; only the quarters up to
    ``until`` when given, at most ``limit`` texts when given."""
    from sqlmodel import col, select

    from models.store import query_frame
    from models.tables import Feedback

    query = select(col(Feedback.text), col(Feedback.rating), col(Feedback.scale), col(Feedback.language)).where(
        col(Feedback.text).is_not(None), col(Feedback.rating).is_not(None)
    )
    if until is not None:
        query = query.where(col(Feedback.quarter) <= until)
    query = query.order_by(col(Feedback.quarter).desc(), col(Feedback.id)).limit(limit)
    return query_frame(session, query, ["text", "rating", "scale", "language"])


def read_rated_db(url: str | None = None) -> pd.DataFrame:
    """:func:`rated_feedback` of every stored quarter, in a session of its own."""
    from models.db import session_scope

    with session_scope(url) as session:
        return rated_feedback(session)
