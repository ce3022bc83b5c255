"""The run's artifact saying how the quarter's texts were read: by the rules alone, or with
the sentiment model learned from the stored ratings, with its model card (counts, held-out
figures of the model and of the rules on the same texts, the words that weigh most)."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_markdown_artifact


def _figures(f: dict[str, Any]) -> str:
    return " | ".join(f"{f.get(k, float('nan')):.3f}" for k in ("accuracy_3class", "negative_vs_not", "macro_f1"))


def text_reading_markdown(reading: dict[str, Any]) -> str:
    """Markdown of a :class:`tasks.text.reread.Reading` (as a dict)."""
    q = reading["quarter"]
    if "model" not in reading["method"]:
        return "\n".join(
            [
                (
                    f"# How the texts of {q} were read\n\nSentiment by the rules alone (lexicons in `config/`): no "
                    f"language had enough rated texts to learn from ({reading['rated_texts']} rated texts "
                    f"stored up to {q})."
                ),
                *_theme_lines((reading.get("card") or {}).get("theme_model")),
            ]
        )
    card = reading.get("card") or {}
    out = [
        f"# How the texts of {q} were read",
        "",
        f"Themes by the rules; sentiment by the model **{reading['model_version']}**, trained on "
        f"{reading['rated_texts']} rated texts stored up to {q} (labels: {card.get('labels', 'from ratings')}); "
        f"{reading['texts_read']} texts of the quarter read again. Languages without a model keep the rules' score.",
        "",
        "| language | texts | negative / neutral / positive | held out | model: 3-class / neg-vs-not / macro-F1 "
        "| rules on the same texts |",
        "|---|---|---|---|---|---|",
    ]
    for lang, info in sorted((card.get("languages") or {}).items()):
        counts = info.get("counts", {})
        held = info.get("held_out", {})
        out.append(
            f"| {lang} | {info.get('texts', 0)} | {counts.get('negative', 0)} / {counts.get('neutral', 0)} / "
            f"{counts.get('positive', 0)} | {held.get('texts', 0)} | {_figures(held.get('model', {}))} | "
            f"{_figures(held.get('rules', {}))} |"
        )
    for lang, info in sorted((card.get("skipped") or {}).items()):
        out.append(f"| {lang} | {info.get('texts', 0)} | not modelled (fewer than {info.get('min_texts')}) | | | |")
    return "\n".join(out + _theme_lines(card.get("theme_model")))


def _theme_lines(theme_card: dict[str, Any] | None) -> list[str]:
    """The theme classifiers' part of the card: per theme, labels, F1 of the rules and of the
    classifier (cross-validated), and whether it decides the theme."""
    if not theme_card:
        return []
    out = [
        "",
        f"Themes learned from {theme_card.get('labelled_texts', 0)} analysts' labels where their classifier "
        "beats the rules (cross-validated F1):",
        "",
        "| theme | positives | rules F1 | classifier F1 | used |",
        "|---|---|---|---|---|",
    ]
    for theme, e in sorted((theme_card.get("themes") or {}).items()):
        model_f1 = "" if e.get("model_f1") is None else f"{e['model_f1']:.3f}"
        out.append(
            f"| {theme} | {e.get('positives', 0)} | {e.get('rules_f1', 0):.3f} | {model_f1} | "
            f"{'yes' if e.get('used') else 'no: ' + str(e.get('why', ''))} |"
        )
    return out


def publish_text_reading(q: str, reading: dict[str, Any]) -> None:
    create_markdown_artifact(
        key=f"cx-text-reading-{q.lower()}",
        markdown=text_reading_markdown(reading),
        description=f"How the texts of {q} were read (rules, learned sentiment model card)",
    )
