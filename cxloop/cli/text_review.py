"""``cxloop text review``: analysts teach themes (export a sample to label, import the
ticked file as gold labels, train the per-theme classifiers on them).

The commands call tasks.text.review, tasks.text.review_io and tasks.text.theme_learn
directly, without starting Prefect. Exit codes: 0 done, 2 input refused (nothing stored).
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import typer
from rich.markup import escape

from cxloop.cli.common import console, default_who, err_console, quarter_option, refuse

review_app = typer.Typer(help="Analysts teach themes: label a sample, train theme classifiers.", no_args_is_help=True)

_MAX_SHOWN = 20  # error lines printed before the summary line


def _db() -> None:
    from cxloop.settings import get_settings
    from models.db import upgrade

    get_settings().ensure_dirs()
    upgrade()


def _config():  # -> cxloop.config.AppConfig
    from cxloop.config import get_config
    from cxloop.settings import get_settings

    return get_config(get_settings().config_dir)


@review_app.command("export")
def review_export(
    quarter: str = typer.Option(..., help="the quarter whose feedback texts are sampled, e.g. 2026Q1"),
    xlsx: Path = typer.Option(..., "--xlsx", help="write the workbook to label here"),
    size: int = typer.Option(200, min=1, max=5000, help="texts in the sample"),
    uncertain_share: float = typer.Option(
        0.5, min=0.0, max=1.0, help="at most this share are the texts the rules (or the model) are least sure of"
    ),
    lang: str = typer.Option("ru", help="language of the headers and theme labels: ru, en or fi"),
    seed: int = typer.Option(0, help="seed of every random choice (the same seed gives the same sample)"),
    model: Path | None = typer.Option(None, "--model", help="a trained theme model folder: its doubts count too"),
    include_labelled: bool = typer.Option(False, "--include-labelled", help="also texts labelled before"),
) -> None:
    """Write a sample of a quarter's texts to label: the least certain ones plus a stratified sample."""
    from models.db import session_scope
    from tasks.text.review import choose_sample, write_review_xlsx
    from tasks.text.theme_learn import load_theme_model

    q = quarter_option(quarter)
    if lang not in ("ru", "en", "fi"):
        refuse(f"--lang {lang!r}: expected ru, en or fi")
    config = _config()
    theme_model = None
    if model is not None:
        try:
            theme_model = load_theme_model(model)
        except ValueError as exc:
            refuse(str(exc))
    _db()
    with session_scope() as session:
        sample = choose_sample(
            session,
            q,
            size=size,
            uncertain_share=uncertain_share,
            seed=seed,
            config=config,
            model=theme_model,
            include_labelled=include_labelled,
        )
    if sample.empty:
        refuse(f"no unlabelled feedback text in {q}: nothing to label")
    path = write_review_xlsx(sample, xlsx, config, lang)
    uncertain = int((sample["kind"] == "uncertain").sum())
    console.print(
        escape(f"xlsx: {path} ({len(sample)} texts: {uncertain} uncertain, {len(sample) - uncertain} stratified)"),
        highlight=False,
    )


@review_app.command("import")
def review_import(
    xlsx: Path = typer.Option(..., "--xlsx", help="the ticked workbook 'text review export' wrote"),
    who: str | None = typer.Option(None, help="who labelled the texts (default: your login name)"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Store the ticked labels as gold labels; a text labelled before gets the new label.

    Every problem is listed with its file, row and column, and nothing is stored (exit 2)."""
    import json
    from datetime import datetime

    from models.db import session_scope
    from tasks.text.review_io import ReviewFileError, import_review_file

    config = _config()
    _db()
    try:
        with session_scope() as session:
            summary = import_review_file(session, xlsx, config, who or default_who(), datetime.now(UTC))
    except ReviewFileError as exc:
        for line in exc.errors[:_MAX_SHOWN]:
            err_console.print(escape(line), style="red", highlight=False)
        more = f", {len(exc.errors) - _MAX_SHOWN} more not shown" if len(exc.errors) > _MAX_SHOWN else ""
        refuse(f"{xlsx}: {len(exc.errors)} problem(s){more}; no label stored")
    if as_json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False))
    else:
        console.print(
            escape(
                f"labels: {summary.stored} stored ({summary.replaced} replaced earlier labels), "
                f"{summary.skipped_rows} rows without ticks skipped"
            ),
            highlight=False,
        )


@review_app.command("train")
def review_train(
    out: Path = typer.Option(..., "--out", help="folder to write the model into (themes.joblib, card.json)"),
    folds: int = typer.Option(5, min=2, max=20, help="cross-validation folds"),
    min_positives: int = typer.Option(15, min=1, help="a theme needs this many positive labels to be learned"),
    min_gain: float = typer.Option(0.0, min=0.0, help="the model's F1 must beat the rules' by more than this"),
    seed: int = typer.Option(0, help="seed of the folds"),
) -> None:
    """Train per-theme classifiers on the stored gold labels; print the card as one JSON line.

    A theme is learned only where the model's cross-validated F1 beats the rules'."""
    import json

    from models.db import session_scope
    from tasks.text.theme_learn import save_theme_model, train_from_store

    config = _config()
    _db()
    with session_scope() as session:
        model = train_from_store(
            session, config, folds=folds, min_positives=min_positives, min_gain=min_gain, seed=seed
        )
    if not model.card.get("labelled_texts"):
        refuse("no gold labels stored yet: label a sample first ('text review export', then 'import')")
    save_theme_model(model, out)
    print(json.dumps(model.card, ensure_ascii=False, sort_keys=True))
