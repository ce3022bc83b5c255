"""The ``text`` group: ``text analyse`` (language, themes, sentiment of JSONL texts) and
``text train`` (the learned sentiment model, :mod:`tasks.text.model`, from a rated CSV file or
the stored rated feedback). They answer without starting Prefect. Exit codes: 0 done,
2 input refused (a bad line or column, named with its file; a model folder that is not one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from cxloop.cli.common import refuse

text_app = typer.Typer(help="Text analytics: analyse texts, train the sentiment model.", no_args_is_help=True)


def _read_jsonl(path: Path) -> list[tuple[Any, str]]:
    """(id, text) per non-empty line; refuses a bad line naming file, line and field."""
    out: list[tuple[Any, str]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        refuse(f"{path}: cannot be read as UTF-8 text ({exc})")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            refuse(f"{path}, line {number}: not JSON ({exc.msg})")
        if not isinstance(rec, dict):
            refuse(f"{path}, line {number}: a JSON object with a 'text' field is expected")
        if "text" not in rec:
            refuse(f"{path}, line {number}, field text: missing")
        if not isinstance(rec["text"], str):
            refuse(f"{path}, line {number}, field text: a string is expected, not {type(rec['text']).__name__}")
        ident = rec.get("id", number)
        if not isinstance(ident, str | int) or isinstance(ident, bool):
            refuse(f"{path}, line {number}, field id: a string or an integer is expected")
        out.append((ident, rec["text"]))
    return out


def _model(folder: Path | None) -> Any:
    from tasks.text.model_store import ModelError, load_active_model, load_model

    try:
        return load_model(folder) if folder is not None else load_active_model()
    except ModelError as exc:
        refuse(str(exc))


@text_app.command("analyse")
def text_analyse(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help='JSONL: {"text": ..., "id": ...} per line'),
    out: Path | None = typer.Option(None, "--out", help="write the JSONL here (default: stdout)"),
    model: Path | None = typer.Option(
        None, "--model", help="a trained model folder (default: the active model, else the rules alone)"
    ),
    explain: bool = typer.Option(
        False, "--explain", help="add the words that pushed the model's sentiment up ('for') and down ('against')"
    ),
) -> None:
    """Language, themes and sentiment of each text: one JSON object per line."""
    from tasks.text.analyser import analyse

    rows = _read_jsonl(path)
    fitted = _model(model)
    texts = [t for _, t in rows]
    results = analyse(texts, model=fitted)
    records: list[dict[str, Any]] = [
        {"id": ident, "language": r.language, "themes": sorted(r.themes), "sentiment": float(r.sentiment)}
        for (ident, _), r in zip(rows, results, strict=True)
    ]
    if explain:
        for record, text in zip(records, texts, strict=True):
            why = fitted.explain(text) if fitted is not None else {"modelled": False}
            record["explain"] = (
                {"for": why["for"], "against": why["against"]} if why.get("modelled") else {"by": "rules"}
            )
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    body = "".join(line + "\n" for line in lines)
    if out is None:
        sys.stdout.write(body)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(body, encoding="utf-8")


@text_app.command("train")
def text_train(
    ratings: Path | None = typer.Option(
        None, "--ratings", exists=True, dir_okay=False, help="UTF-8 CSV: text, rating [, scale, language]"
    ),
    from_db: bool = typer.Option(False, "--from-db", help="train on the rated feedback in the database"),
    out: Path | None = typer.Option(None, "--out", help="model folder (default: <out_dir>/models/<version>)"),
    activate: bool = typer.Option(False, "--activate", help="make it the active model"),
    min_texts: int | None = typer.Option(
        None, "--min-texts", min=10, help="rated texts a language needs to be modelled (default 500)"
    ),
) -> None:
    """Train the sentiment model on rated texts; prints one JSON line (counts, held-out figures)."""
    from tasks.text.model import MIN_TEXTS, ModelSettings
    from tasks.text.model_store import ModelError, models_dir, read_rated_csv, read_rated_db, save_model
    from tasks.text.model_store import activate as make_active
    from tasks.text.model_train import TrainingError, train

    if (ratings is None) == (not from_db):
        raise typer.BadParameter("give either --ratings FILE.csv or --from-db")
    try:
        if ratings is not None:
            frame = read_rated_csv(ratings)
        else:
            from cxloop.settings import get_settings
            from models.db import upgrade

            get_settings().ensure_dirs()
            upgrade()
            frame = read_rated_db()
    except ModelError as exc:
        refuse(str(exc))
    settings = ModelSettings(min_texts=min_texts if min_texts is not None else MIN_TEXTS)
    source = str(ratings) if ratings is not None else "the feedback table"
    try:
        fitted = train(
            frame["text"].tolist(),
            frame["rating"].tolist(),
            frame["scale"].tolist(),
            frame["language"].tolist(),
            settings,
        )
    except TrainingError as exc:
        refuse(f"{source}: {exc}")
    if not fitted.languages:
        skipped = ", ".join(f"{k} {v['texts']}" for k, v in fitted.card["skipped"].items())
        refuse(f"{source}: no language has {settings.min_texts} rated texts ({skipped}); no model written")
    folder = out if out is not None else models_dir() / fitted.version
    save_model(fitted, folder)
    if activate:
        make_active(folder)
    card = fitted.card
    summary = {
        "version": card["version"],
        "out": str(folder),
        "activated": activate,
        "languages": {
            lang: {"texts": v["texts"], "counts": v["counts"], "held_out": v["held_out"]}
            for lang, v in card["languages"].items()
        },
        "skipped": card["skipped"],
    }
    sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
